"""Build executable matchers from :class:`~scanner.rules.load.CompiledRules` and run them.

Built in each worker process (the generated source pickles, code objects do
not): all rules are grouped by logsource and every group becomes one generated
Python function, ``compile()``d once with the rules' precompiled constants. A
:class:`Plan` serves the events of one set of logsources: ``candidates(text)``
runs the RE2 literal prefilter over the lower-cased text (falsy: no rule of the
plan can match, the caller may skip parsing), ``match(event, candidates)``
evaluates the candidate rules whose logsource applies to the event
(``LogSource.applies_to``); :func:`event_text` is the text an event's candidates are
found in. ``finder()`` gives the same literals as one
:class:`~scanner.match.prefilter.LiteralFinder` for scanning chunks of many
records at once. With ``prefilter=False`` every rule of the plan is
a candidate, which must give identical hits (the soundness tests check this).
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from typing import Any, Callable, Iterable

from scanner.match import runtime
from scanner.match.prefilter import LiteralFinder, LiteralIndex
from scanner.model import Event, LogSource, RuleInfo, search_text
from scanner.normalize.routes import load_routes
from scanner.rules.load import CompiledRule, CompiledRules

GroupFunction = Callable[[dict[str, Any], str, str, Any], list[int]]
RuleFunction = Callable[[dict[str, Any], str, str], bool]
Origins = tuple[tuple[tuple[LogSource, ...], frozenset[str]], ...]


@dataclass(frozen=True, slots=True)
class Group:
    """The rules of one logsource and their generated function."""

    logsource: LogSource
    rules: tuple[CompiledRule, ...]
    function: GroupFunction


def generate_source(groups: Iterable[tuple[str, Iterable[CompiledRule]]]) -> str:
    """Python source of a module: every rule's constants, then one function per group.

    Each function takes ``(f, raw, lraw, c)`` (fields, raw text, its lower-cased
    form, candidate keys) and returns the keys of the rules in ``c`` that match.
    """
    lines: list[str] = []
    body: list[str] = []
    for name, rules in groups:
        body += [f"def {name}(f, raw, lraw, c):", "    hits = []"]
        for rule in rules:
            lines += [f"{const} = {source}" for const, source in rule.code.constants]
            body.append(f"    if {rule.key} in c and ({rule.code.expression}):"
                        f" hits.append({rule.key})")
        body.append("    return hits")
    return "\n".join(lines + body) + "\n"


def _namespace() -> dict[str, Any]:
    names = {n: getattr(runtime, n) for n in runtime.__dict__ if not n.startswith("_")}
    return {**names, "ip_network": ipaddress.ip_network}


def rule_functions(rules: Iterable[CompiledRule]) -> dict[int, RuleFunction]:
    """One function ``(f, raw, lraw) -> bool`` per rule key: each rule's generated
    expression alone (for an engine that evaluates rules one at a time)."""
    lines: list[str] = []
    names: dict[int, str] = {}
    for rule in rules:
        lines += [f"{const} = {source}" for const, source in rule.code.constants]
        names[rule.key] = f"_rule_{rule.key}"
        lines.append(f"def _rule_{rule.key}(f, raw, lraw): return bool({rule.code.expression})")
    namespace = _namespace()
    exec(compile("\n".join(lines) + "\n", "<logsigma rules>", "exec"), namespace)
    return {key: namespace[name] for key, name in names.items()}


class Matcher:
    """All rules of a rule set, compiled; hands out cached per-logsource :class:`Plan`s."""

    def __init__(self, compiled: CompiledRules, prefilter: bool = True) -> None:
        by_logsource: dict[LogSource, list[CompiledRule]] = defaultdict(list)
        for rule in compiled.compiled:
            by_logsource[rule.info.logsource].append(rule)
        named = [(f"_group_{i}", ls, tuple(rules))
                 for i, (ls, rules) in enumerate(by_logsource.items())]
        namespace = _namespace()
        exec(compile(generate_source((n, r) for n, _, r in named), "<logsigma rules>", "exec"),
             namespace)
        self._groups = tuple(Group(ls, rules, namespace[n]) for n, ls, rules in named)
        self._prefilter = prefilter
        self._plans: dict[tuple[frozenset[LogSource], Origins], Plan] = {}

    def plan(self, logsources: Iterable[LogSource], origins: Origins = ()) -> Plan:
        """The plan of the rules that can apply to any of ``logsources`` (cached).

        ``origins`` are ``(sources, literals)`` pairs: an event carries ``sources`` beyond
        ``logsources`` only when its record's lower-cased text holds one of ``literals``.
        A rule without literals that only such sources reach takes those literals, so
        it no longer makes every record a candidate.
        """
        base = frozenset(logsources)
        key = (base, origins)
        if key not in self._plans:
            reach = base.union(*(sources for sources, _ in origins))
            groups = tuple(g for g in self._groups if g.logsource.applies_to(reach))

            def literals(group: Group, rule: CompiledRule) -> frozenset[str] | None:
                if rule.literals is not None or group.logsource.applies_to(base):
                    return rule.literals
                return frozenset().union(*(found for sources, found in origins
                                           if group.logsource.applies_to(sources)))

            self._plans[key] = Plan(groups, self._prefilter, literals)
        return self._plans[key]


class Plan:
    """The rules for one set of logsources: prefilter, then evaluation."""

    def __init__(self, groups: tuple[Group, ...], prefilter: bool,
                 literals: Callable[[Group, CompiledRule], frozenset[str] | None]) -> None:
        self._groups = groups
        rules = [rule for group in groups for rule in group.rules]
        self.rules: tuple[RuleInfo, ...] = tuple(rule.info for rule in rules)
        self._info = {rule.key: rule.info for rule in rules}
        self._all = frozenset(self._info)
        required = {rule.key: literals(group, rule) for group in groups for rule in group.rules}
        filtered = [rule for rule in rules if prefilter and required[rule.key] is not None]
        self._always = self._all - {rule.key for rule in filtered}
        self._filtered_keys = [rule.key for rule in filtered]
        self._literals = [required[rule.key] for rule in filtered]
        self._index = LiteralIndex(self._literals)  # type: ignore[arg-type]
        #: per rule key in plan order, the literals one of which makes it a candidate
        #: (``None``: always one)
        self.required: dict[int, frozenset[str] | None] = {
            rule.key: required[rule.key] if prefilter else None for rule in rules}
        self._finder: LiteralFinder | None = None
        self._by_sources: dict[tuple[LogSource, ...], tuple[Group, ...]] = {}
        self._last: tuple[tuple[LogSource, ...] | None, tuple[Group, ...]] = (None, ())

    def candidates(self, text: str) -> frozenset[int] | set[int] | None:
        """Keys of the rules that may match ``text`` (falsy: none can)."""
        found = self._index.owners(text.lower()) if self._filtered_keys else None
        if not found:
            return self._always or None
        return self._always | {self._filtered_keys[i] for i in found}

    def finder(self) -> LiteralFinder | None:
        """The literals of :meth:`candidates` as one finder (a record is a candidate exactly
        when one occurs in its lower-cased text); ``None`` when every record is a candidate
        (always-evaluated rules) or a literal holds a line break (it could span records) or a
        NUL (it could span the values of a :func:`~scanner.model.search_text`)."""
        if self._finder is None and not self._always:
            literals: set[str] = set().union(*self._literals)  # type: ignore[arg-type]
            if not any("\n" in literal or "\0" in literal for literal in literals):
                self._finder = LiteralFinder(literals)
        return self._finder

    def groups_for(self, sources: tuple[LogSource, ...]) -> tuple[Group, ...]:
        """The groups of rules whose logsource applies to an event of ``sources``, in plan order."""
        if sources is self._last[0]:  # the events of a file share a few tuples: no hashing
            return self._last[1]
        groups = self._by_sources.get(sources)
        if groups is None:
            groups = tuple(g for g in self._groups if g.logsource.applies_to(sources))
            self._by_sources[sources] = groups
        self._last = (sources, groups)
        return groups

    def info(self, key: int) -> RuleInfo:
        """The metadata of the rule of ``key``."""
        return self._info[key]

    def match(self, event: Event, candidates: object) -> list[RuleInfo]:
        """The candidate rules that match ``event`` and whose logsource applies to it."""
        groups = self.groups_for(event.logsources)
        lraw = event.raw.lower()
        return [self._info[key] for group in groups
                for key in group.function(event.fields, event.raw, lraw, candidates)]


def event_text(event: Event) -> str:
    """The text :meth:`Plan.candidates` is given for ``event``: its raw text when the route of
    its format says ``prefilter: raw`` (every value a rule tests is verbatim in it: the
    normalizer skips records by that text alone), else the raw text and every field value
    (:func:`~scanner.model.search_text`). Both give the same hits: the raw text makes fewer
    rules candidates, never one that can match (and costs no joining of the values)."""
    return event.raw if event.format in _raw_formats() else search_text(event.raw, event.fields)


@cache
def _raw_formats() -> frozenset[str]:
    """The formats whose route says ``prefilter: raw``."""
    return frozenset(name for name, route in load_routes().items() if route.prefilter == "raw")
