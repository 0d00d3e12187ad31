"""Derive Sigma ``process_creation`` events from log records that show a program being run.

Takes one normalized :class:`~scanner.model.Event` and yields zero or more derived
events, so SigmaHQ's Linux ``process_creation`` rules can fire on plain logs: a sudo
line that ran a command (kind ``command``: ``bob : TTY=pts/0 ; PWD=/home/bob ;
USER=root ; COMMAND=/usr/bin/cat /etc/shadow``) and an auditd event holding an EXECVE
record (``argc=2 a0="cat" a1="/etc/shadow"``). A derived event carries the logsource
``{product: linux, category: process_creation}``, the native fields ``image``,
``command_line``, ``user`` (the account the command ran as: sudo's target user, auditd's
uid), ``parent_user`` (sudo's invoking user), ``cwd``, ``target_user`` (those known; ``target_host``
for an attack tool, scanner.normalize.targets), the source, line,
raw text and timestamp of the record it came from, and ``derived=True``. Sudo lines
that ran nothing (wrong password, user not in sudoers, ``sudo -l``) derive nothing; a
relative sudo command (``./filebeat``) keeps its ``image`` as logged, beside ``cwd``:
every derived value must occur in the line verbatim, or the literal prefilter, which
reads the line before it is parsed, could skip it.
Works on normalized events only: it knows no file, route or rule.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Iterable, Iterator, Mapping

from scanner.model import Event, LogSource
from scanner.normalize.decoders import audit_kv
from scanner.normalize.identity import ByIdentity
from scanner.normalize.targets import with_target

PROCESS_CREATION = LogSource(category="process_creation", product="linux")
"""The logsource of every derived event."""

ProcessFields = dict[str, str]

# What sudo logs as COMMAND for "sudo -l" and "sudo -v": nothing was run.
_SUDO_PSEUDO_COMMANDS = frozenset({"list", "validate"})

# The EXECVE line of a grouped audit event; its keys are read from it alone because the
# grouped fields merge the SYSCALL record's a0..a3 with EXECVE's a0..a3.
_EXECVE_RECORD = re.compile(r"^(?:node=\S+ )?type=EXECVE msg=audit\([^)]*\):? ?(.*)$", re.M)


def _sudo_process(event: Event) -> ProcessFields | None:
    """The process a sudo ``COMMAND=`` line started, or ``None`` when it started none."""
    fields = event.fields
    command, cwd = _text(fields.get("command")), _text(fields.get("pwd"))
    # Kind "command" (grammars/sudo.lark) ran; "denied" lines name the command they refused.
    if fields.get("event") != "command" or not command or command in _SUDO_PSEUDO_COMMANDS:
        return None
    # Sigma's User is the account the process runs as: sudo's target (USER=, which sudo always
    # logs and grammars/sudo.lark requires of a command: never made up, as a derived value must
    # stand in the line); the invoking user is the one who started it, as ParentUser.
    return _present(image=command.split(" ", 1)[0], command_line=command,
                    user=fields.get("target_user"), parent_user=fields.get("user"),
                    cwd=cwd)


def _execve_process(event: Event) -> ProcessFields | None:
    """The process an auditd event's EXECVE record started, or ``None`` without one."""
    record = _EXECVE_RECORD.search(event.raw)
    if record is None:
        return None
    argv = _execve_argv(audit_kv({"type": "EXECVE", "body": record.group(1)}))
    if not argv:
        return None
    fields = event.fields
    # exe (from the SYSCALL record) is the resolved path; a0 is what the caller passed,
    # often a bare name ("grep"). UID is the name the enriched log format adds.
    return _present(image=_text(fields.get("exe")) or argv[0], command_line=" ".join(argv),
                    user=_text(fields.get("UID")) or _text(fields.get("uid")),
                    cwd=_text(fields.get("cwd")))


def _execve_argv(record: Mapping[str, Any]) -> list[str]:
    """The argument vector of one decoded EXECVE record (``argc``, ``a0``, ``a1[0]`` …).

    auditd splits an argument too long for one record into ``aN[0]``, ``aN[1]`` …; a
    record cut short yields the arguments present before the cut.
    """
    try:
        argc = int(record["argc"])
    except (KeyError, TypeError, ValueError):
        return []
    argv: list[str] = []
    for i in range(argc):
        value = _text(record.get(f"a{i}")) or "".join(_pieces(record, f"a{i}"))
        if not value and f"a{i}" not in record:
            break
        argv.append(value)
    return argv


def _pieces(record: Mapping[str, Any], name: str) -> Iterator[str]:
    """The pieces ``name[0]``, ``name[1]`` … of one split EXECVE argument, in order."""
    index = 0
    while (piece := _text(record.get(f"{name}[{index}]"))) is not None:
        yield piece
        index += 1


def _text(value: Any) -> str | None:
    """``value`` when it is one string (a field seen with several values is a list)."""
    return value if isinstance(value, str) else None


def _present(**values: Any) -> ProcessFields:
    """The given fields that have a non-empty string value."""
    return {name: value for name, value in values.items() if isinstance(value, str) and value}


Deriver = Callable[[Event], ProcessFields | None]

_DERIVERS: dict[str, Deriver] = {
    "sudo": _sudo_process,
    "auditd": _execve_process,
}
"""Linux logsource service → how its events show a started process."""

DERIVE_TRIGGERS: frozenset[str] = frozenset({"command=", "type=execve"})
"""Lower-cased words a record contains whenever :func:`derive` makes an event of it
(sudo's ``COMMAND=``, auditd's ``type=EXECVE``): the prefilter may skip records
without them when only derived events could match."""


def derive(event: Event) -> tuple[Event, ...]:
    """The ``process_creation`` events ``event`` implies (none for most events)."""
    if event.derived or not event.parsed:
        return ()
    derived: list[Event] = []
    for deriver in _derivers_of(event.logsources):
        fields = deriver(event)
        if fields:
            fields = with_target(fields)
            derived.append(Event(source=event.source, line=event.line, format=event.format,
                                 logsources=(PROCESS_CREATION,), fields=fields, raw=event.raw,
                                 timestamp=event.timestamp, time_note=event.time_note,
                                 derived=True))
    return tuple(derived)


def _derivers(logsources: tuple[LogSource, ...]) -> tuple[Deriver, ...]:
    """The derivers of the Linux services among ``logsources``, once each, in their order."""
    services = dict.fromkeys(ls.service for ls in logsources if ls.product == "linux")
    return tuple(_DERIVERS[s] for s in services if s in _DERIVERS)


# Events share a few logsource tuples: their derivers are worked out once per tuple.
_derivers_of = ByIdentity(_derivers, limit=1024)


def with_derived(events: Iterable[Event]) -> Iterator[Event]:
    """Each of ``events``, followed by the events :func:`derive` makes of it (asked only of
    events whose logsources a deriver reads)."""
    last, derives = None, False
    for event in events:
        yield event
        if event.logsources is not last:  # events come in runs of one logsource tuple
            last = event.logsources
            derives = bool(_derivers_of(last))
        if derives:
            yield from derive(event)
