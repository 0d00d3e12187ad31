"""Stream-integrity checks: steps back in time, silences, gaps in rotation chains."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from scanner.integrity import StreamWatch, chain_anomalies
from scanner.model import SourceFile
from scanner.normalize.routes import load_routes

UTC = timezone.utc
SYSLOG = load_routes()["syslog"]


def source(name: str, mtime: float = datetime(2024, 3, 1, tzinfo=UTC).timestamp()) -> SourceFile:
    return SourceFile(path=Path(name), root=Path("."), source=name, size=0, mtime=mtime)


def watch(lines: list[str]) -> StreamWatch:
    w = StreamWatch(source("auth.log"), SYSLOG, UTC, 2024)
    for number, text in enumerate(lines, 1):
        w.see(number, text)
    return w


def rfc3339(start: datetime, minutes: list[int]) -> list[str]:
    return [f"{(start + timedelta(minutes=m)).isoformat(timespec='microseconds')} vps sshd[1]: x"
            for m in minutes]


START = datetime(2024, 2, 11, 0, 0, tzinfo=UTC)


def test_quiet_ordered_stream_has_no_anomaly() -> None:
    w = watch(rfc3339(START, list(range(0, 600, 2))))
    assert w.anomalies() == []
    assert w.first == START and w.last == START + timedelta(minutes=598)


def test_step_back_in_time_is_reported_with_its_line() -> None:
    lines = rfc3339(START, [0, 1, 2, 3]) + rfc3339(START - timedelta(hours=2), [0]) + \
        rfc3339(START, [5])
    (event,) = watch(lines).anomalies()
    assert event.fields["anomaly"] == "time_backwards" and event.line == 5
    assert event.fields["previous_line"] == 4 and event.fields["gap_seconds"] == 2 * 3600 + 180


def test_small_disorder_between_daemons_is_tolerated() -> None:
    lines = rfc3339(START, [10, 10]) + rfc3339(START + timedelta(minutes=10, seconds=-30), [0])
    assert watch(lines).anomalies() == []


def test_silence_in_a_busy_stream() -> None:
    busy = list(range(0, 120)) + list(range(60 * 9, 60 * 9 + 120))  # 9 h hole
    (event,) = watch(rfc3339(START, busy)).anomalies()
    assert event.fields["anomaly"] == "silence" and event.line == 121
    assert event.fields["gap_seconds"] == (60 * 9 - 119) * 60


def test_silence_in_a_sparse_stream_is_normal() -> None:
    assert watch(rfc3339(START, [0, 60 * 9, 60 * 20])).anomalies() == []


def test_rfc3164_rollover_is_not_a_step_back() -> None:
    lines = [f"Dec 31 23:{m:02d}:00 vps cron[1]: x" for m in range(50, 60)] + \
            [f"Jan  1 00:{m:02d}:00 vps cron[1]: x" for m in range(0, 10)]
    w = watch(lines)
    assert w.anomalies() == []
    assert w.first is not None and w.last is not None and w.last.year == w.first.year + 1


def test_chain_with_missing_member_and_overlap() -> None:
    chain = [source("auth.log.3.gz"), source("auth.log.1"), source("auth.log")]
    spans = {"auth.log.3.gz": (START, START + timedelta(hours=1), 100),
             "auth.log.1": (START + timedelta(days=7), START + timedelta(days=8), 1000),
             "auth.log": (START + timedelta(days=7, hours=12), START + timedelta(days=9), 1000)}
    events = list(chain_anomalies([chain], spans))
    kinds = sorted((e.fields["anomaly"], e.source) for e in events)
    assert kinds == [("missing_rotation_member", "auth.log.1"),
                     ("time_backwards", "auth.log")]
    missing = next(e for e in events if e.fields["anomaly"] == "missing_rotation_member")
    assert "auth.log.2 is missing" in missing.raw and "None" not in missing.raw


def test_dated_chain_is_not_checked_for_numbering() -> None:
    chain = [source("auth.log-20240101.gz"), source("auth.log")]
    assert list(chain_anomalies([chain], {})) == []
