"""Make attacker-controlled log text safe to print.

Log lines come from whoever talked to the server: they may hold ANSI escape
sequences that repaint a terminal, NUL bytes, or spreadsheet formulas. Every
report sink passes quoted log text through these functions; nothing else here.
"""

from __future__ import annotations

import re

# C0 controls, DEL and C1 controls (ESC of ANSI sequences included); tab too, so a
# cell or a table column cannot be pushed around.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_FORMULA_START = ("=", "+", "-", "@")


def _escape_char(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group()):02x}"


def escape_control(text: str) -> str:
    """Show control characters as ``\\xNN`` so they cannot act on a terminal."""
    return _CONTROL.sub(_escape_char, text)


def shorten(text: str, width: int) -> str:
    """Cut ``text`` to ``width`` characters, marking the cut with an ellipsis."""
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def terminal_text(value: object, width: int | None = None) -> str:
    """A value as one safe terminal line, optionally cut to ``width``."""
    text = escape_control("" if value is None else str(value))
    return shorten(text, width) if width else text


def csv_cell(value: object) -> str:
    """A value as a CSV cell that a spreadsheet will not evaluate as a formula.

    Control characters are escaped (so a tab or CR can no longer start a cell)
    and a cell starting with ``= + - @`` is prefixed with a single quote, as
    OWASP recommends.
    """
    text = escape_control("" if value is None else str(value))
    return "'" + text if text.startswith(_FORMULA_START) else text
