"""The string leaf tests give the same answer on a plain string (their fast path) as on
the same value inside a list, and skip missing, null and boolean values as documented."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from scanner.match.runtime import MISSING, str_contains, str_endswith, str_eq, str_startswith

Test = Callable[[Any, str, bool], bool]

# (test, value, needle, lower, expected)
CASES: list[tuple[Test, Any, str, bool, bool]] = [
    (str_eq, "Root", "root", True, True),
    (str_eq, "Root", "root", False, False),
    (str_eq, "", "", True, True),
    (str_startswith, "/usr/bin/cat", "/usr/", True, True),
    (str_startswith, "/USR/bin/cat", "/usr/", False, False),
    (str_endswith, "/bin/Bash", "bash", True, True),
    (str_endswith, "/bin/bash -i", "bash", True, False),
    (str_contains, "a WGET b", "wget", True, True),
    (str_contains, "a WGET b", "wget", False, False),
    (str_contains, "İ", "i̇", True, True),  # lower-casing may lengthen the text
]


@pytest.mark.parametrize(("test", "value", "needle", "lower", "expected"), CASES)
def test_plain_strings_match_like_list_elements(test: Test, value: Any, needle: str, lower: bool,
                                                expected: bool) -> None:
    assert test(value, needle, lower) is expected
    assert test([value], needle, lower) is expected
    assert test(["other", value], needle, lower) is (expected or test("other", needle, lower))


@pytest.mark.parametrize("test", [str_eq, str_startswith, str_endswith, str_contains])
@pytest.mark.parametrize(("value", "needle", "expected"), [
    (MISSING, "", False), (None, "", False), (True, "true", True), (5, "5", True),
])
def test_non_string_values(test: Test, value: Any, needle: str, expected: bool) -> None:
    assert test(value, needle, True) is expected
