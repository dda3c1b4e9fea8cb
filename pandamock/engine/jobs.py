"""Jobs: dispatch to pilots, the job lifecycle with the asynchronous adder, kill/reassign/commands,
debug mode, submission of serialized JobSpecs, descriptions and the worker-node registry.

Everything follows ``reference/panda_api_v1.md`` §7.1 and the real server's DB layer
(``updateJobStatus``, ``getJobs``, ``killJob``, ``setDebugMode``, ``storeJobs``):

* **Tables.** The real server keeps queued jobs in ``jobsDefined4`` (pending/defined/assigned),
  ``jobsWaiting4`` (waiting), running ones in ``jobsActive4`` (activated ... merging) and final
  ones in ``jobsArchived4``. Here every job is one record of the shared ``jobs`` table; which
  "table" a job is in follows from its status (:data:`DEFINED_TABLE`, :data:`ACTIVE_TABLE`,
  :data:`JOB_FINAL`), and the API answers as if it were looking in the right one.
* **Progression.** A final report (``finished``/``failed``) stores the job as ``holding`` and
  queues the output report; the *adder* (progression step ``job_adder``) later sets
  ``finished``/``failed``. ``job/submit`` stores jobs as ``defined``; they become ``activated``
  after ``job_activation``.

Hooks for other services (the JEDI emulation builds on these):

* :attr:`Jobs.final_callbacks` — ``callback(job, previous_status)`` is called, inside the same
  engine operation (and transaction), every time a job reaches a final status (finished,
  failed, cancelled, closed) through any path: adder, kill, unused event-service consumers.
  ``job`` is the stored record after the change. A callback may change other records (e.g.
  the job's task); an exception rolls the whole operation back.
* :attr:`Jobs.dispatch_callbacks` — ``callback(job)`` is called, inside the dispatch operation,
  for every job a pilot gets (``pilot/acquire_jobs``, the legacy ``getJob``), after it moved to
  ``sent`` and before its job dictionary is made (a callback may update the job record).
* :meth:`Jobs.create_jobs` — create jobs programmatically (JobSpec attribute dicts with
  ``Files``), stored ``defined`` and activated after ``job_activation``, or directly in any
  initial status.
"""

from __future__ import annotations

import datetime as _dt
import heapq
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .clock import EPOCH
from .indexes import ComputedSortedIndex, count_from
from .naming import clean_user_id
from .outcome import Failure
from .records import FILE_ATTRIBUTES, JOB_ATTRIBUTES, new_file, new_job
from .statuses import JOB, JOB_FINAL, created, transition
from .store import SortedIndex

if TYPE_CHECKING:
    from .core import Engine

#: Statuses of jobs that the real server keeps in ``jobsDefined4``.
DEFINED_TABLE = frozenset(("pending", "defined", "assigned"))
#: Statuses of jobs in ``jobsWaiting4``.
WAITING_TABLE = frozenset(("waiting",))
#: Statuses of jobs in ``jobsActive4``.
ACTIVE_TABLE = frozenset(
    ("activated", "throttled", "sent", "starting", "running", "holding", "transferring", "merging")
)
#: Every non-final status.
NOT_FINAL = DEFINED_TABLE | WAITING_TABLE | ACTIVE_TABLE

#: ``prodSourceLabel`` values of analysis jobs (``JobUtils.analy_sources``).
ANALY_SOURCES = ("user", "panda")
#: ``prodSourceLabel`` values of pilot tests (``JobUtils.list_ptest_prod_sources``).
PTEST_SOURCES = ("ptest", "rc_test", "rc_test2", "rc_alrb")
#: Valid ``job_label`` values (``JobUtils.job_labels``).
JOB_LABELS = ("user", "managed")
#: Statuses a pilot may report (``pilot_api.VALID_JOB_STATES``).
VALID_JOB_STATES = ("running", "failed", "finished", "holding", "starting", "transferring")
#: Statuses in which debug mode can change (``setDebugMode``).
DEBUG_CHANGEABLE = ["defined", "activated", "running", "sent", "starting", "assigned"]

# Protocol status codes
SC_SUCCESS = 0
SC_TIMEOUT = 10
SC_FAILED = 30
SC_INVALID = 50

# taskBuffer error codes (ErrorCode.py)
EC_KILL = 100
EC_EXPIRE = 102
EC_ABORTED = 103
EC_REASSIGNED = 105
EC_RETRIED = 106
EC_EVENT_SERVICE_UNUSED = 116
EC_EVENT_SERVICE_PREEMPTION = 122
EC_FAST_REBROKERAGE = 130
# SupErrors.error_codes
SUP_INVALID_BATCH_ID = 1

#: Kill codes a production-role caller may use on analysis jobs.
PROD_KILL_CODES_FOR_USER_JOBS = frozenset(("2", "4", "7", "8", "9", "50", "51", "52", "91", "10", "99"))
#: Kill codes that overwrite an existing ``commandToPilot``.
FORCE_COMMAND_CODES = frozenset(("2", "9", "10", "52", "51", "60", "99"))
#: Maximum length of ``commandToPilot`` (``JobSpec._limitLength``).
COMMAND_MAX_LENGTH = 250
#: ``JobSpec._limitLength``: string attributes truncated on update.
LIMIT_LENGTH = {
    "ddmErrorDiag": 500,
    "taskBufferErrorDiag": 300,
    "jobDispatcherErrorDiag": 250,
    "brokerageErrorDiag": 250,
    "pilotErrorDiag": 500,
    "exeErrorDiag": 500,
    "jobSubStatus": 80,
    "supErrorDiag": 250,
    "commandToPilot": 250,
    "inputFileType": 32,
    "outputFileType": 32,
    "grid": 50,
    "sourceSite": 36,
    "destinationSite": 36,
}
#: Event-service flags of ``JobSpec.eventService``.
ES_JOB = 1
ES_MERGE = 2
JOB_CLONING = 3
JUMBO_JOB = 4
CO_JUMBO_JOB = 5
FINE_GRAINED = 6

_DESCRIPTION_KEYS = JOB_ATTRIBUTES
_EPOCH = EPOCH

FinalCallback = Callable[[dict, str], None]


def _dispatch_order(record: Mapping) -> tuple:
    return (-(record.get("currentPriority") or 0), record["PandaID"])


def _modified_order(record: Mapping) -> tuple:
    return (record.get("modificationTime") or _EPOCH, record["PandaID"])


def _sent_key(record: Mapping) -> tuple | None:
    if record.get("jobStatus") != "sent":
        return None
    return (record.get("computingSite"), record.get("prodSourceLabel"))


def special_handling_items(value: str | None) -> list[str]:
    """The comma-separated items of ``specialHandling`` (empty for None/"NULL")."""
    if value in (None, "", "NULL"):
        return []
    return [item for item in str(value).split(",") if item]


def is_debug_mode(job: Mapping) -> bool:
    """``JobSpec.is_debug_mode``: ``dm`` or ``debug`` in specialHandling."""
    items = special_handling_items(job.get("specialHandling"))
    return "dm" in items or "debug" in items


def is_event_service(job: Mapping) -> bool:
    """An event-service consumer, jumbo or co-jumbo job (``EventServiceUtils``)."""
    return job.get("eventService") in (ES_JOB, JUMBO_JOB, CO_JUMBO_JOB)


def has_special_handling(job: Mapping, tag: str) -> bool:
    """Whether a ``JobSpec._tagForSH`` tag (``po``, ``nc``, ``us``, ...) is set."""
    return tag in special_handling_items(job.get("specialHandling"))


def _null(value: Any) -> Any:
    return None if value == "NULL" else value


def _text(value: Any) -> str:
    """How a DB column reads back in the legacy comma-joined strings: NULL for nothing."""
    return "NULL" if value is None else str(value)


def _truncate(key: str, value: Any) -> Any:
    limit = LIMIT_LENGTH.get(key)
    if limit is not None and isinstance(value, str):
        return value[:limit]
    return value


class Jobs:
    """The job service of an engine: ``engine.jobs``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        store = engine.store
        self.table = store.table("jobs")
        # activated jobs of a queue per prodSourceLabel, highest priority first: dispatch filters
        # by label without walking the jobs of other labels
        self.table.add_index(
            SortedIndex("dispatch_label", ["computingSite", "jobStatus", "prodSourceLabel"], order=_dispatch_order)
        )
        # sent jobs of a queue per label by modification time: nSent (sent in the last minute)
        self.table.add_index(ComputedSortedIndex("sent_by_site_label", _sent_key, _modified_order))
        self.logs = store.create_table("job_logs", key="PandaID")
        self.worker_nodes = store.create_table("worker_nodes", key="node_key")
        self.worker_node_queues = store.create_table("worker_node_queues", key="node_key")
        self.worker_node_gpus = store.create_table("worker_node_gpus", key="gpu_key")
        #: ``callback(job, previous_status)`` for every job reaching a final status (see module doc).
        self.final_callbacks: list[FinalCallback] = []
        #: ``callback(job)`` for every dispatched job (see module doc).
        self.dispatch_callbacks: list[Callable[[dict], None]] = []
        engine.on("job_activate", self._activate_due)
        engine.on("job_adder", self._adder_due)

    # ------------------------------------------------------------------------------------------
    # helpers
    # ------------------------------------------------------------------------------------------
    def get(self, panda_id: Any) -> dict | None:
        try:
            return self.table.get(int(panda_id))
        except (TypeError, ValueError):
            return None

    def _now(self) -> _dt.datetime:
        return self.engine.now()

    def move(self, panda_id: int, target: str, changes: Mapping | None = None, reason: str | None = None) -> dict:
        """Change a job's status (through the transition table); final statuses run the callbacks.

        Use this (not :func:`transition` directly) so that :attr:`final_callbacks` see every job
        that reaches a final status."""
        previous = self.table.get(panda_id)["jobStatus"]
        transition(self.table, panda_id, JOB, target, self._now(), changes=changes, reason=reason)
        job = self.table.get(panda_id)
        if target in JOB_FINAL and previous not in JOB_FINAL:
            self._finish_files(job)
            job = self.table.get(panda_id)
            for callback in list(self.final_callbacks):
                callback(job, previous)
        return job

    def _finish_files(self, job: Mapping) -> None:
        """Output/log file statuses when a job ends (``ready`` when finished, ``failed`` otherwise)."""
        status = job["jobStatus"]
        new_status = "ready" if status == "finished" else "failed"
        files = []
        changed = False
        for file in job.get("Files") or ():
            if file.get("type") in ("output", "log") and file.get("status") != new_status:
                file = dict(file, status=new_status)
                changed = True
            files.append(file)
        if changed:
            self.table.update(job["PandaID"], {"Files": files})

    def queue(self, name: str | None) -> dict | None:
        return self.engine.world.queue(name) if name else None

    # ------------------------------------------------------------------------------------------
    # creation (job/submit, and programmatically for the JEDI emulation)
    # ------------------------------------------------------------------------------------------
    def new_record(self, values: Mapping[str, Any]) -> dict:
        """A complete, not yet stored job record: JobSpec attributes (``"NULL"`` read as None),
        ``Files`` completed with FileSpec attributes. Ids, times and defaults are filled by
        :meth:`create_jobs`."""
        clean = {key: _null(value) for key, value in values.items() if key in JOB_ATTRIBUTES}
        record = new_job(clean)
        record["Files"] = [
            new_file({key: _null(value) for key, value in dict(file).items()}) for file in values.get("Files") or ()
        ]
        return record

    def create_jobs(
        self,
        jobs: Iterable[Mapping[str, Any]],
        status: str = "defined",
        owner_dn: str | None = None,
        activate_after: float | str | None = "job_activation",
    ) -> list[dict]:
        """Store new jobs and return the stored records (call inside an engine operation, or not:
        the call opens its own).

        ``jobs``: JobSpec attribute dicts (missing attributes become None/0) with ``Files`` (FileSpec
        dicts). Filled in when missing: ``PandaID`` (counter), ``creationTime``/``modificationTime``,
        ``prodUserID``/``prodUserName`` (from ``owner_dn``), ``currentPriority`` (from
        ``assignedPriority``), ``resource_type`` (from coreCount and RAM), ``job_label`` (from the
        queue type), ``cloud`` (from the queue), file ``row_ID``/``PandaID``. Jobs without a known
        ``computingSite`` are brokered to an online queue of a matching type.

        ``status``: an initial job status (``defined``, ``activated``, ``waiting``, ...). Jobs
        stored ``defined`` become ``activated`` after ``activate_after`` (a progression-delay
        name or seconds; None: stay defined)."""
        with self.engine.operation():
            stored = []
            now = self._now()
            for values in jobs:
                record = self._complete(self.new_record(values), owner_dn, now)
                record["jobStatus"] = status
                record.pop("stateChangeTime", None)
                record.pop("modificationTime", None)
                job = created(self.table, record, JOB, now)
                stored.append(job)
                if status == "defined" and activate_after is not None:
                    self.engine.schedule("job_activate", activate_after, PandaID=job["PandaID"])
            return stored

    def _complete(self, record: dict, owner_dn: str | None, now: _dt.datetime) -> dict:
        ids = self.engine.ids
        if not record.get("PandaID"):
            record["PandaID"] = ids.next("PandaID")
        panda_id = record["PandaID"]
        if owner_dn:
            record["prodUserID"] = owner_dn
            record["prodUserName"] = clean_user_id(owner_dn)
        elif record.get("prodUserID") and not record.get("prodUserName"):
            record["prodUserName"] = clean_user_id(record["prodUserID"])
        record["creationTime"] = record.get("creationTime") or now
        if not record.get("currentPriority"):
            record["currentPriority"] = record.get("assignedPriority") or (
                1000 if record.get("prodSourceLabel") in ANALY_SOURCES else 0
            )
        if record.get("jobParameters") in (None, "", "NULL"):
            record["jobParameters"] = " "
        site = self.queue(record.get("computingSite"))
        if site is None:
            site = self._broker(record)
            if site is not None:
                record["computingSite"] = site["sitename"]
        if site is not None:
            if record.get("relocationFlag") != 2:
                record["relocationFlag"] = 1
            record["cloud"] = record.get("cloud") or site.get("cloud")
            if record.get("job_label") not in JOB_LABELS:
                if site.get("type") == "analysis" or (
                    site.get("type") == "unified" and record.get("prodSourceLabel") in ANALY_SOURCES
                ):
                    record["job_label"] = "user"
                else:
                    record["job_label"] = "managed"
        if not record.get("resource_type"):
            record["resource_type"] = self.resource_type_of(record)
        if not record.get("coreCount"):
            record["coreCount"] = 1
        if record.get("VO") is None:
            record["VO"] = "atlas"
        files = []
        for file in record.get("Files") or ():
            file = dict(file)
            file["PandaID"] = panda_id
            if not file.get("row_ID"):
                file["row_ID"] = ids.next("row_ID")
            if file.get("status") is None:
                file["status"] = "ready" if file.get("type") == "input" else "unknown"
            if file.get("jediTaskID") is None:
                file["jediTaskID"] = record.get("jediTaskID")
            files.append(file)
        record["Files"] = files
        return record

    def _broker(self, record: Mapping) -> dict | None:
        """The server-side brokerage of a job without a queue: an online queue of a matching type."""
        wanted = (
            ("analysis", "unified") if record.get("prodSourceLabel") in ANALY_SOURCES else ("production", "unified")
        )
        candidates = []
        for site_type in wanted:
            candidates.extend(
                site for site in self.engine.world.sites.find("by_type", site_type) if site.get("status") == "online"
            )
        if not candidates:
            return None
        candidates.sort(key=lambda site: site["sitename"])
        return self.engine.random.choice(candidates)

    def resource_type_of(self, record: Mapping) -> str | None:
        """``get_resource_type_job``: the resource type whose core and RAM-per-core ranges match."""
        cores = record.get("coreCount") or 1
        ram = record.get("minRamCount") or 0
        ram_per_core = ram / cores if cores else ram
        best = None
        for resource in sorted(self.engine.world.resource_types.values(), key=lambda r: r["resource_name"]):
            if resource.get("mincore") is not None and cores < resource["mincore"]:
                continue
            if resource.get("maxcore") is not None and cores > resource["maxcore"]:
                continue
            if resource.get("minrampercore") is not None and ram_per_core < resource["minrampercore"]:
                continue
            if resource.get("maxrampercore") is not None and ram_per_core > resource["maxrampercore"]:
                continue
            best = resource["resource_name"]
            break
        return best or ("MCORE" if cores > 1 else "SCORE")

    def submit(self, jobs: str, dn: str, production: bool) -> list[tuple]:
        """``job/submit``: store serialized JobSpecs (``MiscUtils.dump_jobs_json`` form: a JSON list of
        attribute-value lists, each ending with its list of FileSpec value lists; datetimes as
        ``{"_datetime_object": "%Y-%m-%d %H:%M:%S.%f"}``). Returns ``(PandaID, jobDefinitionID,
        {"jobsetID": n})`` for analysis jobs and ``(PandaID, jobDefinitionID, jobName)`` otherwise."""
        try:
            specs = decode_jobs_json(jobs)[:5000]
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            raise Failure(f"Failed to deserialize jobs: {exc}") from None
        if not specs:
            raise Failure("No jobs were submitted")
        for spec in specs:
            if spec.get("prodSourceLabel") in ("managed",) and not production:
                raise Failure(
                    f"{dn} is missing production for prodSourceLabel={spec.get('prodSourceLabel')} submission"
                )
            if spec.get("job_label") not in (None, "", "NULL") and spec.get("job_label") not in JOB_LABELS:
                raise Failure(f"job_label={spec.get('job_label')} is not valid")
        with self.engine.operation():
            analysis = specs[0].get("prodSourceLabel") in ANALY_SOURCES + PTEST_SOURCES and specs[0].get(
                "processingType"
            ) not in ("merge", "unmerge")
            job_definition_id = jobset_id = None
            if analysis:
                job_definition_id = specs[0].get("jobDefinitionID")
                if job_definition_id in (None, 0, "NULL", -1):
                    job_definition_id = self.engine.ids.next("jobDefinitionID")
                jobset_id = specs[0].get("jobsetID")
                if jobset_id in (None, 0, "NULL", -1):
                    jobset_id = self.engine.ids.next("jobsetID")
            using_build = specs[0].get("prodSourceLabel") == "panda"
            n_build, n_run = (1, len(specs) - 1) if using_build else (0, len(specs))
            prepared = []
            for spec in specs:
                label = spec.get("prodSourceLabel")
                if label in ANALY_SOURCES + PTEST_SOURCES and jobset_id is not None:
                    spec["jobsetID"] = jobset_id
                    spec["jobDefinitionID"] = job_definition_id
                if label in ANALY_SOURCES:
                    spec["taskID"] = n_build + (n_run << 1)
                spec["PandaID"] = None
                prepared.append(spec)
            stored = self.create_jobs(prepared, status="defined", owner_dn=dn)
            result = []
            for job in stored:
                if job.get("prodSourceLabel") in ANALY_SOURCES + PTEST_SOURCES:
                    result.append((job["PandaID"], job["jobDefinitionID"], {"jobsetID": job["jobsetID"]}))
                else:
                    result.append((job["PandaID"], job["jobDefinitionID"], job["jobName"]))
            return result

    def _activate_due(self, PandaID: int) -> None:  # noqa: N803 - PanDA's key name
        """Progression step ``job_activate``: a defined (or reassigned) job becomes activated."""
        job = self.table.get(PandaID)
        if job is None or job["jobStatus"] not in ("defined", "assigned", "pending"):
            return
        if self.queue(job.get("computingSite")) is None:
            return  # nowhere to run: stays defined, as a job the brokerage could not place
        self.move(PandaID, "activated")

    # ------------------------------------------------------------------------------------------
    # dispatch (pilot/acquire_jobs)
    # ------------------------------------------------------------------------------------------
    def acquire(
        self,
        site_name: str,
        *,
        production: bool,
        dn: str,
        n_jobs: int | None = 1,
        memory: Any = None,
        disk_space: Any = None,
        prod_source_label: str | None = None,
        node: str | None = None,
        computing_element: str | None = None,
        prod_user_id: str | None = None,
        get_proxy_key: Any = None,
        task_id: int | None = None,
        background: bool | None = None,
        resource_type: str | None = None,
        harvester_id: str | None = None,
        worker_id: int | None = None,
        scheduler_id: str | None = None,
        job_type: str | None = None,
    ) -> dict:
        """``pilot/acquire_jobs``: activated jobs of the queue → sent, as job dictionaries.

        Returns ``{"StatusCode": 0, "jobs": [...]}`` (or one job dict when ``n_jobs`` is None);
        raises :class:`Failure` ``No jobs in PanDA`` when nothing matches."""
        if not production and prod_source_label not in ("user",):
            raise Failure("no production/pilot role in VOMS FQANs or non pilot owner")
        if not production:
            prod_user_id = dn
        use_proxy_key = bool(get_proxy_key) and production
        memory = _non_negative(memory)
        disk_space = _non_negative(disk_space)
        if not harvester_id and scheduler_id:
            harvester_id = scheduler_id
        wanted = 1 if n_jobs is None else int(n_jobs)
        with self.engine.operation():
            site = self.queue(site_name)
            sent: list[dict] = []
            n_sent = 0
            # an offline queue gets no pilots in PanDA; the emulator dispatches nothing there
            if site is not None and wanted > 0 and site.get("status") != "offline":
                label = prod_source_label
                if site.get("status") == "test" and label in ("user", "managed", "unified"):
                    label = "test"
                accept = self._dispatch_filter(memory, disk_space, prod_user_id, task_id, resource_type)
                chosen = []
                # choose first (the index groups change once jobs move to sent), then dispatch
                for job in self._candidates(site_name, label, computing_element, site, job_type):
                    if accept(job):
                        chosen.append(job)
                        if len(chosen) >= wanted:
                            break
                now = self._now()
                for job in chosen:
                    changes: dict[str, Any] = {"modificationHost": node, "startTime": now}
                    if computing_element is not None:
                        changes["computingElement"] = computing_element
                    if scheduler_id is not None:
                        changes["schedulerID"] = scheduler_id
                    if background is not True:
                        changes["jobExecutionID"] = 0
                    moved = self.move(job["PandaID"], "sent", changes)
                    for callback in self.dispatch_callbacks:
                        callback(moved)
                    sent.append(self.table.get(job["PandaID"]) if self.dispatch_callbacks else moved)
                    if harvester_id is not None and worker_id is not None:
                        self._link_worker(harvester_id, worker_id, job["PandaID"], now)
                if sent and prod_source_label in (None, "managed"):
                    floor = (now - _dt.timedelta(seconds=60),)
                    index = self.table.index("sent_by_site_label")
                    n_sent = sum(count_from(index, (site_name, lab), floor) for lab in ("managed", "test"))
            if not sent:
                raise Failure("No jobs in PanDA")
            dicts = []
            for job in sent:
                data = self.job_dict(job, site)
                data["nSent"] = n_sent
                if use_proxy_key:
                    data["credname"] = ""
                    data["myproxy"] = ""
                dicts.append(data)
        if n_jobs is None:
            return dicts[-1]
        return {"StatusCode": SC_SUCCESS, "jobs": dicts}

    def _dispatch_filter(
        self, memory: int, disk_space: int, prod_user_id: str | None, task_id: int | None, resource_type: str | None
    ) -> Callable[[Mapping], bool]:
        user_name = None
        if prod_user_id is not None:
            user_name = clean_user_id(prod_user_id) or prod_user_id

        def accept(job: Mapping) -> bool:
            if job.get("commandToPilot") not in (None, ""):
                return False
            if memory and (job.get("minRamCount") or 0) not in (0,) and (job.get("minRamCount") or 0) > memory:
                return False
            if (
                disk_space
                and (job.get("maxDiskCount") or 0) not in (0,)
                and (job.get("maxDiskCount") or 0) > disk_space
            ):
                return False
            if user_name is not None and job.get("prodUserName") != user_name:
                return False
            if task_id is not None and job.get("jediTaskID") != task_id:
                return False
            if resource_type is not None and job.get("resource_type") != resource_type:
                return False
            return True

        return accept

    def _candidates(
        self, site_name: str, label: str | None, computing_element: str | None, site: Mapping, job_type: str | None
    ) -> Iterator[dict]:
        """Activated jobs of the queue matching the ``prodSourceLabel`` rules, highest priority first."""
        if label == "user":
            labels: tuple[str, ...] | None = ANALY_SOURCES
        elif label in (None, "managed"):
            labels = ("managed", "test", "prod_test") + PTEST_SOURCES
        elif label == "unified":
            labels = ("managed", "test", "prod_test", "user", "panda") + PTEST_SOURCES
        elif label == "test" and computing_element is not None:
            labels = ("test", "prod_test")
        else:
            labels = (label,)
        if site.get("type") == "unified" or site.get("is_unified"):
            if job_type == "user":
                labels = tuple(lab for lab in labels if lab in ANALY_SOURCES) or labels
            elif job_type == "managed":
                labels = tuple(lab for lab in labels if lab not in ANALY_SOURCES) or labels
        index = self.table.index("dispatch_label")
        records = self.table.records
        streams = [index.buckets.get((site_name, "activated", lab), ()) for lab in dict.fromkeys(labels)]
        streams = [stream for stream in streams if stream]
        if not streams:
            return iter(())
        merged = streams[0] if len(streams) == 1 else heapq.merge(*streams)
        return (records[rid] for _, rid in merged)

    def _link_worker(self, harvester_id: str, worker_id: int, panda_id: int, now: _dt.datetime) -> None:
        links = self.engine.store.table("worker_jobs")
        key = f"{harvester_id}:{worker_id}:{panda_id}"
        record = {
            "link_key": key,
            "harvesterID": harvester_id,
            "workerID": worker_id,
            "PandaID": panda_id,
            "lastUpdate": now,
        }
        links.put(record)

    def job_dict(self, job: Mapping, site: Mapping | None = None) -> dict:
        """The job description a pilot gets (``Protocol.Response.appendJob``), keys in PanDA's order."""
        site = site if site is not None else self.queue(job.get("computingSite"))
        files = job.get("Files") or ()
        in_files, dispatch, dispatch_token, prod_dblocks, prod_tokens, guids = [], [], [], [], [], []
        real_in, fsizes, checksums, scopes_in, ddm_in = [], [], [], [], []
        out_files, destination, real_out, file_dest_se, scopes_out, dest_tokens = [], [], [], [], [], []
        dis_token_out, prod_token_out, ddm_out, no_output = [], [], [], []
        log_file = log_guid = scope_log = ""
        seen_inputs = set()
        in_ds_lfns: dict[str, list[str]] = {}
        for file in files:
            kind = file.get("type")
            if kind == "input":
                lfn = file.get("lfn")
                if lfn in seen_inputs:
                    continue
                seen_inputs.add(lfn)
                in_files.append(_text(lfn))
                dispatch.append(_text(file.get("dispatchDBlock")))
                dispatch_token.append(_text(file.get("dispatchDBlockToken")))
                prod_dblocks.append(_text(file.get("prodDBlock")))
                prod_tokens.append(_text(file.get("prodDBlockToken")))
                guids.append(_text(file.get("GUID")))
                real_in.append(_text(file.get("dataset")))
                fsizes.append(_text(file.get("fsize")))
                checksum = file.get("checksum")
                checksums.append(_text(checksum if checksum not in ("", "NULL", None) else file.get("md5sum")))
                scopes_in.append(_text(file.get("scope")))
                ddm_in.append(_ddm_endpoint(site, file.get("dispatchDBlockToken"), "input"))
                in_ds_lfns.setdefault(_text(file.get("dataset")), []).append(_text(lfn))
            elif kind in ("output", "log"):
                out_files.append(_text(file.get("lfn")))
                destination.append(_text(file.get("destinationDBlock")))
                real_out.append(_text(file.get("dataset")))
                file_dest_se.append(_text(file.get("destinationSE")))
                if kind == "log":
                    log_file = _text(file.get("lfn"))
                    log_guid = _text(file.get("GUID"))
                    scope_log = _text(file.get("scope"))
                else:
                    scopes_out.append(_text(file.get("scope")))
                token = _text(file.get("destinationDBlockToken")).split(",")[0]
                dest_tokens.append(re.sub("^ddd:", "dst:", token))
                dis_token_out.append(_text(file.get("dispatchDBlockToken")))
                prod_token_out.append(_text(file.get("prodDBlockToken")))
                ddm_out.append(_ddm_endpoint(site, token, "output"))
                if file.get("status") == "nooutput" or has_special_handling(job, "ap"):
                    pass
        event_service = job.get("eventService")
        data: dict[str, Any] = {"StatusCode": SC_SUCCESS}
        data["PandaID"] = job["PandaID"]
        data["prodSourceLabel"] = job.get("prodSourceLabel")
        data["swRelease"] = job.get("AtlasRelease")
        data["homepackage"] = job.get("homepackage")
        data["transformation"] = job.get("transformation")
        data["jobName"] = job.get("jobName")
        data["jobDefinitionID"] = job.get("jobDefinitionID")
        data["cloud"] = job.get("cloud")
        data["inFiles"] = ",".join(in_files)
        data["dispatchDblock"] = ",".join(dispatch)
        data["dispatchDBlockToken"] = ",".join(dispatch_token)
        data["dispatchDBlockTokenForOut"] = ",".join(dis_token_out)
        data["outFiles"] = ",".join(out_files)
        data["destinationDblock"] = ",".join(destination)
        data["destinationDBlockToken"] = ",".join(dest_tokens)
        data["prodDBlocks"] = ",".join(prod_dblocks)
        data["prodDBlockToken"] = ",".join(prod_tokens)
        data["realDatasets"] = ",".join(real_out)
        data["realDatasetsIn"] = ",".join(real_in)
        data["fileDestinationSE"] = ",".join(file_dest_se)
        data["logFile"] = log_file
        data["logGUID"] = log_guid
        job_pars, steps = _multi_step(job.get("jobParameters"))
        data["jobPars"] = job_pars
        if steps is not None:
            data.update(steps)
        data["attemptNr"] = job.get("attemptNr")
        data["GUID"] = ",".join(guids)
        data["checksum"] = ",".join(checksums)
        data["fsize"] = ",".join(fsizes)
        data["scopeIn"] = ",".join(scopes_in)
        data["scopeOut"] = ",".join(scopes_out)
        data["scopeLog"] = scope_log
        data["ddmEndPointIn"] = ",".join(ddm_in)
        data["ddmEndPointOut"] = ",".join(ddm_out)
        data["destinationSE"] = job.get("destinationSE")
        data["prodUserID"] = job.get("prodUserID")
        data["maxCpuCount"] = job.get("maxCpuCount")
        data["minRamCount"] = job.get("minRamCount")
        data["maxDiskCount"] = job.get("maxDiskCount")
        data["cmtConfig"] = job.get("cmtConfig") if steps is None or job.get("cmtConfig") is not None else ""
        data["processingType"] = job.get("processingType")
        data["transferType"] = job.get("transferType")
        data["sourceSite"] = job.get("sourceSite")
        data["currentPriority"] = job.get("currentPriority")
        data["taskID"] = job.get("jediTaskID") if job.get("lockedby") == "jedi" else job.get("taskID")
        data["coreCount"] = job.get("coreCount") if job.get("coreCount") is not None else 1
        data["jobsetID"] = job.get("jobsetID")
        data["reqID"] = job.get("reqID")
        data["nucleus"] = job.get("nucleus")
        data["maxWalltime"] = job.get("maxWalltime")
        data["resource_type"] = job.get("resource_type")
        if has_special_handling(job, "lc"):
            data["loopingCheck"] = False
        if is_debug_mode(job):
            data["debug"] = "True"
        if event_service == JOB_CLONING:
            data["cloneJob"] = _cloning_type(job)
        elif event_service in (ES_JOB, JUMBO_JOB):
            data["eventService"] = "True"
            data["prodDBlockTokenForOutput"] = ",".join(prod_token_out)
        elif event_service == FINE_GRAINED:
            data["eventService"] = "True"
        if event_service == ES_MERGE:
            data["eventServiceMerge"] = "True"
            data["writeToFile"] = ""
        elif has_special_handling(job, "wf"):
            data["writeToFile"] = "^".join(
                f"tmpin_{dataset.rstrip('/').split(':')[-1]}:{','.join(lfns)}" for dataset, lfns in in_ds_lfns.items()
            )
        if no_output:
            data["allowNoOutput"] = ",".join(no_output)
        if has_special_handling(job, "po"):
            data["putLogToOS"] = "True"
        if has_special_handling(job, "nc"):
            data["noExecStrCnv"] = "True"
        if has_special_handling(job, "if"):
            data["inFilePosEvtNum"] = "True"
        if has_special_handling(job, "up"):
            data["usePrefetcher"] = "True"
        if job.get("container_name") is not None:
            data["container_name"] = job.get("container_name")
        data["ioIntensity"] = None
        data["ioIntensityUnit"] = None
        if has_special_handling(job, "ho"):
            data["isHPO"] = "True"
        if has_special_handling(job, "om"):
            data["onSiteMerging"] = "True"
        return data

    # ------------------------------------------------------------------------------------------
    # lifecycle (pilot/update_job)
    # ------------------------------------------------------------------------------------------
    def update(
        self,
        job_id: int,
        job_status: str,
        *,
        attempt_nr: int | None = None,
        params: Mapping[str, Any] | None = None,
        job_output_report: str = "",
        pilot_log: str = "",
        meta_data: str = "",
        stdout: str = "",
    ) -> tuple[bool, str, dict]:
        """``pilot/update_job``: returns ``(success, message, data)`` of the reply.

        ``params``: JobSpec attribute values already converted by the API layer
        (:func:`update_params`); ``data`` is ``{"StatusCode": 0, "command": ...}``."""
        if job_status not in VALID_JOB_STATES:
            return False, f"Invalid job status: {job_status}", {"StatusCode": SC_INVALID}
        param = dict(params or {})
        now = self._now()
        with self.engine.operation():
            job = self.get(job_id)
            if pilot_log != "" or stdout != "":
                self._store_logs(job, pilot_log, stdout)
            if meta_data != "" and not self._add_metadata(job, meta_data, job_status):
                message = "Failed to add meta_data"
                return True, message, {"StatusCode": SC_FAILED, "ErrorDiag": message}
            target = job_status
            update_state_change = False
            if job_status in ("failed", "finished"):
                target = "holding"
                update_state_change = True
                param["jobDispatcherErrorDiag"] = None
            elif job_status in ("holding", "transferring"):
                param["jobDispatcherErrorDiag"] = (
                    f"set to {job_status} by the pilot at {now.strftime('%Y-%m-%d %H:%M:%S')}"
                )
            command = self._update_status(job, target, param, update_state_change, attempt_nr, now)
            data: dict[str, Any] = {"StatusCode": SC_SUCCESS, "command": command}
            if job_status in ("failed", "finished") and command != "alreadydone" and job is not None:
                self._store_output_report(job["PandaID"], job_output_report, attempt_nr)
                self.engine.schedule(
                    "job_adder",
                    "job_adder",
                    PandaID=job["PandaID"],
                    status=job_status,
                    attemptNr=attempt_nr if attempt_nr is not None else job.get("attemptNr"),
                )
            return True, "", data

    def update_bulk(self, items: Sequence[Mapping[str, Any] | str]) -> list[tuple[bool, str, Any]]:
        """``pilot/update_jobs_bulk``: :meth:`update` for each item, in order, in one operation.

        An item is either the validated arguments of one update (``job_id``, ``job_status``,
        ``attempt_nr``, ``params``, ``job_output_report``, ``pilot_log``, ``meta_data``, ``stdout``)
        or the message of its validation failure (answered ``(False, message, None)``)."""
        with self.engine.operation():
            results: list[tuple[bool, str, Any]] = []
            for item in items:
                if isinstance(item, str):
                    results.append((False, item, None))
                    continue
                results.append(
                    self.update(
                        item["job_id"],
                        item["job_status"],
                        attempt_nr=item.get("attempt_nr"),
                        params=item.get("params"),
                        job_output_report=item.get("job_output_report", ""),
                        pilot_log=item.get("pilot_log", ""),
                        meta_data=item.get("meta_data", ""),
                        stdout=item.get("stdout", ""),
                    )
                )
            return results

    def _in_active_table(self, job: Mapping | None, attempt_nr: int | None) -> bool:
        if job is None:
            return False
        # failed jobs stay in jobsActive4 until the archiver moves them: the real guard sees them
        if job["jobStatus"] not in ACTIVE_TABLE and job["jobStatus"] != "failed":
            return False
        return attempt_nr is None or job.get("attemptNr") == attempt_nr

    def _update_status(
        self,
        job: Mapping | None,
        target: str,
        param: dict,
        update_state_change: bool,
        attempt_nr: int | None,
        now: _dt.datetime,
    ) -> str:
        """``updateJobStatus``: the guards of §7.1 and the update; returns the pilot command."""
        if not self._in_active_table(job, attempt_nr):
            return "tobekilled"
        assert job is not None
        panda_id = job["PandaID"]
        old = job["jobStatus"]
        command_parts = []
        if is_debug_mode(job):
            command_parts.append("debug")
        if job.get("commandToPilot") not in (None, ""):
            command_parts.append(job["commandToPilot"])
        command = ",".join(command_parts) or "NULL"
        stored_diag = job.get("jobDispatcherErrorDiag")
        if old == "failed" and target in ("holding", "transferring", "starting", "running"):
            return "alreadydone"
        if old == "transferring" and target == "holding" and stored_diag in (None, ""):
            return "alreadydone"
        if old == "holding" and target == "holding" and param.get("jobDispatcherErrorDiag") not in (None, ""):
            return command  # holding heartbeats of job recovery are ignored
        if old == "holding" and target == "holding" and stored_diag in (None, ""):
            return "alreadydone"  # the final report came already
        if old == "merging":
            return command
        if old in ("holding", "transferring") and target in ("running", "starting"):
            return command
        batch_id = job.get("batchID")
        new_batch = param.get("batchID")
        if (
            batch_id not in ("", None)
            and new_batch not in ("", None)
            and batch_id != new_batch
            and re.search(r"^\d+\.*\d+$", batch_id) is None
            and re.search(r"^\d+\.*\d+$", new_batch) is None
        ):
            clean = str(new_batch).replace("\n", "")
            self.table.update(
                panda_id,
                {
                    "supErrorCode": SUP_INVALID_BATCH_ID,
                    "supErrorDiag": f"got an update request with invalid batchID={clean}"[:250],
                },
            )
            return "tobekilled"
        if old == "running" and target == "starting":
            target = old
        if target == "transferring" and old == "holding":
            return command  # transferring never overwrites holding
        changes = {key: _truncate(key, value) for key, value in param.items() if key in JOB_ATTRIBUTES}
        metrics = param.get("jobMetrics")
        if isinstance(metrics, str):
            leak = re.search(r"leak=(-?\d+\.*\d+)", metrics)
            if leak is not None:
                changes["memory_leak"] = int(float(leak.group(1)))
            chi2 = re.search(r"chi2=(-?\d+\.*\d+)", metrics)
            if chi2 is not None:
                changes["memory_leak_x2"] = min(float(chi2.group(1)), 10**11 - 1)
        if (target == "holding" or (target == "transferring" and old == "running")) and job.get("endTime") is None:
            changes.setdefault("endTime", now)
        if old in ("sent", "starting") and target == "running" and "startTime" not in param:
            changes["startTime"] = now
        if target != old:
            self.move(panda_id, target, changes)
        else:
            changes["modificationTime"] = now
            if update_state_change:
                changes["stateChangeTime"] = now
            self.table.update(panda_id, changes)
        self._touch_worker_links(panda_id, now)
        return command

    def _touch_worker_links(self, panda_id: int, now: _dt.datetime) -> None:
        links = self.engine.store.table("worker_jobs")
        for link in links.find("by_job", panda_id):
            links.update(link["link_key"], {"lastUpdate": now})

    def _store_logs(self, job: Mapping | None, pilot_log: str, stdout: str) -> None:
        if job is None:
            return
        existing = self.logs.get(job["PandaID"]) or {"PandaID": job["PandaID"], "pilotLog": None, "stdout": None}
        record = dict(existing)
        if pilot_log != "":
            record["pilotLog"] = pilot_log
        if stdout != "" and job["jobStatus"] in ACTIVE_TABLE:
            record["stdout"] = stdout
        self.logs.put(record)

    def _store_output_report(self, panda_id: int, report: str, attempt_nr: int | None) -> None:
        existing = self.logs.get(panda_id) or {"PandaID": panda_id, "pilotLog": None, "stdout": None}
        self.logs.put(dict(existing, jobOutputReport=report, reportAttemptNr=attempt_nr))

    def _add_metadata(self, job: Mapping | None, metadata: str, new_status: str) -> bool:
        """``addMetadata``: False only when the job is unknown to the active and archived tables."""
        if new_status == "failed":
            return True
        if job is None or job["jobStatus"] in DEFINED_TABLE | WAITING_TABLE:
            return False
        if job["jobStatus"] in JOB_FINAL:
            return True
        if job.get("metadata") not in (None, "", "NULL"):
            return True
        self.table.update(job["PandaID"], {"metadata": metadata})
        return True

    def _adder_due(self, PandaID: int, status: str, attemptNr: int | None = None) -> None:  # noqa: N803
        """Progression step ``job_adder``: the output report of a holding job is processed and the
        job becomes finished or failed (nothing happens if the job moved on or was retried)."""
        job = self.table.get(PandaID)
        if job is None or job["jobStatus"] not in ("holding", "transferring"):
            return
        if attemptNr is not None and job.get("attemptNr") != attemptNr:
            return
        changes: dict[str, Any] = {}
        if status == "failed" and job.get("pilotErrorCode") in (0, None) and job.get("exeErrorCode") in (0, None):
            changes["taskBufferErrorDiag"] = "failed by the pilot without an error code"
        files = self._reported_files(job)
        if files is not None:
            changes["Files"] = files
        self.move(PandaID, status, changes)

    def _reported_files(self, job: Mapping) -> list[dict] | None:
        """The job's files with what the pilot's final file report (``job_output_report``, a JSON
        object ``{lfn: {"guid", "fsize", "adler32", "surl", ...}}``) says about its outputs and log:
        size, ``ad:<adler32>`` checksum and GUID (kept when the report has none); None when there
        is no readable report or it names none of the files."""
        log = self.logs.get(job["PandaID"])
        report = log.get("jobOutputReport") if log else None
        if not report:
            return None
        try:
            entries = json.loads(report)
        except (TypeError, ValueError):
            return None
        if not isinstance(entries, dict):
            return None
        files = []
        changed = False
        for file in job.get("Files") or ():
            entry = entries.get(file.get("lfn")) if file.get("type") in ("output", "log") else None
            if isinstance(entry, dict):
                file = dict(file)
                if entry.get("guid"):
                    file["GUID"] = str(entry["guid"])
                try:
                    file["fsize"] = int(entry["fsize"])
                except (KeyError, TypeError, ValueError):
                    pass
                if entry.get("adler32"):
                    file["checksum"] = f"ad:{entry['adler32']}"
                if entry.get("md5sum"):
                    file["md5sum"] = str(entry["md5sum"])
                changed = True
            files.append(file)
        return files if changed else None

    # ------------------------------------------------------------------------------------------
    # reading
    # ------------------------------------------------------------------------------------------
    def pilot_status(self, job_ids: Sequence[int]) -> list[dict]:
        """``pilot/get_job_status``: active, waiting and archived jobs (not the defined table)."""
        with self.engine.operation():
            result = []
            for job_id in job_ids:
                job = self.get(job_id)
                if job is None or job["jobStatus"] in DEFINED_TABLE:
                    result.append({"job_id": job_id, "status": "not found", "attempt_number": 0})
                else:
                    result.append(
                        {"job_id": job["PandaID"], "status": job["jobStatus"], "attempt_number": job["attemptNr"]}
                    )
            return result

    def status_and_command(self, job_ids: Sequence[int]) -> list[dict]:
        """``job/get_status``: status and pilot command from the active table or the archive (final
        jobs modified within the last hour); anything else is unknown and to be killed."""
        with self.engine.operation():
            limit = self._now() - _dt.timedelta(hours=1)
            result = []
            for job_id in job_ids:
                job = self.get(job_id)
                if job is not None and (
                    job["jobStatus"] in ACTIVE_TABLE
                    or (job["jobStatus"] in JOB_FINAL and (job.get("modificationTime") or _EPOCH) > limit)
                ):
                    result.append({"status": job["jobStatus"], "command": job.get("commandToPilot")})
                else:
                    result.append({"status": "unknown", "command": "tobekilled"})
            return result

    def describe(self, job_ids: Sequence[int]) -> list[dict | None]:
        """``job/get_description(_incl_archive)``: JobSpec attributes + ``Files``, None when unknown."""
        with self.engine.operation():
            return [None if (job := self.get(job_id)) is None else description(job) for job_id in job_ids[:5500]]

    def user_metadata(self, task_id: int) -> dict:
        """``job/get_metadata_for_analysis_jobs``: JSON metadata of the task's finished user jobs."""
        with self.engine.operation():
            result = {}
            for job in self.table.find("by_task_status", (task_id, "finished")):
                if job.get("prodSourceLabel") != "user":
                    continue
                try:
                    result[job["PandaID"]] = json.loads(job.get("metadata") or "")
                except (TypeError, ValueError):
                    continue
            return result

    def offline_script(self, job_id: int, days: int | None) -> str:
        """``job/generate_offline_execution_script``: the script, or a message starting with ERROR."""
        with self.engine.operation():
            job = self.get(job_id)
            limit = self._now() - _dt.timedelta(days=30 if days is None else days)
            if job is not None and job["jobStatus"] in JOB_FINAL and (job.get("modificationTime") or _EPOCH) <= limit:
                job = None
            if job is None:
                message = f"ERROR: Cannot get PandaID={job_id} in DB "
                if days is None:
                    return message + "for the last 30 days. You may add &days=N to the URL"
                return message + f"for the last {days} days. You may change &days=N in the URL"
            return offline_run_script(job)

    # ------------------------------------------------------------------------------------------
    # operator actions
    # ------------------------------------------------------------------------------------------
    def kill(
        self,
        job_ids: Sequence[int],
        dn: str,
        code: int | None,
        production: bool,
        working_groups: Sequence[str] = (),
        kill_options: Sequence[str] = (),
    ) -> list[bool]:
        """``job/kill``: one boolean per job, as ``killJob`` decides it (ownership, codes, force)."""
        code_str = None if code is None else str(code)
        with self.engine.operation():
            return [
                self._kill_one(job_id, dn, code_str, production, working_groups, kill_options) for job_id in job_ids
            ]

    def _kill_one(
        self,
        job_id: Any,
        dn: str,
        code: str | None,
        production: bool,
        working_groups: Sequence[str],
        kill_options: Sequence[str],
    ) -> bool:
        job = self.get(job_id)
        if job is None or job["jobStatus"] in JOB_FINAL | WAITING_TABLE:
            return False
        label = job.get("prodSourceLabel")
        group = job.get("workingGroup") or ""
        valid_group_role = (
            label in ("managed", "test")
            and group != ""
            and any(wg and re.search("(^|_)" + re.escape(wg) + "$", group, re.I) for wg in working_groups)
        )
        if production:
            if label in ANALY_SOURCES and code not in PROD_KILL_CODES_FOR_USER_JOBS:
                return False
        elif not valid_group_role:
            if clean_user_id(job.get("prodUserID")) != clean_user_id(dn):
                return False
        event_service = is_event_service(job)
        panda_id = job["PandaID"]
        force_command = code in FORCE_COMMAND_CODES or event_service or job["jobStatus"] == "merging"
        if not force_command and job.get("commandToPilot") == "tobekilled":
            return False
        self.table.update(panda_id, {"commandToPilot": "tobekilled", "taskBufferErrorDiag": f"killed by {dn}"})
        forced = (
            ((label in ("managed", "test", None) or "test" in (label or "")) and code in ("9", "52"))
            or (production and code == "99")
            or (event_service and job.get("eventService") != JOB_CLONING)
            or job["jobStatus"] == "merging"
        )
        if job["jobStatus"] == "running" and not forced:
            return True  # flagged: the pilot sees tobekilled in its next update
        job = self.table.get(panda_id)
        old = job["jobStatus"]
        now = self._now()
        changes: dict[str, Any] = {"endTime": job.get("endTime") or now}
        if old == "starting":
            changes["startTime"] = changes["endTime"]
        target = "cancelled"
        if code in ("2", "4"):
            target = "closed"
            changes["jobSubStatus"] = "toreassign"
            changes["taskBufferErrorCode"] = EC_EXPIRE
            changes["taskBufferErrorDiag"] = f"expired in {old}. status unchanged since {job.get('stateChangeTime')}"
        elif code == "3":
            changes["taskBufferErrorCode"] = EC_ABORTED
            changes["taskBufferErrorDiag"] = "aborted by ExtIF"
        elif code == "8":
            changes["taskBufferErrorCode"] = EC_REASSIGNED
            changes["taskBufferErrorDiag"] = f"reassigned to another site by rebrokerage. new {dn}"
            changes["commandToPilot"] = None
        elif code in ("50", "52"):
            changes["taskBufferErrorCode"] = EC_KILL
            changes["taskBufferErrorDiag"] = dn
        elif code == "51":
            target = "closed"
            changes["jobSubStatus"] = "toreassign"
            changes["taskBufferErrorCode"] = EC_KILL
            changes["taskBufferErrorDiag"] = "reassigned by JEDI"
        elif code == "55":
            target = "closed"
            changes["jobSubStatus"] = "taskdone"
            changes["taskBufferErrorCode"] = EC_KILL
            changes["taskBufferErrorDiag"] = "killed since task is (almost) done"
        elif code == "60":
            target = "closed"
            changes["taskBufferErrorCode"] = EC_KILL
            changes["taskBufferErrorDiag"] = "closed by the pilot"
        elif code == "10":
            target = "closed"
            changes["taskBufferErrorCode"] = EC_FAST_REBROKERAGE
            changes["taskBufferErrorDiag"] = "fast rebrokerage due to Nq/Nr overshoot"
        else:
            changes["taskBufferErrorCode"] = EC_KILL
            changes["taskBufferErrorDiag"] = f"killed by {dn}"
        for option in kill_options:
            if option.startswith("jobSubStatus="):
                changes["jobSubStatus"] = option.split("=", 1)[1]
        self.move(panda_id, target, changes, reason=f"killed with code {code}")
        return True

    def reassign(self, job_ids: Sequence[int]) -> None:
        """``job/reassign``: jobs still waiting or defined are reset and go through the setupper
        again (activated after ``job_activation``); other jobs are ignored."""
        with self.engine.operation():
            now = self._now()
            for job_id in job_ids:
                job = self.get(job_id)
                if job is None or job["jobStatus"] not in DEFINED_TABLE | WAITING_TABLE:
                    continue
                changes = {"modificationHost": None, "brokerageErrorCode": 0, "brokerageErrorDiag": None}
                if job["jobStatus"] == "defined":
                    self.table.update(job["PandaID"], dict(changes, modificationTime=now, stateChangeTime=now))
                else:
                    self.move(job["PandaID"], "defined", changes, reason="reassigned")
                self.engine.schedule("job_activate", "job_activation", PandaID=job["PandaID"])

    def set_command(self, job_id: int, command: str) -> tuple[bool, str]:
        """``job/set_command``: store ``commandToPilot`` of an active job; ``(success, message)``."""
        if len(command) > COMMAND_MAX_LENGTH:
            return False, f"command string too long. must be less than {COMMAND_MAX_LENGTH} chars"
        with self.engine.operation():
            job = self.get(job_id)
            if job is None or job["jobStatus"] not in ACTIVE_TABLE:
                return False, f"no active job with PandaID={job_id}"
            if job.get("commandToPilot") == "tobekilled":
                return False, "job is being killed"
            self.table.update(job["PandaID"], {"commandToPilot": command, "modificationTime": self._now()})
            return True, "command received"

    def set_debug_mode(self, job_id: int, mode: bool, dn: str, production: bool, working_group: str | None) -> str:
        """``setDebugMode``: toggle ``debug`` in specialHandling; returns the DB layer's message."""
        with self.engine.operation():
            job = self.get(job_id)
            if job is None or job["jobStatus"] not in DEFINED_TABLE | ACTIVE_TABLE:
                return f"PandaID={job_id} not found in active DB"
            if job["jobStatus"] not in DEBUG_CHANGEABLE:
                return (
                    f"Cannot set debugMode since the job status is {job['jobStatus']} "
                    f"which is not in one of {DEBUG_CHANGEABLE}"
                )
            if not production:
                group = str(job.get("workingGroup") or "").split("_")[-1].lower()
                if working_group is not None:
                    if working_group.lower() != group:
                        return f"Permission denied. Not the production manager for workingGroup={group}"
                elif job.get("prodUserName") != (clean_user_id(dn) or dn):
                    return "Permission denied. Not the owner or production manager"
            special = job.get("specialHandling")
            if special in (None, "", "NULL"):
                if not mode:
                    return "Already set accordingly"
                new = "debug"
            elif "debug" in special:
                if mode:
                    return "Already set accordingly"
                new = re.sub("debug", "", special)
                new = re.sub(",,", ",", new)
                new = re.sub("^,", "", new)
                new = re.sub(",$", "", new)
            else:
                if not mode:
                    return "Already set accordingly"
                new = "debug"
            self.table.update(job["PandaID"], {"specialHandling": new, "modificationTime": self._now()})
            return "Succeeded"

    # ------------------------------------------------------------------------------------------
    # worker nodes (pilot/update_worker_node, pilot/update_worker_node_gpu)
    # ------------------------------------------------------------------------------------------
    def update_worker_node(
        self, site: str, panda_queue: str | None, host_name: str, cpu_model: str, **specs: Any
    ) -> str:
        """Register a worker node (or refresh its ``last_seen``); also per queue when given."""
        host = clean_host_name(host_name)
        with self.engine.operation():
            now = self._now()
            key = f"{site}|{host}|{cpu_model}"
            existing = self.worker_nodes.get(key)
            if existing is not None:
                self.worker_nodes.update(key, {"last_seen": now})
            else:
                record = {"node_key": key, "site": site, "host_name": host, "cpu_model": cpu_model}
                record["cpu_model_normalized"] = normalize_cpu_model(cpu_model)
                record.update(specs)
                record["last_seen"] = now
                self.worker_nodes.insert(record)
            if panda_queue:
                queue_key = f"{site}|{host}|{panda_queue}"
                self.worker_node_queues.put(
                    {
                        "node_key": queue_key,
                        "site": site,
                        "host_name": host,
                        "panda_queue": panda_queue,
                        "last_seen": now,
                    }
                )
            return "Inserted new worker node."

    def update_worker_node_gpu(
        self, site: str, host_name: str, vendor: str, model: str, count: int, **specs: Any
    ) -> str:
        """Register the GPUs of a worker node (or refresh count, framework and ``last_seen``)."""
        host = clean_host_name(host_name)
        with self.engine.operation():
            now = self._now()
            key = f"{site}|{host}|{vendor}|{model}"
            if self.worker_node_gpus.get(key) is not None:
                self.worker_node_gpus.update(
                    key,
                    {
                        "last_seen": now,
                        "framework": specs.get("framework"),
                        "framework_version": specs.get("framework_version"),
                        "count": count,
                    },
                )
                return "Updated existing worker node GPU."
            record = {"gpu_key": key, "site": site, "host_name": host, "vendor": vendor, "model": model, "count": count}
            record.update(specs)
            record["last_seen"] = now
            self.worker_node_gpus.insert(record)
            return "Inserted new worker node GPU."


# ----------------------------------------------------------------------------------------------
# module helpers
# ----------------------------------------------------------------------------------------------
def _non_negative(value: Any) -> int:
    try:
        return max(0, value or 0)
    except (TypeError, ValueError):
        return 0


def _multi_step(job_parameters: Any) -> tuple[Any, dict | None]:
    """``JobSpec.extractMultiStepExec``."""
    try:
        if "<MULTI_STEP_EXEC>" in job_parameters and "</MULTI_STEP_EXEC>" in job_parameters:
            head, tail = job_parameters.split("<MULTI_STEP_EXEC>")
            return head, json.loads(tail.split("</MULTI_STEP_EXEC>")[0])
    except (TypeError, ValueError):
        pass
    return job_parameters, None


def _cloning_type(job: Mapping) -> str | None:
    for item in special_handling_items(job.get("specialHandling")):
        if item.startswith("sc:"):
            return item.split(":", 1)[1]
    return None


def _ddm_endpoint(site: Mapping | None, token: Any, mode: str) -> str:
    """``Response.getDdmEndpoint``: the RSE of a space token at the queue, else the queue's default."""
    if site is None:
        return ""
    if mode == "input":
        tokens = site.get("setokens_input") or {}
        default = site.get("ddm_input")
        endpoints = site.get("ddm_endpoints_input") or []
    else:
        tokens = site.get("setokens_output") or {}
        default = site.get("ddm_output")
        endpoints = site.get("ddm_endpoints_output") or []
    if isinstance(token, str) and token.startswith("dst:"):
        rse = token[4:]
        if rse in endpoints:
            return rse
    if isinstance(tokens, Mapping) and token in tokens:
        return str(tokens[token])
    return str(default or "")


def clean_host_name(host_name: str) -> str:
    """``clean_host_name``: drop the ``slot1@`` prefix of a worker-node name."""
    return host_name.split("@")[-1]


def normalize_cpu_model(cpu_model: str) -> str:
    """``normalize_cpu_model``: the CPU model without frequency, core counts and vendor noise."""
    text = re.sub(r"\(R\)|\(TM\)|\(tm\)|CPU|Processor|@.*$|\d+-Core", "", cpu_model)
    return re.sub(r"\s+", " ", text).strip()


def description(job: Mapping) -> dict:
    """``JobSpec.to_dict_advanced`` view: every JobSpec attribute plus ``Files`` (FileSpec dicts)."""
    data = {key: _null(job.get(key)) for key in _DESCRIPTION_KEYS}
    data["Files"] = [{key: _null(file.get(key)) for key in FILE_ATTRIBUTES} for file in job.get("Files") or ()]
    return data


#: panda-client's FileSpec attribute order (``rowID`` is the server's ``row_ID``).
CLIENT_FILE_ATTRIBUTES = ("row_ID",) + FILE_ATTRIBUTES[1:18]


def _decode_datetime(obj: dict) -> Any:
    if "_datetime_object" in obj:
        return _dt.datetime.strptime(str(obj["_datetime_object"]), "%Y-%m-%d %H:%M:%S.%f")
    return obj


def decode_jobs_json(text: str) -> list[dict]:
    """``JobUtils.load_jobs_json``: serialized JobSpecs (attribute-value lists in ``JobSpec._attributes``
    order, the last element the list of FileSpec value lists, each ending with its owner) → job dicts."""
    states = json.loads(text, object_hook=_decode_datetime)
    if not isinstance(states, list):
        raise TypeError(f"expected a list of job states, got {type(states).__name__}")
    jobs = []
    for state in states:
        if not isinstance(state, list) or not state:
            raise TypeError(f"a job state must be a list, got {type(state).__name__}")
        values = state[:-1]
        job: dict[str, Any] = {}
        for i, name in enumerate(JOB_ATTRIBUTES):
            job[name] = _null(values[i]) if i < len(values) else None
        files = []
        for file_state in state[-1] or ():
            if not isinstance(file_state, list):
                raise TypeError(f"a file state must be a list, got {type(file_state).__name__}")
            file_values = file_state[:-1]  # the last element is the owner
            file = {
                name: (_null(file_values[i]) if i < len(file_values) else None)
                for i, name in enumerate(FILE_ATTRIBUTES)
            }
            files.append(file)
        job["Files"] = files
        jobs.append(job)
    return jobs


def update_params(values: Mapping[str, Any]) -> dict[str, Any]:
    """The JobSpec changes of a ``pilot/update_job`` call, converted like the real handler does
    (invalid values are dropped, sizes in kB, times parsed)."""
    param: dict[str, Any] = {}
    conversions: list[tuple[str, str, Callable[[Any], Any]]] = [
        ("cpuConsumptionTime", "cpu_consumption_time", int),
        ("cpuConsumptionUnit", "cpu_consumption_unit", str),
        ("cpu_architecture_level", "cpu_architecture_level", lambda x: str(x)[:20]),
        ("modificationHost", "node", lambda x: str(x)[:128]),
        ("transExitCode", "trans_exit_code", int),
        ("pilotErrorCode", "pilot_error_code", int),
        ("pilotErrorDiag", "pilot_error_diag", lambda x: str(x)[:500]),
        ("jobMetrics", "job_metrics", lambda x: str(x)[:500]),
        ("schedulerID", "scheduler_id", str),
        ("pilotID", "pilot_id", lambda x: str(x)[:200]),
        ("batchID", "batch_id", lambda x: str(x)[:80]),
        ("exeErrorCode", "exe_error_code", int),
        ("exeErrorDiag", "exe_error_diag", lambda x: str(x)[:500]),
        ("cpuConversion", "cpu_conversion_factor", float),
        ("pilotTiming", "pilot_timing", str),
        ("nEvents", "n_events", int),
        ("nInputFiles", "n_input_files", int),
        ("jobSubStatus", "job_sub_status", str),
        ("actualCoreCount", "core_count", int),
        ("maxRSS", "max_rss", int),
        ("maxVMEM", "max_vmem", int),
        ("maxSWAP", "max_swap", int),
        ("maxPSS", "max_pss", int),
        ("avgRSS", "avg_rss", lambda x: int(float(x))),
        ("avgVMEM", "avg_vmem", lambda x: int(float(x))),
        ("avgSWAP", "avg_swap", lambda x: int(float(x))),
        ("avgPSS", "avg_pss", lambda x: int(float(x))),
        ("grid", "grid", str),
        ("sourceSite", "source_site", str),
        ("destinationSite", "destination_site", str),
    ]
    for key, name, cast in conversions:
        value = values.get(name)
        if value not in (None, ""):
            try:
                param[key] = cast(value)
            except (TypeError, ValueError):
                continue
    for key, name in (
        ("totRCHAR", "tot_rchar"),
        ("totWCHAR", "tot_wchar"),
        ("totRBYTES", "tot_rbytes"),
        ("totWBYTES", "tot_wbytes"),
        ("rateRCHAR", "rate_rchar"),
        ("rateWCHAR", "rate_wchar"),
        ("rateRBYTES", "rate_rbytes"),
        ("rateWBYTES", "rate_wbytes"),
    ):
        value = values.get(name)
        if value is not None:
            try:
                param[key] = min(10**10 - 1, int(value) / 1024)
            except (TypeError, ValueError):
                continue
    for key, name in (("startTime", "start_time"), ("endTime", "end_time")):
        value = values.get(name)
        if value is not None:
            try:
                param[key] = _dt.datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
            except (TypeError, ValueError):
                continue
    return param


def offline_run_script(job: Mapping) -> str:
    """A shell script that re-runs a job interactively: input download with rucio, the release
    set up with asetup in ALRB, then the transformation with the job's parameters."""
    transformation = job.get("transformation") or ""
    is_user = job.get("prodSourceLabel") == "user" or any(
        trf in transformation for trf in ("runAthena", "runGen", "runcontainer", "runMerge", "buildJob", "buildGen")
    )
    release = job.get("AtlasRelease") or ""
    if is_user:
        releases, packages = [release], [re.sub("^AnalysisTransforms-*", "", job.get("homepackage") or "")]
        parameters, transformations = [job.get("jobParameters") or ""], [transformation]
    else:
        releases = release.split("\n")
        packages = (job.get("homepackage") or "").split("\n")
        parameters = (job.get("jobParameters") or "").split("\n")
        transformations = transformation.split("\n")
    if not (len(releases) == len(packages) == len(parameters) == len(transformations)):
        return "ERROR: The number of releases or parameters or trfs is inconsistent with others"
    inputs = []
    for file in job.get("Files") or ():
        if file.get("type") == "input":
            did = f"{file.get('scope')}:{file.get('lfn')}"
            if did not in inputs:
                inputs.append(did)
    lines = [
        "#!/bin/bash",
        "",
        "# To rerun the job interactively :",
        "#   1) download this script",
        "#   2) chmod +x ./<this script>",
        "#   3) setupATLAS",
        "#   4) ./<this script>",
        "",
        'if [ -z "$ATLAS_LOCAL_ROOT_BASE" ]; then',
        '  echo "ERROR: setupATLAS is required to run this script"; exit 1',
        "fi",
        "",
    ]
    if inputs:
        lines += [
            "#retrieve inputs",
            "(",
            "  source ${ATLAS_LOCAL_ROOT_BASE}/user/atlasLocalSetup.sh --quiet",
            "  lsetup rucio",
        ]
        lines += [f'  rucio download "{did}" --no-subdir || exit 1' for did in inputs]
        lines += [") || exit 1", ""]
    if is_user and transformations[0]:
        lines += [
            "#get trf",
            f"wget {transformations[0]} || exit 1",
            f"chmod +x {transformations[0].split('/')[-1]}",
            "",
        ]
    lines += [
        "temp_file=$(mktemp)",
        'cat << EOF > "$temp_file"',
        "",
        "source ${ATLAS_LOCAL_ROOT_BASE}/user/atlasLocalSetup.sh",
        "",
        "#transform commands",
        "",
    ]
    platform = str(job.get("cmtConfig") or "").split("@")[0]
    core_count = job.get("coreCount")
    for i, package in enumerate(packages):
        tags = [tag for tag in re.split("[/_]", package) if tag]
        release_i = re.sub("Atlas-", "", releases[i])
        if release_i and release_i not in tags and (re.search(r"^\d+\.\d+\.\d+$", release_i) is None or is_user):
            tags.append(release_i)
        lines.append(f"asetup --platform={platform} {','.join(tags)}")
        if isinstance(core_count, int) and core_count > 1:
            lines += [f"export ATHENA_PROC_NUMBER={core_count}", f"export ATHENA_CORE_NUMBER={core_count}"]
        prefix = "./" if is_user else ""
        trf = transformations[i].split("/")[-1] if is_user else transformations[i]
        suffix = " --debug" if is_user else ""
        lines.append(f"{prefix}{trf} {parameters[i]}{suffix}")
        lines.append("")
    lines += ["EOF", "", 'setupATLAS -c el9 -r "$temp_file" || exit 1', ""]
    return "\n".join(lines)
