"""The file server: user cache files (sandboxes), their registry, JEDI logs, HPO checkpoints and
the requests the real server spools as files (lost-file recovery, workflow, event picking).

Follows ``pandaserver/api/v1/file_server_api.py`` and the ``userCacheUsage`` functions of
``pandaserver/taskbuffer/db_proxy_mods/misc_standalone_module.py``.

Bytes live on disk under the emulator's data directory (``<data_dir>/cache/``, JEDI logs in
``<data_dir>/cache/jedilog/``, as in the real server's ``cache_dir``); the table ``cache_files``
says which files exist (name, size, owner, times), so it is the state that snapshots, resets and
dumps see. Nothing is ever written outside the data directory: an uploaded name is reduced to its
last path component (panda-client sends absolute paths) and names with ``..`` components, hidden
names, backslashes, ``%`` escapes or control characters are refused before anything is written.
Uploads are streamed to ``<data_dir>/staging/`` outside the store lock and moved into place as the
last step of the engine operation.

Tables: ``cache_files`` (key: path relative to the cache directory), ``sandbox_files``
(``userCacheUsage``: who uploaded which sandbox where, with size and checksum; key
``<hostName>|<fileName>``) and ``file_server_requests`` (recovery, workflow and event-picking
requests with their parameters and owner).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import struct
import tempfile
import uuid
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from .outcome import Failure, Reply
from .store import HashIndex

if TYPE_CHECKING:
    from .core import Engine

MB = 1024 * 1024
#: The real server's limits (request Content-Length), ``file_server_api.py``.
EVENT_PICKING_LIMIT = 10 * MB
LOG_LIMIT = 100 * MB
CHECKPOINT_LIMIT = 500 * MB
SANDBOX_NO_BUILD_LIMIT = 10 * MB
SANDBOX_OUT_LIMIT = 100 * MB
SANDBOX_LIMIT = 768 * MB

ERROR_OVERWRITE = "ERROR: cannot overwrite file"
ERROR_WRITE = "ERROR: cannot write file"
ERROR_SIZE_LIMIT = "ERROR: upload failure. Exceeded size limit"
HINT_NO_BUILD = " Please submit the job without --noBuild/--libDS since those options impose a tighter size limit"
HINT_SOURCES = " Please remove redundant files from your work area"
MESSAGE_ACCEPTED = "The request was accepted and will be processed in a few minutes"
#: Sandbox registrations of this host never count (``checkSandboxFile``).
NO_GOOD_HOST = "localhost.localdomain"
#: ``checkSandboxFile`` only looks at registrations of the last 3 days.
REUSE_WINDOW = _dt.timedelta(days=3)
#: Suffixes whose uploads are not registered as sandboxes.
IGNORED_SUFFIX = (".out",)
JEDILOG = "jedilog"

_CHUNK = 1024 * 1024
_UNSAFE = re.compile(r"[\\\x00-\x1f\x7f%]")


@dataclass
class Staged:
    """An upload streamed to the staging directory."""

    path: Path
    size: int
    tail: bytes


def gzip_footer_checksum(tail: bytes) -> str | None:
    """The CRC32 of a gzip file's footer as a decimal string (what the server registers), or None."""
    if len(tail) < 8:
        return None
    checksum, _size = struct.unpack("<II", tail[-8:])
    return str(checksum)


def safe_name(raw: Any) -> str:
    """The file name the server stores for an uploaded name: its last component, checked.

    Raises :class:`Failure` with a clear message for a name that could reach outside the cache
    directory or hide there (``..``, hidden names, backslashes, ``%`` escapes, control characters).
    """
    text = "" if raw is None else str(raw)
    components = text.replace("\\", "/").split("/")
    if ".." in components:
        raise Failure(f"ERROR: invalid file name {text!r}: '..' path components are not allowed")
    name = text.split("/")[-1]
    if not name:
        raise Failure(f"ERROR: invalid file name {text!r}: the name is empty")
    if name.startswith("."):
        raise Failure(f"ERROR: invalid file name {text!r}: hidden names (starting with '.') are not allowed")
    bad = _UNSAFE.search(name)
    if bad:
        raise Failure(f"ERROR: invalid file name {text!r}: character {bad.group()!r} is not allowed")
    return name


def _cap(limit: int, cap: int) -> int:
    return min(limit, cap) if cap > 0 else limit


class FileServer:
    """The cache directory, the sandbox registry, JEDI logs, HPO checkpoints and spooled requests."""

    def __init__(self, engine: Engine, data_dir: str | os.PathLike | None = None, max_upload_mb: int = 768) -> None:
        self.engine = engine
        self._tempdir: tempfile.TemporaryDirectory | None = None
        if data_dir is None:
            self._tempdir = tempfile.TemporaryDirectory(prefix="pandamock-data-")
            data_dir = self._tempdir.name
        self.data_dir = Path(data_dir).resolve()
        self.cache_dir = self.data_dir / "cache"
        self.staging_dir = self.data_dir / "staging"
        for directory in (self.cache_dir, self.cache_dir / JEDILOG, self.staging_dir):
            directory.mkdir(parents=True, exist_ok=True)
        self.max_upload_bytes = max(int(max_upload_mb), 0) * MB
        store = engine.store
        self.files = store.create_table("cache_files", key="path", indexes=[HashIndex("by_kind", ["kind"])])
        self.sandboxes = store.create_table(
            "sandbox_files",
            key="sandbox_key",
            indexes=[
                HashIndex("by_owner_size_checksum", ["userName", "fileSize", "checkSum"]),
                HashIndex("by_file", ["fileName"]),
            ],
        )
        self.requests = store.create_table(
            "file_server_requests", key="request_id", indexes=[HashIndex("by_kind", ["kind"])]
        )
        engine.on("cache_file_expiry", self._expire)

    # -- paths and disk --------------------------------------------------------------------------
    def disk_path(self, path: str) -> Path:
        """Where the bytes of a cache path (``name`` or ``jedilog/name``) are; never outside the cache."""
        parts = path.split("/")
        if len(parts) == 2 and parts[0] == JEDILOG:
            directory, name = self.cache_dir / JEDILOG, parts[1]
        elif len(parts) == 1:
            directory, name = self.cache_dir, parts[0]
        else:
            raise Failure(f"ERROR: invalid file name {path!r}")
        safe_name(name)
        target = directory / name
        if target.parent.resolve() != directory.resolve():
            raise Failure(f"ERROR: invalid file name {path!r}")
        return target

    def _stage(self, stream: IO[bytes], limit: int | None, too_large: Any) -> Staged:
        """Copy an upload to the staging directory (outside the store lock)."""
        handle, name = tempfile.mkstemp(dir=self.staging_dir, prefix="upload-")
        path = Path(name)
        size = 0
        tail = b""
        try:
            with os.fdopen(handle, "wb") as out:
                while True:
                    chunk = stream.read(_CHUNK)
                    if not chunk:
                        break
                    size += len(chunk)
                    if limit is not None and size > limit:
                        raise too_large(size)
                    out.write(chunk)
                    tail = (tail + chunk)[-8:]
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return Staged(path, size, tail)

    def _staged_bytes(self, content: bytes) -> Staged:
        handle, name = tempfile.mkstemp(dir=self.staging_dir, prefix="write-")
        with os.fdopen(handle, "wb") as out:
            out.write(content)
        return Staged(Path(name), len(content), content[-8:])

    def _place(self, staged: Staged, path: str) -> None:
        """Move staged bytes to their cache path (the last step of an operation)."""
        try:
            os.replace(staged.path, self.disk_path(path))
        except OSError as exc:
            raise Failure(ERROR_WRITE) from exc

    def _record(self, path: str, kind: str, size: int, owner: str | None, **extra: Any) -> dict:
        now = self.engine.now()
        old = self.files.get(path)
        record = {
            "path": path,
            "name": path.split("/")[-1],
            "kind": kind,
            "size": size,
            "owner": owner,
            "creationTime": old["creationTime"] if old else now,
            "modificationTime": now,
        }
        record.update(extra)
        stored = self.files.put(record)
        self._schedule_expiry(stored)
        return stored

    def _schedule_expiry(self, record: Mapping) -> None:
        self.engine.schedule(
            "cache_file_expiry",
            "cache_file_lifetime",
            path=record["path"],
            modified=record["modificationTime"].isoformat(),
        )

    def _expire(self, path: str, modified: str) -> None:
        """A cache file not touched for ``cache_file_lifetime`` leaves the cache (and the registry)."""
        record = self.files.get(path)
        if record is None or record["modificationTime"].isoformat() != modified:
            return  # deleted, or touched/rewritten since
        self.files.delete(path)
        if record["kind"] == "cache":
            for key in self.sandboxes.ids("by_file", record["name"]):
                self.sandboxes.delete(key)

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.engine.random.getrandbits(128), version=4))

    def _limit(self, limit: int) -> int:
        return _cap(limit, self.max_upload_bytes)

    # -- user cache files ------------------------------------------------------------------------
    def upload_cache_file(
        self, owner: str | None, filename: Any, stream: IO[bytes], content_length: int, host: str
    ) -> Reply | None:
        """``upload_cache_file``: store a sandbox under its base name and register it for reuse."""
        name = safe_name(filename)
        no_build = not name.startswith("sources.")
        limit = self._limit(
            SANDBOX_OUT_LIMIT if name.endswith(".out") else SANDBOX_NO_BUILD_LIMIT if no_build else SANDBOX_LIMIT
        )

        def too_large(size: int) -> Failure:
            message = f"{ERROR_SIZE_LIMIT} {size // MB} MB > {limit // MB} MB."
            message += HINT_NO_BUILD if no_build else HINT_SOURCES
            return Failure(message)

        if content_length > limit:
            raise too_large(content_length)
        staged = self._stage(stream, limit, too_large)
        try:
            with self.engine.operation():
                existing = self.files.get(name)
                if existing is not None and str(filename).split(".")[-1] != "__ow__":
                    self.files.update(name, {"modificationTime": self.engine.now()})
                    self._schedule_expiry(self.files.get(name))
                    return Reply(None, message=ERROR_OVERWRITE, success=False)
                checksum = gzip_footer_checksum(staged.tail)
                self._record(name, "cache", staged.size, owner, checksum=checksum)
                reply = None
                if not name.endswith(IGNORED_SUFFIX):
                    registered = self._register(owner, host, name, staged.size, checksum)
                    if registered != "OK":
                        message = f"ERROR : failed to register sandbox to DB with {registered}"
                        reply = Reply(None, message=message, success=False)
                self._place(staged, name)
                return reply
        finally:
            staged.path.unlink(missing_ok=True)

    def touch_cache_file(self, file_name: str) -> None:
        """``touch_cache_file``: a new modification time, so the file does not expire."""
        with self.engine.operation():
            name = safe_name(file_name.split("/")[-1])
            record = self.files.get(name)
            if record is None:
                raise Failure(
                    "Failed to touch file with: <class 'FileNotFoundError'> "
                    f"[Errno 2] No such file or directory: '{self.cache_dir}/{name}'"
                )
            updated = self.files.update(name, {"modificationTime": self.engine.now()})
            self._schedule_expiry(updated)

    def delete_cache_file(self, file_name: str) -> None:
        """``delete_cache_file``: a placeholder in the real server (files are kept for re-brokerage)."""
        with self.engine.operation():
            return None

    def _register(self, user_name: Any, host: str, file_name: str, file_size: int, checksum: Any) -> str:
        key = f"{host}|{file_name}"
        if self.sandboxes.get(key) is not None:
            return "WARNING: file exist"
        now = self.engine.now()
        self.sandboxes.insert(
            {
                "sandbox_key": key,
                "userName": user_name,
                "hostName": host,
                "fileName": file_name,
                "fileSize": file_size,
                "checkSum": None if checksum is None else str(checksum),
                "creationTime": now,
                "modificationTime": now,
            }
        )
        return "OK"

    def register_cache_file(self, user_name: str, file_name: str, file_size: int, checksum: str, host: str) -> Reply:
        """``register_cache_file``: record (owner, host, name, size, checksum) in the sandbox registry."""
        with self.engine.operation():
            message = self._register(user_name, host, file_name, file_size, checksum)
            if message != "OK":
                return Reply(None, message=message, success=False)
            return Reply(None)

    def validate_cache_file(self, compact_name: str | None, dn: str, file_size: int, checksum: Any) -> Reply:
        """``checkSandboxFile``: ``FOUND:<host>:<name>`` when the caller registered a file of this size and
        checksum in the last 3 days that is still in the cache; ``NOTFOUND`` otherwise."""
        with self.engine.operation():
            owner = compact_name if compact_name not in ("", "NULL", None) else dn
            limit = self.engine.now() - REUSE_WINDOW
            for row in self.sandboxes.find("by_owner_size_checksum", (owner, file_size, str(checksum))):
                if row["hostName"] == NO_GOOD_HOST or row["creationTime"] <= limit:
                    continue
                if self.files.get(row["fileName"]) is None:
                    continue
                return Reply(None, message=f"FOUND:{row['hostName']}:{row['fileName']}")
            raise Failure("NOTFOUND")

    def cache_file(self, path: str) -> tuple[Path, dict] | None:
        """The disk path and record of a cache path (``name`` or ``jedilog/name``), None when absent."""
        with self.engine.operation():
            try:
                disk = self.disk_path(path)
            except Failure:
                return None
            record = self.files.get(path)
            if record is None or not disk.is_file():
                return None
            return disk, dict(record)

    # -- JEDI logs -------------------------------------------------------------------------------
    def upload_jedi_log(self, filename: Any, stream: IO[bytes], content_length: int, base_url: str) -> str:
        """``upload_jedi_log``: (over)write ``jedilog/<name>``; answers its URL."""
        limit = self._limit(LOG_LIMIT)
        if content_length > limit:
            raise Failure(ERROR_SIZE_LIMIT)
        name = safe_name(filename)
        staged = self._stage(stream, limit, lambda size: Failure(ERROR_SIZE_LIMIT))
        try:
            with self.engine.operation():
                path = f"{JEDILOG}/{name}"
                self._record(path, "jedilog", staged.size, None)
                self._place(staged, path)
                return f"{base_url}/cache/{path}"
        finally:
            staged.path.unlink(missing_ok=True)

    def update_jedi_log(self, filename: Any, stream: IO[bytes], content_length: int) -> None:
        """``update_jedi_log``: append zlib-compressed content to a log (where download_jedi_log reads)."""
        limit = self._limit(LOG_LIMIT)
        if content_length > limit:
            raise Failure(ERROR_SIZE_LIMIT)
        name = safe_name(filename)
        try:
            inflater = zlib.decompressobj()
            content = inflater.decompress(stream.read(limit + 1), limit + 1)
            if len(content) > limit or inflater.unconsumed_tail:
                raise Failure(ERROR_SIZE_LIMIT)
            content += inflater.flush()
            if not inflater.eof:
                raise zlib.error("Error -5 while decompressing data: incomplete or truncated stream")
        except zlib.error as exc:
            raise Failure(f"ERROR: cannot update file with {type(exc)} {exc}") from None
        with self.engine.operation():
            # the log download_jedi_log reads: <cache>/<name> first, else jedilog/<name>; new logs at <cache>/<name>
            path = name
            if self.files.get(name) is None and self.files.get(f"{JEDILOG}/{name}") is not None:
                path = f"{JEDILOG}/{name}"
            old = self.files.get(path)
            previous = b""
            if old is not None:
                disk = self.disk_path(path)
                previous = disk.read_bytes() if disk.is_file() else b""
            staged = self._staged_bytes(previous + content)
            try:
                self._record(path, old["kind"] if old else "jedilog", staged.size, None)
                self._place(staged, path)
            finally:
                staged.path.unlink(missing_ok=True)

    def download_jedi_log(self, log_name: str, offset: int) -> str:
        """``download_jedi_log``: ``" "`` + the log's text from ``offset`` (just ``" "`` when unreadable)."""
        with self.engine.operation():
            answer = " "
            try:
                name = safe_name(log_name.split("/")[-1])
            except Failure:
                return answer
            for path in (name, f"{JEDILOG}/{name}"):
                if self.files.get(path) is None:
                    continue
                disk = self.disk_path(path)
                if not disk.is_file() or offset < 0:
                    return answer
                try:
                    return answer + disk.read_bytes()[offset:].decode("utf-8")
                except UnicodeDecodeError:
                    return answer
            return answer

    # -- HPO checkpoints -------------------------------------------------------------------------
    def upload_hpo_checkpoint(self, owner: str | None, filename: Any, stream: IO[bytes], content_length: int) -> Reply:
        """``upload_hpo_checkpoint``: store ``hpo_cp_<task>_<sub>`` from an upload named ``<task>_<sub>``."""
        try:
            task_id, sub_id = str(filename).split("/")[-1].split("_")
        except ValueError:
            raise Failure("Failed to extract task and sub IDs") from None
        if not content_length:
            raise Failure("Cannot get content-length")
        limit = self._limit(CHECKPOINT_LIMIT)
        if content_length > limit:
            raise Failure(f"Exceeded size limit {content_length}>{limit}")
        name = safe_name(f"hpo_cp_{task_id}_{sub_id}")
        staged = self._stage(stream, limit, lambda size: Failure(f"Exceeded size limit {size}>{limit}"))
        try:
            with self.engine.operation():
                self._record(name, "hpo_checkpoint", staged.size, owner, task_id=task_id, sub_id=sub_id)
                self._place(staged, name)
                full_path = os.path.join(str(self.cache_dir), name)
                return Reply(full_path, message=f"Successfully placed at {full_path}")
        finally:
            staged.path.unlink(missing_ok=True)

    def delete_hpo_checkpoint(self, task_id: str, sub_id: str) -> None:
        """``delete_hpo_checkpoint``: remove ``hpo_cp_<task>_<sub>``."""
        with self.engine.operation():
            name = f"hpo_cp_{task_id}_{sub_id}"
            try:
                safe_name(name)
                if "/" in name:
                    raise Failure(f"ERROR: invalid file name {name!r}: '/' is not allowed")
            except Failure as failure:
                raise Failure(f"Failed to delete file due to {failure.message}") from None
            full_path = os.path.join(str(self.cache_dir), name)
            if self.files.get(name) is None:
                raise Failure(f"Failed to delete file due to [Errno 2] No such file or directory: '{full_path}'")
            self.files.delete(name)
            self.disk_path(name).unlink(missing_ok=True)

    # -- spooled requests ------------------------------------------------------------------------
    def _request(self, kind: str, dn: str, owner: str | None, spool: str, content: Mapping, **extra: Any) -> dict:
        now = self.engine.now()
        record = {
            "request_id": self.engine.ids.next("file_server_request"),
            "kind": kind,
            "owner": owner,
            "userName": dn,
            "creationTime": now,
            "spoolFile": spool,
            "status": "queued",
            "parameters": dict(content),
        }
        record.update(extra)
        return self.requests.insert(record)

    def file_recovery_request(
        self,
        dn: str,
        owner: str | None,
        production: bool,
        base_url: str,
        task_id: int | None,
        dry_run: bool | None,
        dataset: str | None,
        files: list | None,
        no_child_retry: bool,
        resurrect_datasets: bool,
        force: bool,
        reproduce_parent: bool,
        reproduce_upto_nth_gen: int,
    ) -> Reply:
        """``upload_file_recovery_request``: queue a lost-file recovery; answers the URL of its (empty) log."""
        with self.engine.operation():
            if not task_id and not dataset:
                raise Failure("Either task_id or dataset must be provided")
            now = self.engine.now()
            spool = f"recov.{self._uuid()}"
            log_path = f"{JEDILOG}/lost_file_recovery.{self._uuid()}.log"
            content: dict[str, Any] = {
                "userName": dn,
                "creationTime": now.strftime("%Y-%m-%d %H:%M:%S"),
                "logFilename": log_path,
                "isProductionManager": production,
            }
            if task_id:
                content["jediTaskID"] = task_id
            if dry_run:
                content["dryRun"] = True
            if dataset:
                content["ds"] = dataset
            if files:
                content["files"] = ",".join(files)
            if no_child_retry:
                content["noChildRetry"] = True
            if resurrect_datasets:
                content["resurrectDS"] = True
            if force:
                content["force"] = True
            if reproduce_parent:
                content["reproduceParent"] = True
            if reproduce_upto_nth_gen > 0:
                content["reproduceUptoNthGen"] = reproduce_upto_nth_gen
            self._request("file_recovery", dn, owner, spool, content)
            staged = self._staged_bytes(b"")
            try:
                self._record(log_path, "jedilog", 0, owner)
                self._place(staged, log_path)
            finally:
                staged.path.unlink(missing_ok=True)
            return Reply({"logFileURL": f"{base_url}/cache/{log_path}"}, message=MESSAGE_ACCEPTED)

    def workflow_request(self, dn: str, owner: str | None, data: str, dry_run: bool, sync: bool) -> Reply:
        """``upload_workflow_request``: queue a workflow request, or check (dry_run) / submit (sync) it now."""
        with self.engine.operation():
            try:
                parsed = json.loads(data)
            except ValueError as exc:
                raise Failure(f"Cannot upload the workflow request: {exc} ") from None
            now = self.engine.now()
            content = {"userName": dn, "creationTime": now.strftime("%Y-%m-%d %H:%M:%S"), "data": parsed}
            record = self._request("workflow", dn, owner, f"workflow.{self._uuid()}", content)
            if not (sync or dry_run):
                return Reply(None, message=MESSAGE_ACCEPTED)
            result = self._process_workflow(parsed, owner, test_mode=bool(dry_run))
            status = "checked" if dry_run else ("submitted" if result["status"] else "failed")
            self.requests.update(record["request_id"], {"status": status, "result": result})
            return Reply(result)

    def _process_workflow(self, data: Any, owner: str | None, test_mode: bool) -> dict:
        """What ``WorkflowProcessor.process`` answers, from the checks the emulator can make: the request
        names its task parameters, output, sandbox and language, and the sandbox is in the cache (the
        description itself is not parsed)."""
        lines = [f'start < id="{owner}" test={test_mode} >']
        ok = True
        try:
            for key in ("taskParams", "outDS", "sourceURL", "sandbox", "language"):
                if key not in data:
                    raise KeyError(key)
            if not isinstance(data["taskParams"], Mapping):
                raise TypeError("taskParams must be a dictionary")
            if self.files.get(str(data["sandbox"]).split("/")[-1]) is None:
                ok = False
                lines.append("bad HTTP response 404")
            elif data["language"] not in ("cwl", "snakemake"):
                ok = False
                lines.append("{} is not supported to describe the workflow")
            else:
                lines.append(f"parse workflow {data['outDS']}")
        except (KeyError, TypeError) as exc:
            ok = False
            lines.append(f"failed to run with {exc!s}")
        request_id = None
        if ok and not test_mode:
            request_id = self.engine.ids.next("idds_request_id")
            lines.append(f"submit workflow request_id={request_id}")
        return {"status": ok, "request_id": request_id, "log": "\n".join(lines) + "\n"}

    def event_picking_request(self, dn: str, owner: str | None, content_length: int, **params: Any) -> None:
        """``upload_event_picking_request``: queue an event-picking request (run/event list and options)."""
        if not content_length:
            raise Failure("ERROR: Cannot get content-length from HTTP request.")
        limit = self._limit(EVENT_PICKING_LIMIT)
        if content_length > limit:
            raise Failure(f"ERROR: Run/event list is too large. Exceeded size limit {content_length}>{limit}.")
        with self.engine.operation():
            now = self.engine.now()
            content: dict[str, Any] = {
                "userName": dn,
                "creationTime": now.strftime("%Y-%m-%d %H:%M:%S"),
                "eventPickDataType": params["data_type"],
                "eventPickStreamName": params["stream_name"],
                "eventPickDS": params["dataset_name"],
                "eventPickAmiTag": params["ami_tag"],
                "eventPickNumSites": params["n_sites"],
                "userTaskName": params["user_task_name"],
                "userDatasetName": params["user_dataset_name"],
                "lockedBy": params["locked_by"],
                "params": params["parameters"],
                "inputFileList": params["input_file_list"],
                "ei_api": params["ei_api"],
            }
            include_guids = params["include_guids"]
            run_events = []
            guid_map: dict[str, list] = {}
            for line in params["run_event_list"].split("\n"):
                items = line.split()
                if len(items) != (3 if include_guids else 2):
                    continue
                run_events.append([items[0], items[1]])
                if include_guids:
                    guid_map[f"{items[0]},{items[1]}"] = [items[2]]
            content["runEvent"] = run_events
            content["runEvtGuidMap"] = guid_map
            self._request("event_picking", dn, owner, f"evp.{self._uuid()}", content)

    # -- housekeeping ----------------------------------------------------------------------------
    def close(self) -> None:
        """Remove the temporary data directory (when the emulator made one)."""
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None
