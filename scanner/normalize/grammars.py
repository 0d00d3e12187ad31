"""Load the Lark grammars of ``grammars/`` and parse text into (kind, fields).

Grammar convention (every ``grammars/*.lark`` follows it):

* ``start`` is a list of alternatives, each a flat sequence of terminals and
  literals, and each alternative carries an alias: ``-> failed_password``. The
  alias is the message *kind* returned by :meth:`Grammar.parse`.
* Every named terminal whose name does not start with ``_`` becomes a field; its
  lower-cased name is the field name (``SRC_IP`` → ``src_ip``). Terminals named
  ``_X``, string literals and inline ``/regex/`` pieces are matched but not kept.
* A grammar must consume the whole text; a text it cannot parse is "unparsed",
  never an error.

:meth:`Grammar.parse` runs a regex derived from the Lark grammar
(:mod:`scanner.normalize.lark_regex`), which gives Lark's result 5-40 times
faster (``bench/grammar_speed.py``); a grammar that cannot be derived keeps
parsing with Lark and says why in :attr:`Grammar.fallback_reason`.
:meth:`Grammar.parse_with_lark` is the reference the fast path is tested against.

This module knows nothing of routing, files or Sigma.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Callable

from lark import Lark, Token
from lark.exceptions import LarkError

from scanner.errors import GrammarError, Location
from scanner.normalize.lark_regex import FastParser, Fields, NotDerivable, derive
from scanner.resources import grammars_dir


class Grammar:
    """One compiled grammar: ``parse(text)`` gives ``(kind, fields)`` or ``None``."""

    def __init__(self, name: str, source: str, path: Path | None = None) -> None:
        self.name = name
        try:
            self._lark = Lark(source, parser="lalr", propagate_positions=False,
                              maybe_placeholders=False)
        except LarkError as exc:
            raise GrammarError(f"grammar does not compile: {exc}",
                               Location(str(path or name))) from None
        self._fast: FastParser | None = None
        self.fallback_reason: str | None = None
        try:
            self._fast = derive(self._lark)
        except NotDerivable as exc:
            self.fallback_reason = str(exc)

    @property
    def kinds(self) -> frozenset[str]:
        """Every kind :meth:`parse` can give (the aliases of ``start``'s alternatives)."""
        return frozenset(str(rule.alias or rule.origin.name) for rule in self._lark.rules
                         if rule.origin.name == "start")

    @property
    def fast_path(self) -> bool:
        """Whether :meth:`parse` uses the derived regex rather than Lark."""
        return self._fast is not None

    def parse(self, text: str) -> tuple[str, Fields] | None:
        """Parse ``text`` whole; ``None`` when the grammar does not accept it."""
        if self._fast is not None:
            return self._fast.parse(text)
        return self.parse_with_lark(text)

    @property
    def parser(self) -> Callable[[str], tuple[str, Fields] | None]:
        """:meth:`parse` without its dispatch, for callers that parse many texts."""
        return self._fast.parse if self._fast is not None else self.parse_with_lark

    def parse_with_lark(self, text: str) -> tuple[str, Fields] | None:
        """:meth:`parse` by Lark itself, the reference the fast path is checked against."""
        try:
            tree = self._lark.parse(text)
        except LarkError:
            return None
        fields: Fields = {}
        for token in tree.scan_values(lambda v: isinstance(v, Token)):
            if not token.type.startswith("_"):
                fields.setdefault(token.type.lower(), str(token))
        return str(tree.data), fields


@cache
def load_grammar(name: str) -> Grammar:
    """The grammar ``grammars/<name>.lark``, compiled once per process."""
    path = grammars_dir() / f"{name}.lark"
    try:
        source = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise GrammarError(f"cannot read grammar: {exc.strerror}", Location(str(path))) from None
    return Grammar(name, source, path)
