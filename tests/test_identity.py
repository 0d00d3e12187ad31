"""ByIdentity: one value per object, found by identity, within its limit."""

from __future__ import annotations

from scanner.normalize.identity import ByIdentity


def test_values_are_made_once_per_object_and_past_the_limit_each_time() -> None:
    made: list[tuple[str, ...]] = []

    def make(key: tuple[str, ...]) -> int:
        made.append(key)
        return len(made)

    lookup = ByIdentity(make, limit=2)
    first, twin, third = ("a", "b"), tuple(["a", "b"]), ("c",)
    assert first == twin and first is not twin
    assert [lookup(first), lookup(first), lookup(twin), lookup(twin)] == [1, 1, 2, 2]
    assert [lookup(third), lookup(third)] == [3, 4]  # past the limit: not remembered
    assert made == [first, twin, third, third]
