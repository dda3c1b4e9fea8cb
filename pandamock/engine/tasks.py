"""JEDI in miniature: task submission, the task lifecycle, jobs made from tasks, task commands.

The service (``engine.tasks``) turns submitted task parameters into a JEDI task and moves it
through its life on the emulator clock, without threads: every asynchronous JEDI step is a
progression step (:meth:`Engine.schedule`) applied lazily at the start of the next operation.

* **Submission** (``task/submit``, :meth:`Tasks.submit`): the server-side checks of
  ``insertTaskParamsPanda`` (a JSON object with ``taskName``, ``vo``, ``prodSourceLabel``; failure
  code 4), the user's name, task type and priority forced for non-production callers, duplicate
  task names of user tasks (code 2, or 3 with an ``incexec`` when the old task is over), a new
  ``jediTaskID``; the task is stored ``registered`` with its parameters.
* **Progression** (``task_step`` delay each): ``registered`` → refine (JEDI's parameter checks:
  a task it cannot use goes ``broken`` with an ``errorDialog``; input, pseudo-input, output and
  log datasets and their files are made) → ``defined`` → ``ready`` (or ``staging`` for tasks with
  ``inputPreStaging``: data-carousel requests, then ``staged``) → ``scouting`` (jobs are generated
  and brokered; the first ones are scouts) → ``running``.
* **Jobs** are made from the task's input rows (``dataset_files``: one row per file, or per event
  chunk with ``nEventsPerJob``; pseudo-input rows for ``noInput`` tasks), ``nFilesPerJob`` rows
  each, with the job-parameter template rendered (:mod:`pandamock.engine.jedi`), on the task's
  ``site`` or on an online queue of the right kind, through :meth:`Jobs.create_jobs`. Event-service
  tasks get event ranges per job.
* **Completion** (:meth:`Tasks._job_final`, a :attr:`Jobs.final_callbacks` hook): a finished job
  finishes its input rows and outputs; a failed one sends its rows back for another attempt while
  ``maxAttempt`` allows (JEDI generates a new job after ``task_step``), else fails them. When no
  job is active and no row waits, after ``task_completion``: ``prepared`` → ``done`` (all rows
  finished), ``finished`` (some failed; ``exhausted`` for production tasks) or ``failed`` (none
  finished).
* **Commands** (:meth:`Tasks.command`): accepted from exactly the statuses of §7.2 (data 4 and the
  real rejection message otherwise), registered at once, applied after ``task_command``: JEDI's
  re-check, the "doing" status, the jobs (kill code 50, finish code 52, reassign code 51, pause
  throttles activated jobs, resume re-activates them, retry regenerates failed inputs), the
  "done" status.

Tasks created otherwise (scenario generation) take part as soon as a command touches them.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from . import jedi, records
from .generate import STEPS, make_checksum, make_file_size, make_guid, queues_for, resource_type_for, sub_dataset_name
from .jobs import ACTIVE_TABLE, ES_JOB, JOB_CLONING, NOT_FINAL
from .naming import clean_user_id, primary_production_working_group
from .outcome import Failure
from .statuses import TASK, TASK_FINAL, created, transition
from .store import HashIndex, SortedIndex
from .task_views import TaskViews

if TYPE_CHECKING:
    from .core import Engine

_EPOCH = _dt.datetime(1970, 1, 1)
#: Statuses in which JEDI generates jobs for waiting input rows.
GENERATING = frozenset(("scouting", "scouted", "running", "merging"))
#: Statuses in which a task is waiting for its jobs to end (and then completes).
COMPLETING = frozenset(("scouting", "running", "merging"))
#: Job statuses JEDI kills in a "soft" finish/reassign (queued, not yet running).
QUEUED_JOBS = ("pending", "defined", "assigned", "waiting", "activated", "throttled")
#: Statuses that end a task (``endTime``, ``frozenTime``).
ENDING = TASK_FINAL | {"exhausted"}
#: Production ``prodSourceLabel`` values (failed inputs make such a task ``exhausted``).
PRODUCTION_LABELS = ("managed", "test", "prod_test")
#: Input row types (``dataset_files.type``) that jobs are made from.
INPUT_TYPES = ("input", "pseudo_input")
#: Extra attempts an input gets from ``task/retry`` and from a retry of a running user task.
RETRY_ATTEMPTS = 2
RUNNING_RETRY_ATTEMPTS = 5
#: Default transformation of user tasks (JEDI's runGen).
RUNGEN = "http://pandaserver.cern.ch:25085/trf/user/runGen-00-00-02"
#: Global shares: parents and their leaves (only leaves can be assigned).
GLOBAL_SHARES: dict[str, tuple[str, ...]] = {
    "Production": ("ATLAS Sim", "ATLAS Reco", "ATLAS Deriv", "Overlay", "Upgrade"),
    "Analysis": ("User Analysis", "Group Analysis"),
    "Data Processing": ("Tier0", "Express", "Event Index"),
    "Test": ("Validation", "Test Jobs"),
}
LEAF_SHARES = frozenset(share for leaves in GLOBAL_SHARES.values() for share in leaves)
_GSHARE_BY_PROCESSING = {
    "simul": "ATLAS Sim",
    "reprocessing": "ATLAS Reco",
    "recon": "ATLAS Reco",
    "pile": "ATLAS Reco",
}


def _modified(record: Mapping) -> tuple:
    return (record.get("modificationTime") or _EPOCH, record["jediTaskID"])


def _jumbo_key(record: Mapping) -> str | None:
    return "jumbo" if record.get("useJumbo") not in (None, "", "D") else None


def _scope_of(name: str) -> str:
    if ":" in name:
        return name.split(":", 1)[0]
    parts = name.rstrip("/").split(".")
    if parts[0] in ("user", "group") and len(parts) > 1:
        return ".".join(parts[:2])
    return parts[0]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _json_copy(value: Any) -> Any:
    """A deep copy of JSON data (also proves it is JSON: parameters are stored as JSON text)."""
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as exc:
        raise Failure(f"failed to insert task parameters: not JSON-serialisable ({exc})", 4) from None


class Tasks(TaskViews):
    """The JEDI service of an engine: ``engine.tasks``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        store = engine.store
        self.table = store.table("tasks")
        self.table.add_index(SortedIndex("by_user_label_modified", ["userName", "prodSourceLabel"], order=_modified))
        self.table.add_index(HashIndex("by_name", ["vo", "prodSourceLabel", "userName", "taskName"]))
        from .indexes import ComputedSortedIndex

        self.table.add_index(ComputedSortedIndex("jumbo_modified", _jumbo_key, _modified))
        self.datasets = store.table("datasets")
        self.datasets.add_index(HashIndex("by_name", ["datasetName"]))
        self.datasets.add_index(HashIndex("by_container", ["containerName"]))
        self.files = store.table("dataset_files")
        self.files.add_index(HashIndex("by_task_type_status", ["jediTaskID", "type", "status"]))
        self.files.add_index(HashIndex("by_dataset_status", ["datasetID", "status"]))
        self.files.add_index(HashIndex("by_panda", ["PandaID"]))
        #: the task parameters as submitted (JSON text) and the job-parameter template
        self.params = store.create_table("task_params", key="jediTaskID")
        #: JEDI's bookkeeping per task (owner DN, next serial number, pending steps)
        self.runtime = store.create_table("task_runtime", key="jediTaskID")
        #: the command table (PanDA's PRODSYS_COMM): the last command registered per task
        self.commands = store.create_table("task_commands", key="jediTaskID")
        engine.on("task_step", self._step_due)
        engine.on("task_generate", self._generate_due)
        engine.on("task_complete", self._complete_due)
        engine.on("task_command", self._command_due)
        engine.on("task_pause_sweep", self._pause_sweep_due)
        engine.jobs.final_callbacks.append(self._job_final)
        #: ``callback(task, previous_status)`` after every status change of a task (inside the operation)
        self.status_callbacks: list = []

    # ------------------------------------------------------------------------------------------
    # helpers
    # ------------------------------------------------------------------------------------------
    @property
    def jobs(self) -> Any:
        return self.engine.jobs

    def _now(self) -> _dt.datetime:
        return self.engine.now()

    def get(self, task_id: Any) -> dict | None:
        try:
            return self.table.get(int(task_id))
        except (TypeError, ValueError):
            return None

    def _move(self, task_id: int, target: str, changes: Mapping | None = None, reason: str | None = None) -> dict:
        """A task status change through the transition table, with JEDI's time stamps."""
        values = dict(changes or {})
        values["superStatus"] = jedi.super_status(target)
        now = self._now()
        task = self.table.get(task_id)
        if target in ENDING:
            values.setdefault("endTime", now)
            values.setdefault("frozenTime", now)
        elif task.get("endTime") is not None and target not in ENDING:
            values.setdefault("endTime", None)
            values.setdefault("frozenTime", None)
        if target in ("scouting", "running") and task.get("startTime") is None:
            values["startTime"] = now
        if target == "ready" and task.get("queuedTime") is None:
            values["queuedTime"] = now
        if target == "running" and task.get("activatedTime") is None:
            values["activatedTime"] = now
        previous = task["status"]
        if previous == target:
            values["modificationTime"] = now
            self.table.update(task_id, values)
            return self.table.get(task_id)
        transition(self.table, task_id, TASK, target, now, changes=values, reason=reason)
        task = self.table.get(task_id)
        for callback in list(self.status_callbacks):
            callback(task, previous)
        return task

    def _touch(self, task_id: int, changes: Mapping | None = None) -> dict:
        values = dict(changes or {})
        values["modificationTime"] = self._now()
        return self.table.update(task_id, values)

    def _runtime(self, task_id: int) -> dict:
        """JEDI's bookkeeping of a task (made on first use for tasks that were not submitted here)."""
        record = self.runtime.get(task_id)
        if record is None:
            task = self.table.get(task_id)
            user = self.engine.world.user_by_compact_name(task.get("userName")) if task else None
            record = self.runtime.insert(
                {
                    "jediTaskID": task_id,
                    "dn": user["dn"] if user else None,
                    "nextSerial": 1 + self.jobs.table.count("by_task", task_id),
                    "jobsetID": None,
                    "generatePending": False,
                    "completePending": False,
                    "scouts": 0,
                }
            )
        return record

    def _params_of(self, task_id: int) -> dict:
        """The stored task parameters (decoded), or parameters made from the task record."""
        record = self.params.get(task_id)
        if record is not None:
            try:
                return json.loads(record["taskParams"])
            except (TypeError, ValueError):
                return {}
        task = self.table.get(task_id) or {}
        return self.synthesized_params(task)

    def synthesized_params(self, task: Mapping) -> dict:
        """Task parameters for a task that was not submitted through the API (scenario data)."""
        params: dict[str, Any] = {
            key: task.get(key)
            for key in (
                "taskName",
                "userName",
                "vo",
                "prodSourceLabel",
                "taskType",
                "taskPriority",
                "processingType",
                "architecture",
                "transUses",
                "transHome",
                "transPath",
                "workingGroup",
                "coreCount",
                "ramCount",
                "ramUnit",
                "walltime",
                "cloud",
                "site",
                "campaign",
                "reqID",
            )
            if task.get(key) is not None
        }
        datasets = self.datasets.find("by_task", task.get("jediTaskID"))
        items: list[dict] = []
        for dataset in datasets:
            if dataset.get("type") == "input":
                items.append(
                    {
                        "type": "template",
                        "param_type": "input",
                        "value": "--inputFile=${IN}",
                        "dataset": dataset["datasetName"],
                    }
                )
            elif dataset.get("type") == "output":
                items.append(
                    {
                        "type": "template",
                        "param_type": "output",
                        "value": f"--outputFile={dataset['datasetName']}._${{SN/P}}",
                        "dataset": dataset["datasetName"],
                    }
                )
            elif dataset.get("type") == "log":
                params["log"] = {
                    "type": "template",
                    "param_type": "log",
                    "value": f"log.{task.get('jediTaskID')}._${{SN/P}}.job.log.tgz",
                    "dataset": dataset["datasetName"],
                }
        params["jobParameters"] = items
        if task.get("splitRule"):
            params["splitRule"] = task["splitRule"]
        return params

    def _store_params(self, task_id: int, params: Mapping[str, Any]) -> None:
        text = json.dumps(params)
        template = jedi.job_parameters(params.get("jobParameters") or [], None)
        existing = self.params.get(task_id)
        values = {"jediTaskID": task_id, "taskParams": text, "jobParamsTemplate": template}
        if existing is None:
            self.params.insert(values)
        else:
            self.params.update(task_id, values)

    def _active_jobs(self, task_id: int) -> int:
        table = self.jobs.table
        return sum(table.count("by_task_status", (task_id, status)) for status in NOT_FINAL)

    def _rows(self, task_id: int, status: str) -> list[dict]:
        rows = []
        for kind in INPUT_TYPES:
            rows.extend(self.files.find("by_task_type_status", (task_id, kind, status)))
        return rows

    def _row_count(self, task_id: int, status: str) -> int:
        return sum(self.files.count("by_task_type_status", (task_id, kind, status)) for kind in INPUT_TYPES)

    def _schedule_generate(self, task_id: int) -> None:
        runtime = self._runtime(task_id)
        if not runtime.get("generatePending"):
            self.runtime.update(task_id, {"generatePending": True})
            self.engine.schedule("task_generate", "task_step", jediTaskID=task_id)

    def _schedule_completion(self, task_id: int) -> None:
        runtime = self._runtime(task_id)
        if not runtime.get("completePending"):
            self.runtime.update(task_id, {"completePending": True})
            self.engine.schedule("task_complete", "task_completion", jediTaskID=task_id)

    # ------------------------------------------------------------------------------------------
    # submission (task/submit)
    # ------------------------------------------------------------------------------------------
    def submit(
        self,
        params: Any,
        dn: str,
        production: bool,
        fqans: Sequence[str] = (),
        parent_tid: int | None = None,
        allow_active: bool = False,
    ) -> tuple[int, str]:
        """``insertTaskParamsPanda``: ``(code, message)``; 0 (``succeeded. new jediTaskID=<n>``) and
        3 (reactivation accepted) are successes. Raises nothing: failures are codes."""
        try:
            jedi.server_check(params)
        except Failure as failure:
            return failure.data, failure.message
        try:
            params = _json_copy(params)
        except Failure as failure:
            return failure.data, failure.message
        compact = clean_user_id(dn) or dn
        with self.engine.operation():
            if not production or "userName" not in params:
                params["userName"] = compact
            if not production or "taskType" not in params:
                params["taskType"] = "anal"
                params["taskPriority"] = 1000
                if params.get("official") is True:
                    group = primary_production_working_group(fqans)
                    if group is not None:
                        params["workingGroup"] = group
            if params.get("taskType") == "anal" and params.get("uniqueTaskName") is True:
                existing = self._same_name(params)
                if existing is not None:
                    return self._resubmission(existing, params, dn, production, allow_active)
            if parent_tid is not None and self.table.get(parent_tid) is None:
                return 11, f"parent jediTaskID={parent_tid} is not found"
            task_id = self.register(params, dn, parent_tid=parent_tid)
            return 0, f"succeeded. new jediTaskID={task_id}"

    def _same_name(self, params: Mapping[str, Any]) -> dict | None:
        key = (params.get("vo"), params.get("prodSourceLabel"), params.get("userName"), params.get("taskName"))
        found = self.table.find("by_name", key)
        return max(found, key=lambda task: task["jediTaskID"]) if found else None

    def _resubmission(
        self, existing: Mapping, params: dict, dn: str, production: bool, allow_active: bool
    ) -> tuple[int, str]:
        task_id = existing["jediTaskID"]
        status = existing["status"]
        if status in jedi.COMMANDS["incexec"].accepted:
            old = self._params_of(task_id)
            changed = {key: value for key, value in params.items() if old.get(key) != value}
            comment = json.dumps([changed, []])
            self._register_command(task_id, "incexec", dn, comment=comment)
            return 3, (
                f"reactivation accepted. jediTaskID={task_id} (currently in {status} state) "
                "will be re-executed with old and/or new input"
            )
        if allow_active:
            merged = self._params_of(task_id)
            merged.update(params)
            self._store_params(task_id, merged)
            return 5, status
        return (
            2,
            f"jediTaskID={task_id} is already queued for outDS={params['taskName']}. "
            "You cannot submit duplicated tasks",
        )

    def register(
        self,
        params: Mapping[str, Any],
        dn: str | None,
        parent_tid: int | None = None,
        task_id: int | None = None,
    ) -> int:
        """Store a new task ``registered`` (call inside an operation) and start JEDI's progression."""
        now = self._now()
        task_id = task_id or self.engine.ids.next("jediTaskID")
        params = jedi.fill(dict(params), "${TASKID}", str(task_id))
        analysis = params.get("taskType") == "anal" or params.get("prodSourceLabel") == "user"
        event_service = jedi.is_event_service(params)
        cores = params.get("coreCount") if _is_int(params.get("coreCount")) and params["coreCount"] > 0 else 1
        ram = params.get("ramCount") if _is_int(params.get("ramCount")) else 2000
        priority = params.get("taskPriority") if _is_int(params.get("taskPriority")) else (1000 if analysis else 900)
        processing = params.get("processingType") if isinstance(params.get("processingType"), str) else None
        step = STEPS["analysis"] if analysis else STEPS.get(processing or "", STEPS["simul"])
        gshare = params.get("gshare") or (
            "User Analysis" if analysis else _GSHARE_BY_PROCESSING.get(processing or "", step.gshare)
        )
        site = (
            params.get("site")
            if isinstance(params.get("site"), str) and params.get("site") not in ("", "AUTO")
            else None
        )
        req_id = params.get("reqID") if _is_int(params.get("reqID")) else None
        if req_id is None and parent_tid is not None:
            parent = self.table.get(parent_tid)
            req_id = parent.get("reqID") if parent else None
        base_ram = params.get("baseRamCount") if _is_int(params.get("baseRamCount")) else 0
        values = {
            "jediTaskID": task_id,
            "taskName": str(params.get("taskName")),
            "status": "registered",
            "userName": params.get("userName"),
            "creationDate": now,
            "modificationTime": now,
            "prodSourceLabel": params.get("prodSourceLabel"),
            "workingGroup": params.get("workingGroup"),
            "vo": params.get("vo"),
            "coreCount": cores,
            "taskType": params.get("taskType"),
            "processingType": processing,
            "taskPriority": priority,
            "currentPriority": priority,
            "architecture": params.get("architecture"),
            "transUses": params.get("transUses"),
            "transHome": params.get("transHome"),
            "transPath": params.get("transPath") or (RUNGEN if analysis else step.transformation),
            "splitRule": jedi.split_rule(params, event_service, cores),
            "walltime": params.get("walltime") if _is_int(params.get("walltime")) else None,
            "walltimeUnit": params.get("walltimeUnit"),
            "outDiskCount": params.get("outDiskCount"),
            "outDiskUnit": params.get("outDiskUnit"),
            "workDiskCount": params.get("workDiskCount"),
            "workDiskUnit": params.get("workDiskUnit"),
            "ramCount": ram,
            "ramUnit": params.get("ramUnit") or "MBPerCore",
            "baseRamCount": base_ram,
            "ioIntensity": params.get("ioIntensity"),
            "ioIntensityUnit": params.get("ioIntensityUnit"),
            "workQueue_ID": step.work_queue_id,
            "progress": 0,
            "failureRate": 0,
            "reqID": req_id if req_id is not None else task_id,
            "cloud": params.get("cloud"),
            "site": site,
            "countryGroup": params.get("countryGroup"),
            "parent_tid": parent_tid if parent_tid is not None else task_id,
            "eventService": 1 if event_service else 0,
            "campaign": params.get("campaign"),
            "cpuTime": params.get("cpuTime"),
            "cpuTimeUnit": params.get("cpuTimeUnit"),
            "gshare": gshare,
            "resource_type": resource_type_for(self.engine, cores, base_ram + ram * cores),
            "attemptNr": 0,
            "container_name": params.get("container_name"),
            "superStatus": "registered",
        }
        created(self.table, records.new_task(values), TASK, now)
        self._store_params(task_id, params)
        if self.runtime.get(task_id) is not None:
            self.runtime.delete(task_id)
        self.runtime.insert(
            {
                "jediTaskID": task_id,
                "dn": dn,
                "nextSerial": 1,
                "jobsetID": None,
                "generatePending": False,
                "completePending": False,
                "scouts": 0,
            }
        )
        self.engine.schedule("task_step", "task_step", jediTaskID=task_id)
        return task_id

    # ------------------------------------------------------------------------------------------
    # progression: registered -> defined -> ready -> scouting -> running
    # ------------------------------------------------------------------------------------------
    def _step_due(self, jediTaskID: int) -> None:  # noqa: N803 - PanDA's key name
        task = self.table.get(jediTaskID)
        if task is None:
            return
        status = task["status"]
        if status == "registered":
            self._refine(task)
        elif status == "defined":
            if self._params_of(jediTaskID).get("inputPreStaging") and self._stage_inputs(task):
                return
            self._move(jediTaskID, "ready")
            self.engine.schedule("task_step", "task_step", jediTaskID=jediTaskID)
        elif status in ("ready", "staged"):
            if status == "staged":
                self._move(jediTaskID, "ready")
            task = self.table.get(jediTaskID)
            # a task that ran before (retry, reload_input, reactivate) skips scouting
            target = "running" if task.get("activatedTime") is not None else "scouting"
            self._move(jediTaskID, target)
            self._generate(jediTaskID, scouts=target == "scouting")
            if target == "scouting":
                self.engine.schedule("task_step", "task_step", jediTaskID=jediTaskID)
            self._check_completion(jediTaskID)
        elif status == "scouting":
            self._move(jediTaskID, "running")
        elif status == "reassigning":
            runtime = self._runtime(jediTaskID)
            back = runtime.get("reassignTo") or "ready"
            if back not in TASK.moves.get("reassigning", ()):
                back = "ready"
            self._move(jediTaskID, back, {"oldStatus": None})
            self._after_resume(jediTaskID)
        elif status in ("toretry", "rerefine"):
            back = self._runtime(jediTaskID).get("retryTo") or "ready"
            self._move(jediTaskID, back, {"oldStatus": None})
            self._after_resume(jediTaskID)

    def _after_resume(self, task_id: int) -> None:
        """Continue JEDI's work after a task came back to an active status."""
        status = self.table.get(task_id)["status"]
        if status in ("registered", "defined", "ready", "staged", "scouting"):
            self.engine.schedule("task_step", "task_step", jediTaskID=task_id)
        if status in GENERATING and self._row_count(task_id, "ready"):
            self._schedule_generate(task_id)
        self._check_completion(task_id)

    def _broken(self, task_id: int, diag: str) -> None:
        self._move(task_id, "broken", {"errorDialog": diag[:255]}, reason="task parameters refused by JEDI")

    def _refine(self, task: Mapping) -> None:
        """JEDI's task refiner: check the parameters, make the datasets and the input rows."""
        task_id = task["jediTaskID"]
        params = self._params_of(task_id)
        problems = jedi.refine(params)
        if problems:
            self._broken(task_id, problems[0])
            return
        site = task.get("site")
        if site and self.engine.world.queue(site) is None:
            self._broken(task_id, f"site={site} is not a PanDA queue")
            return
        for name in jedi.site_list(params.get("includedSite")):
            if self.engine.world.queue(name) is None:
                self._broken(task_id, f"includedSite {name} is not a PanDA queue")
                return
        if not self._candidate_queues(task, params):
            self._broken(task_id, "no online PanDA queue can run the jobs of this task")
            return
        now = self._now()
        master_id = None
        if params.get("noInput") or not jedi.input_items(params):
            master_id = self._pseudo_inputs(task, params, now)
        else:
            for index, item in enumerate(jedi.input_items(params)):
                for name in jedi.input_dataset_names(str(item["dataset"])):
                    dataset_id = self._input_dataset(task, params, name, now, master_id, index)
                    if master_id is None:
                        master_id = dataset_id
        if master_id is None or not self.files.count("by_dataset_status", (master_id, "ready")):
            self._broken(task_id, "primary input dataset is empty or all files are excluded")
            return
        stream = 0
        for item in jedi.output_items(params):
            self._output_dataset(task, str(item["dataset"]), "output", f"OUTPUT{stream}", now, item)
            stream += 1
        log = params.get("log")
        if isinstance(log, Mapping):
            self._output_dataset(task, str(log["dataset"]), "log", "LOG", now, log)
        self._move(task_id, "defined")
        self.engine.schedule("task_step", "task_step", jediTaskID=task_id)

    def _new_dataset(
        self, task: Mapping, name: str, container: str | None, kind: str, stream: str, now: _dt.datetime, **extra: Any
    ) -> dict:
        values = {
            "jediTaskID": task["jediTaskID"],
            "datasetID": self.engine.ids.next("datasetID"),
            "datasetName": name,
            "containerName": container,
            "type": kind,
            "creationTime": now,
            "modificationTime": now,
            "vo": task.get("vo"),
            "cloud": task.get("cloud"),
            "site": task.get("site"),
            "status": "ready" if kind in INPUT_TYPES else "defined",
            "state": "closed" if kind in INPUT_TYPES else "open",
            "streamName": stream,
            "nFiles": 0,
            "nFilesToBeUsed": 0,
            "nFilesUsed": 0,
            "nFilesFinished": 0,
            "nFilesFailed": 0,
            "nFilesOnHold": 0,
            "nEvents": 0,
            "nEventsToBeUsed": 0,
            "nEventsUsed": 0,
        }
        values.update(extra)
        return self.datasets.insert(records.new_dataset(values))

    def _max_attempt(self, task: Mapping, params: Mapping) -> int:
        if _is_int(params.get("maxAttempt")) and params["maxAttempt"] > 0:
            return params["maxAttempt"]
        return jedi.DEFAULT_MAX_ATTEMPT["anal" if task.get("taskType") == "anal" else "prod"]

    def _add_rows(
        self, task: Mapping, params: Mapping, dataset: Mapping, files: Iterable[Mapping], now: _dt.datetime
    ) -> int:
        """Input rows of a dataset: one per file, or one per event chunk with ``nEventsPerJob``."""
        max_attempt = self._max_attempt(task, params)
        split = jedi.split_of(params)
        count = 0
        events_total = 0
        limit = jedi.MAX_JOBS_PER_TASK
        for file in files:
            n_events = file.get("nEvents") or split.events_per_file
            chunks = [(0, n_events)]
            if split.events_per_job and split.events_per_job < n_events:
                chunks = [
                    (start, min(split.events_per_job, n_events - start))
                    for start in range(0, n_events, split.events_per_job)
                ]
            for start, size in chunks:
                if count >= limit:
                    break
                self.files.insert(
                    records.new_dataset_file(
                        {
                            "jediTaskID": task["jediTaskID"],
                            "datasetID": dataset["datasetID"],
                            "fileID": self.engine.ids.next("fileID"),
                            "creationDate": now,
                            "lfn": file["lfn"],
                            "GUID": file.get("GUID"),
                            "type": dataset["type"],
                            "status": "ready",
                            "fsize": file.get("fsize"),
                            "checksum": file.get("checksum"),
                            "scope": file.get("scope"),
                            "attemptNr": 0,
                            "maxAttempt": max_attempt,
                            "maxFailure": max_attempt,
                            "nEvents": size,
                            "keepTrack": 1,
                            "startEvent": start,
                            "endEvent": start + size - 1,
                            "firstEvent": (file.get("firstEvent") or 1) + start,
                            "failedAttempt": 0,
                            "proc_status": "ready",
                        }
                    ),
                    owned=True,
                )
                count += 1
                events_total += size
        self.datasets.update(
            dataset["datasetID"],
            {"nFiles": count, "nFilesToBeUsed": count, "nEvents": events_total, "nEventsToBeUsed": events_total},
        )
        return count

    def _pseudo_inputs(self, task: Mapping, params: Mapping, now: _dt.datetime) -> int:
        """A task without input: a pseudo-input dataset with one row per job (``nEvents``/``nJobs``)."""
        n_jobs, events_per_job = jedi.pseudo_chunks(params)
        n_jobs = min(n_jobs, jedi.MAX_JOBS_PER_TASK)
        dataset = self._new_dataset(task, "pseudo_dataset", None, "pseudo_input", "IN", now)
        rows = (
            {"lfn": "pseudo_lfn", "nEvents": events_per_job, "firstEvent": 1 + index * events_per_job}
            for index in range(n_jobs)
        )
        max_attempt = self._max_attempt(task, params)
        count = 0
        for row in rows:
            self.files.insert(
                records.new_dataset_file(
                    {
                        "jediTaskID": task["jediTaskID"],
                        "datasetID": dataset["datasetID"],
                        "fileID": self.engine.ids.next("fileID"),
                        "creationDate": now,
                        "lfn": row["lfn"],
                        "type": "pseudo_input",
                        "status": "ready",
                        "attemptNr": 0,
                        "maxAttempt": max_attempt,
                        "maxFailure": max_attempt,
                        "nEvents": row["nEvents"],
                        "keepTrack": 1,
                        "startEvent": row["firstEvent"] - 1,
                        "endEvent": row["firstEvent"] - 1 + row["nEvents"] - 1,
                        "firstEvent": row["firstEvent"],
                        "failedAttempt": 0,
                        "proc_status": "ready",
                    }
                ),
                owned=True,
            )
            count += 1
        self.datasets.update(
            dataset["datasetID"],
            {
                "nFiles": count,
                "nFilesToBeUsed": count,
                "nEvents": count * events_per_job,
                "nEventsToBeUsed": count * events_per_job,
            },
        )
        return dataset["datasetID"]

    def _known_files(self, name: str, own_task: int) -> list[dict] | None:
        """The files of a dataset (or container) that exists in the state, None when unknown."""
        candidates = self.datasets.find("by_name", name) + self.datasets.find("by_container", name)
        if not name.endswith("/"):
            candidates += self.datasets.find("by_container", name + "/")
        candidates = [d for d in candidates if d["jediTaskID"] != own_task and d.get("type") in ("input", "output")]
        if not candidates:
            return None
        files: list[dict] = []
        seen: set[str] = set()
        for dataset in sorted(candidates, key=lambda d: d["datasetID"]):
            for row in sorted(self.files.find("by_dataset", dataset["datasetID"]), key=lambda r: r["fileID"]):
                if dataset["type"] == "output" and row.get("status") != "finished":
                    continue
                if row["lfn"] in seen:
                    continue
                seen.add(row["lfn"])
                files.append(row)
        return files

    def _input_dataset(
        self, task: Mapping, params: Mapping, name: str, now: _dt.datetime, master_id: int | None, index: int
    ) -> int:
        task_id = task["jediTaskID"]
        known = self._known_files(name, task_id)
        rng = self.engine.random
        if known is None:
            n_files = (
                params.get("nFiles")
                if _is_int(params.get("nFiles")) and params["nFiles"] > 0
                else jedi.DEFAULT_INPUT_FILES
            )
            n_files = min(n_files, jedi.MAX_JOBS_PER_TASK)
            clean = name.rstrip("/")
            fields = clean.split(".")
            data_type = fields[4] if len(fields) > 5 else (fields[-1] if len(fields) > 1 else "data")
            tid_match = re.search(r"_tid(\d+)", clean)
            parent = (
                int(tid_match.group(1))
                if tid_match
                else 10_000_000 + int.from_bytes(clean.encode()[:3].ljust(3, b"\0"), "big")
            )
            scope = _scope_of(clean)
            split = jedi.split_of(params)
            known = [
                {
                    "lfn": f"{data_type}.{parent:08d}._{serial:06d}.pool.root.1",
                    "GUID": make_guid(rng),
                    "fsize": make_file_size(rng, (200_000_000, 2_000_000_000)),
                    "checksum": make_checksum(rng),
                    "scope": scope,
                    "nEvents": split.events_per_file,
                }
                for serial in range(1, n_files + 1)
            ]
        elif _is_int(params.get("nFiles")) and params["nFiles"] > 0:
            known = known[: params["nFiles"]]
        dataset = self._new_dataset(
            task,
            name.rstrip("/") if not name.endswith("/") else name.rstrip("/"),
            name if name.endswith("/") else None,
            "input",
            "IN" if master_id is None else f"IN{index}",
            now,
            masterID=master_id,
        )
        self._add_rows(task, params, dataset, known, now)
        return dataset["datasetID"]

    def _output_dataset(
        self, task: Mapping, name: str, kind: str, stream: str, now: _dt.datetime, item: Mapping
    ) -> None:
        task_id = task["jediTaskID"]
        full = jedi.dataset_name(name, task_id)
        container = item.get("container") or (name if name.endswith("/") else None)
        token = item.get("token")
        self._new_dataset(
            task,
            full,
            jedi.container_name(container, task_id) if isinstance(container, str) else None,
            kind,
            stream,
            now,
            storageToken=token,
            destination=item.get("destination"),
            templateID=None,
        )

    # ------------------------------------------------------------------------------------------
    # data carousel (inputPreStaging)
    # ------------------------------------------------------------------------------------------
    def _stage_inputs(self, task: Mapping) -> bool:
        """A task whose inputs are on tape waits in ``staging`` for its data-carousel requests."""
        task_id = task["jediTaskID"]
        names = [d["datasetName"] for d in self.datasets.find("by_task", task_id) if d.get("type") == "input"]
        carousel = getattr(self.engine, "carousel", None)
        if not names or carousel is None:
            return False
        carousel.request_staging(task_id, names)
        self._move(task_id, "staging")
        return True

    def inputs_staged(self, task_id: int) -> None:
        """Called by the data carousel when every staging request of the task is done."""
        task = self.table.get(task_id)
        if task is None or task["status"] != "staging":
            return
        self._move(task_id, "staged")
        self.engine.schedule("task_step", "task_step", jediTaskID=task_id)

    # ------------------------------------------------------------------------------------------
    # job generation
    # ------------------------------------------------------------------------------------------
    def _generate_due(self, jediTaskID: int) -> None:  # noqa: N803
        if self.runtime.get(jediTaskID) is not None:
            self.runtime.update(jediTaskID, {"generatePending": False})
        task = self.table.get(jediTaskID)
        if task is None or task["status"] not in GENERATING:
            return
        self._generate(jediTaskID)
        self._check_completion(jediTaskID)

    def _candidate_queues(self, task: Mapping, params: Mapping) -> list[dict]:
        site = task.get("site")
        world = self.engine.world
        if site:
            queue = world.queue(site)
            return [queue] if queue is not None else []
        analysis = task.get("taskType") == "anal" or task.get("prodSourceLabel") == "user"
        queues = queues_for(
            self.engine,
            analysis=analysis,
            event_service=bool(task.get("eventService")),
            core_count=task.get("coreCount") or 1,
        )
        queues = [queue for queue in queues if queue.get("status") == "online"]
        included = set(jedi.site_list(params.get("includedSite")))
        excluded = set(jedi.site_list(params.get("excludedSite")))
        if included:
            queues = [q for q in queues if q["sitename"] in included or q.get("pandasite") in included]
        if excluded:
            queues = [q for q in queues if q["sitename"] not in excluded and q.get("pandasite") not in excluded]
        cloud = task.get("cloud")
        if cloud and cloud != "WORLD":
            in_cloud = [q for q in queues if q.get("cloud") == cloud]
            queues = in_cloud or queues
        return sorted(queues, key=lambda q: q["sitename"])

    def _generate(self, task_id: int, scouts: bool = False) -> list[dict]:
        """JEDI's job generator: jobs for the task's ready input rows (``nFilesPerJob`` each)."""
        task = self.table.get(task_id)
        rows = sorted(self._rows(task_id, "ready"), key=lambda row: row["fileID"])
        if not rows:
            return []
        params = self._params_of(task_id)
        queues = self._candidate_queues(task, params)
        if not queues:
            self._touch(task_id, {"errorDialog": "no online PanDA queue can run the jobs of this task"})
            return []
        runtime = self._runtime(task_id)
        split = jedi.split_of(params)
        groups = list(jedi.chunked(rows, 1 if split.events_per_job else split.files_per_job))
        datasets = {d["datasetID"]: d for d in self.datasets.find("by_task", task_id)}
        outputs = [d for d in datasets.values() if d.get("type") in ("output", "log")]
        templates = {str(item.get("dataset")): item for item in jedi.output_items(params)}
        log_item = params.get("log") if isinstance(params.get("log"), Mapping) else None
        n_scouts = jedi.DEFAULT_SCOUT_JOBS if scouts else 0
        if _is_int(params.get("nScoutJobs")):
            n_scouts = params["nScoutJobs"] if scouts else 0
        serial = runtime["nextSerial"]
        jobset = runtime.get("jobsetID")
        analysis = task.get("taskType") == "anal" or task.get("prodSourceLabel") == "user"
        if analysis and jobset is None:
            jobset = self.engine.ids.next("jobsetID")
        rng = self.engine.random
        owner_dn = runtime.get("dn")
        specs = []
        ranges: list[dict] = []
        file_updates: list[tuple[int, dict]] = []
        for index, group in enumerate(groups):
            queue = queues[0] if len(queues) == 1 else queues[rng.randrange(len(queues))]
            panda_id = self.engine.ids.next("PandaID")
            job, job_ranges = self._job_spec(
                task, params, group, datasets, outputs, templates, log_item, queue, panda_id, serial, jobset,
                owner_dn, scout=index < n_scouts,
            )  # fmt: skip
            specs.append(job)
            ranges.extend(job_ranges)
            for row in group:
                file_updates.append(
                    (
                        row["fileID"],
                        {
                            "status": "running",
                            "PandaID": panda_id,
                            "attemptNr": (row.get("attemptNr") or 0) + 1,
                            "proc_status": "queued",
                            "lastAttemptTime": self._now(),
                        },
                    )
                )
            serial += 1
        for file_id, changes in file_updates:
            self.files.update(file_id, changes)
        self.runtime.update(
            task_id,
            {"nextSerial": serial, "jobsetID": jobset, "scouts": runtime.get("scouts", 0) + min(n_scouts, len(groups))},
        )
        stored = self.jobs.create_jobs(specs, status="defined")
        events = self.engine.store.table("event_ranges")
        for record in ranges:
            events.insert(record, owned=True)
        for dataset in datasets.values():
            if dataset.get("type") in INPUT_TYPES:
                used = dataset["nFiles"] - self.files.count("by_dataset_status", (dataset["datasetID"], "ready"))
                self.datasets.update(
                    dataset["datasetID"], {"nFilesUsed": used, "status": "ready", "modificationTime": self._now()}
                )
            elif dataset.get("status") == "defined":
                self.datasets.update(dataset["datasetID"], {"status": "running", "modificationTime": self._now()})
        self._touch(task_id)
        if task["status"] == "paused":
            self._throttle(task_id)
        return stored

    def _job_spec(
        self,
        task: Mapping,
        params: Mapping,
        group: Sequence[Mapping],
        datasets: Mapping[int, Mapping],
        outputs: Sequence[Mapping],
        templates: Mapping[str, Mapping],
        log_item: Mapping | None,
        queue: Mapping,
        panda_id: int,
        serial: int,
        jobset: int | None,
        owner_dn: str | None,
        scout: bool,
    ) -> tuple[dict, list[dict]]:
        """One job of the task (JobSpec attributes + ``Files``) and its event ranges."""
        task_id = task["jediTaskID"]
        rng = self.engine.random
        now = self._now()
        attempt = max((row.get("attemptNr") or 0) for row in group) + 1
        inputs = [row for row in group if row.get("type") == "input"]
        events = sum(row.get("nEvents") or 0 for row in group)
        first = group[0]
        files: list[dict] = []
        in_lfns = []
        for row in inputs:
            dataset = datasets.get(row["datasetID"]) or {}
            in_lfns.append(row["lfn"])
            files.append(
                {
                    "PandaID": panda_id,
                    "GUID": row.get("GUID"),
                    "lfn": row["lfn"],
                    "type": "input",
                    "dataset": dataset.get("datasetName"),
                    "status": "ready",
                    "prodDBlock": dataset.get("datasetName"),
                    "prodDBlockToken": None,
                    "dispatchDBlock": None,
                    "fsize": row.get("fsize") or 0,
                    "checksum": row.get("checksum"),
                    "scope": row.get("scope"),
                    "jediTaskID": task_id,
                    "datasetID": row["datasetID"],
                    "fileID": row["fileID"],
                    "attemptNr": attempt,
                }
            )
        values = {
            "TASKID": task_id,
            "SN": serial,
            "SURL": params.get("sourceURL") or "",
            "IN": in_lfns,
            "MAXEVENTS": events,
            "SKIPEVENTS": first.get("startEvent") or 0,
            "FIRSTEVENT": first.get("firstEvent") or 1,
            "SEQNUMBER": serial,
            "RNDMSEED": serial,
        }
        ddm = queue.get("ddm_endpoints_output") or []
        endpoint = ddm[0] if ddm else (queue.get("ddm_output") or queue.get("ddm") or "UNKNOWN_DATADISK")
        destination_block = None
        for dataset in outputs:
            kind = dataset["type"]
            if kind == "log":
                template = (log_item or {}).get("value") or f"log.{task_id}._${{SN/P}}.job.log.tgz"
            else:
                item = self._template_for(dataset, templates, task_id)
                template = (item or {}).get("value") or f"{dataset['datasetName']}._${{SN/P}}"
            lfn = jedi.render(str(template), values)
            if kind != "log" and "=" in lfn and lfn.startswith("-"):
                lfn = lfn.split("=", 1)[1]
            file_id = self.engine.ids.next("fileID")
            guid = make_guid(rng)
            sub = sub_dataset_name(dataset["datasetName"], panda_id)
            destination_block = destination_block or (sub if kind == "output" else None)
            files.append(
                {
                    "PandaID": panda_id,
                    "GUID": guid,
                    "lfn": lfn,
                    "type": kind,
                    "dataset": dataset["datasetName"],
                    "status": "unknown",
                    "destinationDBlock": sub,
                    "destinationDBlockToken": f"dst:{endpoint}",
                    "destinationSE": queue["sitename"],
                    "scope": _scope_of(dataset["datasetName"]),
                    "jediTaskID": task_id,
                    "datasetID": dataset["datasetID"],
                    "fileID": file_id,
                    "attemptNr": 0,
                }
            )
            self.files.insert(
                records.new_dataset_file(
                    {
                        "jediTaskID": task_id,
                        "datasetID": dataset["datasetID"],
                        "fileID": file_id,
                        "creationDate": now,
                        "lfn": lfn,
                        "GUID": guid,
                        "type": kind,
                        "status": "defined",
                        "scope": _scope_of(dataset["datasetName"]),
                        "attemptNr": 0,
                        "maxAttempt": 1,
                        "keepTrack": 1,
                        "PandaID": panda_id,
                        "outPandaID": panda_id,
                        "failedAttempt": 0,
                        "proc_status": "ready",
                    }
                ),
                owned=True,
            )
            self.datasets.update(
                dataset["datasetID"], {"nFiles": (self.datasets.get(dataset["datasetID"])["nFiles"] or 0) + 1}
            )
        cores = task.get("coreCount") or 1
        ram = (task.get("baseRamCount") or 0) + (task.get("ramCount") or 2000) * (
            cores if (task.get("ramUnit") or "MBPerCore").endswith("PerCore") else 1
        )
        ram = min(ram, queue.get("maxrss") or ram) if queue.get("maxrss") else ram
        event_service = bool(task.get("eventService"))
        cloning = jedi.split_rule_value(task.get("splitRule"), "UC")
        special = []
        if scout:
            special.append("sj")
        if event_service:
            special.append("es")
        if cloning:
            special.append(f"sc:{cloning}")
        es_jobset = self.engine.ids.next("jobsetID") if event_service else None
        job = {
            "PandaID": panda_id,
            "jobDefinitionID": self.engine.ids.next("jobDefinitionID"),
            "creationHost": "aipanda161.cern.ch-jedi",
            "AtlasRelease": task.get("transUses"),
            "transformation": task.get("transPath"),
            "homepackage": task.get("transHome"),
            "prodSeriesLabel": "pandatest",
            "prodSourceLabel": task.get("prodSourceLabel"),
            "prodUserID": owner_dn,
            "prodUserName": task.get("userName"),
            "assignedPriority": task.get("currentPriority"),
            "currentPriority": task.get("currentPriority"),
            "attemptNr": attempt,
            "maxAttempt": max((row.get("maxAttempt") or 1) for row in group),
            "jobName": f"{task['taskName'].rstrip('/')}.{panda_id}",
            "maxCpuCount": task.get("walltime") or 0,
            "maxCpuUnit": "kSI2kseconds",
            "maxDiskCount": task.get("workDiskCount") or 0,
            "maxDiskUnit": "MB",
            "minRamCount": ram,
            "minRamUnit": "MB",
            "computingSite": queue["sitename"],
            "prodDBlock": files[0]["dataset"] if inputs else None,
            "destinationDBlock": destination_block,
            "destinationSE": queue["sitename"],
            "taskID": task_id,
            "cmtConfig": task.get("architecture"),
            "lockedby": "jedi",
            "VO": task.get("vo"),
            "workingGroup": task.get("workingGroup"),
            "processingType": task.get("processingType"),
            "nInputFiles": len(inputs),
            "nInputDataFiles": len(inputs),
            "inputFileBytes": sum(row.get("fsize") or 0 for row in inputs),
            "coreCount": cores,
            "jobsetID": es_jobset if event_service else jobset,
            "reqID": task.get("reqID"),
            "jediTaskID": task_id,
            "nucleus": task.get("nucleus"),
            "eventService": ES_JOB if event_service else (JOB_CLONING if cloning else None),
            "specialHandling": ",".join(special) or None,
            "gshare": task.get("gshare"),
            "resource_type": resource_type_for(self.engine, cores, ram),
            "maxWalltime": task.get("walltime"),
            "container_name": task.get("container_name"),
            "jobParameters": jedi.job_parameters(params.get("jobParameters") or [], values),
            "Files": files,
        }
        ranges: list[dict] = []
        if event_service and inputs:
            row = inputs[0]
            per_range = (
                params.get("nEventsPerRange")
                if _is_int(params.get("nEventsPerRange")) and params["nEventsPerRange"] > 0
                else 1
            )
            count = min(max(math.ceil((row.get("nEvents") or 1) / per_range), 1), jedi.MAX_RANGES_PER_JOB)
            start = row.get("startEvent") or 0
            for i in range(count):
                low = start + i * per_range
                high = min(low + per_range, start + (row.get("nEvents") or per_range)) - 1
                attempt_nr = 10
                ranges.append(
                    records.new_event_range(
                        {
                            "eventRangeID": records.event_range_id(
                                task_id, es_jobset, row["fileID"], i + 1, attempt_nr
                            ),
                            "jediTaskID": task_id,
                            "PandaID": es_jobset,
                            "fileID": row["fileID"],
                            "job_processID": i + 1,
                            "attemptNr": attempt_nr,
                            "status": "ready",
                            "def_min_eventID": low,
                            "def_max_eventID": high,
                            "datasetID": row["datasetID"],
                            "jobsetID": es_jobset,
                            "event_offset": es_jobset,
                            "LFN": row["lfn"],
                            "GUID": row.get("GUID"),
                            "scope": row.get("scope"),
                        }
                    )
                )
        return job, ranges

    @staticmethod
    def _template_for(dataset: Mapping, templates: Mapping[str, Mapping], task_id: int) -> Mapping | None:
        for name, item in templates.items():
            if jedi.dataset_name(name, task_id) == dataset["datasetName"]:
                return item
        return None

    # ------------------------------------------------------------------------------------------
    # job ends: inputs, outputs, retries, completion
    # ------------------------------------------------------------------------------------------
    def _job_final(self, job: Mapping, previous: str) -> None:
        """:attr:`Jobs.final_callbacks` hook: JEDI's view of a job that ended."""
        task_id = job.get("jediTaskID")
        if task_id is None:
            return
        task = self.table.get(task_id)
        if task is None:
            return
        managed = self.runtime.get(task_id) is not None
        status = job["jobStatus"]
        panda_id = job["PandaID"]
        rows = [
            row
            for row in self.files.find("by_panda", panda_id)
            if row.get("type") in INPUT_TYPES and row.get("status") == "running"
        ]
        reassigned = status == "closed" and job.get("jobSubStatus") in ("toreassign",)
        stopping = task["status"] in ("aborting", "toabort", "finishing", "passed") or task["status"] in TASK_FINAL
        retry_later = False
        now = self._now()
        for row in rows:
            if status == "finished":
                changes = {"status": "finished", "proc_status": "done"}
            elif reassigned and not stopping:
                changes = {
                    "status": "ready",
                    "proc_status": "ready",
                    "attemptNr": max((row.get("attemptNr") or 1) - 1, 0),
                }
                retry_later = True
            elif (row.get("attemptNr") or 0) < (row.get("maxAttempt") or 0) and not stopping and managed:
                changes = {
                    "status": "ready",
                    "proc_status": "ready",
                    "failedAttempt": (row.get("failedAttempt") or 0) + 1,
                }
                retry_later = True
            else:
                changes = {
                    "status": "failed",
                    "proc_status": "done",
                    "failedAttempt": (row.get("failedAttempt") or 0) + 1,
                }
            changes["lastAttemptTime"] = now
            self.files.update(row["fileID"], changes)
        by_id = {file.get("fileID"): file for file in job.get("Files") or ()}
        rng = self.engine.random
        for row in self.files.find("by_panda", panda_id):
            if row.get("type") not in ("output", "log") or row.get("status") != "defined":
                continue
            if status == "finished":
                spec = by_id.get(row["fileID"]) or {}
                size = spec.get("fsize") or make_file_size(
                    rng, (1_000_000, 500_000_000) if row["type"] == "output" else (1_500_000, 9_000_000)
                )
                checksum = spec.get("checksum") or make_checksum(rng)
                self.files.update(row["fileID"], {"status": "finished", "fsize": size, "checksum": checksum})
            else:
                self.files.update(row["fileID"], {"status": "failed"})
        self._count(task_id)
        if retry_later and task["status"] in GENERATING:
            self._schedule_generate(task_id)
        if managed or task["status"] in ("aborting", "finishing"):
            self._check_completion(task_id)

    def _count(self, task_id: int) -> None:
        """Dataset counters and the task's progress and failure rate."""
        total = finished = failed = 0
        now = self._now()
        for dataset in self.datasets.find("by_task", task_id):
            dataset_id = dataset["datasetID"]
            n_finished = self.files.count("by_dataset_status", (dataset_id, "finished"))
            n_failed = self.files.count("by_dataset_status", (dataset_id, "failed"))
            changes = {"nFilesFinished": n_finished, "nFilesFailed": n_failed, "modificationTime": now}
            if dataset.get("type") in INPUT_TYPES:
                changes["nFilesUsed"] = dataset["nFiles"] - self.files.count("by_dataset_status", (dataset_id, "ready"))
                if dataset.get("masterID") is None:
                    total += dataset.get("nFiles") or 0
                    finished += n_finished
                    failed += n_failed
            self.datasets.update(dataset_id, changes)
        if total:
            self._touch(task_id, {"progress": int(100 * finished / total), "failureRate": int(100 * failed / total)})

    def _check_completion(self, task_id: int) -> None:
        """What JEDI does once a task has no active job: post-processing, the end of a kill or finish."""
        task = self.table.get(task_id)
        if task is None or self._active_jobs(task_id):
            return
        status = task["status"]
        if status == "aborting":
            self._move(task_id, "toabort")
            self._schedule_completion(task_id)
        elif status == "finishing":
            self._move(task_id, "passed")
            self._schedule_completion(task_id)
        elif status in COMPLETING and not self._row_count(task_id, "ready"):
            if self.runtime.get(task_id) is not None and not self._runtime(task_id).get("generatePending"):
                self._schedule_completion(task_id)

    def _complete_due(self, jediTaskID: int) -> None:  # noqa: N803
        if self.runtime.get(jediTaskID) is not None:
            self.runtime.update(jediTaskID, {"completePending": False})
        task = self.table.get(jediTaskID)
        if task is None or self._active_jobs(jediTaskID):
            return
        status = task["status"]
        if status == "toabort":
            self._move(jediTaskID, "aborted", {"oldStatus": None})
            self._close_datasets(jediTaskID)
            return
        finished, failed, waiting = self._input_counts(jediTaskID)
        if status == "passed":
            target = "done" if not failed and not waiting else ("failed" if not finished else "finished")
            self._move(jediTaskID, "prepared")
            self._move(jediTaskID, target, {"oldStatus": None})
            self._close_datasets(jediTaskID)
            return
        if status not in COMPLETING or waiting:
            return
        if failed and finished and task.get("prodSourceLabel") in PRODUCTION_LABELS:
            self._move(jediTaskID, "exhausted", {"oldStatus": status})
            return
        target = "done" if not failed else ("failed" if not finished else "finished")
        self._move(jediTaskID, "prepared")
        self._move(jediTaskID, target, {"oldStatus": None})
        self._close_datasets(jediTaskID)

    def _input_counts(self, task_id: int) -> tuple[int, int, int]:
        """(finished, failed, waiting) input rows of the task's master dataset(s)."""
        finished = failed = waiting = 0
        for dataset in self.datasets.find("by_task", task_id):
            if dataset.get("type") not in INPUT_TYPES or dataset.get("masterID") is not None:
                continue
            dataset_id = dataset["datasetID"]
            finished += self.files.count("by_dataset_status", (dataset_id, "finished"))
            failed += self.files.count("by_dataset_status", (dataset_id, "failed"))
            waiting += self.files.count("by_dataset_status", (dataset_id, "ready")) + self.files.count(
                "by_dataset_status", (dataset_id, "running")
            )
        return finished, failed, waiting

    def _close_datasets(self, task_id: int) -> None:
        now = self._now()
        for dataset in self.datasets.find("by_task", task_id):
            if dataset.get("type") in ("output", "log"):
                self.datasets.update(
                    dataset["datasetID"], {"status": "done", "state": "closed", "modificationTime": now}
                )
            elif dataset.get("type") in INPUT_TYPES:
                self.datasets.update(dataset["datasetID"], {"status": "done", "modificationTime": now})

    # ------------------------------------------------------------------------------------------
    # commands (task/kill, finish, retry, reload_input, reassign, pause, resume, avalanche, release)
    # ------------------------------------------------------------------------------------------
    def command(
        self,
        task_id: int,
        command: str,
        dn: str,
        production: bool,
        comment: str | None = None,
        qualifier: str | None = None,
        broadcast: bool = False,
    ) -> tuple[int, str]:
        """``sendCommandTaskPanda``: check the status and register the command; ``(code, message)``."""
        with self.engine.operation():
            task = self.table.get(task_id)
            if task is None:
                return jedi.CODE_NOT_FOUND, jedi.not_found_message(task_id)
            with_site = command == "reassign" and bool(comment) and str(comment).startswith("site:")
            code, message = jedi.command_check(
                command, task["status"], production, task.get("prodSourceLabel"), with_site
            )
            if code != jedi.CODE_OK:
                return code, message
            self._register_command(task_id, command, dn, comment=comment, qualifier=qualifier, broadcast=broadcast)
            return jedi.CODE_OK, jedi.registered_message(command, task_id)

    def _register_command(
        self,
        task_id: int,
        command: str,
        dn: str | None,
        comment: str | None = None,
        qualifier: str | None = None,
        broadcast: bool = False,
    ) -> None:
        record = {
            "jediTaskID": task_id,
            "command": command,
            "owner": clean_user_id(dn) if dn else None,
            "comment": comment,
            "qualifier": qualifier,
            "broadcast": broadcast,
            "status": "new",
            "creationTime": self._now(),
            "message": None,
        }
        self.commands.put(record)
        self._runtime(task_id)
        self.engine.schedule("task_command", "task_command", jediTaskID=task_id)

    def _command_due(self, jediTaskID: int) -> None:  # noqa: N803
        record = self.commands.get(jediTaskID)
        task = self.table.get(jediTaskID)
        if record is None or record["status"] != "new" or task is None:
            return
        command = record["command"]
        rule = jedi.COMMANDS[command]
        if task["status"] not in rule.rechecked:
            self.commands.update(jediTaskID, {"status": "failed", "message": f"{command} failed"})
            return
        handler = getattr(self, f"_apply_{command}")
        handler(task, record)
        self.commands.update(jediTaskID, {"status": "done", "message": f"{command} done"})

    def _doing(self, task: Mapping, command: str, target: str, changes: Mapping | None = None) -> dict:
        old = jedi.old_status_on_doing(command, task["status"], task.get("oldStatus"))
        values = {"oldStatus": old}
        values.update(changes or {})
        return self._move(task["jediTaskID"], target, values, reason=f"task command {command}")

    def _job_ids(self, task_id: int, statuses: Iterable[str]) -> list[int]:
        ids: list[int] = []
        for status in statuses:
            ids.extend(self.jobs.table.ids("by_task_status", (task_id, status)))
        return sorted(ids)

    def _kill_jobs(self, task_id: int, code: int, statuses: Iterable[str], comment: str | None = None) -> None:
        ids = self._job_ids(task_id, statuses)
        if ids:
            self.jobs.kill(ids, comment or "JEDI", code, True)

    def _apply_kill(self, task: Mapping, record: Mapping) -> None:
        task_id = task["jediTaskID"]
        self._doing(task, "kill", "aborting", {"errorDialog": "aborted by user"})
        self._kill_jobs(task_id, 50, NOT_FINAL, record.get("comment"))
        self._check_completion(task_id)

    def _apply_finish(self, task: Mapping, record: Mapping) -> None:
        task_id = task["jediTaskID"]
        self._doing(task, "finish", "finishing")
        soft = "soft" in str(record.get("qualifier") or "")
        self._kill_jobs(task_id, 52, QUEUED_JOBS if soft else NOT_FINAL, record.get("comment"))
        for row in self._rows(task_id, "ready"):
            self.files.update(row["fileID"], {"status": "cancelled", "proc_status": "done"})
        self._check_completion(task_id)

    def _apply_retry(self, task: Mapping, record: Mapping) -> None:
        task_id = task["jediTaskID"]
        status = task["status"]
        back = "ready"
        if status == "exhausted" and task.get("oldStatus") in ("running", "scouting"):
            back = "running" if task.get("activatedTime") is not None else task["oldStatus"]
        self._doing(task, "retry", "toretry", {"errorDialog": None, "attemptNr": (task.get("attemptNr") or 0) + 1})
        self._reset_failed(task_id, RETRY_ATTEMPTS)
        self.runtime.update(task_id, {"retryTo": back})
        self.engine.schedule("task_step", "task_step", jediTaskID=task_id)

    def _reset_failed(self, task_id: int, extra_attempts: int) -> int:
        """Failed and cancelled input rows get ``extra_attempts`` more attempts and wait for a job."""
        count = 0
        for status in ("failed", "cancelled"):
            for row in self._rows(task_id, status):
                attempts = max(row.get("maxAttempt") or 0, row.get("attemptNr") or 0) + extra_attempts
                self.files.update(
                    row["fileID"],
                    {"status": "ready", "proc_status": "ready", "maxAttempt": attempts, "maxFailure": attempts},
                )
                count += 1
        for dataset in self.datasets.find("by_task", task_id):
            if dataset.get("type") in ("output", "log") and dataset.get("status") == "done":
                self.datasets.update(dataset["datasetID"], {"status": "running", "state": "open"})
        self._count(task_id)
        return count

    def _apply_incexec(self, task: Mapping, record: Mapping) -> None:
        task_id = task["jediTaskID"]
        self._doing(task, "incexec", "toincexec", {"errorDialog": None})
        params = self._params_of(task_id)
        try:
            comment = json.loads(record.get("comment") or "[{}, []]")
            new_params = comment[0] if isinstance(comment, list) and comment and isinstance(comment[0], dict) else {}
        except (TypeError, ValueError):
            new_params = {}
        for key in ("nFiles", "fixedSandbox"):
            params.pop(key, None)
        for key, value in new_params.items():
            if value is None:
                params.pop(key, None)
            else:
                params[key] = value
        self._store_params(task_id, params)
        self._reload_inputs(self.table.get(task_id), params)
        self._reset_failed(task_id, RETRY_ATTEMPTS)
        self._move(task_id, "rerefine")
        back = "running" if self.table.get(task_id).get("activatedTime") is not None else "ready"
        self.runtime.update(task_id, {"retryTo": "ready" if back == "ready" else "running"})
        self.engine.schedule("task_step", "task_step", jediTaskID=task_id)

    def _reload_inputs(self, task: Mapping, params: Mapping) -> None:
        """Input datasets are scanned again: files that appeared since become new input rows."""
        task_id = task["jediTaskID"]
        now = self._now()
        for dataset in self.datasets.find("by_task", task_id):
            if dataset.get("type") != "input":
                continue
            name = dataset.get("containerName") or dataset["datasetName"]
            known = self._known_files(name, task_id) or []
            present = {row["lfn"] for row in self.files.find("by_dataset", dataset["datasetID"])}
            new = [file for file in known if file["lfn"] not in present]
            if new:
                before = dataset.get("nFiles") or 0
                added = self._add_rows(task, params, dataset, new, now)
                self.datasets.update(dataset["datasetID"], {"nFiles": before + added, "nFilesToBeUsed": before + added})

    def _apply_reassign(self, task: Mapping, record: Mapping) -> None:
        task_id = task["jediTaskID"]
        comment = str(record.get("comment") or "")
        items = comment.split(":")
        kind = items[0] if items else "cloud"
        value = items[1] if len(items) > 1 else None
        back_now = len(items) > 2 and items[2] == "y"
        old = jedi.old_status_on_doing("reassign", task["status"], task.get("oldStatus"))
        self._doing(task, "reassign", "toreassign")
        if "nokill reassign" not in comment:
            soft = "soft reassign" in comment
            self._kill_jobs(task_id, 51, QUEUED_JOBS if soft else NOT_FINAL, comment)
        changes: dict[str, Any] = {"errorDialog": None}
        if kind == "site":
            changes["site"] = value
        elif kind == "nucleus":
            changes["nucleus"] = value
        else:
            changes["cloud"] = value
        back = old if old in TASK.moves.get("toreassign", ()) else "ready"
        if back_now:
            changes["oldStatus"] = None
            self._move(task_id, back, changes)
            self._after_resume(task_id)
        else:
            self._move(task_id, "reassigning", changes)
            self.runtime.update(task_id, {"reassignTo": back if back in TASK.moves.get("reassigning", ()) else "ready"})
            self.engine.schedule("task_step", "task_step", jediTaskID=task_id)

    def _apply_pause(self, task: Mapping, record: Mapping) -> None:
        task_id = task["jediTaskID"]
        self._doing(task, "pause", "paused")
        self._throttle(task_id)
        self.engine.schedule("task_pause_sweep", "job_activation", jediTaskID=task_id)

    def _throttle(self, task_id: int) -> None:
        for panda_id in self._job_ids(task_id, ("activated",)):
            self.jobs.move(panda_id, "throttled", reason="task paused")

    def _pause_sweep_due(self, jediTaskID: int) -> None:  # noqa: N803
        """Jobs activated after the pause (they were still defined then) are throttled too."""
        task = self.table.get(jediTaskID)
        if task is not None and task["status"] == "paused":
            self._throttle(jediTaskID)
            if self._job_ids(jediTaskID, ("defined", "assigned", "pending")):
                self.engine.schedule("task_pause_sweep", "job_activation", jediTaskID=jediTaskID)

    def _apply_resume(self, task: Mapping, record: Mapping) -> None:
        task_id = task["jediTaskID"]
        status = task["status"]
        if status == "staging":
            self._move(task_id, "staged")
            self.engine.schedule("task_step", "task_step", jediTaskID=task_id)
            return
        back = task.get("oldStatus") or "running"
        if back not in TASK.moves.get(status, ()):
            back = "ready" if "ready" in TASK.moves.get(status, ()) else status
        self._move(task_id, back, {"oldStatus": None}, reason="task command resume")
        for panda_id in self._job_ids(task_id, ("throttled",)):
            self.jobs.move(panda_id, "activated", reason="task resumed")
        self._after_resume(task_id)

    def _apply_avalanche(self, task: Mapping, record: Mapping) -> None:
        task_id = task["jediTaskID"]
        self._touch(task_id, {"walltimeUnit": "ava"})
        self._move(task_id, "running", reason="task command avalanche")
        if self._row_count(task_id, "ready"):
            self._schedule_generate(task_id)

    def _apply_release(self, task: Mapping, record: Mapping) -> None:
        task_id = task["jediTaskID"]
        carousel = getattr(self.engine, "carousel", None)
        if carousel is not None:
            carousel.release(task_id)
        now = self._now()
        for dataset in self.datasets.find("by_task", task_id):
            if dataset.get("type") == "input":
                self.datasets.update(
                    dataset["datasetID"], {"status": "ready", "state": "closed", "modificationTime": now}
                )
        self._touch(task_id)

    # ------------------------------------------------------------------------------------------
    # task/retry (with its special cases)
    # ------------------------------------------------------------------------------------------
    def retry(
        self,
        task_id: int,
        dn: str,
        production: bool,
        fqans: Sequence[str] = (),
        new_parameters: Mapping | None = None,
        qualifiers: Sequence[str] = (),
    ) -> tuple[Any, str]:
        """``task/retry``: ``(data, message)``. With new parameters the old ones are merged and the
        task re-submitted (codes of insertTaskParamsPanda); a running user task gets its failed jobs
        retried (data 0, or 3 with new parameters)."""
        with self.engine.operation():
            if new_parameters:
                task = self.table.get(task_id)
                if task is None:
                    return 1, "new parameter conversion failed with Task not found"
                merged = self._params_of(task_id)
                merged.update(dict(new_parameters))
                code, message = self.submit(merged, dn, production, fqans, allow_active=True)
            else:
                code, message = self.command(task_id, "retry", dn, production, qualifier=" ".join(qualifiers) or None)
            if code == jedi.CODE_RETRY_FAILED_JOBS:
                status = message
                self.retry_failed_jobs(task_id)
                return (
                    3 if new_parameters else 0
                ), f"retry has been triggered for failed jobs while the task is still {status}"
            return code, message

    def retry_failed_jobs(self, task_id: int) -> int:
        """Failed inputs of an active task get more attempts; JEDI makes new jobs for them."""
        count = self._reset_failed(task_id, RUNNING_RETRY_ATTEMPTS)
        if count and self.table.get(task_id)["status"] in GENERATING:
            self._schedule_generate(task_id)
        return count

    # ------------------------------------------------------------------------------------------
    # direct mutations
    # ------------------------------------------------------------------------------------------
    def reactivate(self, task_id: int, keep_attempt_nr: bool, trigger_job_generation: bool) -> tuple[int, str]:
        """``reactivateTask``: the task is set ``ready`` and its inputs reset, without a status
        check; an unknown task still answers code 0 (updated 0 inputs)."""
        with self.engine.operation():
            task = self.table.get(task_id)
            if task is None:
                return 0, f"updated 0 inputs and task {task_id} was reactivated "
            count = 0
            for dataset in self.datasets.find("by_task", task_id):
                if dataset.get("type") not in INPUT_TYPES:
                    continue
                for row in self.files.find("by_dataset", dataset["datasetID"]):
                    changes: dict[str, Any] = {"status": "ready", "proc_status": "ready", "PandaID": None}
                    if not keep_attempt_nr:
                        changes["attemptNr"] = 0
                        changes["failedAttempt"] = 0
                    self.files.update(row["fileID"], changes)
                    count += 1
                self.datasets.update(
                    dataset["datasetID"], {"status": "ready", "nFilesUsed": 0, "nFilesFinished": 0, "nFilesFailed": 0}
                )
            self._runtime(task_id)
            self._move(task_id, "ready", {"oldStatus": None, "errorDialog": None}, reason="task reactivated")
            self.engine.schedule("task_step", 0 if trigger_job_generation else "task_step", jediTaskID=task_id)
            return 0, f"updated {count} inputs and task {task_id} was reactivated "

    def increase_attempts(self, task_id: int, increase: int) -> tuple[int | None, str]:
        """``increaseAttemptNrPanda``: inputs get ``increase`` more attempts (failed ones whose new
        limit allows another attempt are reactivated)."""
        with self.engine.operation():
            task = self.table.get(task_id)
            if task is None:
                return 1, f"jediTaskID={task_id} not found"
            allowed = ("running", "scouting", "ready")
            if task["status"] not in allowed and task.get("oldStatus") not in allowed:
                return 2, (
                    f"command rejected since status={task['status']} or oldStatus={task.get('oldStatus')} "
                    "not in [running, scouting, ready]"
                )
            count = reactivated = 0
            for kind in INPUT_TYPES:
                for status in ("ready", "running", "failed"):
                    for row in self.files.find("by_task_type_status", (task_id, kind, status)):
                        attempts = (row.get("maxAttempt") or 0) + increase
                        changes: dict[str, Any] = {
                            "maxAttempt": attempts,
                            "maxFailure": (row.get("maxFailure") or 0) + increase,
                        }
                        if status == "failed" and (row.get("attemptNr") or 0) < attempts:
                            changes.update({"status": "ready", "proc_status": "ready"})
                            reactivated += 1
                        self.files.update(row["fileID"], changes)
                        count += 1
            if reactivated:
                self._count(task_id)
                if task["status"] in GENERATING:
                    self._schedule_generate(task_id)
            self._touch(task_id)
            return 0, f"increased attemptNr for {count} inputs ({reactivated} reactivated)"

    def kill_jobs(
        self, task_id: int, dn: str, code: int | None, production: bool, working_groups: Sequence[str]
    ) -> list[bool]:
        """``task/kill_unfinished_jobs``: ``job/kill`` of every job of the task (no kill options)."""
        with self.engine.operation():
            ids = sorted(self.jobs.table.ids("by_task", task_id))
            return self.jobs.kill(ids, dn, code, production, working_groups, [])

    def change_attribute(self, task_id: int, field: str, value: Any) -> int:
        """``changeTaskAttributePanda``: number of tasks changed (0: unknown task)."""
        with self.engine.operation():
            if self.table.get(task_id) is None:
                return 0
            changes: dict[str, Any] = {field: value}
            if field == "coreCount":
                task = self.table.get(task_id)
                ram = (task.get("baseRamCount") or 0) + (task.get("ramCount") or 0) * max(int(value or 1), 1)
                changes["resource_type"] = resource_type_for(self.engine, max(int(value or 1), 1), ram)
            if field == "modificationTime":
                self.table.update(task_id, changes)
            else:
                self._touch(task_id, changes)
            return 1

    def change_priority(self, task_id: int, priority: int) -> int:
        """``changeTaskPriorityPanda``: the task's current priority and its queued jobs'."""
        with self.engine.operation():
            if self.table.get(task_id) is None:
                return 0
            self._touch(task_id, {"currentPriority": priority})
            for panda_id in self._job_ids(task_id, QUEUED_JOBS):
                self.jobs.table.update(panda_id, {"currentPriority": priority})
            return 1

    def change_split_rule(self, task_id: int, tag: str, value: str) -> int:
        with self.engine.operation():
            task = self.table.get(task_id)
            if task is None:
                return 0
            self._touch(task_id, {"splitRule": jedi.set_split_rule(task.get("splitRule"), tag, value)})
            return 1

    def reassign_share(self, task_ids: Sequence[int], share: str, reassign_running: bool) -> tuple[int, str | None]:
        """``reassignShare``: tasks (and their queued, optionally running, jobs) move to a leaf share."""
        if share not in LEAF_SHARES:
            return 1, f"Share {share} is not a leave share "
        with self.engine.operation():
            statuses = QUEUED_JOBS + (tuple(ACTIVE_TABLE) if reassign_running else ())
            for task_id in task_ids:
                if self.table.get(task_id) is None:
                    continue
                self._touch(task_id, {"gshare": share})
                for panda_id in self._job_ids(task_id, dict.fromkeys(statuses)):
                    self.jobs.table.update(panda_id, {"gshare": share})
            return 0, None

    def enable_jumbo_jobs(self, task_id: int, total: int, per_site: int) -> tuple[int, str]:
        """``enableJumboJobs``: jumbo jobs for an event-service task (``useJumbo`` W, ``NJ``/``MJ`` in
        the split rule; 0 jumbo jobs disables them). JEDI then avalanches a scouting task."""
        with self.engine.operation():
            task = self.table.get(task_id)
            if task is None:
                return 2, "task not found"
            if not task.get("eventService"):
                return 3, "not an event service task"
            if task["status"] in TASK_FINAL:
                return 4, f"task is already {task['status']}"
            rule = task.get("splitRule")
            if total > 0:
                rule = jedi.set_split_rule(jedi.set_split_rule(rule, "NJ", str(total)), "MJ", str(per_site))
                self._touch(task_id, {"useJumbo": "W", "splitRule": rule})
                if task["status"] == "scouting":
                    self._register_command(task_id, "avalanche", None)
            else:
                rule = jedi.set_split_rule(jedi.set_split_rule(rule, "NJ", None), "MJ", None)
                self._touch(task_id, {"useJumbo": "D", "splitRule": rule})
            return 0, "done"

    def set_job_cloning(
        self, task_id: int, mode: str | None, multiplicity: int | None, num_sites: int | None
    ) -> tuple[bool, str | None]:
        """``enable_job_cloning``: new jobs of the task are clones (``sc:<mode>``)."""
        mode = mode or "runonce"
        if mode not in ("runonce", "storeonce"):
            return False, f"invalid job cloning mode: {mode}"
        with self.engine.operation():
            task = self.table.get(task_id)
            if task is None:
                return False, "task not found"
            rule = jedi.set_split_rule(task.get("splitRule"), "UC", mode)
            if multiplicity is not None:
                rule = jedi.set_split_rule(rule, "CM", str(multiplicity))
            if num_sites is not None:
                rule = jedi.set_split_rule(rule, "CS", str(num_sites))
            self._touch(task_id, {"splitRule": rule})
            return True, None

    def unset_job_cloning(self, task_id: int) -> tuple[bool, str | None]:
        with self.engine.operation():
            task = self.table.get(task_id)
            if task is None:
                return False, "task not found"
            rule = task.get("splitRule")
            for tag in ("UC", "CM", "CS"):
                rule = jedi.set_split_rule(rule, tag, None)
            self._touch(task_id, {"splitRule": rule})
            return True, None
