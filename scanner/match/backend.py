"""A pySigma backend whose output is Python source for executable matchers.

Takes one pySigma rule (already through ``scanner.rules.fields``' pipeline) and
yields a :class:`RuleCode`: one Python expression per rule over ``f`` (the
event's fields), ``raw`` and ``lraw`` (the raw text and its lower-cased form),
the named constants it uses (precompiled RE2 patterns, IP networks) as source
text, and its required-literal set for the prefilter. Everything stays text so
it pickles; ``scanner.match.matcher`` compiles it in each worker. The leaf
semantics live in ``scanner.match.runtime``; this module only decides which
runtime test a Sigma value becomes (an OR of simple string leaves on one field
becomes one call with a tuple of texts, so the value is lowered once). Unsupported
or broken input raises a ``SigmaError`` naming the problem, never anything else.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any, ClassVar

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.conversion.base import Backend
from sigma.conversion.state import ConversionState
from sigma.exceptions import (
    SigmaFeatureNotSupportedByBackendError,
    SigmaRegularExpressionError,
    SigmaValueError,
)
from sigma.rule import SigmaRule
from sigma.types import (
    CompareOperators,
    Placeholder,
    SigmaCasedString,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SpecialChars,
)

from scanner.match import prefilter
from scanner.match.prefilter import Literals
from scanner.match.runtime import compile_regex
from scanner.model import SYNTHESIZED_FIELDS

_FLAGS = {SigmaRegularExpressionFlag.IGNORECASE: "i", SigmaRegularExpressionFlag.MULTILINE: "m",
          SigmaRegularExpressionFlag.DOTALL: "s"}
# Wildcard layouts that need no regex: a literal, then "*" where SpecialChars.WILDCARD_MULTI is.
_SIMPLE_SHAPES = {("lit",): "str_eq", ("lit", "*"): "str_startswith", ("*", "lit"): "str_endswith",
                  ("*", "lit", "*"): "str_contains"}
# OR of simple leaves on one field: one call with every needle (the value is lowered once).
_ANY_OF = {"str_eq": "str_eq_any", "str_startswith": "str_startswith",
           "str_endswith": "str_endswith", "str_contains": "str_contains_any"}
_OPS = {CompareOperators.LT: "lt", CompareOperators.LTE: "lte", CompareOperators.GT: "gt",
        CompareOperators.GTE: "gte", CompareOperators.NEQ: "neq"}


@dataclass(frozen=True, slots=True)
class Leaf:
    """A simple string leaf (``_SIMPLE_SHAPES``): its runtime test, value source, text, case."""

    test: str
    value: str
    needle: str
    lower: bool


@dataclass(frozen=True, slots=True)
class Expr:
    """Intermediate result of one condition node: Python source and its literals."""

    source: str
    literals: Literals
    leaf: Leaf | None = None


@dataclass(frozen=True, slots=True)
class RuleCode:
    """A converted rule: its expression, the constants it names, its literals."""

    expression: str
    constants: tuple[tuple[str, str], ...]
    literals: Literals
    python_regex: bool = False  # some pattern needed Python re (RE2 could not express it)


class PythonMatcherBackend(Backend):
    """Converts Sigma conditions into Python expressions (see the module docstring)."""

    name: ClassVar[str] = "logsigma Python matcher"
    formats: ClassVar[dict[str, str]] = {"default": "Python expression source"}

    def __init__(self, processing_pipeline: Any = None) -> None:
        super().__init__(processing_pipeline=processing_pipeline, collect_errors=False)
        self._prefix = ""
        self._constants: list[tuple[str, str]] = []
        self._python_regex = False

    def compile(self, rule: SigmaRule, key: int) -> RuleCode:
        """Convert ``rule``; constant names carry ``key`` so rules can share a module.

        Raises:
            SigmaError: the rule cannot be converted (reason in the message).
        """
        self._prefix, self._constants, self._python_regex = f"_c{key}_", [], False
        self.convert_rule(rule)
        queries: list[Expr] = rule.get_conversion_result()
        if not queries:
            raise SigmaValueError("rule has no condition")
        expression = " or ".join(f"({q.source})" for q in queries)
        return RuleCode(expression, tuple(self._constants),
                        prefilter.any_of([q.literals for q in queries]), self._python_regex)

    # -- helpers --------------------------------------------------------------------------

    def _constant(self, source: str) -> str:
        """Register a module-level constant (its source text); returns its name."""
        name = f"{self._prefix}{len(self._constants)}"
        self._constants.append((name, source))
        return name

    def _regex(self, pattern: str) -> str:
        """Validate and register a regex constant; notes when only Python re compiles it."""
        try:
            compiled = compile_regex(pattern)
        except re.error as exc:
            raise SigmaRegularExpressionError(f"regular expression {pattern!r} does not compile: {exc}")
        if isinstance(compiled, re.Pattern):
            self._python_regex = True
        return self._constant(f"compile_regex({pattern!r})")

    def _sigma_regex(self, value: SigmaRegularExpression) -> str:
        """The constant of a ``|re`` value, its ``|i``/``|m``/``|s`` flags made inline."""
        flags = "".join(sorted(_FLAGS[f] for f in value.flags))
        return self._regex((f"(?{flags})" if flags else "") + str(value.regexp))

    @staticmethod
    def _value(field: str) -> str:
        """Source of the value of ``field`` in the event (``MISSING`` when absent)."""
        return f"f.get({field!r}, MISSING)"

    @staticmethod
    def _parts(s: SigmaString, lower: bool) -> list[str | SpecialChars]:
        """The text and wildcard parts of ``s``; raises on an unresolved placeholder."""
        parts: list[str | SpecialChars] = []
        for part in s.s:
            if isinstance(part, Placeholder):
                raise SigmaValueError(f"unresolved placeholder %{part.name}% "
                                      "(give its values with --placeholders FILE)")
            parts.append(part.lower() if lower and isinstance(part, str) else part)
        return parts

    def _wildcard_regex(self, parts: list[str | SpecialChars]) -> str:
        """The constant of a regex for ``parts``: ``*`` → ``.*``, ``?`` → ``.``, text escaped."""
        body = "".join(re.escape(p) if isinstance(p, str)
                       else ".*" if p == SpecialChars.WILDCARD_MULTI else "." for p in parts)
        return self._regex("(?s)" + body)

    def _string_test(self, value: str, s: SigmaString) -> Expr:
        """The leaf test of a field against a (cased) Sigma string with wildcards."""
        lower = not isinstance(s, SigmaCasedString)
        parts = self._parts(s, lower)
        chunks = [p for p in parts if isinstance(p, str)]
        literals = prefilter.leaf_literals(chunks)
        shape = tuple("*" if p == SpecialChars.WILDCARD_MULTI else "lit" if isinstance(p, str)
                      else "?" for p in parts)
        if not parts:
            return Expr(f"str_eq({value}, '', {lower})", None)
        if shape in _SIMPLE_SHAPES:
            leaf = Leaf(_SIMPLE_SHAPES[shape], value, chunks[0], lower)
            return Expr(f"{leaf.test}({value}, {leaf.needle!r}, {lower})", literals, leaf)
        return Expr(f"str_like({value}, {self._wildcard_regex(parts)}, {lower})", literals)

    # -- condition nodes ------------------------------------------------------------------

    def convert_condition_or(self, cond: ConditionOR, state: ConversionState) -> Expr:
        children = [self.convert_condition(arg, state) for arg in cond.args]
        return Expr(" or ".join(f"({source})" for source in _merge_leaves(children)),
                    prefilter.any_of([c.literals for c in children]))

    def convert_condition_and(self, cond: ConditionAND, state: ConversionState) -> Expr:
        children = [self.convert_condition(arg, state) for arg in cond.args]
        return Expr(" and ".join(f"({c.source})" for c in children),
                    prefilter.all_of([c.literals for c in children]))

    def convert_condition_not(self, cond: ConditionNOT, state: ConversionState) -> Expr:
        return Expr(f"not ({self.convert_condition(cond.args[0], state).source})", None)

    def convert_condition_as_in_expression(self, cond: ConditionOR | ConditionAND,
                                           state: ConversionState) -> Expr:
        if isinstance(cond, ConditionOR):
            return self.convert_condition_or(cond, state)
        return self.convert_condition_and(cond, state)

    def convert_condition_field_eq_val_str(self, cond: ConditionFieldEqualsValueExpression,
                                           state: ConversionState) -> Expr:
        expr = self._string_test(self._value(cond.field), cond.value)
        # A synthesized value is not in the raw line the prefilter sees before parsing.
        return Expr(expr.source, None, expr.leaf) if cond.field in SYNTHESIZED_FIELDS else expr

    convert_condition_field_eq_val_str_case_sensitive = convert_condition_field_eq_val_str

    def convert_condition_field_eq_val_num(self, cond: ConditionFieldEqualsValueExpression,
                                           state: ConversionState) -> Expr:
        number = cond.value.number
        # An integer is written with its digits in every log format we read (404 as "404"),
        # so they stand for the leaf; exponent notation ("4.04e2") is the documented exception.
        digits = prefilter.leaf_literals([str(abs(number))]) if isinstance(number, int) else None
        return Expr(f"num_cmp({self._value(cond.field)}, 'eq', {float(number)!r})", digits)

    def convert_condition_field_eq_val_timestamp_part(
            self, cond: ConditionFieldEqualsValueExpression, state: ConversionState) -> Expr:
        part = cond.value.timestamp_part.name.lower()
        return Expr(f"timestamp_part({self._value(cond.field)}, {part!r}, "
                    f"{int(cond.value.number)!r})", None)

    def convert_condition_field_eq_val_bool(self, cond: ConditionFieldEqualsValueExpression,
                                            state: ConversionState) -> Expr:
        return Expr(f"bool_eq({self._value(cond.field)}, {cond.value.boolean!r})", None)

    def convert_condition_field_eq_val_re(self, cond: ConditionFieldEqualsValueExpression,
                                          state: ConversionState) -> Expr:
        return Expr(f"re_search({self._value(cond.field)}, {self._sigma_regex(cond.value)})", None)

    def convert_condition_field_eq_val_cidr(self, cond: ConditionFieldEqualsValueExpression,
                                            state: ConversionState) -> Expr:
        network = str(ipaddress.ip_network(cond.value.network, strict=False))
        name = self._constant(f"ip_network({network!r})")
        return Expr(f"in_network({self._value(cond.field)}, {name})", None)

    def convert_condition_field_compare_op_val(self, cond: ConditionFieldEqualsValueExpression,
                                               state: ConversionState) -> Expr:
        op = _OPS[cond.value.op]
        return Expr(f"num_cmp({self._value(cond.field)}, {op!r}, "
                    f"{float(cond.value.number.number)!r})", None)

    def convert_condition_field_eq_field(self, cond: ConditionFieldEqualsValueExpression,
                                         state: ConversionState) -> Expr:
        ref = cond.value
        mode = "startswith" if ref.starts_with else "endswith" if ref.ends_with else "eq"
        return Expr(f"field_ref({self._value(cond.field)}, {self._value(ref.field)}, {mode!r})",
                    None)

    def convert_condition_field_eq_val_null(self, cond: ConditionFieldEqualsValueExpression,
                                            state: ConversionState) -> Expr:
        return Expr(f"is_null({self._value(cond.field)})", None)

    def convert_condition_field_exists(self, cond: ConditionFieldEqualsValueExpression,
                                       state: ConversionState) -> Expr:
        return Expr(f"exists({self._value(cond.field)})", None)

    def convert_condition_field_not_exists(self, cond: ConditionFieldEqualsValueExpression,
                                           state: ConversionState) -> Expr:
        return Expr(f"is_null({self._value(cond.field)})", None)

    def convert_condition_val_str(self, cond: ConditionValueExpression,
                                  state: ConversionState) -> Expr:
        cased = isinstance(cond.value, SigmaCasedString)
        text = "raw" if cased else "lraw"
        parts = self._parts(cond.value, not cased)
        while parts and parts[0] == SpecialChars.WILDCARD_MULTI:
            parts.pop(0)
        while parts and parts[-1] == SpecialChars.WILDCARD_MULTI:
            parts.pop()
        chunks = [p for p in parts if isinstance(p, str)]
        if all(isinstance(p, str) for p in parts):
            return Expr(f"{''.join(chunks)!r} in {text}", prefilter.leaf_literals(chunks))
        # Plain substring tests first: each chunk must occur, and they are far cheaper than RE2.
        guards = "".join(f"{c!r} in {text} and " for c in chunks if c)
        return Expr(f"{guards}text_search({text}, {self._wildcard_regex(parts)})",
                    prefilter.leaf_literals(chunks))

    def convert_condition_val_num(self, cond: ConditionValueExpression,
                                  state: ConversionState) -> Expr:
        return Expr(f"{str(cond.value.number).lower()!r} in lraw", None)

    def convert_condition_val_re(self, cond: ConditionValueExpression,
                                 state: ConversionState) -> Expr:
        return Expr(f"text_search(raw, {self._sigma_regex(cond.value)})", None)

    def convert_condition_field_eq_query_expr(self, cond: ConditionFieldEqualsValueExpression,
                                              state: ConversionState) -> Expr:
        raise SigmaFeatureNotSupportedByBackendError("query expressions are not supported")

    convert_condition_query_expr = convert_condition_field_eq_query_expr

    def _correlation_not_converted(self, rule: Any, output_format: str | None = None,
                                   method: str | None = None) -> list[Any]:
        raise SigmaFeatureNotSupportedByBackendError(
            "correlations are not converted: scanner.rules.load builds a CorrelationSpec")

    convert_correlation_event_count_rule = _correlation_not_converted
    convert_correlation_value_count_rule = _correlation_not_converted
    convert_correlation_temporal_rule = _correlation_not_converted
    convert_correlation_temporal_ordered_rule = _correlation_not_converted
    convert_correlation_extended_temporal_rule = _correlation_not_converted
    convert_correlation_extended_temporal_ordered_rule = _correlation_not_converted
    convert_correlation_value_sum_rule = _correlation_not_converted
    convert_correlation_value_avg_rule = _correlation_not_converted
    convert_correlation_value_percentile_rule = _correlation_not_converted
    convert_correlation_value_median_rule = _correlation_not_converted

    def finalize_query_default(self, rule: SigmaRule, query: Expr, index: int,
                               state: ConversionState) -> Expr:
        return query


def _merge_leaves(children: list[Expr]) -> list[str]:
    """The sources of OR-ed ``children``; the simple leaves of one test, field and case become
    one call with a tuple of needles, where the first of them stood (OR has no order)."""
    groups: dict[object, list[Expr]] = {}
    for index, child in enumerate(children):
        leaf = child.leaf
        groups.setdefault((leaf.test, leaf.value, leaf.lower) if leaf else index, []).append(child)
    return [_any_of(group) for group in groups.values()]


def _any_of(group: list[Expr]) -> str:
    """The source of OR-ed expressions: its own for one, else one call over every needle."""
    if len(group) == 1:
        return group[0].source
    leaves = [child.leaf for child in group if child.leaf]  # a group of several is all leaves
    first, needles = leaves[0], tuple(leaf.needle for leaf in leaves)
    return f"{_ANY_OF[first.test]}({first.value}, {needles!r}, {first.lower})"
