"""Values worked out once per long-lived object and found again by its identity.

Events of one file share a few logsource tuples; hashing their dataclasses for every
event cost more than the lookups they served. :class:`ByIdentity` keys on ``id()``
instead. Each entry holds its object, so the id cannot be reused while it is
remembered; past ``limit`` entries a new object's value is worked out each time.
"""

from __future__ import annotations

from typing import Callable, Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class ByIdentity(Generic[K, V]):
    """``make(obj)``, remembered per object (by identity) for up to ``limit`` objects."""

    def __init__(self, make: Callable[[K], V], limit: int) -> None:
        self._make, self._limit = make, limit
        self._known: dict[int, tuple[K, V]] = {}

    def __call__(self, obj: K) -> V:
        found = self._known.get(id(obj))
        if found is None:
            found = (obj, self._make(obj))
            if len(self._known) < self._limit:
                self._known[id(obj)] = found
        return found[1]
