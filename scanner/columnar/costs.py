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

# Below this many hits the columnar engine correlates with the reference trackers (the same
# hits): loading Polars costs the main process 0.13-0.24 s, and the columnar trackers save at
# most ~0.9 µs a hit (bench/correlate_speed.py: 3.97 vs 4.83 µs), about nothing more in a scan,
# where reading the hits back dominates (select_hits CPU on worst-50M: 3.71 vs 3.59 s).
MIN_HITS = 200_000
