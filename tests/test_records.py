"""scanner.normalize.records: how physical lines become records, per record kind."""

from __future__ import annotations

import re

import pytest

from scanner.normalize.records import MAX_RECORD_LINES, Record, assemble, flatten


def numbered(*lines: str) -> list[tuple[int, str]]:
    return list(enumerate(lines, start=1))


AUDIT_A = "type=SYSCALL msg=audit(1.000:7): syscall=59"
AUDIT_B = "type=EXECVE msg=audit(1.000:7): argc=1 a0=\"id\""
AUDIT_C = "node=h type=PATH msg=audit(1.000:8): name=\"/x\""

CASES = [
    ("line", numbered("a", "", "b"), None, [Record(1, "a"), Record(3, "b")]),
    ("continued", numbered("2024 LOG: x", "\tmore", "2024 LOG: y"), None,
     [Record(1, "2024 LOG: x\n\tmore"), Record(3, "2024 LOG: y")]),
    ("continued", numbered("2024/01/02 [error] a", "PHP message: b", "2024/01/02 [error] c"),
     re.compile(r"\d{4}/"), [Record(1, "2024/01/02 [error] a\nPHP message: b"),
                             Record(3, "2024/01/02 [error] c")]),
    ("block", numbered("", "Start-Date: 1", "End-Date: 2", "", "", "Start-Date: 3"), None,
     [Record(2, "Start-Date: 1\nEnd-Date: 2"), Record(6, "Start-Date: 3")]),
    ("audit", numbered(AUDIT_A, AUDIT_B, AUDIT_C, "garbage", AUDIT_C), None,
     [Record(1, f"{AUDIT_A}\n{AUDIT_B}"), Record(3, AUDIT_C), Record(4, "garbage"),
      Record(5, AUDIT_C)]),
    ("json", numbered('{"a": {"b": 1}, "c": [1]}', "[1, 2]", "{broken"), None,
     [Record(1, '{"a": {"b": 1}, "c": [1]}', {"a.b": 1, "c": [1]}), Record(2, "[1, 2]"),
      Record(3, "{broken")]),
]


@pytest.mark.parametrize(("kind", "lines", "start", "expected"), CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_assemble(kind: str, lines: list[tuple[int, str]], start: re.Pattern[str] | None,
                  expected: list[Record]) -> None:
    assert list(assemble(kind, lines, start)) == expected


@pytest.mark.parametrize("kind", ["block", "continued"])
def test_runaway_record_is_capped(kind: str) -> None:
    lines = numbered("head", *(["\tmore"] * (MAX_RECORD_LINES + 5)))
    records = list(assemble(kind, lines))
    assert [r.text.count("\n") + 1 for r in records] == [MAX_RECORD_LINES, 6]
    assert records[1].line == MAX_RECORD_LINES + 1


def test_assemble_streams() -> None:
    def endless():  # an infinite input must not be read ahead
        n = 0
        while True:
            n += 1
            yield n, AUDIT_C.replace(":8)", f":{n})")
    first = next(iter(assemble("audit", endless())))
    assert first == Record(1, AUDIT_C.replace(":8)", ":1)"))


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown record kind 'xml'"):
        assemble("xml", [])


def test_flatten_keeps_empty_objects_as_values() -> None:
    assert flatten({"a": {}, "b": {"c": {"d": None}}}) == {"a": {}, "b.c.d": None}
