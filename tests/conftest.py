"""Shared test fixtures: where the real third-party corpus and our fixtures live."""

from __future__ import annotations

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
