"""The text of a correlation hit's contributing lines, read back from the evidence after the scan.

A correlation hit records its contributors as ``(source, line)`` references only (the hits
of rules that only feed correlations keep no raw text). The HTML report shows the first and
last few of them as text: :meth:`Excerpts.want` collects the references while the report
reads the hits, :meth:`Excerpts.read` then reads every file once, sequentially and
read-only, through the same openers and record readers the scan used, keeping only the
wanted records, and :meth:`Excerpts.text` hands them out. A record is what the scan read
at that reference:

* a text record: its line, or all lines of a multi-line record (audit, continued, block);
* a journal entry: the entry as the scan reads it, its ``MESSAGE`` behind an RFC 3339
  stamp, the host and the program (an audit event: its audit.log lines);
* a binary login record (wtmp, btmp, lastlog, faillog): its one-line normalized summary.

A file that is gone or changed (size or modification time) since the scan, or that no
longer holds a wanted record, shows references only, with one warning naming it. Reading
stops after :data:`READ_CAP` records in all, at most :data:`WANTED_CAP` texts are kept (the
first hits' in report order; one warning when more are wanted), each cut to :data:`TEXT_CAP`
characters.
"""

from __future__ import annotations

import os
from contextlib import closing
from dataclasses import dataclass, field
from typing import Generator, Iterable, Mapping

from scanner.errors import Location, Problem, Problems
from scanner.model import SourceFile
from scanner.normalize.binary import READERS
from scanner.normalize.journal import journal_records
from scanner.normalize.records import assemble
from scanner.normalize.routes import JOURNAL_RECORDS
from scanner.report.context import Evidence
from scanner.report.safe import shorten
from scanner.sources.open import iter_lines

READ_CAP = 2_000_000  # records read back in all, over every file
WANTED_CAP = 60_000  # references whose text is kept (10,000 correlation hits' worth)
TEXT_CAP = 1_000  # characters kept of one record's text

Reference = tuple[str, int]  # (source, line)


@dataclass(slots=True)
class Excerpts:
    """The wanted contributing records of a report, by file, and their texts once read."""

    evidence: Mapping[str, Evidence]
    wanted: dict[str, set[int]] = field(default_factory=dict)
    texts: dict[Reference, str] = field(default_factory=dict)
    count: int = 0
    beyond: list[Reference] = field(default_factory=list)  # the first wanted past the cap
    left: int = READ_CAP  # records yet to be read

    def want(self, references: Iterable[Reference]) -> None:
        """Ask for the text of ``references`` (beyond :data:`WANTED_CAP`: references only)."""
        for source, line in references:
            lines = self.wanted.setdefault(source, set())
            if line in lines:
                continue
            if self.count < WANTED_CAP:
                lines.add(line)
                self.count += 1
            elif not self.beyond:
                self.beyond.append((source, line))

    def read(self) -> list[Problem]:
        """Read the wanted records, one pass per file; a warning per file that fell short.
        Without evidence (hits rendered outside a scan) nothing is read, and nothing warned."""
        if not self.evidence:
            return []
        warnings = [_warning(source, f"contributing lines from line {line} on, and of every later "
                                     f"hit, shown as references only: the report keeps at most "
                                     f"{WANTED_CAP} texts") for source, line in self.beyond]
        for source, lines in sorted(self.wanted.items()):
            why = self._read_file(source, lines) if lines else None
            if why:
                warnings.append(_warning(source, why))
        return warnings

    def text(self, source: str, line: int) -> str | None:
        """The text of the record at ``source:line``, if read."""
        return self.texts.get((source, line))

    def _read_file(self, source: str, lines: set[int]) -> str | None:
        """Read ``lines`` of ``source``; returns why some are missing, or ``None``."""
        evidence = self.evidence.get(source)
        if evidence is None:
            return "not among the scanned files"
        changed = _changed(evidence.file) if self.left > 0 else None
        if changed:
            return changed
        problems = Problems()
        last, found = max(lines), 0
        with closing(_records(evidence, problems)) as records:
            for number, text in records if self.left > 0 else ():
                self.left -= 1
                if number in lines:
                    self.texts[(source, number)] = shorten(text, TEXT_CAP)
                    found += 1
                if found == len(lines) or number >= last or self.left <= 0:
                    break
        if found == len(lines):
            return None
        missing = min(lines - {n for s, n in self.texts if s == source})
        if self.left <= 0:
            trouble = f" (the report reads back at most {READ_CAP} records in all)"
        else:
            trouble = f" ({problems.items[0].message})" if problems.items else ""
        return (f"{len(lines) - found} contributing record(s) not read, first line {missing}"
                f"{trouble}: shown as references only")


def _changed(file: SourceFile) -> str | None:
    """Why ``file`` cannot be read back as scanned, or ``None``."""
    try:
        now = os.stat(file.path)
    except OSError as exc:
        return f"gone since the scan ({exc.strerror or exc}): contributing lines shown as references only"
    if now.st_size != file.size or now.st_mtime != file.mtime:
        return "changed since the scan: contributing lines shown as references only"
    return None


def _records(evidence: Evidence, problems: Problems) -> Generator[tuple[int, str], None, None]:
    """``(line, text)`` of each record of a file, as the scan reads them."""
    file, route = evidence.file, evidence.route
    if route.records == JOURNAL_RECORDS:
        return ((r.line, r.text) for r in journal_records(file, problems, route.transports))
    reader = READERS.get(route.records)
    if reader is not None:
        return ((event.line, event.raw) for event in reader(file, problems))
    return ((r.line, r.text) for r in assemble(route.records, iter_lines(file, problems),
                                                route.record_start))


def _warning(source: str, message: str) -> Problem:
    return Problem("report", Location(source), message)
