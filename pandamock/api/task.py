"""``/api/v1/task/*``: submission, commands, edits and queries of JEDI tasks (``engine.tasks``)."""

from __future__ import annotations

import datetime as _dt
import json
import re
from typing import Any, Dict, List

from ..engine import jedi
from ..engine.naming import clean_user_id
from ..engine.outcome import Failure, Reply
from .registry import ApiModule
from .request import ApiRequest

module = ApiModule("task")

MESSAGE_TASK_ID = "jediTaskID must be an integer"


def _task_id(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise Failure(MESSAGE_TASK_ID) from None


def _command(req: ApiRequest, task_id: Any, command: str, **options: Any) -> Reply:
    identity = req.identity
    code, message = req.engine.tasks.command(_task_id(task_id), command, identity.dn, identity.production, **options)
    return Reply(code, message, success=code == 0)


# -- commands (registered now, applied by JEDI after the task_command delay) -------------------------
@module.endpoint("POST", task_owner=True)
def retry(
    req: ApiRequest,
    task_id: int,
    new_parameters: Dict | str = None,
    no_child_retry: bool = False,
    discard_events: bool = False,
    disable_staging_mode: bool = False,
    keep_gshare_priority: bool = False,
    ignore_hard_exhausted: bool = False,
) -> Reply:
    """Retry a finished/failed/exhausted task (command ``retry``: failed inputs get more attempts and
    new jobs), or re-submit it merged with ``new_parameters``; a running user task has its failed
    jobs retried instead. ``success`` is always true: the code is in ``data``."""
    identity = req.identity
    parameters = new_parameters
    if isinstance(parameters, str) and parameters:
        try:
            parameters = json.loads(parameters)
        except ValueError as exc:
            return Reply(1, f"new parameter conversion failed with {exc}")
    if not identity.production:
        ignore_hard_exhausted = False
    qualifiers = [
        name
        for name, flag in (
            ("sole", no_child_retry),
            ("discard", discard_events),
            ("staged", disable_staging_mode),
            ("keep", keep_gshare_priority),
            ("transcend", ignore_hard_exhausted),
        )
        if flag
    ]
    data, message = req.engine.tasks.retry(
        task_id, identity.dn, identity.production, identity.fqans, parameters or None, qualifiers
    )
    return Reply(data, message, success=True)


@module.endpoint("POST", production=True)
def resume(req: ApiRequest, task_id: int) -> Reply:
    """Resume a paused or throttled task (back to its status before the pause; throttled jobs are
    activated again) or push a staging task on (command ``resume``)."""
    return _command(req, task_id, "resume")


@module.endpoint("POST", production=True)
def release(req: ApiRequest, task_id: int) -> Reply:
    """Release a task: its staging inputs are taken as staged (command ``release``; no status change)."""
    return _command(req, task_id, "release")


@module.endpoint("POST")
def reassign(
    req: ApiRequest, task_id: int, site: str = None, cloud: str = None, nucleus: str = None, mode: str = None
) -> Reply:
    """Reassign a task to a site (back to its status at once), a nucleus or a cloud (command
    ``reassign``: its jobs are killed with code 51 and made again there; ``mode`` soft: queued jobs
    only, nokill: none)."""
    task = _task_id(task_id)
    if site:
        comment = f"site:{site}:y"
    elif nucleus:
        comment = f"nucleus:{nucleus}:n"
    else:
        comment = f"cloud:{cloud}:n"
    if mode == "nokill":
        comment += ":nokill reassign"
    elif mode == "soft":
        comment += ":soft reassign"
    return _command(req, task, "reassign", comment=comment)


@module.endpoint("POST", production=True)
def pause(req: ApiRequest, task_id: int) -> Reply:
    """Pause a task (command ``pause``: status ``paused``, its activated jobs are throttled)."""
    return _command(req, task_id, "pause")


@module.endpoint("POST", task_owner=True)
def kill(req: ApiRequest, task_id: int, broadcast: bool = False) -> Reply:
    """Kill a task (command ``kill``: ``aborting``, its jobs killed with code 50, then ``toabort`` and
    ``aborted`` once no job is active)."""
    return _command(req, task_id, "kill", broadcast=broadcast)


@module.endpoint("POST")
def kill_unfinished_jobs(req: ApiRequest, task_id: int, code: int = None, use_email_as_id: bool = False) -> list:
    """Kill every job of the task as ``job/kill`` would (one boolean per job, owner or production
    role per job); the task itself is not changed."""
    identity = req.identity
    user = identity.dn
    if use_email_as_id and identity.email:
        user = identity.email
    return req.engine.tasks.kill_jobs(task_id, user, code, identity.production, identity.working_groups)


@module.endpoint("POST", task_owner=True)
def finish(req: ApiRequest, task_id: int, soft: bool = False, broadcast: bool = False) -> Reply:
    """Finish a task (command ``finish``: ``finishing``, jobs force-killed with code 52, or only the
    queued ones with ``soft``; then ``passed`` and done/finished/failed)."""
    return _command(req, task_id, "finish", qualifier="soft" if soft else None, broadcast=broadcast)


@module.endpoint("POST", production=True)
def reactivate(
    req: ApiRequest, task_id: int, keep_attempt_nr: bool = False, trigger_job_generation: bool = False
) -> Reply:
    """Set the task ``ready`` at once and reset its inputs, so that it makes new jobs (no status
    check; an unknown task is "reactivated" too, with 0 inputs)."""
    code, message = req.engine.tasks.reactivate(_task_id(task_id), keep_attempt_nr, trigger_job_generation)
    return Reply(code, message, success=code == 0)


@module.endpoint("POST", production=True)
def avalanche(req: ApiRequest, task_id: int) -> Reply:
    """End the scouting of a task (command ``avalanche``: ``running``, walltimeUnit ``ava``)."""
    return _command(req, task_id, "avalanche")


@module.endpoint("POST")
def reload_input(req: ApiRequest, task_id: int, ignore_hard_exhausted: bool = False) -> Reply:
    """Reload the task's input (command ``incexec``: new files of its input datasets and its failed
    inputs get jobs; ``toincexec`` → ``rerefine`` → ``ready``/``running``)."""
    identity = req.identity
    qualifiers = ["transcend"] if ignore_hard_exhausted and identity.production else []
    return _command(req, task_id, "incexec", comment=json.dumps([{}, qualifiers]))


# -- direct edits --------------------------------------------------------------------------------------
@module.endpoint("POST", production=True)
def reassign_global_share(req: ApiRequest, task_id_list: List[int], share: str, reassign_running_jobs: bool) -> Reply:
    """Move tasks (and their queued jobs; running ones too with ``reassign_running_jobs``) to a leaf
    global share."""
    if not isinstance(task_id_list, list) or not isinstance(share, str):
        raise Failure("wrong parameters: task_ids must be list and share must be string")
    code, message = req.engine.tasks.reassign_share(task_id_list, share, reassign_running_jobs)
    return Reply(code, message, success=code == 0)


@module.endpoint("POST", production=True)
def enable_jumbo_jobs(req: ApiRequest, task_id: int, jumbo_jobs_total: int, jumbo_jobs_per_site: int = None) -> Reply:
    """Enable (or with 0 disable) jumbo jobs of an event-service task (``useJumbo``, ``NJ``/``MJ`` in
    the split rule); a scouting task is then avalanched."""
    per_site = jumbo_jobs_per_site or jumbo_jobs_total
    code, message = req.engine.tasks.enable_jumbo_jobs(task_id, jumbo_jobs_total, per_site)
    return Reply(code, message, success=code == 0)


@module.endpoint("GET")
def get_jumbo_job_datasets(req: ApiRequest, from_offset: int, to_offset: int = 0) -> dict:
    """Jumbo-enabled tasks modified between ``from_offset`` and ``to_offset`` days ago, with their
    status and input datasets. Changes nothing."""
    return req.engine.tasks.jumbo_datasets(from_offset, to_offset)


@module.endpoint("POST", production=True)
def enable_job_cloning(
    req: ApiRequest, jedi_task_id: int, mode: str = None, multiplicity: int = None, num_sites: int = None
) -> Reply:
    """Enable job cloning (``runonce`` or ``storeonce``) for the task's new jobs (split rule ``UC``)."""
    success, message = req.engine.tasks.set_job_cloning(jedi_task_id, mode, multiplicity, num_sites)
    if not success:
        raise Failure(message)
    return Reply(None, message)


@module.endpoint("POST", production=True)
def disable_job_cloning(req: ApiRequest, jedi_task_id: int) -> Reply:
    """Disable job cloning for the task's new jobs."""
    success, message = req.engine.tasks.unset_job_cloning(jedi_task_id)
    if not success:
        raise Failure(message)
    return Reply(None, message)


@module.endpoint("POST", production=True)
def increase_attempts(req: ApiRequest, task_id: int, increase: int) -> Reply:
    """Give the task's inputs ``increase`` more attempts (failed ones with attempts left again wait
    for a job); only for a task (or its oldStatus) running, scouting or ready."""
    task = _task_id(task_id)
    try:
        increase = int(increase)
        if increase < 0:
            raise ValueError
    except (TypeError, ValueError):
        raise Failure(f"increase must be a positive integer, got {increase}") from None
    code, message = req.engine.tasks.increase_attempts(task, increase)
    return Reply(code, message, success=code == 0)


def _changed(count: int | None, what: str) -> Reply:
    if count is None:
        raise Failure(f"Exception while changing the {what}")
    if count == 0:
        raise Failure("Task not found")
    return Reply(None, f"{count} tasks changed")


@module.endpoint("POST", production=True)
def change_attribute(req: ApiRequest, task_id: int, attribute_name: str, value: int) -> Reply:
    """Change ramCount, wallTime, cpuTime or coreCount of a task."""
    task = _task_id(task_id)
    if attribute_name not in jedi.CHANGEABLE_ATTRIBUTES:
        raise Failure(f"{attribute_name} is not a valid attribute. Valid attributes are {jedi.CHANGEABLE_ATTRIBUTES}")
    return _changed(req.engine.tasks.change_attribute(task, jedi.ATTRIBUTE_FIELDS[attribute_name], value), "attribute")


@module.endpoint("POST", production=True)
def change_modification_time(req: ApiRequest, task_id: int, hour_offset: int) -> Reply:
    """Set the task's modificationTime to now + ``hour_offset`` hours (negative: JEDI looks at it again)."""
    try:
        moment = req.engine.now() + _dt.timedelta(hours=hour_offset)
    except (OverflowError, ValueError):
        raise Failure(f"failed to convert {hour_offset} to time") from None
    return _changed(req.engine.tasks.change_attribute(task_id, "modificationTime", moment), "attribute")


@module.endpoint("POST", production=True)
def change_priority(req: ApiRequest, task_id: int, priority: int) -> Reply:
    """Change the task's current priority (and its queued jobs')."""
    task = _task_id(task_id)
    try:
        priority = int(priority)
    except (TypeError, ValueError):
        raise Failure("priority must be an integer") from None
    return _changed(req.engine.tasks.change_priority(task, priority), "priority")


@module.endpoint("POST", production=True)
def change_split_rule(req: ApiRequest, task_id: int, attribute_name: str, value: str) -> Reply:
    """Set one changeable tag of the task's split rule."""
    task = _task_id(task_id)
    if attribute_name not in jedi.CHANGEABLE_SPLIT_RULES:
        raise Failure(
            f"{attribute_name} is not a valid attribute. Valid attributes are {jedi.CHANGEABLE_SPLIT_RULES}", data=2
        )
    return _changed(req.engine.tasks.change_split_rule(task, attribute_name, value), "split rule")


# -- submission ------------------------------------------------------------------------------------------
@module.endpoint("POST")
def submit(req: ApiRequest, task_parameters: Dict, parent_tid: int = None) -> Reply:
    """Register a task from its parameters (``registered``; JEDI defines it and makes its jobs on the
    emulator clock). The message carries ``jediTaskID=<n>``; ``data`` is the new id."""
    identity = req.identity
    code, message = req.engine.tasks.submit(
        task_parameters, identity.dn, identity.production, identity.fqans, parent_tid=parent_tid
    )
    if code not in (0, 3):
        raise Failure(message, data=code)
    match = re.search(r"jediTaskID=(\d+)", message)
    return Reply(int(match.group(1)) if match else None, message)


# -- queries -----------------------------------------------------------------------------------------------
@module.endpoint("GET")
def get_status(req: ApiRequest, task_id: Any) -> str:
    """The task's JEDI status. Changes nothing."""
    status = req.engine.tasks.status(_task_id(task_id))
    if not status:
        raise Failure("Task not found")
    return status


@module.endpoint("GET")
def get_details(req: ApiRequest, task_id: int, include_parameters: bool = False, include_status: bool = False) -> dict:
    """Input and output datasets, job statistics (``status*count``), PandaIDs and merge jobs of a
    task (+ ``status``, + ``cliParams``). Changes nothing."""
    details = req.engine.tasks.details(task_id, include_parameters, include_status)
    if not details:
        raise Failure("Task not found or error retrieving the details")
    return details


@module.endpoint("GET")
def get_tasks_modified_since(
    req: ApiRequest,
    since: str,
    dn: str = None,
    full: bool = False,
    min_task_id: int = None,
    prod_source_label: str = "user",
) -> dict:
    """Tasks of a user (``dn``, default the caller) of one prodSourceLabel modified after ``since``
    (at most 30 days back), keyed by reqID. Changes nothing."""
    user = clean_user_id(dn) if dn else req.identity.compact_name
    return req.engine.tasks.modified_since(user, since, full, min_task_id, prod_source_label)


@module.endpoint("GET")
def get_datasets_and_files(
    req: ApiRequest,
    task_id: Any,
    dataset_types: List[str] = ["input", "pseudo_input"],  # noqa: B006 - PanDA's declared default
    dataset_only: bool = False,
) -> list:
    """The task's datasets of the given types with their files (lfn, scope, id, status);
    ``dataset_only`` is ignored, as by PanDA. Changes nothing."""
    data = req.engine.tasks.datasets_and_files(task_id, list(dataset_types or []))
    if data is None:
        raise Failure("Database exception while gathering files")
    if data == []:
        raise Failure("No data found for the task")
    return data


@module.endpoint("GET")
def get_job_ids(req: ApiRequest, task_id: int) -> list:
    """Every PandaID of the task, in any status. Changes nothing."""
    return req.engine.tasks.job_ids(_task_id(task_id))


@module.endpoint("GET")
def get_task_parameters(req: ApiRequest, task_id: int) -> dict:
    """The parameters the task was created from. Changes nothing."""
    text = req.engine.tasks.task_parameters(_task_id(task_id))
    if not text:
        raise Failure("Task not found")
    try:
        return json.loads(text)
    except ValueError as exc:
        raise Failure(f"Error decoding the task parameters: {exc}") from None


@module.endpoint("GET")
def get_tasks_detailed_info_since(req: ApiRequest, since: str = None, filters: str = None, n_tasks: int = 500) -> list:
    """The caller's tasks (every attribute + input progress), optionally modified after ``since`` and
    matching ``filters`` (a JSON object: equality, or regular expressions), at most ``n_tasks``.
    Changes nothing."""
    return req.engine.tasks.detailed_info_since(req.identity.compact_name, since, filters, n_tasks)


@module.endpoint("GET")
def get_detailed_info(req: ApiRequest, task_id: int) -> dict:
    """Every attribute of the task, its input progress, job-parameter template and parameters.
    Changes nothing."""
    info = req.engine.tasks.detailed_info(task_id)
    if not info:
        raise Failure("Task not found or error retrieving task info")
    return info


@module.endpoint("GET")
def get_parent_detailed_info(req: ApiRequest, task_id: int) -> dict:
    """The detailed info of the task's parent task. Changes nothing."""
    return req.engine.tasks.parent_detailed_info(task_id)


@module.endpoint("GET")
def get_job_descriptions(req: ApiRequest, task_id: int, unsuccessful_only: bool = False) -> list:
    """Descriptions of the task's jobs (incl. archived) with ``jobDuration`` and
    ``extendedProdSourceLabel``; failed/cancelled/closed only with ``unsuccessful_only``. Changes nothing."""
    return req.engine.tasks.job_descriptions(task_id, unsuccessful_only)
