"""``python -m scanner`` runs the logsigma command line."""

import sys

from scanner.cli import main

sys.exit(main())
