"""Harvester: instances, workers, worker statistics, commands and target slots.

Follows ``pandaserver/taskbuffer/db_proxy_mods/worker_module.py`` (tables ``Harvester_Instances``,
``Harvester_Workers``, ``Harvester_Rel_Jobs_Workers``, ``Harvester_Worker_Stats``,
``Harvester_Commands``, ``Harvester_Command_Lock``, ``Harvester_Slots``, ``Harvester_Dialogs``,
``Harvester_Metrics``):

* **workers** (shared table ``workers``, key ``<harvesterID>:<workerID>``) are upserted by
  ``update_workers``; any ``WorkerSpec`` attribute may be set; a worker whose stored status is final
  (finished, failed, cancelled, missed) and was updated within the last 3 hours keeps that status;
  ``pandaid_list`` keeps the worker <-> job links (shared table ``worker_jobs``); a final worker fails
  its running/starting jobs when ``syncLevel`` is 1 and passes a non-zero ``errorCode`` on to its
  jobs' ``supErrorCode``;
* **worker statistics** are what each instance reports per queue (``report_worker_statistics``);
  ``get_worker_statistics`` sums the reports of the last 4 hours;
* **commands** go new -> retrieved (``acquire_commands``, oldest first, at most ``n_commands``) ->
  acknowledged; ``add_sweep_command`` makes the KILL_WORKERS command of the instance serving a queue;
* **target slots** per (queue, global share, resource type), replaced on each call, deleted with
  ``slots=-1``, expiring ``expiration_date`` days later on the emulator clock.

Where the real server commits worker by worker, an engine call is one transaction: a malformed
worker refuses the whole call and nothing is written.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .naming import clean_user_id
from .outcome import Failure, Reply
from .statuses import HARVESTER_COMMAND, WORKER, WORKER_FINAL, created, transition
from .store import HashIndex, SortedIndex

if TYPE_CHECKING:
    from .core import Engine

MESSAGE_DATABASE = "database error in the PanDA server"
#: ``setNumSlotsForWP`` spells it differently.
MESSAGE_DATABASE_SLOTS = "database error in the panda server"
MESSAGE_STATS_DATABASE = "database error"
MESSAGE_INVALID_PILOT_STATE = "Invalid worker state. The worker state has to be in ('started', 'finished')"
MESSAGE_PILOT_STATUS_FAILED = "Failed to update worker status"

#: ``ErrorCode.EC_WorkerDone``: the worker ended before its job.
EC_WORKER_DONE = 300
#: ``JobSpec._limitLength`` of the diagnostics the worker update writes into jobs.
DIAG_LENGTH = 250
#: A final worker status is kept for this long after the last update (``updateWorkers``).
STICKY_FINAL = _dt.timedelta(hours=3)
#: ``getWorkerStats`` reads the reports of the last 4 hours.
STATS_WINDOW = _dt.timedelta(hours=4)
#: Jobs of ``jobsActive4`` that the worker heartbeat looks at (``NOT jobStatus IN ('holding')``).
ACTIVE_TABLE_STATUSES = frozenset(("activated", "throttled", "sent", "starting", "running", "transferring"))
#: Jobs a worker that ended out of sync fails (once the adder processes the failure report).
SYNC_FAIL_STATUSES = frozenset(("running", "starting"))
#: What the adder still fails when it gets to the report (a final pilot report that came first wins).
SYNC_FAIL_AT_ADDER = frozenset(("sent", "starting", "running"))

DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"

#: ``WorkerSpec._attributes`` and the column each is stored in (``HARVESTER_WORKERS`` DDL):
#: ``("num",)`` a NUMBER, ``("date",)`` a DATE, ``("str", n)`` a VARCHAR2(n).
WORKER_COLUMNS: dict[str, tuple] = {
    "harvesterID": ("str", 50),
    "workerID": ("num",),
    "batchID": ("str", 80),
    "queueName": ("str", 80),
    "status": ("str", 80),
    "computingSite": ("str", 128),
    "nCore": ("num",),
    "nodeID": ("str", 80),
    "submitTime": ("date",),
    "startTime": ("date",),
    "endTime": ("date",),
    "lastUpdate": ("date",),
    "stdOut": ("str", 250),
    "stdErr": ("str", 250),
    "batchLog": ("str", 250),
    "jdl": ("str", 250),
    "resourceType": ("str", 56),
    "nativeExitCode": ("num",),
    "nativeStatus": ("str", 80),
    "diagMessage": ("str", 500),
    "nJobs": ("num",),
    "computingElement": ("str", 128),
    "submissionHost": ("str", 128),
    "harvesterHost": ("str", 128),
    "errorCode": ("num",),
    "jobType": ("str", 52),
    "minRamCount": ("num",),
}
#: Columns of ``HARVESTER_WORKERS`` that only ``pilot/update_worker_status`` writes.
PILOT_COLUMNS = ("pilotStatus", "pilotStartTime", "pilotEndTime", "pilotStatusSyncTime")

#: Columns of ``HARVESTER_INSTANCES`` a heartbeat's ``data`` may set (Oracle names are case-insensitive).
INSTANCE_METADATA = {name.lower(): name for name in ("description", "startTime", "sw_version", "commit_stamp")}
INSTANCE_LENGTHS = {"description": 200, "sw_version": 50, "commit_stamp": 100}


class DatabaseError(Exception):
    """What makes a DBProxy method roll back and report a database error."""


def worker_key(harvester_id: str, worker_id: int) -> str:
    return f"{harvester_id}:{worker_id}"


def link_key(harvester_id: str, worker_id: int, panda_id: int) -> str:
    return f"{harvester_id}:{worker_id}:{panda_id}"


def new_worker(harvester_id: str, worker_id: int) -> dict:
    """An empty ``HARVESTER_WORKERS`` row."""
    record: dict[str, Any] = {"worker_key": worker_key(harvester_id, worker_id)}
    record.update({name: None for name in WORKER_COLUMNS})
    record.update({name: None for name in PILOT_COLUMNS})
    record["harvesterID"] = harvester_id
    record["workerID"] = worker_id
    return record


def parse_datetime_marker(value: Any) -> Any:
    """``WorkerSpec.__setattr__``: ``"datetime/<%Y-%m-%d %H:%M:%S.%f>"`` becomes a datetime."""
    if isinstance(value, str) and value.startswith("datetime/"):
        return _dt.datetime.strptime(value.split("/")[-1], DATETIME_FORMAT)
    return value


def _as_number(value: Any) -> int | float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        number = float(value.strip())
        return int(number) if number.is_integer() else number
    raise DatabaseError(f"cannot bind {type(value).__name__} to a NUMBER column")


def _as_date(value: Any) -> _dt.datetime | None:
    if value is None or isinstance(value, _dt.datetime):
        return value
    if isinstance(value, str):
        for fmt in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S"):
            try:
                return _dt.datetime.strptime(value, fmt)
            except ValueError:
                pass
        try:  # Oracle's default NLS_DATE_FORMAT, e.g. 02-NOV-24 00:02:18
            return _dt.datetime.strptime(value.title(), "%d-%b-%y %H:%M:%S")
        except ValueError:
            raise DatabaseError(f"date value {value!r} does not match a date format") from None
    raise DatabaseError(f"cannot bind {type(value).__name__} to a DATE column")


def _as_text(value: Any, length: int) -> str | None:
    if value is None:
        return None
    if isinstance(value, (dict, list, tuple, set)):
        raise DatabaseError(f"cannot bind {type(value).__name__} to a VARCHAR2 column")
    text = value if isinstance(value, str) else str(value)
    if len(text.encode()) > length:
        raise DatabaseError(f"value too large for column (actual: {len(text.encode())}, maximum: {length})")
    return text


def column_value(kind: tuple, value: Any) -> Any:
    """A worker value as its column stores it; raises :class:`DatabaseError` when Oracle would refuse it."""
    try:
        value = parse_datetime_marker(value)
        if kind[0] == "num":
            return _as_number(value)
        if kind[0] == "date":
            return _as_date(value)
        return _as_text(value, kind[1])
    except ValueError as exc:
        raise DatabaseError(str(exc)) from None


def _int_id(value: Any) -> int:
    """A NUMBER id bound from a JSON value (ints, integral floats and numeric strings, as Oracle takes them)."""
    number = _as_number(value)
    if number is None or (isinstance(number, float) and not number.is_integer()):
        raise DatabaseError(f"invalid number {value!r}")
    return int(number)


def _second(moment: _dt.datetime) -> _dt.datetime:
    """Oracle DATE precision (``CURRENT_DATE``): whole seconds."""
    return moment.replace(microsecond=0)


class Harvester:
    """Harvester instances, workers, statistics, commands, command locks and target slots."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        store = engine.store
        self.instances = store.table("harvester_instances")
        self.workers = store.table("workers")
        self.workers.add_index(
            SortedIndex("by_harvester_worker", ["harvesterID"], order=lambda record: record["workerID"])
        )
        self.links = store.table("worker_jobs")
        self.jobs = store.table("jobs")
        self.commands = store.create_table(
            "harvester_commands",
            key="command_id",
            indexes=[
                SortedIndex(
                    "by_harvester_status",
                    ["harvester_ID", "status"],
                    order=lambda record: (record["creation_date"], record["command_id"]),
                ),
                HashIndex("by_harvester_command", ["harvester_ID", "command"]),
            ],
        )
        self.command_locks = store.create_table("harvester_command_locks", key="lock_key")
        self.dialogs = store.create_table(
            "harvester_dialogs", key="dialog_key", indexes=[HashIndex("by_harvester", ["harvester_id"])]
        )
        self.metrics = store.create_table(
            "harvester_metrics", key="metric_id", indexes=[HashIndex("by_harvester", ["harvester_ID"])]
        )
        self.worker_stats = store.create_table(
            "harvester_worker_stats",
            key="stat_key",
            indexes=[HashIndex("by_harvester_site", ["harvester_ID", "computingSite"])],
        )
        self.slots = store.create_table(
            "harvester_slots", key="slot_key", indexes=[HashIndex("by_queue", ["pandaQueueName"])]
        )
        # which instance serves a queue when the queue's configuration does not say (see queue_harvester)
        self.queue_instances = store.create_table("harvester_queues", key="computingSite")
        engine.on("harvester_worker_sync_failure", self._fail_out_of_sync_job)
        engine.on("harvester_slots_expiry", self._expire_slots)
        engine.on("harvester_command_visible", self._make_command_visible)
        engine.scenario_hooks.append(generate_instances)

    # -- instances -------------------------------------------------------------------------------
    def heartbeat(self, harvester_id: str, data: Mapping | None, dn: str, host: str) -> None:
        """``harvesterIsAlive``: register or update the instance (owner, host, lastUpdate, metadata)
        and add the command locks listed under ``commands``."""
        with self.engine.operation():
            now = _second(self.engine.now())
            changes: dict[str, Any] = {"owner": clean_user_id(dn), "hostName": host, "lastUpdate": now}
            commands: list = []
            try:
                for key, value in (data or {}).items():
                    if key == "commands":
                        commands = value
                        continue
                    column = INSTANCE_METADATA.get(str(key).lower())
                    if column is None:
                        raise DatabaseError(f"invalid identifier {key!r}")
                    value = parse_datetime_marker(value)
                    if column == "startTime":
                        value = _as_date(value)
                    else:
                        value = _as_text(value, INSTANCE_LENGTHS[column])
                    changes[column] = value
                if self.instances.get(harvester_id) is None:
                    record = {
                        "harvester_ID": harvester_id,
                        "description": "automatic",
                        "startTime": None,
                        "owner": None,
                        "hostName": None,
                        "lastUpdate": None,
                        "sw_version": None,
                        "commit_stamp": None,
                    }
                    record.update(changes)
                    self.instances.insert(record)
                else:
                    self.instances.update(harvester_id, changes)
                for item in commands:
                    self._add_command_lock(harvester_id, item["command"], item["computingSite"], item["resourceType"])
            except (DatabaseError, KeyError, TypeError, ValueError, AttributeError) as exc:
                raise Failure(MESSAGE_DATABASE) from exc

    def _add_command_lock(self, harvester_id: str, command: str, site: str, resource_type: str) -> None:
        key = f"{harvester_id}|{site}|{resource_type}|{command}"
        if self.command_locks.get(key) is None:
            self.command_locks.insert(
                {
                    "lock_key": key,
                    "harvester_ID": harvester_id,
                    "computingSite": site,
                    "resourceType": resource_type,
                    "command": command,
                    # CURRENT_DATE-1: immediately available to the command sender
                    "lockedTime": _second(self.engine.now()) - _dt.timedelta(days=1),
                    "lockedBy": None,
                }
            )

    def update_service_metrics(self, harvester_id: str, metrics: list) -> list[bool]:
        """``updateServiceMetrics``: store ``[creation_time, harvester_host, metrics_json]`` entries."""
        with self.engine.operation():
            try:
                for entry in metrics:
                    creation = _dt.datetime.strptime(entry[0], DATETIME_FORMAT)
                    self.metrics.insert(
                        {
                            "metric_id": self.engine.ids.next("harvester_metric"),
                            "harvester_ID": harvester_id,
                            "creation_time": creation,
                            "harvester_host": _as_text(entry[1], 100),
                            "metrics": _as_text(entry[2], 4000),
                        }
                    )
            except (DatabaseError, IndexError, KeyError, TypeError, ValueError) as exc:
                raise Failure(MESSAGE_DATABASE) from exc
            return [True]

    def add_dialogs(self, harvester_id: str, dialogs: list) -> None:
        """``addHarvesterDialogs``: store messages, replacing the one with the same ``diagID``."""
        with self.engine.operation():
            try:
                for dialog in dialogs:
                    diag_id = _int_id(dialog["diagID"])
                    self.dialogs.put(
                        {
                            "dialog_key": f"{harvester_id}:{diag_id}",
                            "harvester_id": harvester_id,
                            "diagID": diag_id,
                            "moduleName": _as_text(dialog["moduleName"], 100),
                            "identifier": _as_text(dialog["identifier"], 100),
                            "creationTime": _dt.datetime.strptime(dialog["creationTime"], DATETIME_FORMAT),
                            "messageLevel": _as_text(dialog["messageLevel"], 10),
                            "diagMessage": _as_text(dialog["diagMessage"], 500),
                        }
                    )
            except (DatabaseError, KeyError, TypeError, ValueError) as exc:
                raise Failure(MESSAGE_DATABASE) from exc

    # -- workers ---------------------------------------------------------------------------------
    def update_workers(self, harvester_id: str, workers: list) -> list[bool]:
        """``updateWorkers``: upsert each worker, keep its job links, apply its end to its jobs."""
        with self.engine.operation():
            if not workers:
                raise Failure(MESSAGE_DATABASE)  # an empty result list reads as a failure
            try:
                results = [self._update_worker(harvester_id, data) for data in workers]
            except (DatabaseError, KeyError, TypeError, ValueError, AttributeError) as exc:
                raise Failure(MESSAGE_DATABASE) from exc
            return results

    def _update_worker(self, harvester_id: str, data: Mapping) -> bool:
        if not isinstance(data, Mapping):
            raise DatabaseError("a worker must be a dictionary")
        now = _second(self.engine.now())  # Harvester_Workers.lastUpdate is a DATE
        worker_id = _int_id(data["workerID"])
        key = worker_key(harvester_id, worker_id)
        old = self.workers.get(key)
        values: dict[str, Any] = {}
        for name, value in data.items():
            if name in ("harvesterID", "workerID") or name not in WORKER_COLUMNS:
                continue
            values[name] = column_value(WORKER_COLUMNS[name], value)
        values["lastUpdate"] = now
        if old is None:
            record = new_worker(harvester_id, worker_id)
            record.update(values)
            created(self.workers, record, WORKER, now)
        else:
            old_status = old.get("status")
            new_status = values.pop("status", old_status)
            last = old.get("lastUpdate")
            if old_status in WORKER_FINAL and isinstance(last, _dt.datetime) and last > now - STICKY_FINAL:
                new_status = old_status  # a recent final status sticks
            if new_status != old_status:
                transition(self.workers, key, WORKER, new_status, now, changes=values)
            else:
                self.workers.update(key, values)
        worker = self.workers.get(key)
        if worker.get("computingSite"):
            self._note_queue(worker["computingSite"], harvester_id, now)
        if "pandaid_list" in data and len(data["pandaid_list"]) > 0:
            self._link_jobs(harvester_id, worker_id, data["pandaid_list"], now)
        self._worker_heartbeat(worker, data, now)
        return True

    def _note_queue(self, site: str, harvester_id: str, now: _dt.datetime) -> None:
        """Remember the instance that last reported for a queue (written only when it changes)."""
        known = self.queue_instances.get(site)
        if known is None or known["harvester_ID"] != harvester_id:
            self.queue_instances.put({"computingSite": site, "harvester_ID": harvester_id, "since": _second(now)})

    def _link_jobs(self, harvester_id: str, worker_id: int, panda_ids: Any, now: _dt.datetime) -> None:
        existing = {link["PandaID"] for link in self.links.find("by_worker", (harvester_id, worker_id))}
        for value in panda_ids:
            panda_id = _int_id(value)
            key = link_key(harvester_id, worker_id, panda_id)
            if panda_id in existing:
                self.links.update(key, {"lastUpdate": now})
                existing.discard(panda_id)
            else:
                self.links.put(
                    {
                        "link_key": key,
                        "harvesterID": harvester_id,
                        "workerID": worker_id,
                        "PandaID": panda_id,
                        "lastUpdate": now,
                    }
                )
        for panda_id in existing:
            self.links.delete(link_key(harvester_id, worker_id, panda_id))

    def _worker_heartbeat(self, worker: Mapping, data: Mapping, now: _dt.datetime) -> None:
        """The jobs of a worker that ended: out-of-sync failure (syncLevel 1) and the worker's error code."""
        status = worker.get("status")
        if status not in WORKER_FINAL:
            return
        error_code = worker.get("errorCode")
        for link in self.links.find("by_worker", (worker["harvesterID"], worker["workerID"])):
            panda_id = link["PandaID"]
            job = self.jobs.get(panda_id)
            if job is None or job.get("jobStatus") not in ACTIVE_TABLE_STATUSES:
                continue
            job_status = job["jobStatus"]
            if data.get("syncLevel") == 1 and job_status in SYNC_FAIL_STATUSES:
                diag = f"The worker was {status} while the job was {job_status} : {worker.get('diagMessage')}"
                changes: dict[str, Any] = {
                    "taskBufferErrorCode": EC_WORKER_DONE,
                    "taskBufferErrorDiag": diag[:DIAG_LENGTH],
                }
                if job_status == "starting":
                    changes["startTime"] = None
                self.jobs.update(panda_id, changes)
                # the empty "failed" job output report is picked up by the adder
                self.engine.schedule("harvester_worker_sync_failure", "job_adder", panda_id=panda_id)
            if error_code not in (None, 0):
                self.jobs.update(
                    panda_id,
                    {
                        "supErrorCode": error_code,
                        "supErrorDiag": f"Diag from worker : {worker.get('diagMessage')}"[:DIAG_LENGTH],
                        "stateChangeTime": _second(now),
                    },
                )

    def _fail_out_of_sync_job(self, panda_id: int) -> None:
        job = self.jobs.get(panda_id)
        if job is None or job.get("jobStatus") not in SYNC_FAIL_AT_ADDER:
            return
        now = self.engine.now()
        # through the job service, so that its final-status callbacks (task bookkeeping) see the job
        self.engine.jobs.move(
            panda_id, "failed", changes={"endTime": _second(now)}, reason="worker ended out of sync (syncLevel=1)"
        )

    def update_worker_pilot_status(self, worker_id: Any, harvester_id: Any, status: Any, node_id: Any) -> None:
        """``pilot/update_worker_status``: the pilot's view of its worker (pilotStatus, start/end, node)."""
        with self.engine.operation():
            if status not in ("started", "finished"):
                raise Failure(MESSAGE_INVALID_PILOT_STATE)
            try:
                wid = _int_id(worker_id)
                node = _as_text(node_id, 80)
            except (DatabaseError, ValueError) as exc:
                raise Failure(MESSAGE_PILOT_STATUS_FAILED) from exc
            key = worker_key(str(harvester_id), wid)
            if self.workers.get(key) is None:
                return  # an UPDATE of no row still succeeds
            now = self.engine.now()
            changes: dict[str, Any] = {"pilotStatus": status, "nodeID": node}
            changes["pilotStartTime" if status == "started" else "pilotEndTime"] = now
            self.workers.update(key, changes)

    def get_current_worker_id(self, harvester_id: str) -> int:
        """``get_max_worker_id``: the highest workerID of the instance (a failure when it has none)."""
        with self.engine.operation():
            index = self.workers.index("by_harvester_worker")
            bucket = index.buckets.get(harvester_id)
            if not bucket:
                raise Failure(MESSAGE_DATABASE)
            return bucket[-1][0]

    def workers_of_job(self, panda_id: int) -> list[dict]:
        """``getWorkersForJob``: the workers linked to a job."""
        with self.engine.operation():
            found = []
            for link in self.links.find("by_job", panda_id):
                worker = self.workers.get(worker_key(link["harvesterID"], link["workerID"]))
                if worker is not None:
                    found.append(dict(worker))
            return found

    # -- worker statistics -----------------------------------------------------------------------
    def report_worker_statistics(self, harvester_id: str, panda_queue: str, statistics: str) -> Reply:
        """``reportWorkerStats_jobtype``: replace the instance's counts at a queue."""
        with self.engine.operation():
            try:
                report = json.loads(statistics)
                rows = []
                for job_type, per_type in report.items():
                    for resource_type, counts in per_type.items():
                        if resource_type == "Undefined":
                            continue
                        for status, n_workers in counts.items():
                            rows.append((job_type, resource_type, status, _int_id(n_workers)))
            except (DatabaseError, ValueError, TypeError, AttributeError) as exc:
                raise Failure(MESSAGE_STATS_DATABASE) from exc
            for key in self.worker_stats.ids("by_harvester_site", (harvester_id, panda_queue)):
                self.worker_stats.delete(key)
            now = _second(self.engine.now())
            for job_type, resource_type, status, n_workers in rows:
                self.worker_stats.put(
                    {
                        "stat_key": f"{harvester_id}|{panda_queue}|{job_type}|{resource_type}|{status}",
                        "harvester_ID": harvester_id,
                        "computingSite": panda_queue,
                        "jobType": job_type,
                        "resourceType": resource_type,
                        "status": status,
                        "n_workers": n_workers,
                        "lastUpdate": now,
                    }
                )
            self._note_queue(panda_queue, harvester_id, now)
            return Reply(None, message="OK")

    def worker_statistics(self) -> dict:
        """``getWorkerStats``: {site: {harvester: {jobType: {resourceType: {status: n}}}}} of recent reports."""
        with self.engine.operation():
            limit = self.engine.now() - STATS_WINDOW
            result: dict = {}
            for row in self.worker_stats.values():
                if row["lastUpdate"] < _second(limit):
                    continue
                per_status = (
                    result.setdefault(row["computingSite"], {})
                    .setdefault(row["harvester_ID"], {})
                    .setdefault(row["jobType"], {})
                    .setdefault(row["resourceType"], {})
                )
                per_status[row["status"]] = per_status.get(row["status"], 0) + row["n_workers"]
            return result

    # -- commands --------------------------------------------------------------------------------
    def acquire_commands(self, harvester_id: str, n_commands: int) -> list[dict]:
        """``getCommands``: up to ``n_commands`` new commands of the instance, oldest first, now retrieved."""
        with self.engine.operation():
            now = self.engine.now()
            picked = self.commands.ids("by_harvester_status", (harvester_id, "new"))[: max(n_commands, 0)]
            answer = []
            for command_id in picked:
                command = self.commands.get(command_id)
                answer.append(
                    {
                        "command_id": command_id,
                        "command": command["command"],
                        "params": command["params"],
                        "ack_requested": command["ack_requested"],
                        "creation_date": command["creation_date"].isoformat(),
                    }
                )
                transition(self.commands, command_id, HARVESTER_COMMAND, "retrieved", _second(now))
            return answer

    def acknowledge_commands(self, command_ids: list) -> None:
        """``ackCommands``: retrieved commands become acknowledged (unknown ids are ignored)."""
        with self.engine.operation():
            if not command_ids:
                raise Failure(MESSAGE_DATABASE)  # "IN ()" is an SQL error
            try:
                ids = [_int_id(value) for value in command_ids]
            except (DatabaseError, ValueError) as exc:
                raise Failure(MESSAGE_DATABASE) from exc
            now = _second(self.engine.now())
            for command_id in ids:
                command = self.commands.get(command_id)
                if command is not None and command["status"] == "retrieved":
                    transition(self.commands, command_id, HARVESTER_COMMAND, "acknowledged", now)

    def add_sweep_command(
        self, panda_queue: str, status_list: list, ce_list: list | str, submission_host_list: list
    ) -> Reply:
        """``sweepPQ``: a KILL_WORKERS command for the instance serving the queue (replaces the previous one)."""
        with self.engine.operation():
            queue = self.engine.world.queue(panda_queue)
            if queue is None:
                return Reply(None, message="Error retrieving queue configuration from DB", success=False)
            harvester_id = self.queue_harvester(panda_queue)
            if not harvester_id:
                return Reply(None, message="Queue not served by any harvester ID", success=False)
            if ce_list == "ALL":
                computing_elements: Any = "ALL"
            else:
                known = self.queue_computing_elements(queue)
                computing_elements = [ce for ce in ce_list if ce in known]
            params = {
                "status": status_list,
                "computingSite": [panda_queue],
                "computingElement": computing_elements,
                "submissionHost": submission_host_list,
            }
            args = {"harvester_id": harvester_id, "command": "KILL_WORKERS", "params": params}
            delay = self.engine.delay("harvester_command")
            if delay > 0:
                self.engine.schedule("harvester_command_visible", delay, **args)
            else:
                self._make_command_visible(**args)
            return Reply(None, message="")

    def _make_command_visible(self, harvester_id: str, command: str, params: Any, ack_requested: bool = False) -> None:
        """``commandToHarvester`` without lock intervals: the previous (instance, command) row is replaced."""
        for old_id in self.commands.ids("by_harvester_command", (harvester_id, command)):
            self.commands.delete(old_id)
        now = _second(self.engine.now())
        created(
            self.commands,
            {
                "command_id": self.engine.ids.next("command_id"),
                "command": command,
                "harvester_ID": harvester_id,
                "ack_requested": 1 if ack_requested else 0,
                "creation_date": now,
                "status": "new",
                "status_date": now,
                "params": params,
            },
            HARVESTER_COMMAND,
            now,
        )

    def queue_harvester(self, panda_queue: str) -> str | None:
        """The instance serving a queue: the queue's ``harvester`` setting (CRIC), else the instance
        that last reported workers or worker statistics for it."""
        queue = self.engine.world.queue(panda_queue) or {}
        if queue.get("harvester"):
            return queue["harvester"]
        served = self.queue_instances.get(panda_queue)
        return served["harvester_ID"] if served else None

    @staticmethod
    def queue_computing_elements(queue: Mapping) -> list[str]:
        """CE endpoints of a queue: its CRIC ``queues`` list, else its gatekeeper."""
        entries = queue.get("queues")
        if entries:
            return [str(entry["ce_endpoint"]) for entry in entries if isinstance(entry, Mapping)]
        return [queue["gatekeeper"]] if queue.get("gatekeeper") else []

    # -- target slots ----------------------------------------------------------------------------
    def add_target_slots(
        self, panda_queue: str, slots: int, global_share: str | None, resource_type: str | None, expiration: Any
    ) -> Reply:
        """``setNumSlotsForWP``: set (or with -1 delete) the slots of (queue, share, resource type)."""
        with self.engine.operation():
            now = _second(self.engine.now())
            key = f"{panda_queue}|{global_share}|{resource_type}"
            try:
                expires = None if expiration is None else now + _dt.timedelta(days=int(expiration))
            except (TypeError, ValueError, OverflowError):
                return Reply(None, message=MESSAGE_DATABASE_SLOTS, success=False)
            if slots == -1:
                self.slots.delete(key)
            else:
                self.slots.put(
                    {
                        "slot_key": key,
                        "pandaQueueName": panda_queue,
                        "gshare": global_share,
                        "resourceType": resource_type,
                        "numSlots": slots,
                        "modificationTime": now,
                        "expirationTime": expires,
                    }
                )
                if expires is not None:
                    seconds = max((expires - self.engine.now()).total_seconds(), 0.0)
                    self.engine.schedule("harvester_slots_expiry", seconds, key=key, expires=expires.isoformat())
            message = f"set numSlots={slots} for PQ={panda_queue} gshare={global_share} resource={resource_type}"
            return Reply(None, message=message)

    def _expire_slots(self, key: str, expires: str) -> None:
        record = self.slots.get(key)
        if record is not None and record["expirationTime"] is not None:
            if record["expirationTime"].isoformat() == expires:
                self.slots.delete(key)

    def target_slots(self, panda_queue: str) -> list[dict]:
        """The queue's unexpired target slots."""
        with self.engine.operation():
            now = self.engine.now()
            return [
                dict(record)
                for record in self.slots.find("by_queue", panda_queue)
                if record["expirationTime"] is None or record["expirationTime"] > now
            ]


# --- scenario generation -------------------------------------------------------------------------
_GENERATED_STATUSES = ("running", "submitted", "idle", "finished")


def generate_instances(engine: Engine, scenario: Any) -> None:
    """``generate.harvester_instances``: instances serving the scenario's queues, with some workers.

    Instance ``i`` serves every queue whose position modulo the count is ``i``; each served queue gets
    one worker per status of running, submitted, idle and finished. Runs inside the scenario's bulk load.
    """
    count = int((getattr(scenario, "generate", None) or {}).get("harvester_instances", 0) or 0)
    if count <= 0:
        return
    store = engine.store
    instances = store.table("harvester_instances")
    workers = store.table("workers")
    served = store.table("harvester_queues")
    faker = engine.faker
    now = _second(engine.now())
    default = engine.world.default_user()
    owner = default["compact_name"] if default else None
    sites = sorted(engine.world.sites.values(), key=lambda record: record["sitename"])
    worker_ids = {}
    for i in range(count):
        harvester_id = f"pandamock_harvester_{i + 1:02d}"
        instances.put(
            {
                "harvester_ID": harvester_id,
                "description": "generated",
                "startTime": now - _dt.timedelta(days=engine.random.randint(1, 30)),
                "owner": owner,
                "hostName": faker.hostname(),
                "lastUpdate": now,
                "sw_version": f"0.{engine.random.randint(5, 7)}.{engine.random.randint(0, 9)}",
                "commit_stamp": faker.sha1()[:12],
            }
        )
        worker_ids[harvester_id] = 0
    for position, site in enumerate(sites):
        harvester_id = f"pandamock_harvester_{position % count + 1:02d}"
        served.put({"computingSite": site["sitename"], "harvester_ID": harvester_id, "since": now})
        for status in _GENERATED_STATUSES:
            worker_ids[harvester_id] += 1
            record = new_worker(harvester_id, worker_ids[harvester_id])
            submitted = now - _dt.timedelta(minutes=engine.random.randint(5, 600))
            record.update(
                {
                    "batchID": str(engine.random.randint(1_000_000, 9_999_999)),
                    "queueName": site["sitename"],
                    "status": status,
                    "computingSite": site["sitename"],
                    "computingElement": site.get("gatekeeper"),
                    "nCore": site.get("coreCount") or 1,
                    "submitTime": submitted,
                    "startTime": submitted + _dt.timedelta(minutes=2) if status != "submitted" else None,
                    "endTime": now if status == "finished" else None,
                    "lastUpdate": now,
                    "resourceType": "MCORE" if (site.get("coreCount") or 1) > 1 else "SCORE",
                    "jobType": "managed",
                    "nJobs": 1,
                    "submissionHost": faker.hostname(),
                    "harvesterHost": faker.hostname(),
                }
            )
            workers.put(record)
