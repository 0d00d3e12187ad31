"""StreamWatch.see_chunk against StreamWatch.see on the same lines: the same anomalies
(with their line numbers), first and last time and stamped-line count, for every stamp
shape of the syslog route and every kind of step (forward, back within and across the
hour, silences, year rollover), in chunks of any size; streams only going forward give
chunks whose stamps are in order (runs of an hour passed over at once), and a stamp
pattern that can run past its line is found as at every line start."""

from __future__ import annotations

import random
import re
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from scanner.integrity import StreamWatch
from scanner.model import SourceFile
from scanner.normalize.routes import load_routes

UTC = timezone.utc
SYSLOG = load_routes()["syslog"]
FILE = SourceFile(path=Path("auth.log"), root=Path("."), source="auth.log", size=0,
                  mtime=datetime(2024, 3, 1, tzinfo=UTC).timestamp())
STEPS = (1, 1, 2, 5, 30, 200, 900, -20, -90, -1800, -7200, 3)  # seconds
FORWARD = tuple(step for step in STEPS if step > 0)  # chunks whose stamps are in order
SILENCE = 7 * 3600
SHAPES = {
    "rfc3164": lambda t: f"{t:%b} {t.day:2d} {t:%H:%M:%S} vps sshd[1]: x",
    "rfc3339": lambda t: f"{t.isoformat(timespec='microseconds')} vps sshd[1]: x",
    "pri": lambda t: f"<13>{t:%b %d %H:%M:%S} vps app: x",
    "pri5424": lambda t: f"<13>1 {t.isoformat()} vps app - - - x",
    "lowercase": lambda t: f"{t:%b}".lower() + f" {t:%d %H:%M:%S} vps app: x",
}


def stream(seed: int, shapes: list[str], steps: tuple[int, ...] = STEPS) -> list[str]:
    """Lines around a year end, with random steps, shapes and unstamped lines."""
    rng = random.Random(seed)
    when, lines = datetime(2023, 12, 31, 20, 0, tzinfo=UTC), []
    for _ in range(400):
        when += timedelta(seconds=SILENCE if rng.random() < 0.01 else rng.choice(steps))
        if rng.random() < 0.05:
            lines.append("  continued, no stamp")
        lines.append(SHAPES[rng.choice(shapes)](when))
    return lines


def by_chunks(lines: list[str], per_chunk: int) -> StreamWatch:
    watch = StreamWatch(FILE, SYSLOG, UTC, 2023)
    for start in range(0, len(lines), per_chunk):
        watch.see_chunk(start + 1, "".join(f"{line}\n" for line in lines[start:start + per_chunk]))
    return watch


@pytest.mark.parametrize("steps", [STEPS, FORWARD], ids=["any", "forward"])
@pytest.mark.parametrize("shapes", [["rfc3164"], ["rfc3339"], ["pri", "pri5424"], list(SHAPES)])
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("per_chunk", [1, 7, 1000])
def test_chunks_give_the_events_of_lines(shapes: list[str], seed: int, per_chunk: int,
                                         steps: tuple[int, ...]) -> None:
    lines = stream(seed, shapes, steps)
    by_line = StreamWatch(FILE, SYSLOG, UTC, 2023)
    for number, text in enumerate(lines, 1):
        by_line.see(number, text)
    chunked = by_chunks(lines, per_chunk)
    expected = by_line.anomalies()
    assert chunked.anomalies() == expected
    assert (chunked.first, chunked.last, chunked.stamped) == (by_line.first, by_line.last,
                                                              by_line.stamped)
    assert chunked._line == by_line._line  # the next part's first step names this line


def test_the_streams_exercise_every_check() -> None:
    kinds = {e.fields["anomaly"] for seed in range(4) for e in by_chunks(stream(seed, list(SHAPES)),
                                                                          1000).anomalies()}
    assert kinds == {"time_backwards", "silence"}


def test_a_stamp_past_its_line_is_found_at_every_line_start() -> None:
    """A route whose record_start can take a newline (``\\s``): the chunk finds the stamps
    ``(?m)^`` would, each line's first, as line by line."""
    route = replace(SYSLOG, record_start=re.compile(r"\d\d:\d\d\s*"))
    lines = ["10:00", "10:01 a", "10:02", "", "09:00 b", "10:03"]
    by_line = StreamWatch(FILE, route, UTC, 2023)
    for number, text in enumerate(lines, 1):
        by_line.see(number, text)
    chunked = StreamWatch(FILE, route, UTC, 2023)
    chunked.see_chunk(1, "".join(f"{line}\n" for line in lines))
    assert chunked.anomalies() == by_line.anomalies()
    assert (chunked.stamped, chunked._line, chunked._stamp) == (by_line.stamped, by_line._line,
                                                               by_line._stamp)
