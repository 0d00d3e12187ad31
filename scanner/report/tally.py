"""Counts over the reported hits, accumulated one hit at a time.

The run summary and the exit code need only these counts, so the hits themselves can
stream from disk: :class:`HitTally` keeps the number of hits, hits per level and per
rule title (both bounded by the rules loaded) and the highest level seen, in the order
the hits were added (which decides ties in the summary's lists).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from scanner.model import Hit, level_rank


@dataclass(slots=True)
class HitTally:
    """What the summary and the exit code know of the reported hits."""

    hits: int = 0
    by_level: Counter[str] = field(default_factory=Counter)
    by_title: Counter[str] = field(default_factory=Counter)
    top_rank: int | None = None  # ``level_rank`` of the highest level; None without hits

    def add(self, hit: Hit) -> None:
        """Count one reported hit."""
        level = hit.rule.level
        self.hits += 1
        self.by_level[level or "unknown"] += 1
        self.by_title[hit.rule.title] += 1
        rank = level_rank(level)
        if self.top_rank is None or rank > self.top_rank:
            self.top_rank = rank
