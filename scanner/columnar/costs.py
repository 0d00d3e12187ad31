"""Where Polars pays: the measured thresholds below which the columnar engine takes the
reference code's way (same verdicts and hits, by construction, so only the speed differs).

Read as ``costs.NAME`` at the time of use, so a test can set one to 0 to put everything
through Polars. This module imports nothing heavy: a scan that never reaches a threshold
never loads Polars.
"""

from __future__ import annotations

# Below this many candidate rows a rule runs as reference code. Each rule once cost its own
# Polars query (~0.3 ms to dispatch, against ~0.35 µs a row of a simple rule's reference code);
# a batch's rules now share one query, and the break-even stayed: the brute-force auth.log of
# tree-100M matched in 0.40 / 0.37 / 0.35 / 0.34 / 0.34 / 0.35 s CPU with 64 / 256 / 512 / 1024
# / 2048 / 4096 here (medians of 5, interleaved; worst-50M: flat within its noise from 512 to
# 4096). A batch of fewer events can give no rule that many rows, so it is matched event by
# event, as the reference does.
MIN_ROWS = 2048

# Below this many lines a chunk's lines are found record by record, not marked at once in Polars
# (scanner.columnar.lines): marking costs ~0.6 ms a chunk however small (Polars' dispatch) and
# ~0.75 µs a line (CPU of both Polars threads: 6.3 ms for a 1 MB chunk of auth.log, 8,400 lines,
# 77% of them marked), and saves ~3 µs a marked line.
MIN_LINES = 2048

# Below this many hits a correlation partition of the columnar engine runs the reference
# trackers (the same hits). In a scan's key partitions, where a reference tracker skips the
# partition check for a group it holds, they cost less: correlation CPU of the bench trees'
# scans with 8 partitions, reference against columnar trackers, worst-50M (70 k hits a
# partition) 3.5-4.2 against 5.2-6.0 s, tree-300M with 2 partitions (383 k) 5.4-5.6 against
# 6.4-6.9 s, the 1 GB tree with 8 (170-485 k) 16.9 against 20.5 s; in one pass over worst-100M's
# 1.1 M hits the columnar trackers are ahead, 8.6 against 9.3 s (2026-12-08, loaded VM).
MIN_HITS = 1_000_000
