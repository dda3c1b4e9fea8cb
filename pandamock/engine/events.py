"""The event service: event ranges handed out to running event-service jobs and their results.

Event ranges are ``JEDI_Events`` rows in the shared ``event_ranges`` table, keyed by
``eventRangeID`` = ``<jediTaskID>-<PandaID>-<fileID>-<job_processID>-<attemptNr>``. Before
dispatch a range belongs to its jobset (``PandaID`` = jobsetID, also kept in ``event_offset``);
acquiring it moves it ``ready`` → ``sent`` and gives it the consumer job's PandaID (and so a new
id). Reports follow ``reference/panda_api_v1.md`` §7.3 and ``updateEventRanges``:

* ``finished`` / ``failed`` are stored for ranges in ``sent``/``running`` (also ``ready`` with
  version 2, fine-grained processing, where ranges can be reported before dispatch);
* ``fatal`` is stored as ``failed`` with ``attemptNr`` set to 1 (no further attempt);
* ``running`` / ``transferring`` are accepted but not stored (the reply item is None);
* the job must be in sent/running/starting/transferring (+ activated for version 2), otherwise
  the item is False; an unknown job gets the command ``tobekilled``;
* version 1 (jumbo jobs) accepts chunks ``{"zipFile": {...}, "eventRanges": [...]}`` and registers
  the zip file as a ``zipoutput`` file of the job.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .indexes import ComputedHashIndex, ComputedSortedIndex
from .jobs import ACTIVE_TABLE, EC_EVENT_SERVICE_PREEMPTION, EC_EVENT_SERVICE_UNUSED, JUMBO_JOB
from .records import event_range_id, new_file
from .statuses import EVENT, EVENT_CODES, transition

if TYPE_CHECKING:
    from .core import Engine

MESSAGE_DATABASE = "database error in the PanDA server"
#: Queued statuses of consumers that are closed when their jobset has no events left.
UNUSED_CONSUMER_STATUSES = ("pending", "defined", "assigned", "waiting", "activated", "throttled")
MAX_EVENTS_PER_UPDATE = 100_000


def _range_order(record: Mapping) -> tuple:
    return (record.get("fileID") or 0, record.get("job_processID") or 0, record["eventRangeID"])


def _ready_of_jobset(record: Mapping) -> tuple | None:
    """Ready ranges with attempts left, per (task, owner): what acquire and the count read."""
    if record.get("status") == "ready" and (record.get("attemptNr") or 0) > 0:
        return (record.get("jediTaskID"), record.get("PandaID"))
    return None


def _ready_of_task(record: Mapping) -> int | None:
    if record.get("status") == "ready" and (record.get("attemptNr") or 0) > 0:
        return record.get("jediTaskID")
    return None


def _done_of_job(record: Mapping) -> tuple | None:
    if record.get("status") in ("finished", "done", "merged"):
        return (record.get("jediTaskID"), record.get("PandaID"))
    return None


class Events:
    """The event-range service of an engine: ``engine.events``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.table = engine.store.table("event_ranges")
        self.table.add_index(ComputedSortedIndex("ready_of_jobset", _ready_of_jobset, _range_order))
        self.table.add_index(ComputedSortedIndex("ready_of_task", _ready_of_task, _range_order))
        self.table.add_index(ComputedHashIndex("done_of_job", _done_of_job))

    @property
    def jobs(self) -> Any:
        return self.engine.jobs

    # ------------------------------------------------------------------------------------------
    # acquire
    # ------------------------------------------------------------------------------------------
    def acquire(
        self,
        job_id: int,
        jobset_id: int,
        task_id: int | None = None,
        n_ranges: int = 10,
        scattered: bool = False,
        segment_id: int | None = None,
    ) -> list[dict]:
        """``event/acquire_event_ranges``: up to ``n_ranges`` ready ranges of the jobset (task-wide for a
        jumbo job) move to ``sent`` for the job; ``[]`` when the job may not take any."""
        with self.engine.operation():
            job = self.jobs.get(job_id)
            if job is None or job["jobStatus"] not in ("sent", "running", "starting"):
                return []
            if job.get("commandToPilot") == "tobekilled":
                return []
            jumbo = job.get("eventService") == JUMBO_JOB
            if task_id is None:
                task_id = job.get("jediTaskID")
            if jumbo:
                group = self.table.index("ready_of_task").buckets.get(task_id, ())
            else:
                group = self.table.index("ready_of_jobset").buckets.get((task_id, jobset_id), ())
            chosen = []
            records = self.table.records
            for _, rid in group:
                record = records[rid]
                if segment_id is not None and record.get("datasetID") != segment_id:
                    continue
                chosen.append(rid)
                if len(chosen) > max(n_ranges, 0):
                    break
            no_more_events = len(chosen) <= n_ranges
            chosen = chosen[: max(n_ranges, 0)]
            now = self.engine.now()
            result = []
            panda_id = job["PandaID"]
            for rid in chosen:
                transition(self.table, rid, EVENT, "sent", now)
                record = self.table.delete(rid)
                new = dict(record)
                new["PandaID"] = panda_id
                new["is_jumbo"] = 1 if jumbo else None
                new["eventRangeID"] = event_range_id(
                    new["jediTaskID"], panda_id, new["fileID"], new["job_processID"], new["attemptNr"]
                )
                self.table.insert(new)
                result.append(
                    {
                        "eventRangeID": new["eventRangeID"],
                        "startEvent": new.get("def_min_eventID"),
                        "lastEvent": new.get("def_max_eventID"),
                        "LFN": new.get("LFN"),
                        "GUID": new.get("GUID"),
                        "scope": new.get("scope"),
                    }
                )
            if not jumbo and (not result or no_more_events) and task_id is not None and segment_id is None:
                self._close_unused_consumers(job, jobset_id)
            return result

    def _close_unused_consumers(self, job: Mapping, jobset_id: int) -> None:
        """``killUnusedEventServiceConsumers``: consumers of the jobset that have not started are
        closed when there are no events left for them."""
        for other in self.jobs.table.find("by_jobset", jobset_id):
            if other["PandaID"] == job["PandaID"] or other.get("jediTaskID") != job.get("jediTaskID"):
                continue
            if other["jobStatus"] not in UNUSED_CONSUMER_STATUSES or other.get("eventService") == JUMBO_JOB:
                continue
            self.jobs.move(
                other["PandaID"],
                "closed",
                {
                    "jobSubStatus": "es_unused",
                    "taskBufferErrorCode": EC_EVENT_SERVICE_UNUSED,
                    "taskBufferErrorDiag": "killed since all event ranges were processed",
                    "endTime": self.engine.now(),
                },
                reason="unused event-service consumer",
            )

    # ------------------------------------------------------------------------------------------
    # updates
    # ------------------------------------------------------------------------------------------
    def update(self, event_dicts: Any, version: int = 0) -> tuple[list, dict]:
        """``updateEventRanges``: ``(returns, commands)`` — one True/False/None per range and the
        pilot command per PandaID."""
        with self.engine.operation():
            return self._update(event_dicts, version)

    def _flatten(self, event_dicts: Any, version: int) -> list:
        if not isinstance(event_dicts, list):
            raise TypeError("event ranges must be a list")
        if version == 0:
            return list(event_dicts)
        flat = []
        for chunk in event_dicts:
            if isinstance(chunk, Mapping) and "eventRanges" in chunk:
                zip_file = chunk.get("zipFile")
                for item in chunk["eventRanges"]:
                    item = dict(item) if isinstance(item, Mapping) else item
                    if isinstance(item, dict):
                        item["zipFile"] = zip_file
                    flat.append(item)
            else:
                flat.append(chunk)
        return flat

    def _update(self, event_dicts: Any, version: int) -> tuple[list, dict]:
        returns: list[Any] = []
        commands: dict[Any, Any] = {}
        job_cache: dict[int, Mapping | None] = {}
        finished_jobs: dict[int, int] = {}
        ok_statuses = {"sent", "running", "starting", "transferring"}
        if version == 2:
            ok_statuses.add("activated")
        range_statuses = ("sent", "running", "ready") if version == 2 else ("sent", "running")
        zip_rows: dict[str, int] = {}
        now = self.engine.now()
        for count, item in enumerate(self._flatten(event_dicts, version), start=1):
            if count > MAX_EVENTS_PER_UPDATE:
                returns.append(None)
                continue
            if not isinstance(item, Mapping) or "eventRangeID" not in item:
                returns.append(False)
                continue
            range_id = item["eventRangeID"]
            try:
                task_id, panda_id, file_id, process_id, attempt_nr = (int(part) for part in str(range_id).split("-"))
            except ValueError:
                returns.append(False)
                continue
            if "eventStatus" not in item:
                returns.append(False)
                continue
            status = item["eventStatus"]
            if status not in ("running", "transferring", "finished", "failed", "fatal"):
                returns.append(False)
                continue
            if status not in ("finished", "failed", "fatal"):
                returns.append(None)
                continue
            if panda_id not in job_cache:
                job_cache[panda_id] = self._job_for_update(panda_id, version)
            job = job_cache[panda_id]
            if job is None:
                returns.append(False)
                commands.setdefault(panda_id, "tobekilled")
                continue
            command = job.get("commandToPilot")
            if command not in (None, "") and job.get("supErrorCode") == EC_EVENT_SERVICE_PREEMPTION:
                command = "softkill"
            if job["jobStatus"] not in ok_statuses:
                returns.append(False)
                commands.setdefault(panda_id, command)
                continue
            record = self.table.get(range_id)
            if record is not None and record.get("status") in range_statuses:
                changes: dict[str, Any] = {
                    "objstore_ID": item.get("objstoreID"),
                    "error_code": item.get("errorCode"),
                    "path_convention": item.get("pathConvention"),
                    "error_diag": item.get("errorDiag"),
                }
                if version != 0:
                    changes["zipRow_ID"] = self._zip_row(job, item.get("zipFile"), task_id, zip_rows)
                transition(self.table, range_id, EVENT, "failed" if status == "fatal" else status, now, changes=changes)
                if status == "fatal" and attempt_nr != 1:
                    moved = self.table.delete(range_id)
                    new = dict(moved, attemptNr=1)
                    new["eventRangeID"] = event_range_id(task_id, panda_id, file_id, process_id, 1)
                    self.table.put(new)
                if status == "finished":
                    finished_jobs[panda_id] = task_id
            returns.append(True)
            commands.setdefault(panda_id, command)
        for panda_id, task_id in finished_jobs.items():
            self._update_n_events(panda_id, task_id)
        return returns, commands

    def _job_for_update(self, panda_id: int, version: int) -> Mapping | None:
        """The job of a range: by PandaID in the active table (for version 2 also a job whose
        jobset owns the range before dispatch)."""
        job = self.jobs.get(panda_id)
        if job is not None and job["jobStatus"] in ACTIVE_TABLE:
            return job
        if version == 2:
            for other in self.jobs.table.find("by_jobset", panda_id):
                if other["jobStatus"] in ACTIVE_TABLE:
                    return other
        return None

    def _zip_row(self, job: Mapping, zip_file: Any, task_id: int, cache: dict[str, int]) -> int | None:
        """The row_ID of the job's ``zipoutput`` file for a reported zip (registered on first use)."""
        if not isinstance(zip_file, Mapping) or "lfn" not in zip_file:
            return None
        lfn = zip_file["lfn"]
        if lfn in cache:
            return cache[lfn]
        current = self.jobs.table.get(job["PandaID"])
        for file in current.get("Files") or ():
            if file.get("lfn") == lfn:
                cache[lfn] = file["row_ID"]
                return file["row_ID"]
        destination = zip_file.get("objstoreID")
        if "pathConvention" in zip_file:
            destination = f"{destination}/{zip_file['pathConvention']}"
        file = new_file(
            {
                "row_ID": self.engine.ids.next("row_ID"),
                "PandaID": job["PandaID"],
                "jediTaskID": task_id,
                "lfn": lfn,
                "GUID": str(self.engine.faker.uuid4()),
                "fsize": int(zip_file.get("fsize") or 0),
                "checksum": f"ad:{zip_file['adler32']}" if "adler32" in zip_file else None,
                "dispatchDBlockToken": zip_file.get("numEvents"),
                "type": "zipoutput",
                "status": "ready",
                "destinationSE": destination,
            }
        )
        self.jobs.table.update(job["PandaID"], {"Files": list(current.get("Files") or ()) + [file]})
        cache[lfn] = file["row_ID"]
        return file["row_ID"]

    def _update_n_events(self, panda_id: int, task_id: int) -> None:
        """nEvents of the job = its finished/done/merged ranges × the task's events per range (ES=n)."""
        job = self.jobs.table.get(panda_id)
        if job is None:
            return
        per_range = 1
        task = self.engine.store.table("tasks").get(task_id)
        match = re.search(r"ES=(\d+)", str((task or {}).get("splitRule") or ""))
        if match is not None:
            per_range = int(match.group(1))
        done = self.table.count("done_of_job", (task_id, panda_id))
        self.jobs.table.update(panda_id, {"nEvents": done * per_range})

    def update_single(
        self,
        event_range_id_: str,
        status: str,
        core_count: Any = None,
        cpu_time: Any = None,
        object_store_id: Any = None,
    ) -> tuple[Any, str]:
        """``updateEventRange``: ``(success, command_json)`` — success True when stored, None for a
        non-final status, False on any error; the command map as a JSON string."""
        item = {
            "eventRangeID": event_range_id_,
            "eventStatus": status,
            "cpuCore": core_count,
            "cpuConsumptionTime": cpu_time,
            "objstoreID": object_store_id,
        }
        returns, commands = self.update([item], 0)
        return (returns[0] if returns else False), json.dumps(commands)

    # ------------------------------------------------------------------------------------------
    # reading
    # ------------------------------------------------------------------------------------------
    def available_count(self, job_id: int, jobset_id: int, task_id: int) -> int:
        """``checkEventsAvailability``: ready ranges with attempts left of the jobset (task-wide for a
        jumbo job)."""
        with self.engine.operation():
            job = self.jobs.get(job_id)
            if job is not None and job.get("eventService") == JUMBO_JOB:
                return self.table.index("ready_of_task").count(task_id)
            return self.table.index("ready_of_jobset").count((task_id, jobset_id))

    def statuses(self, job_task_ids: Any) -> dict:
        """``get_events_status``: ``{panda_id: {eventRangeID: {status, error, dialog}}}``.

        ``job_task_ids``: the documented JSON list of ``{"task_id", "panda_id"}`` objects (``job_id``
        is accepted for ``panda_id``), the Python-repr dict(s) panda-client sends, or a list of
        such strings (repeated query keys). Raises ValueError when it cannot be read."""
        pairs = parse_job_task_ids(job_task_ids)
        with self.engine.operation():
            result: dict[Any, dict] = {}
            index = self.table.index("by_job_status")
            records = self.table.records
            for task_id, panda_id in pairs:
                ranges = {}
                for status in EVENT_CODES:
                    for rid in index.iter_ids((panda_id, status)):
                        record = records[rid]
                        if record.get("jediTaskID") != task_id:
                            continue
                        ranges[rid] = {
                            "status": status,
                            "error": record.get("error_code"),
                            "dialog": record.get("error_diag"),
                        }
                result[panda_id] = dict(sorted(ranges.items(), key=lambda item: _range_order(records[item[0]])))
            return result


def _parse_one(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return ast.literal_eval(text)


def parse_job_task_ids(value: Any) -> list[tuple[int, int]]:
    """(task_id, panda_id) pairs of ``job_task_ids`` in any of the forms clients send."""
    items: list[Any] = []
    parts = value if isinstance(value, list) else [value]
    for part in parts:
        try:
            decoded = _parse_one(part)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
            raise ValueError(f"cannot read job_task_ids: {exc}") from None
        if isinstance(decoded, (list, tuple)):
            items.extend(decoded)
        else:
            items.append(decoded)
    pairs = []
    for item in items:
        if not isinstance(item, Mapping):
            raise ValueError("job_task_ids items must be objects")
        panda_id = item.get("panda_id", item.get("job_id"))
        task_id = item.get("task_id")
        if panda_id is None or task_id is None:
            raise ValueError("job_task_ids items need task_id and panda_id")
        pairs.append((int(task_id), int(panda_id)))
    return pairs


def decode_event_ranges(text: Any) -> Sequence:
    """The ``event_ranges`` parameter: a JSON string of the list (Harvester, pilots)."""
    if isinstance(text, str):
        return json.loads(text)
    return text
