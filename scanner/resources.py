"""Locate the data directories that ship beside the package: grammars/ and sigma_rules/.

In a source checkout they sit at the top of the repository; an installed wheel
carries them as the data-only packages ``scanner.grammars`` and
``scanner.sigma_rules`` (see ``pyproject.toml``).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parent.parent


def _data_dir(name: str) -> Path:
    spec = importlib.util.find_spec(f"scanner.{name}")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return _CHECKOUT / name


def grammars_dir() -> Path:
    """The directory holding ``*.lark`` grammars and ``*.yaml`` route entries."""
    return _data_dir("grammars")


def bundled_rules_dir() -> Path:
    """The directory of the bundled Sigma rules."""
    return _data_dir("sigma_rules")
