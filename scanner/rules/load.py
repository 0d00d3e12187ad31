"""Load Sigma rule files into picklable, compiled-to-source rules.

Takes rule files and directories (recursively ``*.yml``/``*.yaml``, multi-document
YAML with correlation and filter documents) and yields :class:`CompiledRules`:
per base rule its :class:`~scanner.model.RuleInfo`, the Python source of its
matcher and its prefilter literals; per correlation a
:class:`~scanner.model.CorrelationSpec` with native field names and resolved ids
(an extended temporal ``expression`` names its rules by ``RuleInfo.id`` too).
YAML is read with ``CSafeLoader`` and fed to ``SigmaCollection.from_dicts``, one
file at a time, so every YAML error, pySigma parse error, unresolved reference and
conversion error becomes one ``rule`` Problem (file, rule id or title, reason) and
all other rules still load. Sigma filter documents apply to every loaded rule.
A rule without ``id`` gets ``noid-`` + the first 16 hex digits of the SHA-256 of
its file's base name, its position among the file's rules and its title: stable
while the file keeps its name and order. Only a missing path or an unreadable
placeholder file raises (:class:`~scanner.errors.UsageError`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationCondition, SigmaCorrelationRule
from sigma.exceptions import SigmaError, SigmaRuleLocation
from sigma.filters import SigmaFilter
from sigma.policy import SigmaPolicy
from sigma.policy.regex_engine import RegexEngine, RegexPattern
from sigma.rule import SigmaRule

from scanner.errors import Location, Problems, UsageError
from scanner.match.backend import PythonMatcherBackend, RuleCode
from scanner.match.prefilter import Literals
from scanner.match.runtime import compile_regex
from scanner.model import CorrelationSpec, LogSource, RuleInfo
from scanner.rules.fields import field_pipeline

RULE_SUFFIXES = (".yml", ".yaml")
AnyRule = SigmaRule | SigmaCorrelationRule
# pySigma raises its own errors for most bad input, but odd shapes (a number where a
# string belongs, a mapping where a list belongs) escape as plain Python errors.
RULE_FAULTS: tuple[type[Exception], ...] = (SigmaError, TypeError, ValueError, AttributeError,
                                             KeyError, IndexError)


class _MatcherRegexEngine(RegexEngine):
    """Validates rule regexes as the matcher will run them: RE2, else Python ``re``, quietly."""

    def compile(self, pattern: str, flags: int = 0) -> RegexPattern:
        inline = "".join(f for flag, f in ((re.IGNORECASE, "i"), (re.MULTILINE, "m"),
                                           (re.DOTALL, "s")) if flags & flag)
        return compile_regex(f"(?{inline}){pattern}" if inline else pattern)

    @property
    def error(self) -> type[Exception]:
        return re.error


RULE_POLICY = SigmaPolicy(regex_engine=_MatcherRegexEngine())


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """One base rule: metadata plus its matcher as source text (see ``match.backend``)."""

    key: int  # unique within a CompiledRules; names the rule's constants
    info: RuleInfo
    code: RuleCode

    @property
    def literals(self) -> Literals:
        return self.code.literals


@dataclass(frozen=True, slots=True)
class CompiledRules:
    """Everything the matcher and the correlator need; plain data, so it pickles."""

    compiled: tuple[CompiledRule, ...]
    correlations: tuple[CorrelationSpec, ...]
    unfed: tuple[RuleInfo, ...] = ()  # loaded, but no input can feed them: never compiled

    @property
    def rules(self) -> tuple[RuleInfo, ...]:
        """The compiled base rules' metadata."""
        return tuple(c.info for c in self.compiled)

    @property
    def loaded(self) -> int:
        """How many rules and correlations loaded (compiled or not)."""
        return len(self.compiled) + len(self.unfed) + len(self.correlations)

    def select(self, keep: Callable[[RuleInfo], bool]) -> CompiledRules:
        """The rules and correlations ``keep`` accepts, plus every rule a kept correlation needs.

        A base rule kept only because a correlation needs it gets ``output=False``; a kept
        base rule whose non-generating correlations were all dropped gets ``output=True``.
        """
        by_id = {c.rule.id: c for c in self.correlations}
        needed: set[str] = set()
        pending = [c.rule.id for c in self.correlations if keep(c.rule)]
        while pending:
            rule_id = pending.pop()
            if rule_id not in needed:
                needed.add(rule_id)
                pending.extend(by_id[rule_id].rules if rule_id in by_id else ())
        compiled = tuple(
            dataclasses.replace(c, info=dataclasses.replace(c.info, output=output))
            for c in self.compiled if keep(c.info) or c.info.id in needed
            for output in [keep(c.info) and (c.info.output or c.info.id not in needed)])
        return CompiledRules(compiled, tuple(c for c in self.correlations if c.rule.id in needed),
                             tuple(info for info in self.unfed if keep(info)))


def rule_files(paths: Sequence[Path]) -> Iterator[Path]:
    """The rule files named by ``paths``: files as given, directories recursively, sorted.

    Raises:
        UsageError: a path does not exist.
    """
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.suffix in RULE_SUFFIXES and p.is_file())
        elif path.exists():
            yield path
        else:
            raise UsageError(f"no such rule file or directory: {path}")


def read_placeholders(path: Path | None) -> dict[str, Any] | None:
    """The placeholder values of a ``--placeholders`` YAML file (name → value list).

    Raises:
        UsageError: the file cannot be read or is not a mapping.
    """
    if path is None:
        return None
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UsageError(f"cannot read placeholders {path}: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict):
        raise UsageError(f"placeholders {path}: expected a mapping of name to values")
    return data


def load_rules(paths: Sequence[Path], problems: Problems, placeholders: Path | None = None,
               can_fire: Callable[[LogSource], bool] | None = None) -> CompiledRules:
    """Load, filter, map and compile every rule under ``paths``; trouble goes to ``problems``.

    With ``can_fire``, a base rule whose logsource it rejects and that no correlation
    references is parsed (its problems reported) but not compiled: it joins
    :attr:`CompiledRules.unfed`, so a conversion problem it may have goes unreported.

    Raises:
        UsageError: a path does not exist or the placeholder file is unreadable.
    """
    loader = _Loader(problems, read_placeholders(placeholders), can_fire)
    for path in rule_files(paths):
        loader.read_file(path)
    return loader.build()


class _Loader:
    """State of one load: parsed rules by file, their ids and paths, the backend."""

    def __init__(self, problems: Problems, placeholders: Mapping[str, Any] | None,
                 can_fire: Callable[[LogSource], bool] | None) -> None:
        self.problems = problems
        self.can_fire = can_fire
        self.backend = PythonMatcherBackend(field_pipeline(placeholders))
        self.rules: list[AnyRule] = []
        self.filters: list[SigmaFilter] = []
        self.paths: dict[int, str] = {}  # id(rule object) → its file
        self.ids: dict[int, str] = {}  # id(rule object) → RuleInfo.id

    def problem(self, path: str, rule: AnyRule | SigmaFilter | None, message: object) -> None:
        label = None if rule is None else self.ids.get(id(rule)) or str(rule.id or rule.title)
        self.problems.add("rule", Location(path, rule=label), str(message))

    def read_file(self, path: Path) -> None:
        """Parse one file; its good rules join the load, its bad ones become problems."""
        where = str(path)
        try:
            with path.open("rb") as handle:
                docs = [d for d in yaml.load_all(handle, Loader=yaml.CSafeLoader) if d is not None]
        except (OSError, yaml.YAMLError) as exc:
            self.problem(where, None, f"cannot read YAML: {exc}")
            return
        if not all(isinstance(d, dict) for d in docs):
            self.problem(where, None, "not a Sigma rule file: a YAML document is not a mapping")
            return
        try:
            collection = SigmaCollection.from_dicts(
                docs, collect_errors=True, source=SigmaRuleLocation(path), collect_filters=True,
                resolve_references=False, policy=RULE_POLICY)
        except RULE_FAULTS as exc:
            self.problem(where, None, exc)
            return
        for error in collection.errors:  # errors of documents that yielded no rule object
            if not any(error in r.errors for r in [*collection.rules, *collection.filters]):
                self.problem(where, None, error)
        for position, rule in enumerate([*collection.rules, *collection.filters]):
            if rule.errors:
                more = f" (and {len(rule.errors) - 1} more)" if len(rule.errors) > 1 else ""
                self.problem(where, rule, f"{rule.errors[0]}{more}")
                continue
            self.paths[id(rule)] = where
            if isinstance(rule, SigmaFilter):
                self.filters.append(rule)
                continue
            self.ids[id(rule)] = str(rule.id) if rule.id else _synthetic_id(path, position, rule.title)
            self.rules.append(rule)

    def build(self) -> CompiledRules:
        """Resolve references, apply filters, compile; drop what fails, recording why."""
        rules = self._unique(self.rules)
        collection = SigmaCollection(rules, collect_filters=True, resolve_references=False)
        rules = [r for r in rules if self._resolved(r, collection)]
        rules = [self._filtered(r) for r in rules]
        unfed = self._unfed(rules)
        self.backend.init_processing_pipeline()
        compiled: list[CompiledRule] = []
        for key, rule in enumerate(rules):
            if (isinstance(rule, SigmaRule) and id(rule) not in unfed
                    and (code := self._compile(rule, key)) is not None):
                compiled.append(CompiledRule(key, self._info(rule), code))
        usable = {c.info.id for c in compiled}
        correlations: list[CorrelationSpec] = []
        for rule in _referenced_first(rules):
            if isinstance(rule, SigmaCorrelationRule):
                spec = self._correlation(rule, collection, usable)
                if spec is not None:
                    correlations.append(spec)
                    usable.add(spec.rule.id)
        return CompiledRules(tuple(compiled), tuple(correlations), tuple(unfed.values()))

    def _unfed(self, rules: list[AnyRule]) -> dict[int, RuleInfo]:
        """The base rules ``can_fire`` rejects and no correlation references, by object id."""
        if self.can_fire is None:
            return {}
        referenced = {id(ref.rule) for rule in rules if isinstance(rule, SigmaCorrelationRule)
                      for ref in rule.referenced_rules}
        return {id(rule): self._info(rule) for rule in rules
                if isinstance(rule, SigmaRule) and id(rule) not in referenced
                and not self.can_fire(LogSource.from_dict(vars(rule.logsource)))}

    def _unique(self, rules: list[AnyRule]) -> list[AnyRule]:
        seen: set[str] = set()
        kept = []
        for rule in rules:
            if self.ids[id(rule)] in seen:
                self.problem(self.paths[id(rule)], rule, "duplicate rule id; first one kept")
            else:
                seen.add(self.ids[id(rule)])
                kept.append(rule)
        return kept

    def _resolved(self, rule: AnyRule, collection: SigmaCollection) -> bool:
        if not isinstance(rule, SigmaCorrelationRule):
            return True
        try:
            rule.resolve_rule_references(collection)
            return True
        except RULE_FAULTS as exc:
            self.problem(self.paths[id(rule)], rule, exc)
            return False

    def _filtered(self, rule: AnyRule) -> AnyRule:
        for sigma_filter in self.filters:
            if isinstance(rule, SigmaRule):
                try:
                    sigma_filter.apply_on_rule(rule)  # rewrites the rule in place
                except RULE_FAULTS as exc:
                    self.problem(self.paths[id(sigma_filter)], sigma_filter, exc)
        return rule

    def _compile(self, rule: SigmaRule, key: int) -> RuleCode | None:
        try:
            code = self.backend.compile(rule, key)
        except RULE_FAULTS as exc:
            self.problem(self.paths[id(rule)], rule, f"not compiled: {exc}")
            return None
        if code.python_regex:
            self.problems.add("rule-warning", Location(self.paths[id(rule)], rule=self.ids[id(rule)]),
                              "a regular expression RE2 cannot express runs on Python re "
                              "(no linear-time bound)")
        return code

    def _info(self, rule: AnyRule, kind: str = "rule") -> RuleInfo:
        return RuleInfo(
            id=self.ids[id(rule)], title=str(rule.title or ""),
            level=rule.level.name.lower() if rule.level else None,
            status=rule.status.name.lower() if rule.status else None,
            tags=tuple(str(t) for t in rule.tags),
            logsource=LogSource.from_dict(vars(rule.logsource)) if isinstance(rule, SigmaRule)
            else LogSource(),
            path=self.paths[id(rule)], description=rule.description, name=rule.name, kind=kind,
            output=rule._output)

    def _correlation(self, rule: SigmaCorrelationRule, collection: SigmaCollection,
                     usable: set[str]) -> CorrelationSpec | None:
        referenced = [self.ids[id(ref.rule)] for ref in rule.referenced_rules]
        missing = [r for r in referenced if r not in usable]
        if missing:
            self.problem(self.paths[id(rule)], rule,
                         f"correlation skipped: referenced rule(s) not loaded: {', '.join(missing)}")
            return None
        try:
            self.backend.last_processing_pipeline.apply(rule)
            aliases = {alias.alias: {self.ids[id(collection[str(ref.reference)])]: field
                                     for ref, field in alias.mapping.items()}
                       for alias in rule.aliases}
        except RULE_FAULTS as exc:
            self.problem(self.paths[id(rule)], rule, f"correlation skipped: {exc}")
            return None
        condition = rule.condition
        simple = isinstance(condition, SigmaCorrelationCondition)
        fieldref = condition.fieldref if simple else None
        return CorrelationSpec(
            rule=self._info(rule, kind=rule.type.name.lower()), type=rule.type.name.lower(),
            rules=tuple(referenced), group_by=tuple(rule.group_by or ()),
            timespan=float(rule.timespan.seconds), aliases=aliases,
            op=condition.op.name.lower() if simple else None,
            count=float(condition.count) if simple else None,
            field=tuple([fieldref] if isinstance(fieldref, str) else fieldref or ()),
            percentile=float(condition.percentile) if simple and condition.percentile is not None
            else None,
            expression=None if simple else _expression_with_ids(
                str(condition.expression),
                {str(ref.reference): self.ids[id(ref.rule)] for ref in rule.referenced_rules}),
            generate=bool(rule.generate))


def _referenced_first(rules: list[AnyRule]) -> list[AnyRule]:
    """Rules in an order where every correlation follows the correlations it references."""
    ordered: list[AnyRule] = []
    placed: set[int] = set()

    def place(rule: AnyRule) -> None:
        if id(rule) in placed:
            return
        placed.add(id(rule))
        if isinstance(rule, SigmaCorrelationRule):
            for ref in rule.referenced_rules:
                place(ref.rule)
        ordered.append(rule)

    for rule in rules:
        place(rule)
    return ordered


def _expression_with_ids(expression: str, ids: Mapping[str, str]) -> str:
    """An extended temporal condition with every rule reference replaced by its rule id."""
    pattern = "|".join(re.escape(ref) for ref in sorted(ids, key=len, reverse=True))
    return re.sub(rf"(?<![\w-])(?:{pattern})(?![\w-])", lambda m: ids[m.group(0)], expression)


def _synthetic_id(path: Path, position: int, title: str | None) -> str:
    digest = hashlib.sha256(f"{path.name}\0{position}\0{title or ''}".encode()).hexdigest()
    return f"noid-{digest[:16]}"
