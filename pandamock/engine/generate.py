"""Seeded generation of a realistic PanDA world: users, tasks, datasets, files, jobs, event ranges.

Everything comes from the engine's seeded :class:`random.Random` (``engine.random``) and seeded
Faker (``engine.faker``, only for people's names) and the engine's id counters, so the same
scenario and seed give the same world, byte for byte (times are relative to the engine clock: a
fixed ``clock.start`` gives identical times too).

Two layers:

* **building blocks**, reusable by the services that create tasks and jobs at run time
  (``task/submit``, JEDI in miniature): :func:`make_guid`, :func:`make_checksum`,
  :func:`make_dn`, :func:`make_dataset_name`, :func:`make_lfn`, :func:`make_log_lfn`,
  :func:`make_file_size`, :func:`resource_type_for`, :func:`queues_for`, :func:`plan_task`
  (a task with its input/output/log datasets and input files), :func:`make_job` (a job with a
  realistic ``Files`` list, see :func:`make_job_files`), :func:`make_event_ranges`;
* **the scenario hook** :class:`Generator` (``engine.generator``), which reads a scenario's
  ``generate`` section and builds a whole world with those blocks inside the scenario's bulk
  load.

The records have PanDA's key names (see :mod:`pandamock.engine.records`); statuses and time
stamps are consistent with each other (a ``done`` task has only finished jobs, a running job has a
``startTime``, a finished event-service job's ranges are ``done``, ...).
"""

from __future__ import annotations

import datetime as _dt
import random
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import records
from .naming import clean_user_id, has_production_role, production_working_groups
from .payloads import (
    PAYLOAD_TRANSFORMATION,
    adler32_of,
    is_pilot_queue,
    payload_parameters,
    payload_settings,
    replica_bytes,
)
from .world import user_record

if TYPE_CHECKING:
    from .core import Engine
    from .ids import Ids

#: First ``attemptNr`` of a new event range (JEDI counts event attempts down; ranges with
#: ``attemptNr`` 0 are not dispatched any more).
ES_MAX_ATTEMPT = 10
#: Attempts an event-service job gets on top of its first (``EventServiceUtils.defMaxAttemptEsJob``).
ES_JOB_MAX_ATTEMPT = 3
#: ``JobSpec.eventService`` value of an event-service job.
ES_JOB_FLAG = 1

PROJECT = "mc23_13p6TeV"
CAMPAIGN = "MC23a"
#: (DSID, physics short name) of realistic MC samples.
PHYSICS: tuple[tuple[int, str], ...] = (
    (601229, "PhPy8EG_A14_ttbar_hdamp258p75_SingleLep"),
    (601237, "PhPy8EG_A14_ttbar_hdamp258p75_allhad"),
    (700320, "Sh_2211_Zee_maxHTpTV2_BFilter"),
    (700341, "Sh_2211_Wmunu_maxHTpTV2_BFilter"),
    (601190, "PhPy8EG_AZNLO_Zmumu"),
    (601481, "PhPy8EG_PDF4LHC21_ggH125_ZZ4lep"),
    (801165, "Py8EG_A14NNPDF23LO_jj_JZ2"),
    (800030, "Py8EG_A14NNPDF23LO_perf_JF17"),
)


@dataclass(frozen=True)
class Step:
    """A kind of task: what it reads and writes, its transform and software."""

    name: str  # the step in dataset names (simul, recon, deriv) or "analysis"
    input_step: str
    input_type: str
    output_type: str
    tag_letter: str
    transformation: str
    release: str
    homepackage: str
    cmt_config: str
    processing_type: str
    events_per_input_file: int
    events_per_job: int
    ram_per_core: int  # MB
    cpu_time: int  # HS06 seconds per event
    work_queue_id: int
    gshare: str
    input_size: tuple[int, int]  # bytes, per input file
    output_size_per_event: tuple[int, int]


STEPS: dict[str, Step] = {
    "simul": Step(
        "simul", "evgen", "EVNT", "HITS", "s", "Sim_tf.py", "23.0.26", "AtlasOffline/23.0.26",
        "x86_64-centos7-gcc11-opt", "simul", 10000, 1000, 2000, 180, 15, "ATLAS Sim",
        (400_000_000, 1_200_000_000), (700_000, 1_100_000),
    ),
    "recon": Step(
        "recon", "simul", "HITS", "AOD", "r", "Reco_tf.py", "24.0.53", "Athena/24.0.53",
        "x86_64-el9-gcc13-opt", "reprocessing", 2000, 2000, 2500, 60, 23, "ATLAS Reco",
        (1_500_000_000, 2_500_000_000), (250_000, 450_000),
    ),
    "deriv": Step(
        "deriv", "recon", "AOD", "DAOD_PHYS", "p", "Derivation_tf.py", "24.0.53", "Athena/24.0.53",
        "x86_64-el9-gcc13-opt", "deriv", 20000, 20000, 2000, 3, 29, "ATLAS Deriv",
        (2_000_000_000, 4_500_000_000), (20_000, 45_000),
    ),
    "analysis": Step(
        "analysis", "deriv", "DAOD_PHYS", "output.root", "", "http://pandaserver.cern.ch:25085/trf/user/runGen-00-00-02",
        "24.2.35", "AnalysisBase/24.2.35", "x86_64-el9-gcc13-opt", "panda-client-1.5.89-jedi-run", 20000, 20000,
        2000, 1, 11, "User Analysis", (300_000_000, 900_000_000), (2_000, 6_000),
    ),
    # jobs of pilot queues: the emulator's payload script, small text files that exist on disk
    "pilot": Step(
        "pilot", "evgen", "TXT", "TXT", "", PAYLOAD_TRANSFORMATION, "24.0.53", "AtlasOffline/24.0.53",
        "x86_64-el9-gcc13-opt", "pandamock", 100, 100, 500, 1, 15, "ATLAS Sim", (1_000, 64_000), (10, 10),
    ),
}  # fmt: skip

LOG_SIZE = (1_500_000, 9_000_000)

#: Task statuses of the ordinary tasks in turn (about half running).
TASK_STATUS_CYCLE = ("running", "done", "running", "finished", "running", "failed", "running", "done")
#: Job statuses of a running task's jobs in turn: every status a pilot or client meets.
RUNNING_JOB_CYCLE = (
    "running", "finished", "activated", "running", "failed", "starting", "finished", "holding",
    "sent", "running", "finished", "transferring", "activated", "cancelled", "running", "finished",
)  # fmt: skip
#: Job statuses of a running event-service task's jobs in turn.
ES_JOB_CYCLE = ("activated", "running", "finished", "activated", "sent", "running", "activated", "starting")
#: Job statuses of a final task's jobs in turn.
FINAL_JOB_CYCLES = {
    "done": ("finished",),
    "finished": ("finished", "finished", "failed", "finished", "finished", "cancelled"),
    "failed": ("failed", "finished", "failed", "failed", "closed"),
}
STARTED_JOB_STATUSES = frozenset(("starting", "running", "holding", "transferring", "finished", "failed"))
FINAL_JOB_STATUSES = frozenset(("finished", "failed", "cancelled", "closed"))

_PILOT_VERSION = "3.10.2.5"
_JEDI_HOSTS = ("aipanda161.cern.ch", "aipanda162.cern.ch", "aipanda163.cern.ch", "aipanda164.cern.ch")
_SERVER_HOSTS = ("pandaserver01.cern.ch", "pandaserver02.cern.ch", "pandaserver03.cern.ch")


#: ``workDiskCount`` (MB) of a pilot queue's task: its jobs' ``maxDiskCount`` stays small, so any
#: machine's free disk is enough for the pilot to get them.
PILOT_WORK_DISK = 10


class GenerateError(ValueError):
    """A ``generate`` section that cannot be built in this scenario's world."""


# --- ids ----------------------------------------------------------------------------------
class IdSource:
    """Counter ids for generated records: :meth:`Ids.next`, or blocks reserved up front (bulk)."""

    def __init__(self, ids: Ids) -> None:
        self.ids = ids
        self._blocks: dict[str, Iterable[int]] = {}

    def reserve(self, kind: str, count: int) -> None:
        """Take ``count`` ids of ``kind`` at once; :meth:`next` hands them out first."""
        self._blocks[kind] = iter(self.ids.reserve(kind, count))

    def next(self, kind: str) -> int:
        block = self._blocks.get(kind)
        if block is not None:
            value = next(block, None)  # type: ignore[call-overload]
            if value is not None:
                return value
            del self._blocks[kind]
        return self.ids.next(kind)


# --- names and values ---------------------------------------------------------------------
def make_guid(rng: random.Random) -> str:
    """A GUID as ATLAS writes them (upper-case UUID4)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4)).upper()


def make_checksum(rng: random.Random) -> str:
    """An adler32 checksum in PanDA's form: ``ad:`` and 8 hex digits."""
    return f"ad:{rng.getrandbits(32):08x}"


def make_file_size(rng: random.Random, low_high: tuple[int, int]) -> int:
    return rng.randint(*low_high)


def make_dn(faker: Any, rng: random.Random) -> tuple[str, str, str]:
    """A CERN user DN from a Faker name: ``(dn, nickname, full name)``, e.g.
    ``/DC=ch/DC=cern/OU=Organic Units/OU=Users/CN=jdoe/CN=123456/CN=Jane Doe``."""
    first, last = faker.first_name(), faker.last_name()
    nickname = (first[0] + last).lower().replace("'", "").replace(" ", "").replace("-", "")[:8]
    full_name = f"{first} {last}"
    dn = f"/DC=ch/DC=cern/OU=Organic Units/OU=Users/CN={nickname}/CN={rng.randint(100000, 999999)}/CN={full_name}"
    return dn, nickname, full_name


def nickname_of(dn: str) -> str:
    """The account name of a CERN DN (first ``CN=`` that is not a number): ``jdoe``."""
    for part in dn.split("/"):
        if part.startswith("CN=") and not part[3:].isdigit():
            return part[3:].split(":")[-1].strip().replace(" ", "").lower() or "user"
    return "user"


def make_tags(rng: random.Random, letters: str) -> str:
    """AMI tags of a production chain, e.g. ``e8514_s4162_r15540``."""
    ranges = {"e": (8400, 8600), "s": (4100, 4300), "r": (15200, 15600), "p": (6100, 6400)}
    return "_".join(f"{letter}{rng.randint(*ranges[letter])}" for letter in letters)


def make_dataset_name(
    project: str, dsid: int, physics: str, step: str, data_type: str, tags: str, task_id: int | None = None
) -> str:
    """An ATLAS production dataset name, e.g.
    ``mc23_13p6TeV.601229.PhPy8EG_A14_ttbar.simul.HITS.e8514_s4162_tid40123456_00`` (no ``task_id``:
    the container name)."""
    name = f"{project}.{dsid}.{physics}.{step}.{data_type}.{tags}"
    return f"{name}_tid{task_id:08d}_00" if task_id is not None else name


def make_lfn(data_type: str, task_id: int, serial: int, attempt: int = 1, extension: str = "pool.root") -> str:
    """A production file name: ``HITS.40123456._000123.pool.root.1``."""
    return f"{data_type}.{task_id:08d}._{serial:06d}.{extension}.{attempt}"


def make_log_lfn(task_id: int, serial: int, attempt: int = 1) -> str:
    """A production log file name: ``log.40123456._000123.job.log.tgz.1``."""
    return f"log.{task_id:08d}._{serial:06d}.job.log.tgz.{attempt}"


def make_user_lfn(nickname: str, task_id: int, serial: int, suffix: str) -> str:
    """A user file name: ``user.jdoe.40123456._000001.output.root``."""
    return f"user.{nickname}.{task_id:08d}._{serial:06d}.{suffix}"


def sub_dataset_name(dataset: str, panda_id: int) -> str:
    """The ``_sub`` dataset a job's outputs are first registered in."""
    return f"{dataset}_sub{panda_id % 10**10:010d}"


# --- queues and resource types ------------------------------------------------------------
def accepts(queue: Mapping, *, analysis: bool, event_service: bool, core_count: int | None = None) -> bool:
    """Whether a queue (a ``sites`` record) takes such jobs: its type, its ``jobseed``, its cores."""
    kind = queue.get("type")
    if not (queue.get("is_unified") or kind == "unified" or kind == ("analysis" if analysis else "production")):
        return False
    seed = queue.get("jobseed") or "std"
    if event_service and seed not in ("es", "all", "eshigh"):
        return False
    if not event_service and seed == "es":
        return False
    if core_count is not None:
        capability = queue.get("capability") or "score"
        cores = queue.get("coreCount") or 1
        if core_count > cores:
            return False
        if capability == "score" and core_count != 1:
            return False
        if capability == "mcore" and core_count == 1 and cores > 1:
            return False
    return True


def online_queues(engine: Engine) -> list[dict]:
    """Queues in status ``online`` (the ones pilots get jobs from), in scenario order."""
    return [queue for queue in engine.world.sites.values() if queue.get("status") == "online"]


def queues_for(engine: Engine, *, analysis: bool, event_service: bool, core_count: int | None = None) -> list[dict]:
    """Online queues compatible with such jobs; when none fits exactly, the closest ones
    (ignoring cores, then the job seed, then the type), so generation never dead-ends."""
    # pilot queues run only the emulator's payload jobs (:func:`pilot_plan`)
    regular = [queue for queue in engine.world.sites.values() if not is_pilot_queue(queue)]
    online = (
        [queue for queue in regular if queue.get("status") == "online"]
        or regular
        or online_queues(engine)
        or list(engine.world.sites.values())
    )
    for check in (
        lambda q: accepts(q, analysis=analysis, event_service=event_service, core_count=core_count),
        lambda q: accepts(q, analysis=analysis, event_service=event_service),
        lambda q: (
            accepts(q, analysis=analysis, event_service=False) or accepts(q, analysis=analysis, event_service=True)
        ),
    ):
        found = [queue for queue in online if check(queue)]
        if found:
            return found
    return online


def task_core_count(queues: Sequence[Mapping], analysis: bool) -> int:
    """Cores of a task's jobs: multi-core production where the queues allow it."""
    if analysis:
        return 1 if any((q.get("capability") or "score") != "mcore" for q in queues) else 8
    multi = [q.get("coreCount") or 1 for q in queues if (q.get("capability") or "score") in ("mcore", "ucore")]
    return min(max(multi), 8) if multi and max(multi) > 1 else 1


def resource_type_for(engine: Engine, core_count: int, ram_count: int | None) -> str:
    """PanDA's resource type (``SCORE``, ``MCORE``, ``..._HIMEM``) for cores and total RAM (MB),
    matched against the ``resource_types`` table as ``ResourceSpec.match`` does."""
    cores = max(int(core_count or 1), 1)
    per_core = (ram_count or 0) / cores
    for spec in engine.world.resource_types.values():
        if spec.get("mincore") is not None and cores < spec["mincore"]:
            continue
        if spec.get("maxcore") is not None and cores > spec["maxcore"]:
            continue
        if spec.get("minrampercore") is not None and per_core < spec["minrampercore"]:
            continue
        if spec.get("maxrampercore") is not None and per_core > spec["maxrampercore"]:
            continue
        return spec["resource_name"]
    return "MCORE" if cores > 1 else "SCORE"


def _ddm_output(queue: Mapping) -> str:
    endpoints = queue.get("ddm_endpoints_output") or []
    return endpoints[0] if endpoints else (queue.get("ddm_output") or queue.get("ddm") or "UNKNOWN_DATADISK")


def _domain(queue: Mapping) -> str:
    site = (queue.get("pandasite") or queue.get("sitename") or "site").lower().replace("_", "-")
    return f"{site}.example.org"


# --- tasks --------------------------------------------------------------------------------
@dataclass
class TaskPlan:
    """A task and what it owns: input/output/log datasets, the input files, its jobs' settings.

    :func:`plan_task` makes one; :func:`make_job` adds jobs to it. ``records()`` yields every
    record to store, as ``(table, record)``.
    """

    task: dict
    step: Step
    owner: Mapping
    nickname: str
    input_dataset: dict
    output_dataset: dict
    log_dataset: dict
    input_files: list[dict]
    queues: list[dict]
    events_per_job: int
    event_service: bool
    jobs: list[dict] = field(default_factory=list)
    output_files: list[dict] = field(default_factory=list)
    payload: dict | None = None  # a pilot queue's payload settings (step "pilot")
    event_ranges: list[dict] = field(default_factory=list)
    next_serial: int = 1
    jobset_id: int | None = None

    @property
    def analysis(self) -> bool:
        return self.step.name == "analysis"

    @property
    def task_id(self) -> int:
        return self.task["jediTaskID"]

    def records(self) -> Iterable[tuple[str, dict]]:
        yield "tasks", self.task
        for dataset in (self.input_dataset, self.output_dataset, self.log_dataset):
            yield "datasets", dataset
        for record in self.input_files:
            yield "dataset_files", record
        for record in self.output_files:
            yield "dataset_files", record
        for job in self.jobs:
            yield "jobs", job
        for event_range in self.event_ranges:
            yield "event_ranges", event_range


def _times(rng: random.Random, now: _dt.datetime, status: str) -> dict[str, _dt.datetime | None]:
    """Creation, start and end of a task in ``status``, before ``now``."""
    if status in ("done", "finished", "failed"):
        end = now - _dt.timedelta(seconds=rng.randint(3600, 5 * 86400))
        created = end - _dt.timedelta(seconds=rng.randint(6 * 3600, 6 * 86400))
    else:
        end = None
        created = now - _dt.timedelta(seconds=rng.randint(2 * 3600, 4 * 86400))
    started = created + _dt.timedelta(seconds=rng.randint(300, 3600))
    return {"created": created, "started": started, "ended": end}


def plan_task(
    engine: Engine,
    *,
    owner: Mapping,
    step: str,
    status: str,
    now: _dt.datetime | None = None,
    n_input_files: int = 1,
    events_per_job: int | None = None,
    event_service: bool = False,
    queues: Sequence[Mapping] | None = None,
    core_count: int | None = None,
    ids: IdSource | None = None,
    rng: random.Random | None = None,
    overrides: Mapping[str, Any] | None = None,
    payload: Mapping[str, Any] | None = None,
) -> TaskPlan:
    """A JEDI task (``owner``: a ``users`` record; ``step``: ``simul``, ``recon``, ``deriv``,
    ``analysis`` or ``pilot``, the emulator's payload on a pilot queue with its ``payload``
    settings) with its datasets and ``n_input_files`` input files (JEDI dataset contents).

    Nothing is stored: store ``plan.records()`` (inside an operation or a bulk load).
    """
    rng = rng or engine.random
    ids = ids or IdSource(engine.ids)
    now = now or engine.now()
    spec = STEPS[step]
    analysis = step == "analysis"
    task_id = ids.next("jediTaskID")
    if queues is None:
        queues = queues_for(engine, analysis=analysis, event_service=event_service)
    cores = core_count or task_core_count(queues, analysis)
    fitting = [q for q in queues if accepts(q, analysis=analysis, event_service=event_service, core_count=cores)]
    queues = fitting or list(queues)
    ram = spec.ram_per_core * cores
    if queues:
        ram = min(ram, min((q.get("maxrss") or ram) for q in queues) or ram)
    nickname = nickname_of(owner["dn"])
    user_name = owner.get("compact_name") or clean_user_id(owner["dn"])
    dsid, physics = PHYSICS[rng.randrange(len(PHYSICS))]
    chain = {"simul": "es", "recon": "esr", "deriv": "esrp", "analysis": "esrp", "pilot": "es"}[step]
    tags = make_tags(rng, chain)
    input_tags = "_".join(tags.split("_")[:-1]) if step != "analysis" else tags
    parent_tid = task_id - rng.randint(200_000, 3_000_000)
    events_per_job = events_per_job or spec.events_per_job
    times = _times(rng, now, status)
    production_groups = production_working_groups(owner.get("fqans") or ())
    if analysis:
        label = f"{physics.split('_')[-1].lower()}_v{rng.randint(1, 9)}"
        task_name = f"user.{nickname}.{dsid}.{label}/"
        out_container = f"user.{nickname}.{dsid}.{label}_EXT0/"
        out_name = f"user.{nickname}.{dsid}.{label}_EXT0.{task_id}"
        log_container = f"user.{nickname}.{dsid}.{label}.log/"
        log_name = f"user.{nickname}.{dsid}.{label}.log.{task_id}"
        working_group = None
        label_source = "user"
        priority = 1000
    else:
        task_name = f"{PROJECT}.{dsid}.{physics}.{step}.{tags}"
        out_container = make_dataset_name(PROJECT, dsid, physics, step, spec.output_type, tags)
        out_name = make_dataset_name(PROJECT, dsid, physics, step, spec.output_type, tags, task_id)
        log_container = make_dataset_name(PROJECT, dsid, physics, step, "log", tags)
        log_name = make_dataset_name(PROJECT, dsid, physics, step, "log", tags, task_id)
        working_group = f"GP_{production_groups[0].split('-')[-1].upper()[:4]}" if production_groups else "AP_MCGN"
        label_source = "managed"
        priority = rng.choice((700, 800, 900, 900, 950))
    in_container = make_dataset_name(PROJECT, dsid, physics, spec.input_step, spec.input_type, input_tags)
    in_name = make_dataset_name(PROJECT, dsid, physics, spec.input_step, spec.input_type, input_tags, parent_tid)
    nucleus = None if analysis else _nucleus(engine)
    split_rule = _split_rule(rng, step, events_per_job, event_service, cores)
    walltime = rng.randint(3, 30) * 100
    resource_type = resource_type_for(engine, cores, ram)
    task_values = {
        "jediTaskID": task_id,
        "taskName": task_name,
        "status": status,
        "userName": user_name,
        "creationDate": times["created"],
        "modificationTime": times["ended"] or now - _dt.timedelta(seconds=rng.randint(10, 1800)),
        "startTime": times["started"],
        "endTime": times["ended"],
        "prodSourceLabel": label_source,
        "workingGroup": working_group,
        "vo": owner.get("vo") or "atlas",
        "coreCount": cores,
        "taskType": "anal" if analysis else "prod",
        "processingType": spec.processing_type,
        "taskPriority": priority,
        "currentPriority": priority,
        "architecture": spec.cmt_config,
        "transUses": f"Atlas-{spec.release}",
        "transHome": spec.homepackage.replace("/", "-"),
        "transPath": spec.transformation,
        "splitRule": split_rule,
        "walltime": walltime,
        "outDiskCount": rng.randint(500, 3000),
        "outDiskUnit": "kB",
        "workDiskCount": rng.randint(2000, 8000),
        "workDiskUnit": "MB",
        "ramCount": ram // cores,
        "ramUnit": "MBPerCore",
        "ioIntensity": rng.randint(0, 500),
        "ioIntensityUnit": "kBPerS",
        "workQueue_ID": spec.work_queue_id,
        "progress": 0,
        "failureRate": 0,
        "reqID": None if analysis else ids.next("reqID"),
        "cloud": None if analysis else "WORLD",
        "parent_tid": None if analysis else parent_tid,
        "eventService": ES_JOB_FLAG if event_service else 0,
        "stateChangeTime": times["ended"] or times["started"],
        "superStatus": status,
        "campaign": None if analysis else CAMPAIGN,
        "goal": 1000 if not analysis else None,
        "cpuTime": spec.cpu_time,
        "cpuTimeUnit": "HS06sPerEvent",
        "baseWalltime": 0,
        "nucleus": nucleus,
        "baseRamCount": 0,
        "gshare": spec.gshare,
        "resource_type": resource_type,
        "attemptNr": 0,
        "container_name": None,
        "activatedTime": times["started"],
        "queuedTime": times["created"],
    }
    task_values.update(overrides or {})
    task = records.new_task(task_values)
    dataset_common = {"jediTaskID": task_id, "vo": task["vo"], "cloud": task["cloud"], "creationTime": times["created"]}
    input_dataset = records.new_dataset(
        {
            **dataset_common,
            "datasetID": ids.next("datasetID"),
            "datasetName": in_name,
            "containerName": in_container,
            "type": "input",
            "modificationTime": times["started"],
            "status": "ready",
            "state": "closed",
            "streamName": "IN",
            "masterID": None,
        }
    )
    output_dataset = records.new_dataset(
        {
            **dataset_common,
            "datasetID": ids.next("datasetID"),
            "datasetName": out_name,
            "containerName": out_container,
            "type": "output",
            "modificationTime": times["started"],
            "status": "defined",
            "state": "open",
            "streamName": "OUTPUT0",
            "storageToken": f"dst:{_ddm_output(queues[0])}" if queues else None,
            "destination": nucleus,
        }
    )
    log_dataset = records.new_dataset(
        {
            **output_dataset,
            "datasetID": ids.next("datasetID"),
            "datasetName": log_name,
            "containerName": log_container,
            "type": "log",
            "streamName": "LOG",
        }
    )
    plan = TaskPlan(
        task=task,
        step=spec,
        owner=owner,
        nickname=nickname,
        input_dataset=input_dataset,
        output_dataset=output_dataset,
        log_dataset=log_dataset,
        input_files=[],
        queues=list(queues),
        events_per_job=events_per_job,
        event_service=event_service,
        payload=dict(payload) if payload is not None else None,
    )
    plan.input_files = make_input_files(engine, plan, n_input_files, parent_tid=parent_tid, ids=ids, rng=rng)
    return plan


def make_input_files(
    engine: Engine,
    plan: TaskPlan,
    count: int,
    *,
    parent_tid: int | None = None,
    ids: IdSource | None = None,
    rng: random.Random | None = None,
) -> list[dict]:
    """``count`` input files of the task's input dataset (``dataset_files`` records, ``ready``)."""
    rng = rng or engine.random
    ids = ids or IdSource(engine.ids)
    parent_tid = parent_tid or plan.task.get("parent_tid") or plan.task_id - 1
    dataset = plan.input_dataset
    scope = dataset["datasetName"].split(".")[0]
    files = []
    first_serial = rng.randint(1, 2000)
    extension = _extension(plan)
    for n in range(count):
        events = plan.step.events_per_input_file
        lfn = make_lfn(plan.step.input_type, parent_tid, first_serial + n, extension=extension)
        guid = make_guid(rng)
        if plan.payload is not None:
            # a replica the emulator writes to its storage at dispatch: size and checksum of its bytes
            data = replica_bytes(scope, lfn, rng.randint(*plan.payload["input_size"]))
            fsize, checksum = len(data), adler32_of(data)
        else:
            fsize, checksum = make_file_size(rng, plan.step.input_size), make_checksum(rng)
        files.append(
            records.new_dataset_file(
                {
                    "jediTaskID": plan.task_id,
                    "datasetID": dataset["datasetID"],
                    "fileID": ids.next("fileID"),
                    "creationDate": dataset["creationTime"],
                    "lfn": lfn,
                    "GUID": guid,
                    "type": "input",
                    "status": "ready",
                    "fsize": fsize,
                    "checksum": checksum,
                    "scope": scope,
                    "attemptNr": 0,
                    "maxAttempt": 5,
                    "nEvents": events,
                    "keepTrack": 1,
                    "startEvent": 0,
                    "endEvent": events - 1,
                    "firstEvent": 1,
                    "failedAttempt": 0,
                    "maxFailure": 5,
                    "ramCount": 0,
                    "is_waiting": None,
                    "proc_status": "ready",
                }
            )
        )
    dataset_changes = {"nFiles": count, "nFilesToBeUsed": count, "nEvents": count * plan.step.events_per_input_file}
    plan.input_dataset = {**dataset, **dataset_changes}
    return files


def _split_rule(rng: random.Random, step: str, events_per_job: int, event_service: bool, cores: int) -> str:
    rules = []
    if step == "analysis":
        rules += ["NF=1", "UB=1", "RD=1"]
    else:
        rules += [f"NE={events_per_job}", "MF=1", "RD=1", "TW=1", f"CC={cores}"]
    if event_service:
        rules += ["ES=1", "EC=1", f"XA={ES_MAX_ATTEMPT}", f"XJ={ES_JOB_MAX_ATTEMPT}"]
    rules.append(f"NG={rng.choice((5, 10, 20))}")
    return ",".join(rules)


def _extension(plan: TaskPlan) -> str:
    return "txt" if plan.payload is not None else "pool.root"


def _nucleus(engine: Engine) -> str | None:
    for tier in ("T0", "T1"):
        for queue in engine.world.sites.values():
            if queue.get("tier") == tier:
                return queue.get("pandasite")
    first = next(iter(engine.world.sites.values()), None)
    return first.get("pandasite") if first else None


# --- jobs ---------------------------------------------------------------------------------
def job_parameters(plan: TaskPlan, serial: int, files: Sequence[Mapping], first_event: int, n_events: int) -> str:
    """The ``jobParameters`` of a job of the task: its transform's command line."""
    inputs = [f["lfn"] for f in files if f["type"] == "input"]
    outputs = [f["lfn"] for f in files if f["type"] == "output"]
    step = plan.step
    if plan.payload is not None:
        payload = plan.payload
        return payload_parameters(
            inputs,
            outputs,
            sleep=payload["sleep"],
            exit_code=payload["exit_code"],
            output_size=payload["output_size"],
            message=payload.get("message"),
        )
    if plan.analysis:
        output = {"output.root": outputs[0]} if outputs else {}
        return (
            f'-j "" --sourceURL https://aipanda048.cern.ch:25443 -r ./ -p "python%20analysis.py%20--maxEvents%20-1" '
            f'-o "{output}" -i "{inputs}" --useAthenaPackages --writeInputToTxt IN:input.txt'
        )
    tags = plan.task["taskName"].rsplit(".", 1)[-1].split("_")
    common = (
        f"--maxEvents={n_events} --skipEvents={max(first_event - 1, 0) % step.events_per_input_file} "
        f"--firstEvent={first_event} --jobNumber={serial} --randomSeed={serial} "
        f'--AMITag={tags[-1]} --conditionsTag "default:OFLCOND-MC23-SDR-RUN3-05" '
        f'--geometryVersion="default:ATLAS-R3S-2021-03-02-00"'
    )
    if step.name == "simul":
        text = (
            f"--inputEVNTFile={','.join(inputs)} --outputHITSFile={','.join(outputs)} {common} "
            f"--physicsList=FTFP_BERT_ATL --simulator=FullG4MT_QS --truthStrategy=MC15aPlus "
            f'--preInclude "EVNTtoHITS:Campaigns.MC23aSimulationMultipleIoV" '
            f'--postInclude "default:PyJobTransforms.UseFrontier" --DataRunNumber=410000'
        )
        if plan.event_service:
            text += " --multiprocess --eventService=True"
        return text
    if step.name == "recon":
        return (
            f"--inputHITSFile={','.join(inputs)} --outputAODFile={','.join(outputs)} {common} "
            f'--steering "doRDO_TRIG" --preInclude "all:Campaigns.MC23a" --multithreaded=True'
        )
    return (
        f"--inputAODFile={','.join(inputs)} --outputDAODFile={','.join(outputs)} {common} "
        f"--formats PHYS --multiprocess=True --sharedWriter=True"
    )


def make_job_files(
    engine: Engine,
    plan: TaskPlan,
    *,
    panda_id: int,
    serial: int,
    queue: Mapping,
    inputs: Sequence[Mapping],
    status: str,
    n_events: int,
    ids: IdSource | None = None,
    rng: random.Random | None = None,
) -> tuple[list[dict], list[dict]]:
    """A job's ``Files`` (FileSpec dicts: its inputs, one output, one log) and the JEDI
    ``dataset_files`` records of its output and log.

    ``inputs``: the task's input file records (``dataset_files``) the job reads. Outputs go to
    ``_sub`` datasets of the task's output/log datasets, at the queue's output DDM endpoint
    (``destinationDBlockToken`` ``dst:<endpoint>``); a finished job's outputs have size and
    checksum.
    """
    rng = rng or engine.random
    ids = ids or IdSource(engine.ids)
    task_id = plan.task_id
    input_dataset = plan.input_dataset
    files = []
    for record in inputs:
        files.append(
            records.new_file(
                {
                    "row_ID": ids.next("row_ID"),
                    "PandaID": panda_id,
                    "GUID": record["GUID"],
                    "lfn": record["lfn"],
                    "type": "input",
                    "dataset": input_dataset["datasetName"],
                    "status": "ready",
                    "prodDBlock": input_dataset["datasetName"],
                    "fsize": record["fsize"],
                    "checksum": record["checksum"],
                    "scope": record["scope"],
                    "jediTaskID": task_id,
                    "datasetID": record["datasetID"],
                    "fileID": record["fileID"],
                    "attemptNr": record["attemptNr"] + 1,
                }
            )
        )
    finished = status == "finished"
    failed = status in ("failed", "cancelled", "closed")
    token = f"dst:{_ddm_output(queue)}"
    scope = input_dataset["datasetName"].split(".")[0] if not plan.analysis else f"user.{plan.nickname}"
    jedi_files = []
    for kind, dataset in (("output", plan.output_dataset), ("log", plan.log_dataset)):
        if kind == "log":
            lfn = (
                make_log_lfn(task_id, serial)
                if not plan.analysis
                else make_user_lfn(plan.nickname, task_id, serial, "log.tgz")
            )
            size_range = LOG_SIZE
        elif plan.analysis:
            lfn = make_user_lfn(plan.nickname, task_id, serial, plan.step.output_type)
            size_range = (plan.step.output_size_per_event[0] * n_events, plan.step.output_size_per_event[1] * n_events)
        else:
            lfn = make_lfn(plan.step.output_type, task_id, serial, extension=_extension(plan))
            size_range = (plan.step.output_size_per_event[0] * n_events, plan.step.output_size_per_event[1] * n_events)
        produced = finished or (kind == "log" and failed and status != "cancelled")
        guid = make_guid(rng)
        size = make_file_size(rng, size_range) if produced else 0
        checksum = make_checksum(rng) if produced else None
        file_id = ids.next("fileID")
        files.append(
            records.new_file(
                {
                    "row_ID": ids.next("row_ID"),
                    "PandaID": panda_id,
                    "GUID": guid,
                    "lfn": lfn,
                    "type": kind,
                    "dataset": dataset["datasetName"],
                    "status": "ready" if produced else ("failed" if failed else "unknown"),
                    "prodDBlock": input_dataset["datasetName"],
                    "destinationDBlock": sub_dataset_name(dataset["datasetName"], panda_id),
                    "destinationDBlockToken": token,
                    "destinationSE": queue["sitename"],
                    "fsize": size,
                    "checksum": checksum,
                    "scope": scope,
                    "jediTaskID": task_id,
                    "datasetID": dataset["datasetID"],
                    "fileID": file_id,
                    "attemptNr": 0,
                }
            )
        )
        jedi_files.append(
            records.new_dataset_file(
                {
                    "jediTaskID": task_id,
                    "datasetID": dataset["datasetID"],
                    "fileID": file_id,
                    "creationDate": None,
                    "lfn": lfn,
                    "GUID": guid,
                    "type": kind,
                    "status": "finished" if produced else ("failed" if failed else "defined"),
                    "fsize": size or None,
                    "checksum": checksum,
                    "scope": scope,
                    "attemptNr": 0,
                    "maxAttempt": 1,
                    "nEvents": n_events if produced and kind == "output" else None,
                    "keepTrack": 1,
                    "PandaID": panda_id,
                    "outPandaID": panda_id,
                    "failedAttempt": 0,
                    "maxFailure": None,
                    "proc_status": "ready",
                }
            )
        )
    return files, jedi_files


def _job_times(rng: random.Random, plan: TaskPlan, now: _dt.datetime, status: str) -> dict[str, Any]:
    task = plan.task
    begin = task["startTime"] or task["creationDate"]
    end = task["endTime"] or now
    span = max((end - begin).total_seconds(), 60.0)
    if status in ("activated", "sent", "starting"):
        # queued recently: jobs waiting for pilots were activated within the last hours
        created = max(begin, now - _dt.timedelta(seconds=rng.randint(120, 6 * 3600)))
    else:
        created = begin + _dt.timedelta(seconds=int(rng.random() * span * 0.6))
    modified = created + _dt.timedelta(seconds=int(rng.random() * max((end - created).total_seconds(), 1)))
    if status == "activated":
        modified = min(created + _dt.timedelta(seconds=rng.randint(1, 120)), now)
    started = None
    if status in STARTED_JOB_STATUSES:
        started = created + _dt.timedelta(seconds=int((modified - created).total_seconds() * 0.2))
    ended = modified if status in FINAL_JOB_STATUSES else None
    return {"created": created, "modified": modified, "started": started, "ended": ended}


def make_job(
    engine: Engine,
    plan: TaskPlan,
    *,
    queue: Mapping,
    status: str,
    now: _dt.datetime | None = None,
    input_index: int | None = None,
    ids: IdSource | None = None,
    rng: random.Random | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> dict:
    """A new job of the task on ``queue`` in ``status`` (JobSpec attributes + ``Files``).

    The job reads one of the task's input files (``input_index``, default: the next in turn,
    cycling through the file's event slices) and gets the next serial number of the task. The
    job, its output/log ``dataset_files`` records and (for an event-service task) its event
    ranges are appended to the plan; the job record is returned.
    """
    rng = rng or engine.random
    ids = ids or IdSource(engine.ids)
    now = now or engine.now()
    task = plan.task
    step = plan.step
    serial = plan.next_serial
    plan.next_serial += 1
    n_inputs = max(len(plan.input_files), 1)
    index = (serial - 1) % n_inputs if input_index is None else input_index
    chunk = (serial - 1) // n_inputs
    input_file = plan.input_files[index] if plan.input_files else None
    events_per_job = plan.events_per_job
    first_event = (chunk * events_per_job) % max(step.events_per_input_file, 1) + 1
    panda_id = ids.next("PandaID")
    cores = task["coreCount"] or 1
    ram = min((task["ramCount"] or 2000) * cores, queue.get("maxrss") or 10**9)
    times = _job_times(rng, plan, now, status)
    analysis = plan.analysis
    files, jedi_files = make_job_files(
        engine,
        plan,
        panda_id=panda_id,
        serial=serial,
        queue=queue,
        inputs=[input_file] if input_file else [],
        status=status,
        n_events=events_per_job,
        ids=ids,
        rng=rng,
    )
    started = times["started"] is not None
    domain = _domain(queue)
    worker_node = f"wn{rng.randint(1, 999):03d}.{domain}" if started else None
    batch_id = str(rng.randint(1_000_000, 9_999_999)) if started or status == "sent" else None
    priority = task["currentPriority"] + rng.randint(-25, 25)
    finished = status == "finished"
    failed = status in ("failed", "closed")
    cpu = int(events_per_job * step.cpu_time / 10 / cores * rng.uniform(0.7, 1.3)) if finished or failed else 0
    expected = events_per_job * step.cpu_time / (cores * (queue.get("corepower") or 10.0))
    wall_limit = min(queue.get("maxtime") or 172800, max(3600, int(expected * 3) // 600 * 600))
    outputs = [f for f in files if f["type"] == "output"]
    values: dict[str, Any] = {
        "PandaID": panda_id,
        "jobDefinitionID": ids.next("jobDefinitionID"),
        "schedulerID": f"harvester-{queue['sitename']}" if started or status == "sent" else None,
        "pilotID": f"https://{queue.get('gatekeeper')}/{batch_id}.out|PR|{_PILOT_VERSION}" if batch_id else None,
        "creationTime": times["created"],
        "creationHost": f"{_JEDI_HOSTS[panda_id % len(_JEDI_HOSTS)]}-{panda_id % 100000}_gen",
        "modificationTime": times["modified"],
        "modificationHost": worker_node or _SERVER_HOSTS[panda_id % len(_SERVER_HOSTS)],
        "AtlasRelease": f"Atlas-{step.release}",
        "transformation": step.transformation,
        "homepackage": step.homepackage,
        "prodSeriesLabel": "pandatest",
        "prodSourceLabel": task["prodSourceLabel"],
        "prodUserID": plan.owner["dn"],
        "assignedPriority": task["taskPriority"],
        "currentPriority": priority,
        "attemptNr": 1,
        "maxAttempt": 1 + (ES_JOB_MAX_ATTEMPT if plan.event_service else 4),
        "jobStatus": status,
        "jobName": f"{task['taskName'].rstrip('/')}.{panda_id}",
        "maxCpuCount": wall_limit,
        "maxCpuUnit": "kSI2kseconds",
        "maxDiskCount": (task["workDiskCount"] or 2000) + (input_file["fsize"] // 2**20 if input_file else 0),
        "maxDiskUnit": "MB",
        "ipConnectivity": "yes",
        "minRamCount": ram,
        "minRamUnit": "MB",
        "startTime": times["started"],
        "endTime": times["ended"],
        "cpuConsumptionTime": cpu,
        "cpuConsumptionUnit": "s" if cpu else None,
        "transExitCode": "0" if finished else ("65" if failed else None),
        "computingSite": queue["sitename"],
        "computingElement": queue.get("gatekeeper") if started else None,
        "prodDBlock": plan.input_dataset["datasetName"],
        "destinationDBlock": outputs[0]["destinationDBlock"] if outputs else None,
        "destinationSE": queue["sitename"],
        "nEvents": events_per_job if finished else 0,
        "grid": None,
        "cloud": queue.get("cloud"),
        "taskID": task["jediTaskID"],
        "cmtConfig": step.cmt_config,
        "stateChangeTime": times["modified"],
        "prodDBUpdateTime": times["modified"],
        "lockedby": "jedi",
        "relocationFlag": 1,
        "VO": task["vo"],
        "workingGroup": task["workingGroup"],
        "processingType": task["processingType"],
        "prodUserName": task["userName"],
        "nInputFiles": 1 if input_file else 0,
        "countryGroup": None,
        "batchID": batch_id,
        "jobsetID": None,
        "coreCount": cores,
        "actualCoreCount": cores if started else None,
        "nInputDataFiles": 1 if input_file else 0,
        "inputFileType": step.input_type,
        "inputFileProject": PROJECT,
        "inputFileBytes": input_file["fsize"] if input_file else 0,
        "nOutputDataFiles": len(outputs),
        "outputFileBytes": sum(f["fsize"] or 0 for f in outputs),
        "jediTaskID": task["jediTaskID"],
        "reqID": task["reqID"],
        "maxRSS": int(ram * 1024 * rng.uniform(0.4, 0.8)) if finished or failed else None,
        "maxWalltime": wall_limit,
        "nucleus": task["nucleus"],
        "eventService": ES_JOB_FLAG if plan.event_service else None,
        "failedAttempt": 0,
        "hs06sec": int(cpu * (queue.get("corepower") or 10.0)) if cpu else None,
        "gshare": task["gshare"],
        "hs06": int((queue.get("corepower") or 10.0) * cores),
        "resource_type": task["resource_type"] or resource_type_for(engine, cores, ram),
        "container_name": None,
        "job_label": "user" if analysis else "managed",
        "cpu_architecture_level": "x86-64-v2",
        "outputFileType": step.output_type if not analysis else "root",
        "Files": files,
    }
    if failed:
        values.update(
            {
                "pilotErrorCode": 1305,
                "pilotErrorDiag": "Failed to execute payload:Transform exited with code 65",
                "exeErrorCode": 65,
                "exeErrorDiag": "Non-zero return code from EVNTtoHITS (65)",
            }
        )
    elif status == "cancelled":
        values.update({"taskBufferErrorCode": 100, "taskBufferErrorDiag": f"killed by {task['userName']}"})
    if status in ("holding", "transferring"):
        values["jobDispatcherErrorDiag"] = f"set to {status} by the pilot at {times['modified']:%Y-%m-%d %H:%M:%S}"
    if plan.event_service:
        values["jobsetID"] = ids.next("jobsetID")
        values["specialHandling"] = "es"
    elif analysis:
        if plan.jobset_id is None:
            plan.jobset_id = ids.next("jobsetID")
        values["jobsetID"] = plan.jobset_id
    values["jobParameters"] = job_parameters(plan, serial, files, first_event, events_per_job)
    values.update(overrides or {})
    job = records.new_job(values)
    plan.jobs.append(job)
    plan.output_files.extend(jedi_files)
    if plan.event_service and input_file is not None:
        plan.event_ranges.extend(make_event_ranges(job, input_file, first_event, events_per_job))
    if input_file is not None:
        _use_input(plan, index, panda_id, status)
    return job


def _use_input(plan: TaskPlan, index: int, panda_id: int, job_status: str) -> None:
    record = plan.input_files[index]
    if job_status == "finished":
        status = "finished" if record["status"] in ("ready", "finished") else record["status"]
    elif job_status in FINAL_JOB_STATUSES:
        status = "failed" if record["status"] in ("ready", "failed") else record["status"]
    else:
        status = "running"
    plan.input_files[index] = {
        **record,
        "PandaID": panda_id,
        "status": status,
        "attemptNr": record["attemptNr"] + 1,
        "proc_status": "queued" if status == "running" else "ready",
    }


# --- event ranges -------------------------------------------------------------------------
def range_statuses(job_status: str, count: int) -> list[str]:
    """Statuses of an event-service job's ranges, consistent with the job's status."""
    if job_status == "finished":
        return ["done"] * count
    if job_status == "running":
        finished = count * 3 // 10
        sent = count // 10
        return ["finished"] * finished + ["sent"] * sent + ["ready"] * (count - finished - sent)
    if job_status in ("failed", "closed", "cancelled"):
        return ["cancelled"] * count
    return ["ready"] * count


def make_event_ranges(
    job: Mapping,
    input_file: Mapping,
    first_event: int,
    count: int,
    statuses: Sequence[str] | None = None,
    events_per_range: int = 1,
    attempt_nr: int = ES_MAX_ATTEMPT,
) -> list[dict]:
    """``count`` event ranges of an event-service job over its input file, one per
    ``events_per_range`` events from ``first_event`` (``job_processID`` 1, 2, ...), with the
    input file's ``LFN``/``GUID``/``scope`` (what ``event/acquire_event_ranges`` hands out).

    ``statuses``: one per range (default from the job's status, see :func:`range_statuses`).
    A ``ready`` range still belongs to the jobset, as in JEDI: its ``PandaID`` (and
    ``event_offset``) is the job's ``jobsetID`` until a consumer acquires it.
    """
    statuses = list(statuses) if statuses is not None else range_statuses(job["jobStatus"], count)
    task_id = job["jediTaskID"]
    panda_id = job["PandaID"]
    jobset_id = job.get("jobsetID") or panda_id
    file_id = input_file["fileID"]
    prefix = f"{task_id}-{panda_id}-{file_id}-"
    ready_prefix = f"{task_id}-{jobset_id}-{file_id}-"
    base = records.new_event_range(
        {
            "eventRangeID": "",
            "jediTaskID": task_id,
            "PandaID": panda_id,
            "fileID": file_id,
            "attemptNr": attempt_nr,
            "datasetID": input_file["datasetID"],
            "jobsetID": job.get("jobsetID"),
            "LFN": input_file["lfn"],
            "GUID": input_file["GUID"],
            "scope": input_file["scope"],
        }
    )
    processed_statuses = ("finished", "done", "merged")
    ranges = []
    for i in range(count):
        start = first_event - 1 + i * events_per_range
        end = start + events_per_range - 1
        status = statuses[i]
        record = base.copy()  # one event range: the job's shared values plus its own
        if status == "ready":
            record["eventRangeID"] = f"{ready_prefix}{i + 1}-{attempt_nr}"
            record["PandaID"] = jobset_id
            record["event_offset"] = jobset_id
        else:
            record["eventRangeID"] = f"{prefix}{i + 1}-{attempt_nr}"
        record["job_processID"] = i + 1
        record["status"] = status
        record["def_min_eventID"] = start
        record["def_max_eventID"] = end
        record["processed_upto_eventID"] = end if status in processed_statuses else None
        ranges.append(record)
    return ranges


# --- whole worlds -------------------------------------------------------------------------
@dataclass
class GenerateSpec:
    """A scenario's ``generate`` section, with defaults."""

    tasks: int = 0
    jobs_per_task: int = 0
    files_per_dataset: int = 0  # 0: one input file per job
    events_per_job: int = 0
    event_service_tasks: int = 0
    activated_jobs: int = 0
    users: int = 0

    @classmethod
    def from_section(cls, section: Mapping[str, Any] | None) -> GenerateSpec:
        known = {name: section[name] for name in cls.__dataclass_fields__ if section and name in section}
        return cls(**known)

    @property
    def empty(self) -> bool:
        return not (self.tasks or self.event_service_tasks or self.users or self.activated_jobs)

    def job_count(self, online_queues: int = 0) -> int:
        """Jobs the section makes (for progress bars)."""
        return (self.tasks + self.event_service_tasks) * self.jobs_per_task + self.activated_jobs * online_queues


def _status_cycle(task_status: str, event_service: bool) -> tuple[str, ...]:
    if task_status in FINAL_JOB_CYCLES:
        return FINAL_JOB_CYCLES[task_status]
    return ES_JOB_CYCLE if event_service else RUNNING_JOB_CYCLE


class Generator:
    """The scenario hook that builds the ``generate`` section's world (``engine.generator``).

    ``progress``: optional ``callback(jobs_done)`` called as jobs are made (the CLI's progress bar).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.progress: Callable[[int], None] | None = None
        engine.scenario_hooks.append(self.hook)

    def hook(self, engine: Engine, scenario: Any) -> None:
        spec = GenerateSpec.from_section(getattr(scenario, "generate", None))
        if spec.empty and not any((payload_settings(queue) or {}).get("jobs") for queue in engine.world.sites.values()):
            return
        try:
            self.generate(spec)
        except GenerateError as exc:
            from ..scenario import ScenarioError

            source = getattr(scenario, "source", None) or getattr(scenario, "name", "<scenario>")
            raise ScenarioError(source, [str(exc)]) from None

    def generate(self, spec: GenerateSpec) -> dict[str, int]:
        """Make and store the world of ``spec`` (inside a bulk load or an operation); returns counts."""
        engine = self.engine
        rng = engine.random
        now = engine.now().replace(microsecond=0)
        ids = IdSource(engine.ids)
        if not len(engine.world.sites) and (spec.tasks or spec.event_service_tasks):
            raise GenerateError("generate: the scenario needs at least one queue (sites) to put jobs on")
        self._add_users(spec.users)
        production_owners, user_owners = self._owners()
        plans: list[TaskPlan] = []

        def run(plan: TaskPlan, statuses: Sequence[str], queue: Mapping | None = None) -> None:
            ids.reserve("PandaID", len(statuses))
            ids.reserve("row_ID", len(statuses) * 3)
            ids.reserve("fileID", len(statuses) * 2)
            for status in statuses:
                chosen = queue or plan.queues[rng.randrange(len(plan.queues))]
                make_job(engine, plan, queue=chosen, status=status, now=now, ids=ids, rng=rng)
            if self.progress is not None and statuses:
                self.progress(len(statuses))

        def new_plan(
            owner: Mapping,
            step: str,
            status: str,
            event_service: bool,
            queue: Mapping | None = None,
            payload: Mapping | None = None,
        ) -> TaskPlan:
            n_jobs = spec.jobs_per_task
            n_files = spec.files_per_dataset or max(n_jobs, 1)
            ids.reserve("fileID", n_files)
            events = spec.events_per_job if event_service and spec.events_per_job else None
            plan = plan_task(
                engine,
                owner=owner,
                step=step,
                status=status,
                now=now,
                n_input_files=n_files,
                events_per_job=events,
                event_service=event_service,
                queues=[queue] if queue is not None else None,
                ids=ids,
                rng=rng,
                overrides={"workDiskCount": PILOT_WORK_DISK} if payload is not None else None,
                payload=payload,
            )
            plans.append(plan)
            return plan

        for i in range(spec.tasks):
            analysis = i % 3 == 2
            owners = user_owners if analysis else production_owners
            owner = owners[(i // 3) % len(owners)]
            step = "analysis" if analysis else ("simul", "recon", "deriv")[(i - i // 3) % 3]
            status = TASK_STATUS_CYCLE[i % len(TASK_STATUS_CYCLE)]
            plan = new_plan(owner, step, status, event_service=False)
            cycle = _status_cycle(status, False)
            offset = i % len(cycle)
            run(plan, [cycle[(offset + k) % len(cycle)] for k in range(spec.jobs_per_task)])
        for i in range(spec.event_service_tasks):
            owner = production_owners[i % len(production_owners)]
            plan = new_plan(owner, "simul", "running", event_service=True)
            run(plan, [ES_JOB_CYCLE[k % len(ES_JOB_CYCLE)] for k in range(spec.jobs_per_task)])
        for queue in online_queues(engine):
            payload = payload_settings(queue)
            if payload is None:
                continue
            count = spec.activated_jobs if payload["jobs"] is None else int(payload["jobs"])
            if count:
                owner = production_owners[0]
                plan = new_plan(owner, "pilot", "running", event_service=False, queue=queue, payload=payload)
                run(plan, ["activated"] * count, queue=queue)
        if spec.activated_jobs:
            for queue in online_queues(engine):
                if is_pilot_queue(queue):
                    continue
                plan = self._plan_for_queue(plans, queue)
                if plan is None:
                    es_only = (queue.get("jobseed") or "std") == "es"
                    analysis = queue.get("type") == "analysis"
                    owner = (user_owners if analysis else production_owners)[0]
                    step = "analysis" if analysis else "simul"
                    plan = new_plan(owner, step, "running", event_service=es_only)
                    plan.queues = [queue]
                run(plan, ["activated"] * spec.activated_jobs, queue=queue)
        return self._store(plans)

    def _plan_for_queue(self, plans: Sequence[TaskPlan], queue: Mapping) -> TaskPlan | None:
        for plan in plans:
            if plan.task["status"] == "running" and accepts(
                queue, analysis=plan.analysis, event_service=plan.event_service, core_count=plan.task["coreCount"]
            ):
                return plan
        return None

    def _add_users(self, count: int) -> None:
        if not count:
            return
        engine = self.engine
        users = engine.world.users
        for _ in range(count):
            dn, nickname, full_name = make_dn(engine.faker, engine.random)
            name = nickname
            while users.get(name) is not None:
                name = f"{nickname}{engine.random.randint(2, 99)}"
            first, _, last = full_name.partition(" ")
            identity = {
                "name": name,
                "dn": dn,
                "fqans": ["/atlas/Role=NULL"],
                "email": f"{first}.{last}@example.org".lower(),
            }
            users.put(user_record(identity))

    def _owners(self) -> tuple[list[dict], list[dict]]:
        """(production task owners, analysis task owners) among the non-banned identities."""
        people = [user for user in self.engine.world.users.values() if not user.get("banned")]
        if not people:
            raise GenerateError("generate: the scenario needs at least one identity that is not banned to own tasks")
        production = [
            user
            for user in people
            if has_production_role(user["dn"], user.get("fqans") or ())
            or production_working_groups(user.get("fqans") or ())
        ]
        analysis = [user for user in people if user not in production]
        return production or people, analysis or people

    def _store(self, plans: Sequence[TaskPlan]) -> dict[str, int]:
        store = self.engine.store
        counts: dict[str, int] = {}
        tables = {name: store.table(name) for name in ("tasks", "datasets", "dataset_files", "jobs", "event_ranges")}
        for plan in plans:
            _finish_plan(plan)
            for name, record in plan.records():
                tables[name].insert(record, owned=True)
                counts[name] = counts.get(name, 0) + 1
        return counts


def _finish_plan(plan: TaskPlan) -> None:
    """Derived counters: dataset file counts, task progress and failure rate."""
    task = plan.task
    jobs = plan.jobs
    finished = sum(1 for job in jobs if job["jobStatus"] == "finished")
    failed = sum(1 for job in jobs if job["jobStatus"] in ("failed", "closed"))
    if jobs:
        task["progress"] = 100 if task["status"] == "done" else int(100 * finished / len(jobs))
        task["failureRate"] = int(100 * failed / len(jobs))
    files = plan.input_files
    plan.input_dataset.update(
        {
            "nFilesUsed": sum(1 for f in files if f["status"] != "ready"),
            "nFilesFinished": sum(1 for f in files if f["status"] == "finished"),
            "nFilesFailed": sum(1 for f in files if f["status"] == "failed"),
            "nEventsUsed": finished * plan.events_per_job,
        }
    )
    final = task["status"] in ("done", "finished", "failed")
    for dataset in (plan.output_dataset, plan.log_dataset):
        dataset.update(
            {
                "nFiles": len(jobs),
                "nFilesFinished": finished,
                "nFilesFailed": failed,
                "status": "done" if final else "running",
                "state": "closed" if final else "open",
                "modificationTime": task["modificationTime"],
            }
        )
