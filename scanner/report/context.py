"""What the CI and HTML formats need beyond the hits and the run summary.

SARIF lists every rule of the run, JUnit has a test case per rule and fails at
``--fail-on``, the HTML report names the scanned roots: the pipeline passes them here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from scanner.model import RuleInfo


@dataclass(frozen=True, slots=True)
class ReportContext:
    """The reported rules of the run (base rules that are output, and correlations),
    the ``--fail-on`` level and the scanned paths."""

    rules: tuple[RuleInfo, ...] = ()
    fail_on: str | None = None
    roots: tuple[Path, ...] = ()
