"""Counter-based ids with realistic magnitudes, kept in the ``counters`` table (so they persist)."""

from __future__ import annotations

from collections.abc import Mapping

from .store import Store

#: First value handed out per id kind (a scenario's ``ids`` section overrides these).
DEFAULT_ID_START: dict[str, int] = {
    "PandaID": 6_000_000_001,
    "jediTaskID": 40_000_001,
    "datasetID": 500_000_001,
    "fileID": 30_000_000_001,
    "row_ID": 90_000_000_001,
    "jobDefinitionID": 1,
    "jobsetID": 10_000,
    "reqID": 70_001,
    "command_id": 1_000_001,
    "workerID": 1,
    "request_id": 1,
}


class Ids:
    """Hands out the next id of a kind; call inside a store transaction."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.table = store.create_table("counters", key="name")
        self.start: dict[str, int] = dict(DEFAULT_ID_START)

    def configure(self, start: Mapping[str, int]) -> None:
        """Set the first values (before any id of those kinds is handed out)."""
        self.start.update(start)

    def next(self, kind: str) -> int:
        """The next id of ``kind`` (the first is the configured start value)."""
        record = self.table.get(kind)
        value = record["value"] + 1 if record else self.start.get(kind, 1)
        self.table.put({"name": kind, "value": value})
        return value

    def peek(self, kind: str) -> int:
        """The id the next call to :meth:`next` would return."""
        record = self.table.get(kind)
        return record["value"] + 1 if record else self.start.get(kind, 1)

    def reserve(self, kind: str, count: int) -> range:
        """Hand out ``count`` consecutive ids at once (bulk generation)."""
        first = self.peek(kind)
        if count > 0:
            self.table.put({"name": kind, "value": first + count - 1})
        return range(first, first + count)
