"""Where Polars pays: the measured thresholds below which the columnar engine takes the
reference code's way (same verdicts and hits, by construction, so only the speed differs).

Read as ``costs.NAME`` at the time of use, so a test can set one to 0 to put everything
through Polars. This module imports nothing heavy: a scan that never reaches a threshold
never loads Polars.
"""

from __future__ import annotations

# Below this many candidate rows a rule runs as reference code: a Polars expression costs
# ~0.3 ms to dispatch, a simple rule's reference code ~0.35 µs a row (bench: 1024 rows 0.50 vs
# 0.35 ms, 4096 rows 1.34 vs 1.56 ms on the brute-force auth.log). A batch of fewer events
# can give no rule that many rows, so it is matched event by event, as the reference does.
MIN_ROWS = 2048

# A batch takes its candidates from one RE2 pass per row (Plan.candidates) when more rules have
# literals in it than it has rows / this: an Aho-Corasick pass per rule costs about that many
# rows' RE2 passes.
ROWS_PER_PASS = 64

# Below this many hits the columnar engine correlates with the reference trackers (the same
# hits): loading Polars costs the main process 0.13-0.24 s, and the columnar trackers save at
# most ~0.9 µs a hit (bench/correlate_speed.py: 3.97 vs 4.83 µs), about nothing more in a scan,
# where reading the hits back dominates (select_hits CPU on worst-50M: 3.71 vs 3.59 s).
MIN_HITS = 200_000
