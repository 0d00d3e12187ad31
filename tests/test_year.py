"""Year inference for year-less syslog stamps: rollovers, rotation chains, --year, mtimes, and the
chunked month scan (with the rollovers before each part's cut) against a per-line reading."""

from __future__ import annotations

import gzip
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

import pytest

from conftest import FIXTURES
from scanner.errors import Problems
from scanner.model import SourceFile
from scanner.normalize.timestamps import MONTHS
from scanner.normalize.year import (MonthSpan, YearTracker, assign_years, is_rollover, month_span,
                                    scan_months)
from scanner.sources.open import iter_chunks, iter_lines

UTC = timezone.utc
CHUNK_SIZES = (64, 4096, 1 << 20)  # bytes read at a time: chunks end at many different lines


def rfc3164_month(text: str) -> int | None:
    """The month (1–12) of a text starting with a ``Dec 30 12:14:13`` stamp, else ``None``."""
    match = re.match(r"([A-Za-z]{3}) +\d{1,2} \d\d:\d\d:\d\d", text)
    return MONTHS.get(match.group(1).lower()) if match else None


@pytest.mark.parametrize(("text", "month"), [
    ("Dec 30 12:14:13 host sshd[1]: x", 12), ("Jan  2 00:00:00 host", 1),
    ("2024-02-11T06:25:01Z host", None), ("garbage", None),
])
def test_reference_month_reader(text: str, month: int | None) -> None:
    assert rfc3164_month(text) == month


def months_per_line(lines: Iterable[str], cuts: Iterable[int] = ()) -> MonthSpan:
    """The reference: each line's month read on its own (after a ``<PRI>``), in Python; each cut
    line gets the rollovers up to the first stamp at or after it (cuts past the end: none)."""
    first = last = None
    rollovers, later, waiting, at_cuts = 0, sorted(cuts), [], {}
    for number, text in enumerate(lines, 1):
        while later and later[0] <= number:
            waiting.append(later.pop(0))
        pri = text.find(">", 1, 5) if text.startswith("<") else -1
        month = rfc3164_month(text[pri + 1:] if pri > 0 else text)
        if month is None:
            continue
        rollovers += last is not None and is_rollover(last, month)
        first, last = first or month, month
        at_cuts.update(dict.fromkeys(waiting, rollovers))
        waiting.clear()
    at_cuts.update(dict.fromkeys(waiting, rollovers))
    return MonthSpan(first, last, rollovers, tuple(sorted(at_cuts.items())))


def chunks_of(lines: list[str]) -> list[tuple[int, str]]:
    """``lines`` as one chunk of whole lines."""
    return [(1, "".join(line + "\n" for line in lines))]


def source_file(tmp_path: Path, name: str, lines: list[str], mtime: datetime, index: int) -> SourceFile:
    """A rotation-chain member on disk (gzip when the name says so) with the given mtime."""
    path = tmp_path / name
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    return SourceFile(path=path, root=tmp_path, source=name, size=path.stat().st_size,
                      mtime=mtime.timestamp(), compression="gz" if name.endswith(".gz") else None,
                      chain="auth.log", chain_index=index)


@pytest.mark.parametrize(("lines", "span"), [
    (["Dec 30 23:59:58 h a: x", "Dec 31 23:59:59 h a: x", "Jan  1 00:00:01 h a: x"], MonthSpan(12, 1, 1)),
    (["Mar  1 00:00:00 h a: x", "Feb 28 23:59:59 h a: late line", "Mar  1 00:00:01 h a: x"],
     MonthSpan(3, 3, 0)),
    (["<38>Nov  5 10:00:00 h a: x", "not a stamp", "2024-01-01T00:00:00Z h a: x"], MonthSpan(11, 11, 0)),
    (["no stamps here"], MonthSpan()),
])
def test_scan_months(lines: list[str], span: MonthSpan) -> None:
    assert scan_months(chunks_of(lines)) == span == months_per_line(lines)


DEC_JAN = ["Dec 31 23:59:58 h a: x", "Dec 31 23:59:59 h a: y", "Jan  1 00:00:00 h a: z",
           "Jan  1 00:00:01 h a: w"]


@pytest.mark.parametrize(("lines", "cuts", "expected"), [
    (DEC_JAN, [2], ((2, 0),)),  # the part starts before the rollover
    (DEC_JAN, [3], ((3, 1),)),  # the rollover is exactly at the part boundary
    (DEC_JAN, [2, 3, 4], ((2, 0), (3, 1), (4, 1))),
    (["no stamp", "  continued", *DEC_JAN], [2, 5], ((2, 0), (5, 1))),  # the file starts unstamped
    (["Dec 31 23:59:59 h a: x", "  no stamp", "  nor here", "Jan  1 00:00:00 h a: y"], [2], ((2, 1),)),
    (["Nov 30 10:00:00 h a: x", "Dec  1 10:00:00 h a: y", "nothing after"], [3], ((3, 0),)),
    (["Dec 31 23:59:59 h a: x", "Jan  1 00:00:00 h a: y", "Dec 31 23:59:59 h a: late",
      "Feb  1 00:00:00 h a: z", "<13>Jan  3 10:00:00 h a: v"], [3, 4, 5], ((3, 1), (4, 2), (5, 2))),
])
def test_rollovers_before_each_cut(lines: list[str], cuts: list[int],
                                   expected: tuple[tuple[int, int], ...]) -> None:
    assert scan_months(chunks_of(lines), cuts).cuts == expected == months_per_line(lines, cuts).cuts


def syslog_files() -> list[Path]:
    """Our fixtures' year-less logs (the demo tree's syslog family and the format samples)."""
    demo = FIXTURES / "demo" / "var" / "log"
    return sorted([*demo.glob("auth.log*"), *demo.glob("syslog*"), *demo.glob("kern.log*"),
                   *(FIXTURES / "formats").iterdir()])


CORPUS_SYSLOG = ["plaso/syslog/syslog", "plaso/syslog/syslog_rsyslog_traditional",
                 "plaso/syslog/syslog_rsyslog", "plaso/syslog/syslog_osx", "plaso/syslog/syslog_ssh.log",
                 "plaso/syslog/syslog_cron.log", "plaso/syslog/syslog_chromeos", "plaso/syslog.bz2",
                 "lnav/logfile_syslog.0", "lnav/logfile_syslog.1", "lnav/logfile_syslog.2",
                 "lnav/logfile_bad_syslog.0", "lnav/logfile_syslog_with_header.0",
                 "elastic-examples/auth.log", "fail2ban/logs/bsd/syslog-plain.txt"]


def compare_with_per_line(path: Path) -> None:
    file = SourceFile(path=path, root=path.parent, source=path.name, size=path.stat().st_size,
                      mtime=path.stat().st_mtime)
    lines = [text for _, text in iter_lines(file, Problems())]
    cuts = range(1, len(lines) + 2, 3)  # a cut every few lines, and one past the end
    expected = months_per_line(lines, cuts)
    for size in CHUNK_SIZES:
        assert scan_months(iter_chunks(file, Problems(), size), cuts) == expected, (path, size)


@pytest.mark.parametrize("name", CORPUS_SYSLOG)
def test_chunked_scan_equals_per_line_scan_on_corpus_logs(corpus: Path, name: str) -> None:
    compare_with_per_line(corpus / "logs" / name)


@pytest.mark.parametrize("path", syslog_files(), ids=lambda p: p.name)
def test_chunked_scan_equals_per_line_scan_on_fixtures(path: Path) -> None:
    compare_with_per_line(path)


def test_tracker_advances_on_dec_to_jan_only() -> None:
    tracker = YearTracker(2023)
    assert [tracker.year_for(m) for m in (11, 12, 12, 1, 2, 1, 3, 12, 1)] == \
        [2023, 2023, 2023, 2024, 2024, 2024, 2024, 2024, 2025]


def test_rotation_chain_with_a_rollover(tmp_path: Path) -> None:
    """auth.log.2.gz (Nov–Dec 2023) → auth.log.1 (Dec 2023–Jan 2024) → auth.log (Feb 2024)."""
    chain = [
        source_file(tmp_path, "auth.log.2.gz", ["Nov 20 10:00:00 h sshd[1]: a", "Dec 10 10:00:00 h sshd[1]: b"],
                    datetime(2023, 12, 10, tzinfo=UTC), 2),
        source_file(tmp_path, "auth.log.1", ["Dec 28 10:00:00 h sshd[1]: c", "Jan  3 10:00:00 h sshd[1]: d"],
                    datetime(2024, 1, 3, tzinfo=UTC), 1),
        source_file(tmp_path, "auth.log", ["Feb  1 10:00:00 h sshd[1]: e"],
                    datetime(2024, 2, 1, tzinfo=UTC), 0),
    ]
    plan = assign_years([(file, month_span(file)) for file in chain], UTC)
    assert plan.start_years == {"auth.log": 2024, "auth.log.1": 2023, "auth.log.2.gz": 2023}
    assert plan.notes and "mtime 2024-02-01 of auth.log" in plan.notes[0] and "1 Dec→Jan" in plan.notes[0]


def test_older_member_in_a_later_month_belongs_to_the_year_before(tmp_path: Path) -> None:
    chain = [
        (source_file(tmp_path, "auth.log.1", ["Dec 30 10:00:00 h a: x"], datetime(2023, 12, 31, tzinfo=UTC), 1),
         MonthSpan(12, 12, 0)),
        (source_file(tmp_path, "auth.log", ["Jan  2 10:00:00 h a: x"], datetime(2024, 1, 2, tzinfo=UTC), 0),
         MonthSpan(1, 1, 0)),
    ]
    assert assign_years(chain, UTC).start_years == {"auth.log": 2024, "auth.log.1": 2023}


def test_year_option_overrides_the_mtime(tmp_path: Path) -> None:
    live = source_file(tmp_path, "auth.log", ["Jan  2 10:00:00 h a: x"], datetime(2030, 1, 2, tzinfo=UTC), 0)
    plan = assign_years([(live, MonthSpan(1, 1, 0))], UTC, year=2019)
    assert plan.start_years == {"auth.log": 2019} and "--year" in plan.notes[0]


def test_last_line_after_the_mtime_month_means_the_year_before(tmp_path: Path) -> None:
    """A copy whose mtime was reset to January while its lines end in December."""
    live = source_file(tmp_path, "auth.log", ["Dec 30 10:00:00 h a: x"], datetime(2024, 1, 5, tzinfo=UTC), 0)
    assert assign_years([(live, MonthSpan(12, 12, 0))], UTC).start_years == {"auth.log": 2023}


def test_files_without_yearless_stamps_get_no_plan(tmp_path: Path) -> None:
    live = source_file(tmp_path, "auth.log", ["2024-01-01T00:00:00Z h a: x"], datetime(2024, 1, 5, tzinfo=UTC), 0)
    assert assign_years([(live, month_span(live))], UTC).start_years == {}
