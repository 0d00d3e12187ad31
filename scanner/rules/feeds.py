"""What logsigma's inputs can feed: which formats feed a Sigma logsource, and whether any does.

Reads the routes of ``grammars/*.yaml`` (every logsource a route's events can carry,
file globs and syslog programs included) plus logsigma's own events (process_creation
derived from sudo and auditd EXECVE, the stream-integrity checks). A rule whose
logsource applies to none of them can never fire: a scan parses it (its problems are
reported and it counts as loaded) but never compiles it. Knows nothing of Sigma files.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from scanner.integrity import INTEGRITY
from scanner.model import LogSource
from scanner.normalize.derive import PROCESS_CREATION
from scanner.normalize.routes import load_routes


@dataclass(frozen=True, slots=True)
class Feed:
    """One producer of events: a format's name (or what logsigma derives) and its logsources."""

    name: str
    logsources: tuple[LogSource, ...]


@cache
def feeds() -> tuple[Feed, ...]:
    """Every producer of events, formats in route order, then logsigma's own events."""
    return (*(Feed(route.format, route.event_logsources()) for route in load_routes().values()),
            Feed("derived from sudo and auditd EXECVE", (PROCESS_CREATION,)),
            Feed("stream-integrity checks", (INTEGRITY,)))


def feeders(logsource: LogSource) -> list[str]:
    """The names of the producers whose events rules of ``logsource`` see."""
    return [feed.name for feed in feeds() if logsource.applies_to(feed.logsources)]


@cache
def can_fire(logsource: LogSource) -> bool:
    """Whether any event logsigma reads or derives reaches rules of ``logsource``."""
    return any(logsource.applies_to(feed.logsources) for feed in feeds())
