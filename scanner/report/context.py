"""What the CI and HTML formats need beyond the hits and the run summary.

SARIF lists every rule of the run, JUnit has a test case per rule and fails at
``--fail-on``, the HTML report names the scanned roots and reads correlation hits'
contributing lines back from the scanned files: the pipeline passes them here. The
formats that show the run summary ask for it (:data:`Summary`) once they have read the
hits, which the pipeline counts as they are read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from scanner.model import RuleInfo, SourceFile
from scanner.normalize.routes import Route

Summary = Callable[[], dict[str, Any]]  # the run summary, asked for once the hits are read


@dataclass(frozen=True, slots=True)
class Evidence:
    """A scanned file and the route the scan read it along."""

    file: SourceFile
    route: Route


@dataclass(frozen=True, slots=True)
class ReportContext:
    """The reported rules of the run (base rules that are output, and correlations),
    the ``--fail-on`` level, the scanned paths and the scanned files by ``source``."""

    rules: tuple[RuleInfo, ...] = ()
    fail_on: str | None = None
    roots: tuple[Path, ...] = ()
    evidence: Mapping[str, Evidence] = field(default_factory=dict)
