"""Which lines of a chunk hold a literal, found for the whole chunk at once in Polars.

The chunk path of the normalizer (:class:`~scanner.normalize.normalizer.LineMarks`) finds
the records holding a literal one at a time: an RE2 search from the last record, then the
record's bounds. Where most lines hold one (a brute-force auth.log), that per-record Python
costs more than the whole chunk's lines as a Polars column: split, lower-cased, one regex
pass for the literals and one for the record starts.

The answer is exact only where Polars and Python read the text alike: a chunk of ASCII
text (``str.lower`` and ``to_lowercase`` agree, and the record-start regex means the same
to Rust's ``regex`` and to ``re``) whose every line is a record of its own and whose
marked lines are not blank; on any other chunk :meth:`DenseLines.marked` declines and the
normalizer takes its own way.
"""

from __future__ import annotations

import re
from typing import Iterable

import polars as pl

from scanner.columnar.expressions import rust_accepts
from scanner.normalize.normalizer import Marked
from scanner.normalize.routes import Route

BLANK = "^[\t\n\x0b\x0c\r\x1c-\x1f ]*$"  # the ASCII lines str.isspace() holds true of, and ""
NOTHING = "[^\\s\\S]"  # a regex that matches no text
# \s is wider in re (\x1c-\x1f), [: [[ && -- ~~ are classes or set operations to Rust alone
_READ_OTHERWISE = re.compile(r"\\[sS]|\[:|\[\[|&&|--|~~")


class DenseLines:
    """The marked lines of chunks of one route's files, for one set of literals."""

    def __init__(self, begins: pl.Expr, literals: Iterable[str]) -> None:
        # One regex of the literals, searched in the lower-cased lines (Polars keeps it compiled
        # across calls, where str.contains_any builds its Aho-Corasick automaton again on each;
        # and it ran 1.5-2x faster than the same regex ASCII-case-insensitive on the lines as
        # they are). A literal with a character that is not ASCII or not lower-case occurs in
        # no lower-cased ASCII text.
        kept = sorted(literal for literal in literals
                      if literal.isascii() and literal == literal.lower())
        self._literals = "|".join(map(pl.escape_regex, kept)) if kept else NOTHING
        self._begins = begins

    @classmethod
    def of(cls, route: Route, literals: Iterable[str]) -> DenseLines | None:
        """The marker of ``route``'s chunks, ``None`` when Rust cannot tell its record starts
        or a literal is empty (the finder's RE2 alternation gives that one a way of its own)."""
        literals = tuple(literals)
        begins = _begins(route)
        return None if begins is None or "" in literals else cls(begins, literals)

    def marked(self, text: str) -> Marked | None:
        """The lines of ``text`` (whole lines) holding a literal once lower-cased, in order:
        their indices, and where their texts start and end in ``text``; ``None`` when
        ``text`` is not ASCII, a line of it starts no record, or a marked line is blank."""
        if not text.isascii():
            return None
        line = pl.col("line")
        lines = (pl.Series("line", [text]).str.split("\n").explode().head(-1).to_frame()
                 .with_row_index("index")
                 .with_columns(marked=line.str.to_lowercase().str.contains(self._literals),
                               begins=self._begins, end=(line.str.len_bytes() + 1).cum_sum() - 1))
        if not lines["begins"].all():
            return None
        found = lines.filter("marked")
        if found["line"].str.contains(BLANK).any():
            return None
        ends = found["end"]
        return (found["index"].to_list(), (ends - found["line"].str.len_bytes()).to_list(),
                ends.to_list())


def _begins(route: Route) -> pl.Expr | None:
    """Whether a line starts a record of ``route``: the rule of
    :func:`~scanner.normalize.normalizer.begins_record`, for ASCII lines (``None``: its
    record-start regex has no such form)."""
    if route.records != "continued":
        return pl.lit(True)
    line = pl.col("line")
    start = route.record_start
    if start is None:
        return ~(line.str.starts_with(" ") | line.str.starts_with("\t") | line.str.contains(BLANK))
    pattern = _rust(start)
    return None if pattern is None else line.str.contains(f"^(?:{pattern})") & ~line.str.contains(BLANK)


def _rust(start: re.Pattern[str]) -> str | None:
    """The record-start regex for Rust's ``regex``, when it means there on ASCII lines what it
    means to ``re``; ``None`` when Rust refuses it or may read it otherwise."""
    if (start.flags & ~re.UNICODE or _READ_OTHERWISE.search(start.pattern)
            or not rust_accepts(start.pattern)):
        return None
    return start.pattern
