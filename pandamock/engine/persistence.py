"""Durable state (``--state-file``): a TinyDB document file plus an append-only change log.

Layout, for ``--state-file state.json``:

* ``state.json`` — a TinyDB document file (``{"<table>": {"<doc id>": record, ...}, ...}``; open it
  with ``tinydb.TinyDB("state.json", storage=StateStorage)`` to query it, or with plain TinyDB,
  which shows datetimes as ``{"__datetime__": iso}``). Table ``_pandamock`` holds one document of
  metadata: format, the last change sequence number it contains, the scenario, the clock and the
  random generator's state. It is rewritten only by a *compaction*: at start (when there is a log
  to fold in), on shutdown, after a scenario load or a full reset, and in the background once the
  log grows past ``compact_bytes``. It is written to a temporary file, flushed to disk and renamed
  over the old one, so a crash leaves either the old or the new file.
* ``state.json.log`` — one JSON line per committed transaction: ``{"n": seq, "k": [clock epoch,
  frozen, speed], "c": [change, ...]}`` where a change is ``["p", table, id, record]`` (a whole
  record), ``["u", table, id, {field: value}]`` (the fields an update changed: a status change
  of a job is a line of a few hundred bytes, not the whole job) or ``["d", table, id]`` (a
  delete); lines without ``c`` record a change of the clock's course. Each line is written with
  one ``write`` before the operation returns, so an acknowledged change survives a kill -9 of the
  server (the kernel has it; surviving a power cut would need an fsync per change, which this
  does not do). ``state.json.log.1`` is the log being folded in by a running compaction.

Start: the document file, then the lines of ``.log.1`` and ``.log`` whose sequence number is
above the file's are applied in order. A last line cut short by a crash (no newline) is dropped
with a warning; any other unreadable content stops the start with a :class:`StateFileError`
naming the file and the bad line or record (never a silently empty state).
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tinydb.storages import Storage

from .clock import parse_time

if TYPE_CHECKING:
    from .core import Engine
    from .store import Transaction

log = logging.getLogger("pandamock.state")

FORMAT = 1
META_TABLE = "_pandamock"
#: Size of the change log that triggers a background compaction.
DEFAULT_COMPACT_BYTES = 64 * 2**20


class StateFileError(ValueError):
    """A state file (or its change log) that cannot be loaded; the message names the file and the bad part."""


# --- encoding -------------------------------------------------------------------------------
def json_default(value: Any) -> Any:
    """``json.dumps`` hook: datetimes as ``{"__datetime__": iso}`` (the wire's marker)."""
    if isinstance(value, _dt.datetime):
        return {"__datetime__": value.isoformat()}
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def decode_hook(obj: dict) -> Any:
    """``json.loads`` object hook: ``{"__datetime__": iso}`` → naive UTC datetime."""
    if len(obj) == 1 and "__datetime__" in obj:
        return parse_time(obj["__datetime__"])
    return obj


_ENCODER = json.JSONEncoder(default=json_default, separators=(",", ":"))  # stateless; built once


def encode(value: Any) -> str:
    """Compact JSON with datetime markers."""
    return _ENCODER.encode(value)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --- the TinyDB document file ---------------------------------------------------------------
class StateStorage(Storage):
    """TinyDB storage of the state file: JSON with datetime markers, written atomically.

    ``TinyDB(path, storage=StateStorage)`` reads and queries a state file; pandamock itself calls
    :meth:`read` once at start and :meth:`write_tables` at each compaction.
    """

    def __init__(self, path: str | os.PathLike, **_: Any) -> None:
        self.path = Path(path)

    def read(self) -> dict | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateFileError(f"state file {self.path}: cannot read: {exc.strerror or exc}") from None
        if not text.strip():
            return None
        try:
            data = json.loads(text, object_hook=decode_hook)
        except ValueError as exc:
            raise StateFileError(f"state file {self.path}: not a valid TinyDB JSON document: {exc}") from None
        if not isinstance(data, dict) or not all(isinstance(docs, dict) for docs in data.values()):
            raise StateFileError(f"state file {self.path}: expected {{table: {{doc id: document}}}}")
        return data

    def write(self, data: dict) -> None:
        """TinyDB's write: every table with its document ids."""
        self._write_stream((name, docs.items()) for name, docs in data.items())

    def write_tables(self, meta: Mapping, tables: Iterable[tuple[str, list]]) -> None:
        """Write the metadata document and every table (records numbered 1..n as TinyDB doc ids)."""

        def stream() -> Iterator[tuple[str, Iterable[tuple[Any, Any]]]]:
            yield META_TABLE, [(1, meta)]
            for name, records in tables:
                yield name, enumerate(records, 1)

        self._write_stream(stream())

    def _write_stream(self, tables: Iterable[tuple[str, Iterable[tuple[Any, Any]]]]) -> None:
        temporary = self.path.with_name(self.path.name + ".tmp")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(temporary, "w", encoding="utf-8") as out:
            out.write("{")
            first_table = True
            for name, records in tables:
                out.write(("\n" if first_table else ",\n") + json.dumps(name) + ": {")
                first_table = False
                chunk = []
                for position, (doc_id, record) in enumerate(records):
                    chunk.append(f"{',' if position else ''}\n{json.dumps(str(doc_id))}: {encode(record)}")
                    if len(chunk) >= 1000:
                        out.write("".join(chunk))
                        chunk = []
                out.write("".join(chunk) + "}")
            out.write("\n}\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, self.path)
        _fsync_dir(self.path)

    def close(self) -> None:
        pass


# --- the change log -------------------------------------------------------------------------
def read_log(path: Path) -> Iterator[tuple[int, dict]]:
    """``(line number, entry)`` of every complete line of a change log.

    A last line without its newline (a write cut short by a crash) is dropped with a warning and
    cut off the file; any other line that is not a valid entry raises :class:`StateFileError`.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StateFileError(f"change log {path}: cannot read: {exc.strerror or exc}") from None
    lines = data.split(b"\n")
    torn = lines.pop()  # after the last newline: empty, or a torn write
    if torn:
        log.warning(
            "change log %s: dropping an incomplete last line (%d bytes, a write cut short by a crash)", path, len(torn)
        )
        with open(path, "r+b") as handle:
            handle.truncate(len(data) - len(torn))
    for number, line in enumerate(lines, 1):
        try:
            entry = json.loads(line, object_hook=decode_hook)
        except ValueError as exc:
            raise StateFileError(f"change log {path}: line {number} is not valid JSON: {exc}") from None
        if not isinstance(entry, dict) or not isinstance(entry.get("n"), int):
            raise StateFileError(f"change log {path}: line {number} is not a change entry: {line[:200]!r}")
        yield number, entry


_MISSING = object()


def changes_of(tx: Transaction) -> list[list]:
    """The log entries of a committed transaction: the fields an update changed, whole records for
    inserts and replacements, deletes."""
    undo = tx.undo
    aligned = len(undo) == len(tx.changes)  # each write noted its old version (not so for a revert)
    entries: list[list] = []
    for position, (table, rid, new) in enumerate(tx.changes):
        if new is None:
            entries.append(["d", table, rid])
            continue
        old = undo[position][2] if aligned else None
        if old is not None and new.keys() >= old.keys():
            # copy-on-write updates share every unchanged value with the old version
            fields = {key: value for key, value in new.items() if old.get(key, _MISSING) is not value}
            entries.append(["u", table, rid, fields])
        else:
            entries.append(["p", table, rid, new])
    return entries


class StateFile:
    """The durable state of one engine: load it at start, log every commit, compact."""

    def __init__(self, path: str | os.PathLike, compact_bytes: int = DEFAULT_COMPACT_BYTES) -> None:
        self.path = Path(path)
        self.log_path = self.path.with_name(self.path.name + ".log")
        self.old_log_path = self.path.with_name(self.path.name + ".log.1")
        self.storage = StateStorage(self.path)
        self.compact_bytes = compact_bytes
        self.engine: Engine | None = None
        self.seq = 0
        self.log_bytes = 0
        self._fd: int | None = None
        self._io = threading.Lock()
        self._compacting = threading.Lock()
        self._background: threading.Thread | None = None
        self.replayed = 0

    def exists(self) -> bool:
        """Whether there is a state to load (the document file or a change log)."""
        return any(p.exists() for p in (self.path, self.log_path, self.old_log_path))

    # -- loading ---------------------------------------------------------------------------
    def load(self, engine: Engine) -> Any:
        """Put the saved state into ``engine`` (tables, settings, clock, randomness); returns the
        scenario it was made from (also set as ``engine.scenario``)."""
        from ..scenario import Scenario, ScenarioError
        from .loader import apply_settings

        data = self.storage.read()
        if data is None:
            if self.log_path.exists() or self.old_log_path.exists():
                raise StateFileError(
                    f"state file {self.path} is missing or empty but its change log {self.log_path} exists; "
                    "restore the state file or remove the log to start from the scenario"
                )
            raise StateFileError(f"state file {self.path}: missing or empty")
        meta_docs = data.pop(META_TABLE, None)
        meta = next(iter(meta_docs.values()), None) if meta_docs else None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise StateFileError(
                f"state file {self.path}: no pandamock metadata of format {FORMAT} (table {META_TABLE!r}); "
                "is this a pandamock state file?"
            )
        store = engine.store
        tables: dict[str, dict] = {}
        for name, docs in data.items():
            if name == "_default" and not docs:
                continue
            if name not in store.tables:
                raise StateFileError(
                    f"state file {self.path}: unknown table {name!r}; tables: {', '.join(sorted(store.tables))}"
                )
            key = store.tables[name].key
            rows: dict = {}
            for doc_id, record in docs.items():
                if not isinstance(record, dict) or key not in record:
                    raise StateFileError(
                        f"state file {self.path}: table {name!r} document {doc_id}: "
                        f"expected a record with its key field {key!r}, got {str(record)[:200]}"
                    )
                rows[record[key]] = record
            tables[name] = rows
        seq = int(meta.get("seq", 0))
        clock_state = meta.get("clock")
        replayed = 0
        for path in (self.old_log_path, self.log_path):
            for number, entry in read_log(path):
                n = entry["n"]
                if n <= seq:
                    continue
                if n != seq + 1:
                    raise StateFileError(
                        f"change log {path}: line {number} has change number {n}, expected {seq + 1}: "
                        "changes are missing"
                    )
                for change in entry.get("c", ()):
                    self._replay(path, number, change, tables, store)
                if "k" in entry:
                    clock_state = entry["k"]
                seq = n
                replayed += 1
        try:
            scenario = Scenario.from_dict(
                meta.get("scenario") or {"name": "state"}, source=meta.get("source") or str(self.path),
                check_references=False,
            )  # fmt: skip
        except ScenarioError as exc:
            raise StateFileError(f"state file {self.path}: its scenario is not valid: {exc}") from None
        with store.lock:
            for name, table in store.tables.items():
                table.replace_all(tables.get(name, {}).values())
            apply_settings(engine, scenario)
            engine.scenario = scenario
            engine._baseline = None  # reset reloads the scenario (see Engine.reset)
            self._restore_clock(engine, scenario, clock_state)
            self._restore_random(engine, meta.get("random"), seq if replayed else None)
        self.seq = seq
        self.replayed = replayed
        log.info("state loaded from %s (%d logged changes replayed): %s", self.path, replayed, engine.counts())
        return scenario

    @staticmethod
    def _replay(path: Path, number: int, change: Any, tables: dict[str, dict], store: Any) -> None:
        if not (isinstance(change, list) and len(change) in (3, 4) and change[0] in ("p", "u", "d")):
            raise StateFileError(f"change log {path}: line {number}: bad change {str(change)[:200]}")
        table = change[1]
        rows = tables.get(table)
        if rows is None:
            if table not in store.tables:
                raise StateFileError(f"change log {path}: line {number}: unknown table {table!r}")
            rows = tables[table] = {}
        rid = change[2]
        if change[0] == "d":
            rows.pop(rid, None)
        elif change[0] == "p" and isinstance(change[3], dict):
            rows[rid] = change[3]
        elif change[0] == "u" and isinstance(change[3], dict) and rid in rows:
            rows[rid] = {**rows[rid], **change[3]}
        else:
            raise StateFileError(
                f"change log {path}: line {number}: cannot apply {str(change)[:200]} "
                f"({'no record ' + repr(rid) + ' in ' + table if change[0] == 'u' else 'not a record'})"
            )

    @staticmethod
    def _restore_clock(engine: Engine, scenario: Any, state: Any) -> None:
        clock = engine.clock
        if not (isinstance(state, list) and len(state) == 3):
            from .loader import apply_clock

            apply_clock(engine, scenario)
            return
        epoch, frozen, speed = float(state[0]), bool(state[1]), float(state[2])
        settings = scenario.clock or {}
        real_time = settings.get("start") in (None, "", "now") and not frozen and speed == 1.0
        clock.set_speed(speed)
        if frozen:
            clock.freeze()
        else:
            clock.unfreeze()
        # a real-time clock goes on with real time; an emulated one resumes where it stood
        clock.set(max(epoch, clock._time_source()) if real_time else epoch)

    @staticmethod
    def _restore_random(engine: Engine, state: Any, seq: int | None) -> None:
        randomness = engine.randomness
        if isinstance(state, list) and len(state) == 3:
            try:
                randomness.random.setstate((state[0], tuple(state[1]), state[2]))
            except (TypeError, ValueError):
                log.warning("state file: unusable random generator state; reseeding")
        if seq is not None:
            # changes were made after the saved generator state: move to a fresh, reproducible
            # stream so that values drawn before the restart are not drawn again
            randomness.random.seed(f"{randomness.seed}/{seq}")
        if randomness._faker is not None or seq is not None:
            randomness.faker.seed_instance(f"{randomness.seed}/{seq or 0}")

    # -- running ---------------------------------------------------------------------------
    def attach(self, engine: Engine) -> None:
        """Log every commit of ``engine`` from now on; writes a first compaction when needed."""
        self.engine = engine
        engine.store.listeners.append(self._on_commit)
        engine.reload_listeners.append(self._on_reload)
        engine.clock.listeners.append(self._on_clock)
        needs_compaction = (
            not self.path.exists()
            or self.old_log_path.exists()
            or (self.log_path.exists() and self.log_path.stat().st_size > self.compact_bytes)
        )
        if needs_compaction:
            self.compact()
        else:
            self._open_log()

    def _open_log(self) -> None:
        self._fd = os.open(self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.log_bytes = os.fstat(self._fd).st_size

    def _clock_state(self) -> list:
        clock = self.engine.clock  # type: ignore[union-attr]
        return [clock.time(), clock.frozen, clock.speed]

    def _append(self, fields: dict) -> None:
        """Write one log line (caller holds ``_io``); raises OSError when it cannot be written whole."""
        data = (encode({"n": self.seq + 1, **fields}) + "\n").encode()
        if self._fd is None:
            raise OSError(f"change log {self.log_path} is closed")
        written = os.write(self._fd, data)
        while written < len(data):  # a short write (disk full?): finish it or fail
            more = os.write(self._fd, data[written:])
            if more <= 0:
                raise OSError(f"change log {self.log_path}: short write")
            written += more
        self.seq += 1
        self.log_bytes += len(data)

    def _on_commit(self, tx: Transaction) -> None:
        if not tx.changes:
            return
        with self._io:
            if self._fd is None:
                return
            self._append({"k": self._clock_state(), "c": changes_of(tx)})
            big = self.log_bytes > self.compact_bytes
        if big:
            self.compact_in_background()

    def _on_clock(self) -> None:
        with self._io:
            if self._fd is not None and self.engine is not None:
                self._append({"k": self._clock_state()})

    def _on_reload(self) -> None:
        self.compact()

    # -- compaction ------------------------------------------------------------------------
    def _meta(self, engine: Engine) -> dict:
        scenario = engine.scenario
        version, internal, gauss = engine.random.getstate()
        return {
            "format": FORMAT,
            "seq": self.seq,
            "saved": engine.clock.now(),
            "scenario": scenario.as_dict() if scenario is not None and hasattr(scenario, "as_dict") else None,
            "source": getattr(scenario, "source", None),
            "clock": self._clock_state(),
            "random": [version, list(internal), gauss],
        }

    def compact(self) -> None:
        """Write the whole state into the document file and start an empty log.

        The state is captured (records are copy-on-write: a list of references) and the log
        rotated under the store lock; the file is written after releasing it, so requests go on
        meanwhile. One compaction at a time.
        """
        engine = self.engine
        if engine is None:
            raise RuntimeError("the state file is not attached to an engine")
        with engine.store.lock:
            self._compacting.acquire()  # lock order: store lock, then this one (never the reverse)
            try:
                with self._io:
                    captured = [(name, list(table.records.values())) for name, table in engine.store.tables.items()]
                    meta = self._meta(engine)
                    self._rotate()
            except BaseException:
                self._compacting.release()
                raise
        try:
            self.storage.write_tables(meta, captured)
            self.old_log_path.unlink(missing_ok=True)
        finally:
            self._compacting.release()

    def _rotate(self) -> None:
        """Move the current log aside (to be dropped once the compaction is written); open a new one."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self.log_path.exists():
            if self.old_log_path.exists():  # an earlier compaction failed: keep both logs' lines
                with open(self.old_log_path, "ab") as old, open(self.log_path, "rb") as current:
                    old.write(current.read())
                    old.flush()
                    os.fsync(old.fileno())
                self.log_path.unlink()
            else:
                os.replace(self.log_path, self.old_log_path)
        self._open_log()

    def compact_in_background(self) -> None:
        """Start a compaction on a thread unless one is running."""
        if self._background is not None and self._background.is_alive():
            return
        self._background = threading.Thread(target=self._compact_quietly, name="pandamock-compaction", daemon=True)
        self._background.start()

    def _compact_quietly(self) -> None:
        try:
            self.compact()
        except Exception:  # noqa: BLE001 - the log still has every change; the next compaction retries
            log.exception("compaction of %s failed; the change log keeps every change", self.path)

    def close(self) -> None:
        """Final compaction (the document file then holds everything) and detach."""
        engine = self.engine
        if engine is None:
            return
        if self._background is not None:
            self._background.join()
        self.compact()
        with self._io:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
        self.log_path.unlink(missing_ok=True)
        engine.store.listeners.remove(self._on_commit)
        engine.reload_listeners.remove(self._on_reload)
        engine.clock.listeners.remove(self._on_clock)
        self.engine = None


# --- snapshots ------------------------------------------------------------------------------
def write_snapshot(
    engine: Engine, path: str | os.PathLike, tables: Iterable[str] | None = None, where: Mapping | None = None
) -> int:
    """Write a state dump (scenario format, see :mod:`pandamock.engine.snapshot`) to ``path``: YAML
    for ``.yaml``/``.yml``, JSON otherwise. Returns the number of records written. Load it back
    with ``--scenario PATH`` (or ``Emulator.load_scenario(PATH)``)."""
    from .snapshot import dump

    dumped = dump(engine, tables, where)
    return write_scenario(dumped, path)


def write_scenario(data: Mapping, path: str | os.PathLike) -> int:
    """Write a scenario-format mapping (records included) as YAML or JSON; returns the record count."""
    target = Path(path)
    records = data.get("records") or {}
    count = sum(len(rows) for rows in records.values())
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(target.name + ".tmp")
    if target.suffix in (".yaml", ".yml"):
        import yaml

        with open(temporary, "w", encoding="utf-8") as out:
            yaml.safe_dump(json.loads(encode(data), object_hook=decode_hook), out, sort_keys=False, allow_unicode=True)
    else:
        with open(temporary, "w", encoding="utf-8") as out:
            head = {key: value for key, value in data.items() if key != "records"}
            text = json.dumps(head, default=json_default, indent=1)
            out.write(text[:-2] + ",\n" if head else "{\n")
            out.write(' "records": {')
            for t, (name, rows) in enumerate(records.items()):
                out.write(("\n" if t == 0 else ",\n") + f"  {json.dumps(name)}: [")
                for i, record in enumerate(rows):
                    out.write(("\n   " if i == 0 else ",\n   ") + encode(record))
                out.write("\n  ]" if rows else "]")
            out.write("\n }\n}\n")
    os.replace(temporary, target)
    return count
