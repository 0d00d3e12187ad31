"""Year inference for year-less syslog stamps: rollovers, rotation chains, --year, mtimes."""

from __future__ import annotations

import gzip
from datetime import datetime, timezone
from pathlib import Path

import pytest

from scanner.model import SourceFile
from scanner.normalize.year import MonthSpan, YearTracker, assign_years, scan_months, scan_years

UTC = timezone.utc


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
    assert scan_months(lines) == span


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
    plan = scan_years(chain, UTC)
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
    assert scan_years([live], UTC).start_years == {}
