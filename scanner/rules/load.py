"""Load Sigma rule files into picklable, compiled-to-source rules.

Takes rule files and directories (recursively ``*.yml``/``*.yaml``, multi-document
YAML with correlation and filter documents) and yields :class:`CompiledRules`:
per base rule its :class:`~scanner.model.RuleInfo`, the Python source of its
matcher and its prefilter literals; per correlation a
:class:`~scanner.model.CorrelationSpec` with native field names and resolved ids
(an extended temporal ``expression`` names its rules by ``RuleInfo.id`` too).
Files are parsed by ``scanner.rules.parse``, one at a time, so every YAML error,
pySigma parse error, unresolved reference and conversion error becomes one ``rule``
Problem (file, rule id or title, reason) and all other rules still load. Sigma
filter documents apply to every loaded rule. A scan passes ``can_fire``: rules no
input can feed are then counted but never compiled (:attr:`CompiledRules.unfed`).
Only a missing path or an unreadable placeholder file raises
(:class:`~scanner.errors.UsageError`).
"""

from __future__ import annotations

import dataclasses
import gc
import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationCondition, SigmaCorrelationRule
from sigma.filters import SigmaFilter
from sigma.rule import SigmaRule

from scanner.errors import Location, Problems, UsageError
from scanner.match.backend import PythonMatcherBackend, RuleCode
from scanner.match.prefilter import Literals
from scanner.model import CorrelationSpec, LogSource, RuleInfo
from scanner.rules.fields import field_pipeline
from scanner.rules.parse import (
    RULE_FAULTS,
    AnyRule,
    FileOutcome,
    ParsedFile,
    parse_files,
    rule_info,
)

RULE_SUFFIXES = (".yml", ".yaml")
Entry = AnyRule | RuleInfo  # a parsed rule, or the metadata of an unfed one


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
    """The rule files named by ``paths``: files as given, directories recursively, sorted;
    a file named twice (the bundled directory passed again, nested directories) once.

    Raises:
        UsageError: a path does not exist.
    """
    seen: set[Path] = set()
    for path in paths:
        if path.is_dir():
            found: Iterable[Path] = sorted(p for p in path.rglob("*")
                                           if p.suffix in RULE_SUFFIXES and p.is_file())
        elif path.exists():
            found = (path,)
        else:
            raise UsageError(f"no such rule file or directory: {path}")
        for file in found:
            real = file.resolve()
            if real not in seen:
                seen.add(real)
                yield file


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
               can_fire: Callable[[LogSource], bool] | None = None,
               processes: int = 1) -> CompiledRules:
    """Load, filter, map and compile every rule under ``paths``; trouble goes to ``problems``.

    With ``can_fire``, a base rule whose logsource it rejects and that no correlation
    references is parsed (its problems reported) but not compiled: it joins
    :attr:`CompiledRules.unfed`, so a conversion problem it may have goes unreported.
    Then ``processes`` above 1 lets a second process parse half of the files.

    Raises:
        UsageError: a path does not exist or the placeholder file is unreadable.
    """
    loader = _Loader(problems, read_placeholders(placeholders), can_fire)
    with _young_collections_only():
        for outcome in parse_files(list(rule_files(paths)), can_fire, processes):
            loader.add(outcome)
        return loader.build()


@contextmanager
def _young_collections_only() -> Iterator[None]:
    """No full cyclic garbage collection inside: a load keeps many long-lived objects, and
    each full collection would walk them all; young ones still free each file's pySigma cycles."""
    young, middle, old = gc.get_threshold()
    gc.set_threshold(young, middle, 1 << 30)
    try:
        yield
    finally:
        gc.set_threshold(young, middle, old)


class _Loader:
    """State of one load: parsed rules by file, their ids and paths, the backend."""

    def __init__(self, problems: Problems, placeholders: Mapping[str, Any] | None,
                 can_fire: Callable[[LogSource], bool] | None) -> None:
        self.problems = problems
        self.can_fire = can_fire
        self.backend = PythonMatcherBackend(field_pipeline(placeholders))
        self.rules: list[Entry] = []
        self.filters: list[SigmaFilter] = []
        self.paths: dict[int, str] = {}  # id(rule object) → its file
        self.ids: dict[int, str] = {}  # id(rule object) → RuleInfo.id

    def problem(self, path: str, label: str | None, message: object) -> None:
        self.problems.add("rule", Location(path, rule=label), str(message))

    def add(self, outcome: FileOutcome) -> None:
        """Take in one parsed file: its problems, its good rules and filters."""
        where = str(outcome.path)
        for label, message in outcome.problems:
            self.problem(where, label, message)
        if not isinstance(outcome, ParsedFile):
            self.rules.extend(outcome.rules)
            return
        for rule_id, document in outcome.documents:
            self.paths[id(document)] = where
            if isinstance(document, SigmaFilter):
                self.filters.append(document)
            else:
                self.ids[id(document)] = rule_id
                self.rules.append(document)

    def build(self) -> CompiledRules:
        """Resolve references, apply filters, compile; drop what fails, recording why."""
        rules = self._unique(self.rules)
        collection = SigmaCollection([r for r in rules if not isinstance(r, RuleInfo)],
                                     collect_filters=True, resolve_references=False)
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

    def _unfed(self, rules: list[Entry]) -> dict[int, RuleInfo]:
        """The base rules ``can_fire`` rejects and no correlation references, by object id."""
        if self.can_fire is None:
            return {}
        referenced = {id(ref.rule) for rule in rules if isinstance(rule, SigmaCorrelationRule)
                      for ref in rule.referenced_rules}
        return {id(rule): rule if isinstance(rule, RuleInfo) else self._info(rule)
                for rule in rules if isinstance(rule, RuleInfo) or (
                    isinstance(rule, SigmaRule) and id(rule) not in referenced
                    and not self.can_fire(LogSource.from_dict(vars(rule.logsource))))}

    def _unique(self, rules: list[Entry]) -> list[Entry]:
        seen: set[str] = set()
        kept = []
        for rule in rules:
            rule_id = rule.id if isinstance(rule, RuleInfo) else self.ids[id(rule)]
            if rule_id in seen:
                self.problem(rule.path if isinstance(rule, RuleInfo) else self.paths[id(rule)],
                             rule_id, "duplicate rule id; first one kept")
            else:
                seen.add(rule_id)
                kept.append(rule)
        return kept

    def _resolved(self, rule: Entry, collection: SigmaCollection) -> bool:
        if not isinstance(rule, SigmaCorrelationRule):
            return True
        try:
            rule.resolve_rule_references(collection)
            return True
        except RULE_FAULTS as exc:
            self.problem(self.paths[id(rule)], self.ids[id(rule)], exc)
            return False

    def _filtered(self, rule: Entry) -> Entry:
        for sigma_filter in self.filters:
            if isinstance(rule, SigmaRule):
                try:
                    sigma_filter.apply_on_rule(rule)  # rewrites the rule in place
                except RULE_FAULTS as exc:
                    self.problem(self.paths[id(sigma_filter)],
                                 str(sigma_filter.id or sigma_filter.title), exc)
        return rule

    def _compile(self, rule: SigmaRule, key: int) -> RuleCode | None:
        try:
            code = self.backend.compile(rule, key)
        except RULE_FAULTS as exc:
            self.problem(self.paths[id(rule)], self.ids[id(rule)], f"not compiled: {exc}")
            return None
        if code.python_regex:
            self.problems.add("rule-warning", Location(self.paths[id(rule)], rule=self.ids[id(rule)]),
                              "a regular expression RE2 cannot express runs on Python re "
                              "(no linear-time bound)")
        return code

    def _info(self, rule: AnyRule, kind: str = "rule") -> RuleInfo:
        return rule_info(rule, self.ids[id(rule)], self.paths[id(rule)], kind)

    def _correlation(self, rule: SigmaCorrelationRule, collection: SigmaCollection,
                     usable: set[str]) -> CorrelationSpec | None:
        referenced = [self.ids[id(ref.rule)] for ref in rule.referenced_rules]
        missing = [r for r in referenced if r not in usable]
        if missing:
            self.problem(self.paths[id(rule)], self.ids[id(rule)],
                         f"correlation skipped: referenced rule(s) not loaded: {', '.join(missing)}")
            return None
        try:
            self.backend.last_processing_pipeline.apply(rule)
            aliases = {alias.alias: {self.ids[id(collection[str(ref.reference)])]: field
                                     for ref, field in alias.mapping.items()}
                       for alias in rule.aliases}
        except RULE_FAULTS as exc:
            self.problem(self.paths[id(rule)], self.ids[id(rule)], f"correlation skipped: {exc}")
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


def _referenced_first(rules: list[Entry]) -> list[Entry]:
    """Rules in an order where every correlation follows the correlations it references."""
    ordered: list[Entry] = []
    placed: set[int] = set()

    def place(rule: Entry) -> None:
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
