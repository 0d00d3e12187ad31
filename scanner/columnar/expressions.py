"""The Polars target of the rule backend: a rule's condition as one Polars expression.

Input is the rule's :class:`~scanner.match.backend.RuleCode`, the same compiled plan
the reference engine runs: its expression is a tree of ``and``/``or``/``not`` over
calls to the leaf tests of :mod:`scanner.match.runtime` (the specification), which
this module reads (``ast``) and emits leaf by leaf as Polars expressions over a
frame with one string column per field (``null`` when absent) and the raw text in
:data:`RAW`. Each leaf is made null-free, so Kleene logic never changes a verdict.

The expression is exact only on *plain* values: strings of printable ASCII and tab
(or absent). There Python's ``str.lower`` and Polars' ``to_lowercase`` agree, and
Rust's Unicode ``\\d \\w \\s \\b`` and case folding agree with RE2's (no character
outside ASCII, no ``\\v``, no line break). :class:`RuleExpr` names the columns a rule
reads and where the expression is exact; the reference code evaluates the other rows.

Numbers compare where both Python's ``float`` and Polars' cast read the value the
same way (plain decimals), or where neither reads it (no digit, no ``inf``/``nan``).
``|cidr`` reads IPv4 addresses in Polars; values with a colon (IPv6) go to the reference.
A rule the target cannot express gets a reason instead (:class:`Unsupported`) and
is evaluated by the reference code on its candidate rows: a leaf test without a
Polars form here (timestamp parts), a
regex only Python's ``re`` runs, one with non-ASCII text, or one whose meaning
differs between RE2 and Rust's ``regex`` (class set operations ``&& -- ~~``, nested
classes, ``{,n}``), or one Rust's ``regex`` refuses.
"""

from __future__ import annotations

import ast
import ipaddress
import re
from dataclasses import dataclass
from functools import reduce
from operator import and_, or_
from typing import Callable, Iterable

import polars as pl

from scanner.match.backend import RuleCode
from scanner.match.runtime import compile_regex
from scanner.rules.load import CompiledRule

RAW = "\0raw"  # the column of the raw text (no field is named so)
PLAIN = r"^[\t\x20-\x7e]*$"  # values the expressions are exact on
NUMBER = r"^-?[0-9]{1,15}(\.[0-9]{1,15})?$"  # Python's float() and Polars' cast agree on these
MAYBE_NUMBER = r"(?i)[0-9]|inf|nan"  # anything else float() may read
_OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"  # ipaddress: no leading zeros
IPV4 = (r"^[\[\]]*" + r"\.".join(f"(?P<o{i}>{_OCTET[1:-1]})" for i in range(4))
        + r"[\[\]]*$")  # what ipaddress.ip_address(text.strip("[]")) reads as IPv4
_RUST_DIFFERS = re.compile(r"&&|--|~~|\[\[(?!:)|\{,")  # RE2 reads these otherwise, or refuses


class Unsupported(Exception):
    """The rule has no Polars form here; the message says which construct."""


@dataclass(frozen=True, slots=True)
class RuleExpr:
    """A rule as a Polars expression, and where it is exact: ``safe`` is true on the rows
    whose values the expression reads are plain (and numbers where compared as numbers)."""

    expr: pl.Expr
    safe: pl.Expr
    columns: frozenset[str]


def rule_expr(code: RuleCode) -> RuleExpr:
    """The Polars form of ``code``.

    Raises:
        Unsupported: a construct has no exact Polars form (reason in the message).
    """
    constants = {name: _constant(source) for name, source in code.constants}
    tree = ast.parse(code.expression, mode="eval").body
    emitter = _Emitter(constants)
    expr = emitter.emit(tree)
    guards = [pl.col(c).is_null() | pl.col(c).str.contains(PLAIN) for c in sorted(emitter.columns)]
    return RuleExpr(expr.alias("verdict"), pl.all_horizontal(guards + emitter.guards).alias("safe"),
                    frozenset(emitter.columns))


def rule_exprs(rules: Iterable[CompiledRule]) -> tuple[dict[int, RuleExpr], dict[str, str]]:
    """The Polars form of each rule that has one (by key), and why the others have none
    (by rule id)."""
    exprs: dict[int, RuleExpr] = {}
    unsupported: dict[str, str] = {}
    for rule in rules:
        try:
            exprs[rule.key] = rule_expr(rule.code)
        except Unsupported as exc:
            unsupported[rule.info.id] = str(exc)
    return exprs, unsupported


def _constant(source: str) -> tuple[str, str]:
    """``(maker, argument)`` of a constant: ``compile_regex('…')`` or ``ip_network('…')``."""
    call = ast.parse(source, mode="eval").body
    assert isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
    return call.func.id, ast.literal_eval(call.args[0])


def _regex(pattern: str) -> str:
    """``pattern`` for Rust's ``regex``, when it means there what it means to RE2."""
    if not pattern.isascii():
        raise Unsupported(f"regex with non-ASCII text: {pattern!r}")
    if isinstance(compile_regex(pattern), re.Pattern):
        raise Unsupported(f"regex only Python re runs: {pattern!r}")
    if _RUST_DIFFERS.search(pattern):
        raise Unsupported(f"regex RE2 and Rust read differently: {pattern!r}")
    if not rust_accepts(pattern):
        raise Unsupported(f"regex Rust's regex refuses: {pattern!r}")
    return pattern


def rust_accepts(pattern: str) -> bool:
    """Whether Rust's ``regex`` (Polars) compiles ``pattern``."""
    try:
        pl.select(pl.lit("").str.contains(pattern))
    except pl.exceptions.PolarsError:
        return False
    return True


def _any(exprs: list[pl.Expr]) -> pl.Expr:
    return reduce(or_, exprs)


class _Emitter:
    """Walks one rule's expression tree; collects the columns it reads."""

    def __init__(self, constants: dict[str, tuple[str, str]]) -> None:
        self._constants = constants
        self.columns: set[str] = set()
        self.guards: list[pl.Expr] = []  # where the leaves beyond plain strings are exact

    def emit(self, node: ast.expr) -> pl.Expr:
        if isinstance(node, ast.BoolOp):
            return reduce(and_ if isinstance(node.op, ast.And) else or_,
                          [self.emit(v) for v in node.values])
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return ~self.emit(node.operand)
        if isinstance(node, ast.Compare):  # 'text' in raw / lraw: a keyword
            needle = ast.literal_eval(node.left)
            return self._text(node.comparators[0]).str.contains(needle, literal=True)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            leaf = _LEAVES.get(node.func.id)
            if leaf is None:
                raise Unsupported(f"no Polars form of {node.func.id}")
            return leaf(self, *node.args).fill_null(False)
        raise Unsupported(f"unexpected expression {ast.unparse(node)}")

    def _text(self, node: ast.expr) -> pl.Expr:
        """The raw text (``raw``) or its lower-cased form (``lraw``)."""
        assert isinstance(node, ast.Name) and node.id in ("raw", "lraw")
        self.columns.add(RAW)
        return pl.col(RAW).str.to_lowercase() if node.id == "lraw" else pl.col(RAW)

    def _field(self, node: ast.expr, lower: ast.expr | None = None) -> pl.Expr:
        """The column of ``f.get(name, MISSING)``, lower-cased when ``lower`` says so."""
        assert isinstance(node, ast.Call) and isinstance(node.args[0], ast.Constant)
        name = node.args[0].value
        self.columns.add(name)
        column = pl.col(name)
        lowered = lower is not None and ast.literal_eval(lower)
        return column.str.to_lowercase() if lowered else column

    def _pattern(self, node: ast.expr) -> str:
        assert isinstance(node, ast.Name)
        maker, argument = self._constants[node.id]
        if maker != "compile_regex":
            raise Unsupported(f"no Polars form of {maker}")
        return _regex(argument)

    def str_eq(self, value: ast.expr, s: ast.expr, lower: ast.expr) -> pl.Expr:
        return self._field(value, lower) == ast.literal_eval(s)

    def str_eq_any(self, value: ast.expr, options: ast.expr, lower: ast.expr) -> pl.Expr:
        return self._field(value, lower).is_in(list(ast.literal_eval(options)))

    def str_startswith(self, value: ast.expr, s: ast.expr, lower: ast.expr) -> pl.Expr:
        column = self._field(value, lower)
        return _any([column.str.starts_with(n) for n in _needles(s)])

    def str_endswith(self, value: ast.expr, s: ast.expr, lower: ast.expr) -> pl.Expr:
        column = self._field(value, lower)
        return _any([column.str.ends_with(n) for n in _needles(s)])

    def str_contains(self, value: ast.expr, s: ast.expr, lower: ast.expr) -> pl.Expr:
        return self._field(value, lower).str.contains(ast.literal_eval(s), literal=True)

    def str_contains_any(self, value: ast.expr, s: ast.expr, lower: ast.expr) -> pl.Expr:
        column, needles = self._field(value, lower), _needles(s)
        return column.str.contains_any(needles) if all(needles) else column.is_not_null()

    def str_like(self, value: ast.expr, rx: ast.expr, lower: ast.expr) -> pl.Expr:
        return self._field(value, lower).str.contains(f"^(?:{self._pattern(rx)})$")

    def re_search(self, value: ast.expr, rx: ast.expr) -> pl.Expr:
        return self._field(value).str.contains(self._pattern(rx))

    def text_search(self, text: ast.expr, rx: ast.expr) -> pl.Expr:
        return self._text(text).str.contains(self._pattern(rx))

    def num_cmp(self, value: ast.expr, op: ast.expr, n: ast.expr) -> pl.Expr:
        column = self._field(value)
        self.guards.append(column.is_null() | column.str.contains(NUMBER)
                           | ~column.str.contains(MAYBE_NUMBER))
        number = column.cast(pl.Float64, strict=False)
        return _COMPARE[ast.literal_eval(op)](number, ast.literal_eval(n))

    def in_network(self, value: ast.expr, network: ast.expr) -> pl.Expr:
        assert isinstance(network, ast.Name)
        net = ipaddress.ip_network(self._constants[network.id][1])
        column = self._field(value)
        if net.version == 6:  # an IPv6 address is written with a colon: the others never match
            self.guards.append(column.is_null() | ~column.str.contains(":", literal=True))
            return pl.lit(False)
        octets = column.str.extract_groups(IPV4)
        number = reduce(lambda total, i: total * 256 + octets.struct.field(f"o{i}").cast(pl.Int64),
                        range(1, 4), octets.struct.field("o0").cast(pl.Int64))
        return number.is_between(int(net.network_address), int(net.broadcast_address))

    def bool_eq(self, value: ast.expr, b: ast.expr) -> pl.Expr:
        return self._field(value).str.to_lowercase() == ("true" if ast.literal_eval(b) else "false")

    def field_ref(self, value: ast.expr, other: ast.expr, mode: ast.expr) -> pl.Expr:
        this = self._field(value).str.to_lowercase()
        that = self._field(other).str.to_lowercase()
        how = ast.literal_eval(mode)
        return (this == that if how == "eq" else this.str.starts_with(that) if how == "startswith"
                else this.str.ends_with(that))

    def is_null(self, value: ast.expr) -> pl.Expr:
        return self._field(value).is_null()

    def exists(self, value: ast.expr) -> pl.Expr:
        return self._field(value).is_not_null()


def _needles(node: ast.expr) -> list[str]:
    value = ast.literal_eval(node)
    return list(value) if isinstance(value, tuple) else [value]


_COMPARE: dict[str, Callable[[pl.Expr, float], pl.Expr]] = {
    "eq": lambda a, b: a == b, "lt": lambda a, b: a < b, "lte": lambda a, b: a <= b,
    "gt": lambda a, b: a > b, "gte": lambda a, b: a >= b, "neq": lambda a, b: a != b,
}
_LEAVES: dict[str, Callable[..., pl.Expr]] = {
    name: getattr(_Emitter, name) for name in (
        "str_eq", "str_eq_any", "str_startswith", "str_endswith", "str_contains",
        "str_contains_any", "str_like", "re_search", "text_search", "num_cmp", "in_network",
        "bool_eq", "field_ref", "is_null", "exists")}

