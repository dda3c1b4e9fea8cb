"""Tables of wire-shaped records with secondary indexes, one lock, and atomic transactions.

Records are plain dicts with PanDA's own key names (``PandaID``, ``jobStatus``,
``jediTaskID``, ...), keyed by their id field. They are **copy-on-write**: a stored record
is never changed in place; :meth:`Table.update` stores a new dict. Readers may therefore keep
a record they got without copying it, snapshots share records with the live state, and
rolling back a failed operation only puts the old dicts back. Code must never mutate a
record (or a list inside it) that it got from a table.

Indexes make the hot queries independent of the table size:

* :class:`HashIndex` — records grouped by the value of one or more fields (``count`` is O(1));
* :class:`SortedIndex` — the same grouping, each group kept in an order (e.g. "activated jobs
  of queue X, highest priority first").

Mutations happen inside :meth:`Store.transaction`: all or nothing. A transaction that raises
is rolled back (records and indexes); a committed one is handed to the store's listeners
(durable persistence, the journal's list of state transitions).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sortedcontainers import SortedList

Record = Mapping[str, Any]


class HashIndex:
    """Records grouped by the value(s) of ``fields``."""

    sorted = False

    def __init__(self, name: str, fields: Iterable[str]) -> None:
        self.name = name
        self.fields = tuple(fields)  # no fields: one group (key ``()``) holding every record
        self._single = self.fields[0] if len(self.fields) == 1 else None
        self.buckets: dict[Hashable, Any] = {}
        # since the store's checkpoint: the group keys in order then, and (hash index) the first
        # version of every group changed since (None: the group did not exist); None: not tracking
        self._keys: list | None = None
        self._saved: dict[Hashable, dict | None] | None = None

    def key(self, record: Record) -> Hashable:
        if self._single is not None:
            return record.get(self._single)
        return tuple(record.get(name) for name in self.fields)

    def add(self, rid: Hashable, record: Record) -> None:
        key = self.key(record)
        bucket = self.buckets.get(key)
        saved = self._saved
        if saved is not None and key not in saved:
            saved[key] = None if bucket is None else dict(bucket)
        if bucket is None:
            bucket = self.buckets[key] = {}
        bucket[rid] = None

    def remove(self, rid: Hashable, record: Record) -> None:
        key = self.key(record)
        bucket = self.buckets.get(key)
        if bucket is not None:
            saved = self._saved
            if saved is not None and key not in saved:
                saved[key] = dict(bucket)
            bucket.pop(rid, None)
            if not bucket:
                del self.buckets[key]

    def moved(self, old: Record, new: Record) -> bool:
        return self.key(old) != self.key(new)

    def ids(self, key: Hashable) -> list:
        return list(self.buckets.get(key, ()))

    def count(self, key: Hashable) -> int:
        bucket = self.buckets.get(key)
        return len(bucket) if bucket else 0

    def clear(self) -> None:
        self.buckets.clear()
        self._keys = self._saved = None

    # -- checkpoint and revert (see Store.checkpoint) --------------------------------------------
    def checkpoint(self) -> None:
        self._keys = list(self.buckets)
        self._saved = {}

    @property
    def tracking(self) -> bool:
        return self._keys is not None

    def revert_groups(self) -> None:
        """Put back every group changed since the checkpoint, then the groups' order."""
        for key, bucket in (self._saved or {}).items():
            if bucket is None:
                self.buckets.pop(key, None)
            else:
                self.buckets[key] = bucket
        self._restore_key_order()

    def _restore_key_order(self) -> None:
        keys = self._keys or []
        if list(self.buckets) != keys:
            self.buckets = {key: self.buckets[key] for key in keys}
        self.checkpoint()


class SortedIndex(HashIndex):
    """Records grouped by ``fields``, each group ordered by ``order(record)`` then id."""

    sorted = True

    def __init__(self, name: str, fields: Iterable[str], order: Callable[[Record], Any]) -> None:
        super().__init__(name, fields)
        self.order = order

    def add(self, rid: Hashable, record: Record) -> None:
        key = self.key(record)
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = SortedList()
        bucket.add((self.order(record), rid))

    def remove(self, rid: Hashable, record: Record) -> None:
        key = self.key(record)
        bucket = self.buckets.get(key)
        if bucket is not None:
            bucket.discard((self.order(record), rid))
            if not bucket:
                del self.buckets[key]

    def moved(self, old: Record, new: Record) -> bool:
        return self.key(old) != self.key(new) or self.order(old) != self.order(new)

    def ids(self, key: Hashable) -> list:
        return [rid for _, rid in self.buckets.get(key, ())]

    def iter_ids(self, key: Hashable) -> Iterator:
        """Ids of the group in order, lazily (stop early without materialising the group)."""
        for _, rid in self.buckets.get(key, ()):
            yield rid

    def checkpoint(self) -> None:
        self._keys = list(self.buckets)  # groups are sorted: reverting each change restores them

    def revert_groups(self) -> None:
        self._restore_key_order()


class Table:
    """Records of one kind keyed by ``key``. Mutate only inside :meth:`Store.transaction`."""

    def __init__(self, store: Store, name: str, key: str, indexes: Iterable[HashIndex] = ()) -> None:
        self.store = store
        self.name = name
        self.key = key
        self.records: dict[Hashable, dict] = {}
        self.indexes: dict[str, HashIndex] = {}
        # first version (None: absent) of each record changed since the store's checkpoint;
        # None when not tracking (no checkpoint, or the whole table was replaced since)
        self._tracked: dict[Hashable, dict | None] | None = None
        for index in indexes:
            self.add_index(index)

    # -- structure -------------------------------------------------------------------------
    def add_index(self, index: HashIndex) -> None:
        if index.name in self.indexes:
            raise ValueError(f"table {self.name!r} already has an index {index.name!r}")
        self.indexes[index.name] = index
        for rid, record in self.records.items():
            index.add(rid, record)

    def rebuild_indexes(self) -> None:
        for index in self.indexes.values():
            index.clear()
            for rid, record in self.records.items():
                index.add(rid, record)

    # -- reading ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.records)

    def __contains__(self, rid: object) -> bool:
        return rid in self.records

    def get(self, rid: Hashable) -> dict | None:
        """The stored record (do not mutate it) or None."""
        return self.records.get(rid)

    def values(self) -> Iterable[dict]:
        return self.records.values()

    def index(self, name: str) -> HashIndex:
        try:
            return self.indexes[name]
        except KeyError:
            raise KeyError(f"table {self.name!r} has no index {name!r}") from None

    def ids(self, index: str, key: Hashable) -> list:
        """Ids in the index group ``key`` (in index order for a sorted index)."""
        return self.index(index).ids(key)

    def find(self, index: str, key: Hashable) -> list[dict]:
        """Records in the index group ``key`` (in index order for a sorted index)."""
        records = self.records
        return [records[rid] for rid in self.index(index).ids(key)]

    def first(self, index: str, key: Hashable, accept: Callable[[dict], bool] | None = None) -> dict | None:
        """The first record of a (sorted) index group that ``accept`` takes, without scanning the rest."""
        idx = self.index(index)
        ids: Iterable = idx.iter_ids(key) if isinstance(idx, SortedIndex) else list(idx.buckets.get(key, ()))
        for rid in ids:
            record = self.records[rid]
            if accept is None or accept(record):
                return record
        return None

    def count(self, index: str, key: Hashable) -> int:
        """Size of an index group, O(1)."""
        return self.index(index).count(key)

    def counts(self, index: str) -> dict[Hashable, int]:
        """Size of every group of an index (one entry per distinct key, not per record)."""
        return {key: len(bucket) for key, bucket in self.index(index).buckets.items()}

    # -- writing ---------------------------------------------------------------------------
    def _id_of(self, record: Mapping) -> Hashable:
        try:
            return record[self.key]
        except KeyError:
            raise KeyError(f"a {self.name} record needs its key field {self.key!r}") from None

    def insert(self, record: Mapping, owned: bool = False) -> dict:
        """Add a new record; its id must not exist yet. ``owned``: the caller hands the dict over
        and never touches it again (no copy; bulk generation)."""
        rid = self._id_of(record)
        if rid in self.records:
            raise KeyError(f"{self.name} record {rid!r} exists already")
        return self._store(rid, record if owned and type(record) is dict else dict(record))  # type: ignore[arg-type]

    def put(self, record: Mapping) -> dict:
        """Insert or replace a whole record."""
        return self._store(self._id_of(record), dict(record))

    def update(self, rid: Hashable, changes: Mapping) -> dict:
        """Store a new version of record ``rid`` with ``changes`` applied; returns it."""
        old = self.records.get(rid)
        if old is None:
            raise KeyError(f"no {self.name} record {rid!r}")
        new = dict(old)
        new.update(changes)
        if new.get(self.key) != rid:
            raise ValueError(f"the key field {self.key!r} of a {self.name} record cannot change")
        return self._store(rid, new)

    def delete(self, rid: Hashable) -> dict | None:
        """Remove record ``rid``; returns the removed record (None when absent)."""
        old = self.records.get(rid)
        if old is None:
            return None
        self.store._write(self, rid, old, None)
        return old

    def _store(self, rid: Hashable, new: dict) -> dict:
        self.store._write(self, rid, self.records.get(rid), new)
        return new

    def _apply(self, rid: Hashable, old: dict | None, new: dict | None) -> None:
        """Put ``new`` in place of ``old`` and keep every index in step (no logging)."""
        tracked = self._tracked
        if tracked is not None and rid not in tracked:
            tracked[rid] = old
        indexes = self.indexes.values()
        if old is not None and new is not None:
            for index in indexes:
                if index.moved(old, new):
                    index.remove(rid, old)
                    index.add(rid, new)
        else:
            if old is not None:
                for index in indexes:
                    index.remove(rid, old)
            if new is not None:
                for index in indexes:
                    index.add(rid, new)
        if new is None:
            self.records.pop(rid, None)
        else:
            self.records[rid] = new

    def replace_all(self, records: Iterable[Mapping]) -> None:
        """Replace the whole content (bulk load, restore); not logged, not undoable."""
        self.records = {}
        for record in records:
            self.records[self._id_of(record)] = dict(record)
        self._tracked = None
        self.rebuild_indexes()


class Transaction:
    """Changes of one engine operation: an undo log, the change list and the status transitions."""

    __slots__ = ("undo", "changes", "transitions", "bulk")

    def __init__(self, bulk: bool = False) -> None:
        self.undo: list[tuple[Table, Hashable, dict | None]] = []
        self.changes: list[tuple[str, Hashable, dict | None]] = []
        self.transitions: list[dict] = []
        self.bulk = bulk


class Store:
    """All tables of the emulated world, one re-entrant lock, transactions and listeners."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.tables: dict[str, Table] = {}
        self.listeners: list[Callable[[Transaction], None]] = []
        self._tx: Transaction | None = None
        self._checkpoint: dict[str, dict] | None = None
        #: where status changes of ``history_tables`` are kept (see :meth:`record_transition`)
        self.history: Table | None = None
        self.history_tables: frozenset[str] = frozenset()

    # -- structure -------------------------------------------------------------------------
    def create_table(self, name: str, key: str, indexes: Iterable[HashIndex] = ()) -> Table:
        if name in self.tables:
            raise ValueError(f"table {name!r} exists already")
        table = self.tables[name] = Table(self, name, key, indexes)
        return table

    def table(self, name: str) -> Table:
        try:
            return self.tables[name]
        except KeyError:
            raise KeyError(f"no table {name!r}; tables: {', '.join(sorted(self.tables))}") from None

    def __getitem__(self, name: str) -> Table:
        return self.table(name)

    # -- transactions ----------------------------------------------------------------------
    @property
    def in_transaction(self) -> bool:
        return self._tx is not None

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Run a block atomically. Nested blocks join the outer transaction with a savepoint:
        an exception inside undoes the nested block's writes and propagates."""
        with self.lock:
            outer = self._tx
            if outer is not None:
                mark = len(outer.undo), len(outer.changes), len(outer.transitions)
                try:
                    yield outer
                except BaseException:
                    self._rollback(outer, *mark)
                    raise
                return
            tx = self._tx = Transaction()
            try:
                yield tx
            except BaseException:
                self._rollback(tx, 0, 0, 0)
                raise
            finally:
                self._tx = None
            for listener in self.listeners:
                listener(tx)

    @contextmanager
    def bulk(self) -> Iterator[Transaction]:
        """Write many records fast (scenario load, generation): no undo log, no listeners (the
        engine checkpoints the whole state after a scenario load), and no cyclic garbage
        collection meanwhile (millions of new records would make it run over and over)."""
        with self.lock:
            if self._tx is not None:
                raise RuntimeError("a bulk load cannot run inside a transaction")
            tx = self._tx = Transaction(bulk=True)
            collecting = gc.isenabled()
            gc.disable()
            try:
                yield tx
            finally:
                self._tx = None
                if collecting:
                    gc.enable()

    def _write(self, table: Table, rid: Hashable, old: dict | None, new: dict | None) -> None:
        tx = self._tx
        if tx is None:
            raise RuntimeError(f"write to {table.name!r} outside a transaction")
        if not tx.bulk:
            tx.undo.append((table, rid, old))
            tx.changes.append((table.name, rid, new))
        table._apply(rid, old, new)

    def _rollback(self, tx: Transaction, undo_mark: int, change_mark: int, transition_mark: int) -> None:
        while len(tx.undo) > undo_mark:
            table, rid, old = tx.undo.pop()
            table._apply(rid, table.records.get(rid), old)
        del tx.changes[change_mark:]
        del tx.transitions[transition_mark:]

    def record_transition(self, transition: dict) -> None:
        """Note a status change in the running transaction (for the journal and listeners) and,
        for the tables in :attr:`history_tables`, keep it in the :attr:`history` table."""
        if self._tx is not None and not self._tx.bulk:
            self._tx.transitions.append(transition)
            history = self.history
            if history is not None and transition["table"] in self.history_tables:
                bucket = history.indexes["by_seq"].buckets.get(())
                seq = bucket[-1][1] + 1 if bucket else 1
                history.insert({"seq": seq, **transition})

    # -- whole-state operations --------------------------------------------------------------
    def dump(self) -> dict[str, list[dict]]:
        """Every table's records (shared, copy-on-write: do not mutate)."""
        with self.lock:
            return {name: list(table.records.values()) for name, table in self.tables.items()}

    def capture(self) -> dict[str, dict]:
        """A cheap point-in-time copy of every table, for :meth:`restore`."""
        with self.lock:
            return {name: dict(table.records) for name, table in self.tables.items()}

    def restore(self, captured: Mapping[str, Mapping]) -> None:
        """Put back a :meth:`capture` (tables missing from it become empty)."""
        with self.lock:
            for name, table in self.tables.items():
                table.records = dict(captured.get(name, {}))
                table._tracked = None
                table.rebuild_indexes()

    def clear(self) -> None:
        with self.lock:
            for table in self.tables.values():
                table.records = {}
                table._tracked = None
                table.rebuild_indexes()

    # -- checkpoint and revert (fast reset) ----------------------------------------------------
    def checkpoint(self) -> dict[str, dict]:
        """Remember the current state: returns a :meth:`capture` of it, and from now on the first
        version of every record and index group that changes is kept, so that :meth:`revert` can
        undo all changes in time proportional to what they touched, not to the size of the state."""
        with self.lock:
            captured = self.capture()
            for table in self.tables.values():
                table._tracked = {}
                for index in table.indexes.values():
                    index.checkpoint()
            self._checkpoint = captured
            return captured

    def revert(self) -> list[tuple[str, Hashable, dict | None]] | None:
        """Put back the state of the last :meth:`checkpoint` exactly (records, index groups and
        their orders) and keep the checkpoint.

        Returns the changes made (``(table, id, record or None)``, also handed to the listeners as
        one committed transaction), or None when it cannot (no checkpoint, or a whole table was
        replaced since): use :meth:`restore` then.
        """
        with self.lock:
            if self._tx is not None:
                raise RuntimeError("cannot revert inside a transaction")
            checkpoint = self._checkpoint
            tables = list(self.tables.values())
            if checkpoint is None or any(
                table._tracked is None or not all(index.tracking for index in table.indexes.values())
                for table in tables
            ):
                return None
            tx = Transaction()
            for table in tables:
                tracked = table._tracked
                if not tracked:
                    continue
                table._tracked = None  # the writes below are the revert itself
                records = table.records
                sorted_indexes = [index for index in table.indexes.values() if index.sorted]
                reordered = False
                for rid, first in tracked.items():
                    current = records.get(rid)
                    if current is first:
                        continue
                    tx.changes.append((table.name, rid, first))
                    reordered = reordered or current is None or first is None
                    for index in sorted_indexes:
                        if current is not None and first is not None and not index.moved(current, first):
                            continue
                        if current is not None:
                            index.remove(rid, current)
                        if first is not None:
                            index.add(rid, first)
                    if first is None:
                        records.pop(rid, None)
                    else:
                        records[rid] = first
                if reordered:  # an insert or delete changed the records' order: take the checkpoint's
                    table.records = dict(checkpoint.get(table.name, {}))
                for index in table.indexes.values():
                    index.revert_groups()
                table._tracked = {}
            if tx.changes:
                for listener in self.listeners:
                    listener(tx)
            return tx.changes
