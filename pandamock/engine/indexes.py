"""Indexes whose group key is computed from a record (not read from fields), and that may leave
records out of the index altogether (key ``None``).

They keep hot queries such as "ready event ranges of a jobset that still have attempts left"
O(1) or O(log n) without holding every record of a big table in a catch-all group.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from sortedcontainers import SortedList

from .store import HashIndex, Record, SortedIndex


class ComputedHashIndex(HashIndex):
    """Records grouped by ``key_of(record)``; records whose key is ``None`` are not indexed."""

    def __init__(self, name: str, key_of: Callable[[Record], Hashable | None]) -> None:
        super().__init__(name, ())
        self.key = key_of  # type: ignore[method-assign]

    def add(self, rid: Hashable, record: Record) -> None:
        key = self.key(record)
        if key is not None:
            self.buckets.setdefault(key, {})[rid] = None

    def remove(self, rid: Hashable, record: Record) -> None:
        key = self.key(record)
        if key is None:
            return
        bucket = self.buckets.get(key)
        if bucket is not None:
            bucket.pop(rid, None)
            if not bucket:
                del self.buckets[key]


class ComputedSortedIndex(SortedIndex):
    """Records grouped by ``key_of(record)`` (``None``: not indexed), each group ordered by ``order``."""

    def __init__(self, name: str, key_of: Callable[[Record], Hashable | None], order: Callable[[Record], Any]) -> None:
        super().__init__(name, (), order)
        self.key = key_of  # type: ignore[method-assign]

    def add(self, rid: Hashable, record: Record) -> None:
        key = self.key(record)
        if key is None:
            return
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = SortedList()
        bucket.add((self.order(record), rid))

    def remove(self, rid: Hashable, record: Record) -> None:
        key = self.key(record)
        if key is None:
            return
        bucket = self.buckets.get(key)
        if bucket is not None:
            bucket.discard((self.order(record), rid))
            if not bucket:
                del self.buckets[key]


def count_from(index: SortedIndex, key: Hashable, lowest_order: Any) -> int:
    """Records of a sorted index group whose order value is at least ``lowest_order``; O(log n)."""
    bucket = index.buckets.get(key)
    if not bucket:
        return 0
    return len(bucket) - bucket.bisect_left((lowest_order,))
