"""JEDI's rules as data and pure functions: task commands, task-parameter checks, job templates.

:mod:`pandamock.engine.tasks` applies them to the state. Everything here follows
``reference/panda_api_v1.md`` §7.2 and the real server/JEDI code it describes:

* :data:`COMMANDS` — per task command (``sendCommandTaskPanda`` / ``TaskCommando``): the statuses
  the API accepts it from, JEDI's re-check when it picks the command up, and the "doing" status;
* :func:`server_check` / :func:`refine` — what ``insertTaskParamsPanda`` needs (rejected at once)
  and what JEDI's task refiner needs (the task goes ``broken`` otherwise);
* :func:`render` — JEDI's job-parameter templates (``$JEDITASKID``, ``${SN}``, ``${SN/P}``,
  ``${SURL}``, ``${IN}``, ``${MAXEVENTS}``, ...);
* :func:`split_rule` and friends — the task's ``splitRule`` string.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .outcome import Failure

# ----------------------------------------------------------------------------------------------
# commands (§7.2)
# ----------------------------------------------------------------------------------------------
ALL_STATUSES = frozenset(
    (
        "registered defined assigning ready pending scouting scouted running topreprocess preprocessing "
        "merging prepared done finished failed exhausted paused throttled staging staged broken tobroken "
        "aborting toabort aborted finishing passed toretry toincexec rerefine toreassign reassigning"
    ).split()
)
KILL_REFUSED = frozenset("finished done prepared broken aborted toabort aborting failed".split())
KILL_RECHECK_REFUSED = KILL_REFUSED | {"tobroken", "passed"}
PAUSE_REFUSED = frozenset("finished failed done aborted broken paused".split())


@dataclass(frozen=True)
class Command:
    """One JEDI task command.

    ``accepted``: statuses the API accepts it from (else data=4 and the rejection message);
    ``rechecked``: statuses in which JEDI still applies it when it picks it up (else
    ``<cmd> failed``); ``doing``: the status JEDI sets when it takes it (None: no change).
    """

    name: str
    accepted: frozenset[str]
    rechecked: frozenset[str]
    doing: str | None


COMMANDS: dict[str, Command] = {
    "kill": Command("kill", ALL_STATUSES - KILL_REFUSED, ALL_STATUSES - KILL_RECHECK_REFUSED, "aborting"),
    "finish": Command("finish", ALL_STATUSES - KILL_REFUSED, ALL_STATUSES - KILL_RECHECK_REFUSED, "finishing"),
    "retry": Command(
        "retry",
        frozenset("finished failed exhausted".split()),
        frozenset("finished failed aborted exhausted".split()),
        "toretry",
    ),
    "incexec": Command(
        "incexec",
        frozenset("finished failed aborted done exhausted".split()),
        frozenset("done finished failed aborted exhausted".split()),
        "toincexec",
    ),
    "reassign": Command(
        "reassign",
        frozenset("defined ready running scouting scouted pending assigning exhausted".split()),
        ALL_STATUSES - {"failed", "aborted", "broken"},
        "toreassign",
    ),
    "pause": Command("pause", ALL_STATUSES - PAUSE_REFUSED, ALL_STATUSES - PAUSE_REFUSED, "paused"),
    "resume": Command(
        "resume", frozenset("paused throttled staging".split()), frozenset("paused throttled staging".split()), None
    ),
    "avalanche": Command("avalanche", frozenset(("scouting",)), frozenset(("scouting",)), "scouting"),
    "release": Command(
        "release",
        frozenset("scouting pending running ready assigning defined".split()),
        frozenset("scouting pending running ready assigning defined".split()),
        None,
    ),
}

#: Return codes of ``sendCommandTaskPanda``.
CODE_OK = 0
CODE_DB_ERROR = 1
CODE_NOT_FOUND = 2
CODE_REJECTED = 4
#: ``retry`` of a user task that is still running: its failed jobs are retried instead.
CODE_RETRY_FAILED_JOBS = 5


def registered_message(command: str, task_id: int) -> str:
    return f"command={command} is registered for task ID {task_id}. will be executed in a few minutes"


def not_found_message(task_id: Any) -> str:
    return f"jediTaskID={task_id} not found"


def rejection_message(command: str, status: str, extra: str = "") -> str:
    message = f"Command rejected: the {command} command is not accepted if the task is in {status} status"
    return f"{message} {extra}" if extra else message


def command_check(
    command: str, status: str, production: bool, label: str | None, with_site: bool = False
) -> tuple[int, str]:
    """The API-side status check of ``sendCommandTaskPanda``: ``(code, message)``, code 0 when accepted.

    ``retry`` of an exhausted task needs the production role; ``reassign`` to a site is accepted in
    every status; ``retry`` of a running/scouting/pending user task gives code 5 (its failed jobs
    are retried)."""
    rule = COMMANDS[command]
    accepted = status in rule.accepted or (command == "reassign" and with_site)
    extra = ""
    if command == "retry" and status == "exhausted" and not production:
        accepted = False
        extra = "and production role is missing"
    if accepted:
        return CODE_OK, ""
    if command == "retry" and status in ("running", "scouting", "pending") and label == "user":
        return CODE_RETRY_FAILED_JOBS, status
    return CODE_REJECTED, rejection_message(command, status, extra)


def old_status_on_doing(command: str, status: str, old_status: str | None) -> str | None:
    """``oldStatus`` bookkeeping when JEDI takes a command: the current status, except from
    ``paused`` (cleared), ``throttled`` with pause/reassign and ``pending`` (kept)."""
    if status == "paused":
        return old_status if command in ("pause", "reassign") else None
    if status == "throttled" and command in ("pause", "reassign") and old_status:
        return old_status
    if status == "pending" and old_status:
        return old_status
    return status


# ----------------------------------------------------------------------------------------------
# super status (what pbook and the monitor show)
# ----------------------------------------------------------------------------------------------
_SUPER_STATUS = {
    "registered": "registered",
    "defined": "submitting",
    "assigning": "submitting",
    "topreprocess": "submitting",
    "preprocessing": "submitting",
    "toretry": "submitting",
    "toincexec": "submitting",
    "rerefine": "submitting",
    "ready": "ready",
    "pending": "ready",
    "staging": "ready",
    "staged": "ready",
    "throttled": "ready",
    "scouting": "running",
    "scouted": "running",
    "running": "running",
    "merging": "running",
    "prepared": "running",
    "toreassign": "running",
    "reassigning": "running",
    "finishing": "running",
    "passed": "running",
    "aborting": "aborted",
    "toabort": "aborted",
    "tobroken": "broken",
}


def super_status(status: str) -> str:
    """JEDI's ``superStatus`` of a task status."""
    return _SUPER_STATUS.get(status, status)


# ----------------------------------------------------------------------------------------------
# task parameters
# ----------------------------------------------------------------------------------------------
#: Integer task parameters (a value must be a non-negative integer; JSON true/false is refused).
INT_PARAMS = (
    "nFiles nFilesPerJob nEventsPerJob nEvents nJobs nEventsPerInputFile nGBPerJob nMaxFilesPerJob "
    "maxAttempt maxFailure ramCount baseRamCount coreCount walltime cpuTime taskPriority nEventsPerRange "
    "nScoutJobs workDiskCount outDiskCount reqID"
).split()
STRING_PARAMS = "taskName vo prodSourceLabel userName taskType processingType transPath transHome transUses".split()
PARAM_TYPES = ("input", "pseudo_input", "output", "log", "number")
#: Task parameters that become splitRule tags (``JediTaskSpec.splitRuleToken``).
SPLIT_RULE_TAGS = {
    "nFilesPerJob": "NF",
    "nEventsPerJob": "NE",
    "nGBPerJob": "NG",
    "nMaxFilesPerJob": "MF",
    "nScoutJobs": "NS",
    "maxAttempt": "MA",
}
#: ``task/change_split_rule``: the tags that may change (``task_split_rules.changeable_split_rule_tags``).
CHANGEABLE_SPLIT_RULES = [
    "AI",
    "TW",
    "EC",
    "ES",
    "MF",
    "NG",
    "NI",
    "NF",
    "NJ",
    "AV",
    "IL",
    "LI",
    "LC",
    "CC",
    "OT",
    "UZ",
]
#: ``task/change_attribute``: the attributes that may change, and their JediTaskSpec names.
CHANGEABLE_ATTRIBUTES = ["ramCount", "wallTime", "cpuTime", "coreCount"]
ATTRIBUTE_FIELDS = {"ramCount": "ramCount", "wallTime": "walltime", "cpuTime": "cpuTime", "coreCount": "coreCount"}
#: Default number of attempts per input of a user / production task.
DEFAULT_MAX_ATTEMPT = {"anal": 3, "prod": 5}
#: Scout jobs JEDI makes before the avalanche.
DEFAULT_SCOUT_JOBS = 10
#: Input files made for an input dataset pandamock does not know and that names no ``nFiles``.
DEFAULT_INPUT_FILES = 10
#: Events per input file when neither the dataset nor the parameters say.
DEFAULT_EVENTS_PER_FILE = 1000
#: Upper bound on the jobs (and files) one task may make here (protects the emulator).
MAX_JOBS_PER_TASK = 100_000
MAX_RANGES_PER_JOB = 10_000


def server_check(params: Any) -> None:
    """What ``insertTaskParamsPanda`` needs to store task parameters at all: a JSON object with the
    strings ``taskName``, ``vo`` and ``prodSourceLabel``. Raises :class:`Failure` (data 4)."""
    if not isinstance(params, Mapping):
        raise Failure(
            f"failed to insert task parameters: task parameters must be a JSON object, got {type(params).__name__}", 4
        )
    for key in ("taskName", "vo", "prodSourceLabel"):
        if key not in params:
            raise Failure(f"failed to insert task parameters: '{key}' is missing", 4)
        if not isinstance(params[key], str) or not params[key]:
            raise Failure(f"failed to insert task parameters: '{key}' must be a non-empty string", 4)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def refine(params: Mapping[str, Any]) -> list[str]:
    """JEDI's task refiner checks; returns the problems (empty: the task can be defined).

    A task whose parameters fail here is stored, then goes ``broken`` with the first problem as
    ``errorDialog`` (what JEDI does with parameters it cannot use)."""
    problems: list[str] = []
    for key in STRING_PARAMS:
        if key in params and params[key] is not None and not isinstance(params[key], str):
            problems.append(f"{key} must be a string, got {type(params[key]).__name__}")
    for key in INT_PARAMS:
        if key in params and params[key] is not None:
            value = params[key]
            if not _is_int(value):
                problems.append(f"{key} must be an integer, got {type(value).__name__}")
            elif value < 0:
                problems.append(f"{key} must not be negative, got {value}")
    job_parameters = params.get("jobParameters")
    if job_parameters is None:
        problems.append("jobParameters is not defined")
    elif not isinstance(job_parameters, list):
        problems.append(f"jobParameters must be a list, got {type(job_parameters).__name__}")
    else:
        for index, item in enumerate(job_parameters):
            if not isinstance(item, Mapping):
                problems.append(f"jobParameters[{index}] must be a JSON object")
                continue
            if item.get("type") not in ("constant", "template"):
                problems.append(f"jobParameters[{index}].type must be constant or template, got {item.get('type')!r}")
            if not isinstance(item.get("value"), str):
                problems.append(f"jobParameters[{index}].value must be a string")
            if item.get("type") == "template" and item.get("param_type") not in (None,) + PARAM_TYPES:
                problems.append(f"jobParameters[{index}].param_type {item.get('param_type')!r} is unknown")
            if item.get("param_type") in ("input", "output", "pseudo_input") and not isinstance(
                item.get("dataset"), str
            ):
                problems.append(f"jobParameters[{index}] of param_type {item.get('param_type')} needs a dataset")
    log = params.get("log")
    if log is not None:
        if (
            not isinstance(log, Mapping)
            or not isinstance(log.get("dataset"), str)
            or not isinstance(log.get("value"), str)
        ):
            problems.append("log must be a JSON object with the strings dataset and value")
    if not problems and not params.get("noInput") and not input_items(params):
        problems.append("no input dataset is defined and noInput is not set")
    if params.get("site") is not None and not isinstance(params.get("site"), str):
        problems.append("site must be a string")
    for key in ("excludedSite", "includedSite"):
        value = params.get(key)
        if (
            value is not None
            and not (isinstance(value, list) and all(isinstance(v, str) for v in value))
            and not isinstance(value, str)
        ):
            problems.append(f"{key} must be a list of site names")
    return problems


def site_list(value: Any) -> list[str]:
    """``includedSite``/``excludedSite``: a list or a comma-separated string."""
    if value is None:
        return []
    if isinstance(value, str):
        return [item for item in value.split(",") if item]
    return [str(item) for item in value]


def input_items(params: Mapping[str, Any]) -> list[Mapping]:
    """The job-parameter templates that read an input dataset (``param_type`` input)."""
    return [
        item
        for item in params.get("jobParameters") or ()
        if isinstance(item, Mapping) and item.get("param_type") == "input" and isinstance(item.get("dataset"), str)
    ]


def output_items(params: Mapping[str, Any]) -> list[Mapping]:
    """The job-parameter templates that write an output dataset (``param_type`` output)."""
    return [
        item
        for item in params.get("jobParameters") or ()
        if isinstance(item, Mapping) and item.get("param_type") == "output" and isinstance(item.get("dataset"), str)
    ]


def is_event_service(params: Mapping[str, Any]) -> bool:
    """Event service: ``eventService`` set, or ``ES=1`` in an explicit split rule."""
    value = params.get("eventService")
    if value in (1, True, "1"):
        return True
    return "ES=1" in str(params.get("splitRule") or "").split(",")


def split_rule(params: Mapping[str, Any], event_service: bool, cores: int) -> str:
    """The task's ``splitRule`` from its parameters (``NF=..,NE=..,...``)."""
    rules: dict[str, str] = {}
    for item in str(params.get("splitRule") or "").split(","):
        if "=" in item:
            tag, value = item.split("=", 1)
            rules[tag] = value
    for key, tag in SPLIT_RULE_TAGS.items():
        if _is_int(params.get(key)) and params[key] > 0:
            rules[tag] = str(params[key])
    if params.get("respectSplitRule"):
        rules["RS"] = "1"
    if event_service:
        rules["ES"] = "1"
    if cores > 1:
        rules.setdefault("CC", str(cores))
    return ",".join(f"{tag}={value}" for tag, value in rules.items())


def set_split_rule(rule: str | None, tag: str, value: str | None) -> str:
    """``splitRule`` with ``tag`` set to ``value`` (None: removed), other tags kept in place."""
    items = [item for item in str(rule or "").split(",") if item]
    result = []
    found = False
    for item in items:
        name = item.split("=", 1)[0]
        if name == tag:
            found = True
            if value is not None:
                result.append(f"{tag}={value}")
        else:
            result.append(item)
    if not found and value is not None:
        result.append(f"{tag}={value}")
    return ",".join(result)


def split_rule_value(rule: str | None, tag: str) -> str | None:
    for item in str(rule or "").split(","):
        if item.startswith(f"{tag}="):
            return item.split("=", 1)[1]
    return None


# ----------------------------------------------------------------------------------------------
# splitting inputs into jobs
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Split:
    """How a task's work becomes jobs: files per job, events per job (None: whole files)."""

    files_per_job: int
    events_per_job: int | None
    events_per_file: int


def split_of(params: Mapping[str, Any], events_per_file: int | None = None) -> Split:
    files_per_job = params.get("nFilesPerJob") if _is_int(params.get("nFilesPerJob")) else None
    events_per_job = params.get("nEventsPerJob") if _is_int(params.get("nEventsPerJob")) else None
    per_file = params.get("nEventsPerInputFile") if _is_int(params.get("nEventsPerInputFile")) else None
    per_file = per_file or events_per_file or DEFAULT_EVENTS_PER_FILE
    return Split(max(files_per_job or 1, 1), events_per_job if events_per_job else None, max(per_file, 1))


def pseudo_chunks(params: Mapping[str, Any]) -> tuple[int, int]:
    """``(jobs, events per job)`` of a task without input (``noInput``): ``nJobs``, or
    ``nEvents``/``nEventsPerJob``, or one job."""
    events_per_job = params.get("nEventsPerJob") if _is_int(params.get("nEventsPerJob")) else None
    n_events = params.get("nEvents") if _is_int(params.get("nEvents")) else None
    n_jobs = params.get("nJobs") if _is_int(params.get("nJobs")) else None
    if n_jobs:
        return n_jobs, events_per_job or (max(n_events // n_jobs, 1) if n_events else 1)
    if n_events and events_per_job:
        return math.ceil(n_events / events_per_job), events_per_job
    if n_events:
        return 1, n_events
    return 1, events_per_job or 1


# ----------------------------------------------------------------------------------------------
# templates
# ----------------------------------------------------------------------------------------------
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)(/[A-Za-z]+)?\}|\$JEDITASKID|\$\{TASKID\}")


def render(template: str, values: Mapping[str, Any]) -> str:
    """Fill JEDI's placeholders: ``$JEDITASKID``/``${TASKID}``, ``${SN}`` (``/P``: six digits),
    ``${SURL}``, ``${IN...}`` (input LFNs, comma-separated), ``${MAXEVENTS}``, ``${SKIPEVENTS}``,
    ``${FIRSTEVENT}``, ``${SEQNUMBER}``, ``${RNDMSEED}``; unknown ones stay as they are."""

    def replace(match: re.Match) -> str:
        text = match.group(0)
        if text in ("$JEDITASKID", "${TASKID}"):
            return str(values["TASKID"])
        name, option = match.group(1), match.group(2)
        if name == "SN":
            serial = int(values["SN"])
            return f"{serial:06d}" if option == "/P" else str(serial)
        if name.startswith("IN") and "IN" in values:
            return ",".join(values["IN"])
        if name in values:
            return str(values[name])
        return text

    return _PLACEHOLDER.sub(replace, template)


def job_parameters(items: Sequence[Mapping[str, Any]], values: Mapping[str, Any] | None) -> str:
    """The job's command line: the visible items rendered, each followed by a space (none after an
    item with ``padding: false``); ``values`` None: the template itself (placeholders kept)."""
    text = ""
    for item in items:
        if not isinstance(item, Mapping) or item.get("hidden"):
            continue
        value = str(item.get("value", ""))
        if values is not None:
            value = render(value, values)
        text += value
        if item.get("padding", True) is not False:
            text += " "
    return text.rstrip(" ")


def dataset_name(name: str, task_id: int) -> str:
    """The dataset JEDI creates for a (container) name: ``<container>.<jediTaskID>`` for a container
    (``.../``), the name itself (placeholders filled) otherwise."""
    name = render(name, {"TASKID": task_id})
    return f"{name.rstrip('/')}.{task_id}" if name.endswith("/") else name


def container_name(name: str, task_id: int) -> str:
    name = render(name, {"TASKID": task_id})
    return name if name.endswith("/") else name


def input_dataset_names(value: str) -> list[str]:
    """Dataset names of an input template (comma-separated, ``scope:`` prefixes kept off)."""
    return [item.split(":", 1)[-1] for item in value.split(",") if item]


def fill(value: Any, placeholder: str, text: str) -> Any:
    """``value`` (JSON data) with ``placeholder`` replaced by ``text`` in every string."""
    if isinstance(value, str):
        return value.replace(placeholder, text)
    if isinstance(value, list):
        return [fill(item, placeholder, text) for item in value]
    if isinstance(value, dict):
        return {key: fill(item, placeholder, text) for key, item in value.items()}
    return value


def chunked(items: Sequence[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), max(size, 1)):
        yield list(items[start : start + max(size, 1)])
