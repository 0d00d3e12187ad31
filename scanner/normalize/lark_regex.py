"""Derive from a compiled Lark LALR grammar one anchored regex that parses exactly like Lark.

The Lark grammar stays the source of truth; this module reads what Lark built from
it (the LALR parse table, the contextual lexer of every parser state, the rules
with their filtered-out tokens and aliases) and unrolls every token path from the
start state into one regex, so a line is parsed by a single ``re.match``.

Lark's behaviour is mimicked, not approximated: at each parser state the lexer
tries that state's terminals in Lark's own order and takes the first that matches,
never backtracking into it; so every token is an atomic group ``(?>T)`` guarded by
a negative lookahead over the terminals Lark would have tried first (only those
that can start at the same place, see :mod:`scanner.normalize.regex_overlap`).
Lark's string-over-regex rule (a regex token whose whole value equals a literal
becomes that literal) is checked with a lookahead that compares the rest of the
line. ``%ignore`` terminals become a possessive loop before each token. Token
paths come from running the parse table itself, so shifts, reductions and
conflict resolutions are Lark's. Each accepting path ends in an empty marker
group naming its kind and the groups that hold its fields (first occurrence of
a name wins, as in :meth:`Grammar.parse_with_lark`), unless it needs none: a match's
``lastindex`` is the last group it closed, so a path whose last group is a field
group of its own is told by that group, when every path ending at it has one outcome.

What ``re`` spends on such a regex was measured construct by construct
(``bench/derived_regex_cost.py``), and the regex is written in the cheapest of its
exact forms: each terminal's (:mod:`scanner.normalize.regex_forms`); a token that
later branches guard against tried once and committed to (:func:`_alternation`);
a literal's guard against the longer literals it begins checked after it, and the
literal branches of a node sharing their prefixes (:func:`_tail`, :func:`_by_prefix`).

A grammar whose token paths are unbounded (a recursive rule, ``x*``/``x+`` of
rules or terminals) or too many raises :class:`NotDerivable` with the reason;
the caller keeps using Lark for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from os.path import commonprefix
from typing import Any, Callable

from lark import Lark
from lark.grammar import Rule
from lark.lexer import BasicLexer, ContextualLexer, PatternStr, TerminalDef
from lark.parsers.lalr_analysis import Shift

from scanner.normalize.regex_forms import atomic, embeddable
from scanner.normalize.regex_overlap import may_overlap

Fields = dict[str, str]
FieldsOf = Callable[[re.Match[str]], Fields]

MAX_NODES = 20_000  # token-path nodes unrolled per grammar before giving up
MAX_TOKENS = 200  # tokens on one path before calling the grammar unbounded
_END = "$END"
_BACKREF = re.compile(r"\\[1-9]|\(\?P=")
_REST_SLOT = "\x00"  # brackets a placeholder for the "rest of line" group of a way
_REST_SLOTS = re.compile("\x00(\\d+)\x00")
_MARKER_SLOT = "\x01"  # brackets an accepting path's marker group, kept only where needed
_MARKER_SLOTS = re.compile("\x01(k\\d+)\x01")

Value = int | tuple[int, ...]  # a shifted token's path index, or a rule's kept indices


class NotDerivable(Exception):
    """The grammar cannot be unrolled into a regex; the message says why."""


@dataclass(frozen=True, slots=True)
class FastParser:
    """The derived regex and, per accepting marker group, the kind and its fields' maker."""

    pattern: re.Pattern[str]
    outcomes: dict[int, tuple[str, FieldsOf]]

    def parse(self, text: str) -> tuple[str, Fields] | None:
        """Parse ``text`` whole; ``None`` when the grammar does not accept it."""
        match = self.pattern.match(text)
        if match is None:
            return None
        kind, fields_of = self.outcomes[match.lastindex or 0]
        return kind, fields_of(match)


def _fields_of(names: tuple[str, ...], groups: tuple[int, ...]) -> FieldsOf:
    """The fields of a match of one outcome, made by one dict display (``{'host': m[16], …}``)
    rather than zipping names and groups on every parse."""
    body = ", ".join(f"{name!r}: m[{group}]" for name, group in zip(names, groups))
    namespace: dict[str, Any] = {}
    exec(f"def fields_of(m):\n    return {{{body}}}\n", namespace)  # names are repr()ed
    return namespace["fields_of"]  # type: ignore[no-any-return]


def derive(lark: Lark) -> FastParser:
    """The fast parser of a Lark LALR grammar built with the contextual lexer."""
    builder = _Builder(lark)
    body = builder.node((builder.start,), (), (), frozenset())
    if body is None:
        raise NotDerivable("the grammar accepts no text")
    told_by = builder.telling_groups()
    body = _MARKER_SLOTS.sub(lambda m: f"(?P<{m[1]}>)" if told_by[m[1]] == m[1] else "", body)
    try:
        pattern = re.compile(body)
    except (re.error, RecursionError, OverflowError) as exc:
        raise NotDerivable(f"derived regex does not compile: {exc}") from None
    outcomes = {
        pattern.groupindex[told_by[marker]]: (kind, _fields_of(
            tuple(f for _g, f in fields), tuple(pattern.groupindex[g] for g, _f in fields)))
        for marker, (kind, fields) in builder.outcomes.items()
    }
    return FastParser(pattern, outcomes)


@dataclass(frozen=True, slots=True)
class _Token:
    type: str
    group: str
    grouped: bool  # its way holds groups of its own (the "rest of line" of a literal check)


class _Builder:
    """Walks the LALR automaton over every token path and writes the regex on the way."""

    def __init__(self, lark: Lark) -> None:
        frontend: Any = lark.parser
        lexer = frontend.lexer
        if not isinstance(lexer, ContextualLexer):
            raise NotDerivable(f"lexer is {type(lexer).__name__}, not the contextual lexer")
        table = frontend.parser.parser.parse_table
        self.states: dict[int, dict[str, tuple[Any, Any]]] = table.states
        self.start: int = table.start_states["start"]
        self.end: int = table.end_states["start"]
        self.lexers: dict[int, BasicLexer] = lexer.lexers
        self.outcomes: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {}
        self._paths: dict[str, tuple[_Token, ...]] = {}  # the token path of each marker
        self._names = 0
        self._nodes = 0
        self._ways: dict[int, tuple[str, dict[str, _Way]]] = {}
        self._field_groups: set[str] = set()
        for term in lark.terminals:
            _check_embeddable(term)

    def node(self, stack: tuple[int, ...], values: tuple[Value, ...],
             path: tuple[_Token, ...], seen: frozenset[tuple[int, ...]]) -> str | None:
        """The regex for the rest of the text after ``path``; ``None`` if nothing is accepted."""
        if stack in seen:
            raise NotDerivable("unbounded repetition (a recursive rule or x*/x+)")
        if len(path) > MAX_TOKENS:
            raise NotDerivable(f"token paths longer than {MAX_TOKENS} (a recursive rule?)")
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise NotDerivable(f"more than {MAX_NODES} token-path nodes")
        ignored, ways = self._lexer_ways(stack[-1])
        branches: list[_Branch] = []
        for type_, way in ways.items():
            fed = self._feed(stack, values, type_, len(path))
            if fed is None:
                continue
            group = self._name("t")
            grouped = way.grouped
            if grouped:  # every use of a way needs its own group names
                way = way.renamed(lambda m: f"r{group}_{m[1]}")
            rest = self.node(fed[0], fed[1], (*path, _Token(type_, group, grouped)),
                             seen | {stack})
            if rest is not None:  # only tokens that some outcome keeps need a group
                branches.append(_Branch(way, group if group in self._field_groups else None,
                                        rest))
        accepted = self._accept(stack, values)
        if accepted is not None:
            kind, kept = accepted
            marker = self._name("k")
            fields = _fields(path, kept)
            self.outcomes[marker] = (kind, fields)
            self._paths[marker] = path
            self._field_groups.update(group for group, _field in fields)
            branches.append(_Branch(None, None, f"{_MARKER_SLOT}{marker}{_MARKER_SLOT}\\Z"))
        if not branches:
            return None
        return f"{ignored}{_alternation(branches, frozenset())}"

    def telling_groups(self) -> dict[str, str]:
        """Per marker, the group that tells its outcome: the last group its path closes
        when that is a field group and every marker with the same one has the same
        outcome; else the marker itself (kept as an empty group)."""
        by_group: dict[str | None, list[str]] = {}
        for marker, path in self._paths.items():
            by_group.setdefault(self._last_group(path), []).append(marker)
        told_by: dict[str, str] = {}
        for group, markers in by_group.items():
            one = len({self.outcomes[m] for m in markers}) == 1
            told_by.update((m, group if one and group else m) for m in markers)
        return told_by

    def _last_group(self, path: tuple[_Token, ...]) -> str | None:
        """The last group a match of ``path`` closes if it is a field group, else ``None``."""
        for token in reversed(path):
            if token.group in self._field_groups:
                return token.group
            if token.grouped:
                return None
        return None

    def _name(self, prefix: str) -> str:
        self._names += 1
        return f"{prefix}{self._names}"

    def _feed(self, stack: tuple[int, ...], values: tuple[Value, ...], type_: str,
              index: int) -> tuple[tuple[int, ...], tuple[Value, ...]] | None:
        """Lark's ``feed_token``: reduce as needed, then shift; ``None`` on a parse error."""
        states, vals = list(stack), list(values)
        while True:
            action = self.states[states[-1]].get(type_)
            if action is None:
                return None
            if action[0] is Shift:
                return (*states, action[1]), (*vals, index)
            self._reduce(states, vals, action[1])

    def _accept(self, stack: tuple[int, ...],
                values: tuple[Value, ...]) -> tuple[str, tuple[int, ...]] | None:
        """Feed the end of input: the kind and kept tokens, or ``None`` when rejected."""
        states, vals = list(stack), list(values)
        while True:
            action = self.states[states[-1]].get(_END)
            if action is None:
                return None
            rule: Rule = action[1]
            self._reduce(states, vals, rule)
            if states[-1] == self.end:
                if rule.options.expand1 and not rule.alias:
                    raise NotDerivable("?start alternative without an -> alias")
                kept = vals[-1]
                assert isinstance(kept, tuple)
                return str(rule.alias or rule.origin.name), kept

    def _reduce(self, states: list[int], vals: list[Value], rule: Rule) -> None:
        """Pop the rule's children, keep the tokens Lark keeps, push the goto state."""
        size = len(rule.expansion)
        children = vals[len(vals) - size:] if size else []
        del states[len(states) - size:], vals[len(vals) - size:]
        kept: list[int] = []
        for symbol, child in zip(rule.expansion, children):
            if not symbol.is_term:
                assert isinstance(child, tuple)
                kept.extend(child)
            elif rule.options.keep_all_tokens or not symbol.filter_out:
                assert isinstance(child, int)
                kept.append(child)
        states.append(self.states[states[-1]][rule.origin.name][1])
        vals.append(tuple(kept))

    def _lexer_ways(self, state: int) -> tuple[str, dict[str, _Way]]:
        """For a parser state: the ``%ignore`` loop and, per token type, the regex lexing it."""
        cached = self._ways.get(state)
        if cached is None:
            cached = self._ways[state] = _lexer_ways(self.lexers[state])
        return cached


# (name, regex, tail) of the terminals Lark tries first; a tail is set when the terminal is a
# literal extending the guarded literal: what follows it there (see _lexer_ways)
Guard = tuple[tuple[str, str, str | None], ...]


@dataclass(frozen=True, slots=True)
class _Way:
    """How one token type is lexed in one parser state: pieces, each a guard and the
    text after it; ``terminal`` names the terminal whose match alone decides a way of
    one plain piece (no literal check), ``literal`` its text if it is a literal (no flags)."""

    pieces: tuple[tuple[Guard, str], ...]
    terminal: str | None
    literal: str | None

    def text(self, excluded: frozenset[str]) -> str:
        """The way's regex where the ``excluded`` terminals are known not to match."""
        texts = [_guarded(guard, body, excluded) for guard, body in self.pieces]
        return texts[0] if len(texts) == 1 else f"(?:{'|'.join(texts)})"

    def guards_against(self, name: str) -> bool:
        """Whether a piece of the way is guarded against terminal ``name``."""
        return any(earlier[0] == name for guard, _body in self.pieces for earlier in guard)

    @property
    def grouped(self) -> bool:
        """Whether the way holds groups of its own (the "rest of line" of a literal check)."""
        return any(_REST_SLOT in body for _guard, body in self.pieces)

    def renamed(self, name: Callable[[re.Match[str]], str]) -> _Way:
        """The way with its ``_REST_SLOT`` placeholders replaced by ``name(slot)``."""
        pieces = tuple((guard, _REST_SLOTS.sub(name, body)) for guard, body in self.pieces)
        return _Way(pieces, self.terminal, self.literal)

    def after_literal(self, excluded: frozenset[str]) -> str | None:
        """When the way's regex starts with its literal: the regex after the literal."""
        if self.literal is None:
            return None
        [(guard, _body)] = self.pieces
        if any(tail is None and name not in excluded for name, _re, tail in guard):
            return None
        return _none_of([tail for name, _re, tail in guard if tail and name not in excluded])


def _guarded(guard: Guard, body: str, excluded: frozenset[str]) -> str:
    """``body`` guarded by negative lookaheads over the guard's terminals but the
    ``excluded`` ones: before it, and after it for the tails of longer literals."""
    before = [regexp for name, regexp, tail in guard if name not in excluded and tail is None]
    after = [tail for name, _re, tail in guard if name not in excluded and tail is not None]
    return _none_of(before) + body + _none_of(after)


def _none_of(regexps: list[str]) -> str:
    return f"(?!{'|'.join(regexps)})" if regexps else ""


@dataclass(frozen=True, slots=True)
class _Branch:
    """One alternative of a node: a token's way (``None`` for an accept), the group
    capturing the token (``None`` when no outcome keeps it) and the regex after it."""

    way: _Way | None
    group: str | None
    rest: str

    def text(self, excluded: frozenset[str]) -> str:
        if self.way is None:
            return self.rest
        token = self.way.text(excluded)
        return (token if self.group is None else f"(?P<{self.group}>{token})") + self.rest


def _alternation(branches: list[_Branch], excluded: frozenset[str]) -> str:
    """The node's branches, one of which matches (they exclude each other).

    A token whose terminal later branches guard against is tried once: when it is
    captured and plain, ``(?>(?P<g>T)|)(?(g)REST|LATER)`` commits to it if it matches
    (Lark lexes it then) and otherwise tries the later branches with that guard
    dropped. Its way failing means its terminal does not match here, or an earlier
    terminal does: then a later branch fails as before, by its own guard against that
    terminal or, when it has none, because the two cannot match at the same place.
    """
    texts: list[str | None] = []  # None: where the literal branches go
    literals: list[tuple[str, str]] = []
    for i, branch in enumerate(branches):
        name = branch.way.terminal if branch.way and branch.group else None
        later = branches[i + 1:]
        if name is not None and any(b.way and b.way.guards_against(name) for b in later):
            token = f"(?>(?P<{branch.group}>{branch.way.text(excluded)})|)"  # type: ignore[union-attr]
            rest = _alternation(later, excluded | {name})
            texts.append(f"{token}(?({branch.group}){branch.rest}|{rest})")
            break
        after = branch.way.after_literal(excluded) if branch.way and not branch.group else None
        if after is None:
            texts.append(branch.text(excluded))
            continue
        if not literals:
            texts.append(None)
        literals.append((branch.way.literal, after + branch.rest))  # type: ignore[union-attr]
    return f"(?:{'|'.join(_by_prefix(literals) if t is None else t for t in texts)})"


def _by_prefix(alternatives: list[tuple[str, str]]) -> str:
    """Alternatives, each a literal and the regex after it, with the literals' shared
    prefixes matched once: ``re`` tries a branch per first character, not per literal.

    The node's branches exclude each other, so their order does not change what matches.
    """
    by_first: dict[str, list[tuple[str, str]]] = {}
    for literal, rest in alternatives:
        by_first.setdefault(literal[:1], []).append((literal, rest))
    texts = []
    for first, group in by_first.items():
        if not first or len(group) == 1:
            texts.extend(re.escape(literal) + rest for literal, rest in group)
            continue
        prefix = commonprefix([literal for literal, _rest in group])
        texts.append(re.escape(prefix) + _by_prefix(
            [(literal[len(prefix):], rest) for literal, rest in group]))
    return texts[0] if len(texts) == 1 else f"(?:{'|'.join(texts)})"


def _lexer_ways(lexer: BasicLexer) -> tuple[str, dict[str, _Way]]:
    """Token ways of one state's lexer; ``_REST_SLOT`` marks group names to fill per use."""
    order: list[TerminalDef] = lexer.scanner.terminals
    pieces: dict[str, list[tuple[Guard, str]]] = {}
    plain: set[str] = set()
    ignored: list[str] = []
    for i, term in enumerate(order):
        guard = tuple((e.name, _regexp(e), _tail(e, term))
                      for e in order[:i] if may_overlap(e, term))
        body = _atomic(term)
        unless = getattr(lexer.callback.get(term.name), "scanner", None)
        if term.name in lexer.ignore_types:
            if unless is not None:
                raise NotDerivable(f"ignored terminal {term.name} collides with a literal")
            ignored.append(_guarded(guard, body, frozenset()))
        elif unless is None:
            pieces.setdefault(term.name, []).append((guard, body))
            plain.add(term.name)
        else:
            rest = f"{_REST_SLOT}{i}{_REST_SLOT}"
            capture = f"(?={body}(?P<{rest}>(?s:.*)))"
            literals = [s.pattern.to_regexp() for s in unless.terminals]
            not_equal = [f"(?!{lit}(?P={rest})\\Z)" for lit in literals]
            for j, literal in enumerate(unless.terminals):
                equal = f"(?={literals[j]}(?P={rest})\\Z)"
                pieces.setdefault(literal.name, []).append(
                    (guard, f"{capture}{''.join(not_equal[:j])}{equal}{body}"))
            pieces.setdefault(term.name, []).append(
                (guard, f"{capture}{''.join(not_equal)}{body}"))
    loop = f"(?:{'|'.join(ignored)})*+" if ignored else ""
    literals = {t.name: t.pattern.value for t in order
                if isinstance(t.pattern, PatternStr) and not t.pattern.flags}
    return loop, {t: _Way(tuple(p), t if t in plain and len(p) == 1 else None,
                          literals.get(t) if t in plain and len(p) == 1 else None)
                  for t, p in pieces.items()}


def _tail(earlier: TerminalDef, term: TerminalDef) -> str | None:
    """What follows literal ``term`` in an ``earlier`` literal that extends it, as a regex.

    ``(?!LONG)LIT`` and ``LIT(?!TAIL)`` (``LONG`` being ``LIT`` then ``TAIL``) match the
    same; the second starts with a literal, which ``re`` checks on the first character
    before it tries the branch at all.
    """
    long, short = earlier.pattern, term.pattern
    if (isinstance(long, PatternStr) and isinstance(short, PatternStr) and not long.flags
            and not short.flags and long.value.startswith(short.value)):
        return re.escape(long.value[len(short.value):])
    return None


def _atomic(term: TerminalDef) -> str:
    """The terminal's regex, matched without backtracking into it as Lark's lexer does.

    A literal has one way to match, so it stays bare: ``re`` then skips a branch
    that starts with a literal on its first character. A regex takes the cheapest
    form of its atomic group (:func:`scanner.normalize.regex_forms.atomic`).
    """
    regexp = _regexp(term)
    return regexp if isinstance(term.pattern, PatternStr) else atomic(regexp)


def _regexp(term: TerminalDef) -> str:
    """The terminal's regex as embedded (:func:`scanner.normalize.regex_forms.embeddable`)."""
    return embeddable(term.pattern.to_regexp())


def _fields(path: tuple[_Token, ...], kept: tuple[int, ...]) -> tuple[tuple[str, str], ...]:
    """(group, field name) of the kept named tokens, first occurrence of each name."""
    fields: dict[str, str] = {}
    for index in kept:
        token = path[index]
        if not token.type.startswith("_"):
            fields.setdefault(token.type.lower(), token.group)
    return tuple((group, field) for field, group in fields.items())


def _check_embeddable(term: TerminalDef) -> None:
    """Refuse terminals whose regex would change meaning inside a larger regex."""
    regexp = term.pattern.to_regexp()
    if _BACKREF.search(regexp) or re.compile(regexp).groupindex:
        raise NotDerivable(f"terminal {term.name} uses named groups or backreferences")
    if _REST_SLOT in regexp or _MARKER_SLOT in regexp:
        raise NotDerivable(f"terminal {term.name} holds a \\x00 or \\x01 character")
