"""Shared test fixtures: where the real third-party corpus and our fixtures live."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
CORPUS = REPO.parent / "shared" / "corpus"


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The shared corpus of real SigmaHQ rules and logs; skips when it is absent."""
    if not (CORPUS / "README.md").is_file():
        pytest.skip(f"real corpus not present at {CORPUS} (only in the team's workspace)")
    return CORPUS


def unprivileged_prefix() -> list[str]:
    """A command prefix under which permission bits apply, even to root.

    Root reads a mode-000 file anyway; ``setpriv`` drops the capabilities that let
    it (``dac_override``, ``dac_read_search``). Skips when neither works.
    """
    if os.geteuid() != 0:
        return []
    if not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv: cannot make a file unreadable")
    drop = "-dac_override,-dac_read_search"
    return ["setpriv", f"--bounding-set={drop}", f"--inh-caps={drop}", "--"]
