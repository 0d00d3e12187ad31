"""The error tree and the ``Problems`` side channel.

Per-item trouble (an unreadable file, a rule that does not compile, a malformed
record) never aborts a scan: the stage records a :class:`Problem` and goes on.
Only start-up faults (a broken grammar or route file, a usage error) raise
:class:`LogsigmaError` out of the stage that found them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Location:
    """Where a problem is: a path, optionally a 1-based line, or a rule."""

    path: str
    line: int | None = None
    rule: str | None = None

    def __str__(self) -> str:
        text = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{text} [{self.rule}]" if self.rule else text


class LogsigmaError(Exception):
    """Root of logsigma's own errors; renders as ``path:line: message``."""

    def __init__(self, message: str, location: Location | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class UsageError(LogsigmaError):
    """Bad command-line arguments (exit code 2)."""


class SourceError(LogsigmaError):
    """A file or directory could not be read."""


class GrammarError(LogsigmaError):
    """A grammar or route file is broken (a start-up fault)."""


class RuleError(LogsigmaError):
    """A Sigma rule could not be loaded or compiled."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One recorded problem: a kind (``source``, ``rule``, ``record`` …), where, and why."""

    kind: str
    location: Location
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


@dataclass(slots=True)
class Problems:
    """Collects problems from every stage; the summary counts them by kind."""

    items: list[Problem] = field(default_factory=list)

    def add(self, kind: str, location: Location, message: str) -> None:
        """Record one problem; ``message`` is folded onto a single line."""
        self.items.append(Problem(kind, location, " ".join(str(message).split())))

    def extend(self, other: Problems | list[Problem]) -> None:
        """Append the problems of another collector (e.g. from a worker)."""
        self.items.extend(other.items if isinstance(other, Problems) else other)

    def counts(self) -> Counter[str]:
        """Number of problems of each kind."""
        return Counter(p.kind for p in self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.items)
