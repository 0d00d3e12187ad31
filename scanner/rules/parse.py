"""Parse Sigma rule files into pySigma objects, one file at a time, and say what each holds.

Takes rule files; yields per file a :class:`ParsedFile`: its good documents (base
rules, correlations, filters) with their ``RuleInfo.id``, and one problem (rule label,
reason) per YAML error, pySigma parse error or document that is not a mapping. YAML is
read by ``scanner.rules.rule_yaml`` (``CSafeLoader``'s data, built faster) and fed to
``SigmaCollection.from_dicts``. A rule without ``id`` gets ``noid-`` + the first 16 hex
digits of the SHA-256 of its file's base name, its position among the file's rules and
its title: stable while the file keeps its name and order.

Given ``can_fire`` (see ``scanner.rules.feeds``), a file whose documents are all base
rules no input can feed shrinks to an :class:`UnfedFile`: their metadata and the
file's problems, without pySigma objects; that is all a scan needs of it.
:func:`parse_files` can parse every other file in a forked second process (from
:data:`PARALLEL_FILES` files on), since only such small results travel back. A file
is parsed again in full when a filter document is loaded (filters rewrite every rule)
or a correlation may reference one of its rules.
"""

from __future__ import annotations

import hashlib
import re
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Callable, Iterable, Sequence
from uuid import UUID

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule, SigmaExtendedCorrelationCondition
from sigma.exceptions import SigmaError, SigmaRuleLocation
from sigma.filters import SigmaFilter
from sigma.policy import SigmaPolicy
from sigma.policy.regex_engine import RegexEngine, RegexPattern
from sigma.rule import SigmaRule

from scanner.match.runtime import compile_regex
from scanner.model import LogSource, RuleInfo
from scanner.rules.rule_yaml import RuleLoader

AnyRule = SigmaRule | SigmaCorrelationRule
Document = AnyRule | SigmaFilter
FileProblem = tuple[str | None, str]  # (rule label, or None for the whole file; reason)
# pySigma raises its own errors for most bad input, but odd shapes (a number where a
# string belongs, a mapping where a list belongs) escape as plain Python errors.
RULE_FAULTS: tuple[type[Exception], ...] = (SigmaError, TypeError, ValueError, AttributeError,
                                             KeyError, IndexError)
# Fewer files than this are parsed in this process alone: a fork would cost more than the
# other process saves (it parses files this one must parse again when they hold fed rules).
PARALLEL_FILES = 1000


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


@dataclass(slots=True)
class ParsedFile:
    """One rule file: its good documents with their ``RuleInfo.id`` ("" for a filter),
    and its problems, in file order."""

    path: Path
    documents: list[tuple[str, Document]]
    problems: list[FileProblem]


@dataclass(frozen=True, slots=True)
class UnfedFile:
    """A file whose documents are all base rules no input can feed: what a scan keeps of it."""

    path: Path
    rules: tuple[RuleInfo, ...]
    problems: tuple[FileProblem, ...]
    references: frozenset[str]  # the ids and names a correlation could reference them by


FileOutcome = ParsedFile | UnfedFile


def rule_info(rule: AnyRule, rule_id: str, path: str, kind: str = "rule") -> RuleInfo:
    """The metadata of a parsed rule (a correlation's logsource is empty)."""
    return RuleInfo(
        id=rule_id, title=str(rule.title or ""),
        level=rule.level.name.lower() if rule.level else None,
        status=rule.status.name.lower() if rule.status else None,
        tags=tuple(str(t) for t in rule.tags),
        logsource=LogSource.from_dict(vars(rule.logsource)) if isinstance(rule, SigmaRule)
        else LogSource(),
        path=path, description=rule.description, name=rule.name, kind=kind, output=rule._output,
        references=tuple(str(r) for r in rule.references or ()))


def parse_file(path: Path) -> ParsedFile:
    """Parse one file; its good documents are kept, its bad ones become problems."""
    parsed = ParsedFile(path, [], [])
    try:
        with path.open("rb") as handle:
            docs = [d for d in yaml.load_all(handle, Loader=RuleLoader) if d is not None]
    except (OSError, yaml.YAMLError) as exc:
        parsed.problems.append((None, f"cannot read YAML: {exc}"))
        return parsed
    if not all(isinstance(d, dict) for d in docs):
        parsed.problems.append((None, "not a Sigma rule file: a YAML document is not a mapping"))
        return parsed
    try:
        collection = SigmaCollection.from_dicts(
            docs, collect_errors=True, source=SigmaRuleLocation(path), collect_filters=True,
            resolve_references=False, policy=RULE_POLICY)
    except RULE_FAULTS as exc:
        parsed.problems.append((None, str(exc)))
        return parsed
    documents: list[Document] = [*collection.rules, *collection.filters]
    for error in collection.errors:  # errors of documents that yielded no rule object
        if not any(error in r.errors for r in documents):
            parsed.problems.append((None, str(error)))
    for position, document in enumerate(documents):
        if document.errors:
            more = f" (and {len(document.errors) - 1} more)" if len(document.errors) > 1 else ""
            parsed.problems.append((str(document.id or document.title),
                                    f"{document.errors[0]}{more}"))
        elif isinstance(document, SigmaFilter):
            parsed.documents.append(("", document))
        else:
            parsed.documents.append((str(document.id) if document.id
                                     else _synthetic_id(path, position, document.title), document))
    return parsed


def unfed_or_parsed(parsed: ParsedFile, can_fire: Callable[[LogSource], bool]) -> FileOutcome:
    """``parsed`` as an :class:`UnfedFile` when all its documents are base rules that
    ``can_fire`` rejects, else unchanged."""
    rules = [(rule_id, d) for rule_id, d in parsed.documents if type(d) is SigmaRule]
    if len(rules) < len(parsed.documents) or any(
            can_fire(LogSource.from_dict(vars(rule.logsource))) for _, rule in rules):
        return parsed
    where = str(parsed.path)
    return UnfedFile(parsed.path, tuple(rule_info(rule, rule_id, where) for rule_id, rule in rules),
                     tuple(parsed.problems),
                     frozenset(str(key) for _, rule in rules for key in (rule.id, rule.name) if key))


def parse_files(files: Sequence[Path], can_fire: Callable[[LogSource], bool] | None,
                processes: int = 1) -> list[FileOutcome]:
    """Every file parsed, in order; with ``can_fire``, files of unfed rules as :class:`UnfedFile`.

    With ``processes`` above 1, a forked process parses every other file, and returns
    the :class:`UnfedFile` ones; this process parses the rest, and again the files
    the other process found to hold more.
    """
    if can_fire is None:
        return [parse_file(path) for path in files]
    if processes < 2 or len(files) < PARALLEL_FILES:
        return _needed_in_full([_outcome(path, can_fire) for path in files])
    with ProcessPoolExecutor(1, mp_context=get_context("fork")) as pool:
        theirs = pool.submit(_unfed_files, files[1::2], can_fire)
        outcomes = {i: _outcome(files[i], can_fire) for i in range(0, len(files), 2)}
        for i, unfed in zip(range(1, len(files), 2), theirs.result()):
            outcomes[i] = unfed or _outcome(files[i], can_fire)
    return _needed_in_full([outcomes[i] for i in range(len(files))])


def _outcome(path: Path, can_fire: Callable[[LogSource], bool]) -> FileOutcome:
    return unfed_or_parsed(parse_file(path), can_fire)


def _unfed_files(files: Sequence[Path], can_fire: Callable[[LogSource], bool]
                 ) -> list[UnfedFile | None]:
    """In the forked process: each file as an :class:`UnfedFile`, or ``None``."""
    return [outcome if isinstance(outcome := _outcome(path, can_fire), UnfedFile) else None
            for path in files]


def _needed_in_full(outcomes: list[FileOutcome]) -> list[FileOutcome]:
    """``outcomes`` with every :class:`UnfedFile` parsed in full that a loaded filter
    rewrites or a loaded correlation may reference."""
    documents = [d for o in outcomes if isinstance(o, ParsedFile) for _, d in o.documents]
    if any(isinstance(d, SigmaFilter) for d in documents):
        return [parse_file(o.path) if isinstance(o, UnfedFile) else o for o in outcomes]
    references = {key for d in documents if isinstance(d, SigmaCorrelationRule)
                  for key in _references(d)}
    return [parse_file(o.path) if isinstance(o, UnfedFile) and o.references & references else o
            for o in outcomes]


def _references(correlation: SigmaCorrelationRule) -> Iterable[str]:
    """Every rule reference of ``correlation`` as written, and as a canonical UUID too."""
    condition = correlation.condition
    written = [*(ref.reference for ref in correlation.rules or ()),
               *(condition.get_referenced_rules()
                 if isinstance(condition, SigmaExtendedCorrelationCondition) else ()),
               *(ref.reference for alias in correlation.aliases for ref in alias.mapping)]
    for reference in written:
        yield reference
        try:
            yield str(UUID(reference))
        except ValueError:
            pass


def _synthetic_id(path: Path, position: int, title: str | None) -> str:
    digest = hashlib.sha256(f"{path.name}\0{position}\0{title or ''}".encode()).hexdigest()
    return f"noid-{digest[:16]}"
