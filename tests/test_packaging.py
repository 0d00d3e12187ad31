"""The wheel ships grammars/ and sigma_rules/, which live outside the package directory,
and the HTML report's templates (package data)."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import zipfile
from pathlib import Path

from scanner.resources import bundled_rules_dir, grammars_dir

from conftest import REPO


def expected_data_files() -> set[str]:
    """Paths (as installed) of every grammar, route and bundled rule of the checkout."""
    names = {f"scanner/grammars/{p.name}" for p in (REPO / "grammars").glob("*.lark")}
    names |= {f"scanner/grammars/{p.name}" for p in (REPO / "grammars").glob("*.yaml")}
    names |= {f"scanner/sigma_rules/{p.relative_to(REPO / 'sigma_rules').as_posix()}"
              for p in (REPO / "sigma_rules").rglob("*.yml")}
    names |= {f"scanner/report/templates/{p.name}"
              for p in (REPO / "scanner" / "report" / "templates").iterdir()}
    return names


def test_data_directories_resolve() -> None:
    assert (grammars_dir() / "syslog.lark").is_file()
    assert (grammars_dir() / "syslog.yaml").is_file()
    assert sorted(bundled_rules_dir().rglob("*.yml"))


def wheel_files(tmp_path: Path) -> set[str]:
    """Build a wheel from the checkout (pip's isolated build) and list it."""
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                             str(tmp_path), str(REPO)], capture_output=True, text=True,
                            timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    (wheel,) = tmp_path.glob("logsigma-*.whl")
    return set(zipfile.ZipFile(wheel).namelist())


def test_installed_package_carries_grammars_and_rules(tmp_path: Path) -> None:
    """A plain ``pip install .`` (what CI runs) records the data files as installed;
    an editable install does not, so then a wheel is built and inspected instead."""
    # The checkout's own logsigma.egg-info (cwd is on sys.path) lists sources, not installed
    # files: take the distribution whose RECORD lists the package as installed.
    installed = [files for dist in importlib.metadata.distributions()
                 if dist.metadata["Name"] == "logsigma" and dist.read_text("RECORD")
                 for files in [{f.as_posix() for f in dist.files or ()}]
                 if "scanner/cli.py" in files]
    shipped = installed[0] if installed else wheel_files(tmp_path)
    assert expected_data_files() <= shipped
    assert "scanner/normalize/grammars.py" in shipped
