"""``/api/v1/event/*``: event ranges of event-service jobs."""

from __future__ import annotations

import json
from typing import Any, List

from ..engine.events import MESSAGE_DATABASE
from ..engine.outcome import Failure, Reply
from .registry import ApiModule
from .request import ApiRequest

module = ApiModule("event")


@module.endpoint("GET", production=True)
def get_available_event_range_count(
    req: ApiRequest, job_id: int, jobset_id: int, task_id: int, timeout: Any = 60
) -> int:
    """Number of ready event ranges (with attempts left) of the job's jobset, task-wide for a jumbo
    job. Changes nothing."""
    return req.engine.events.available_count(job_id, jobset_id, task_id)


@module.endpoint("GET")
def get_event_range_statuses(req: ApiRequest, job_task_ids: str | List[str]) -> dict:
    """Status, error code and dialog of every event range of the given (task, job) pairs:
    ``{panda_id: {eventRangeID: {"status", "error", "dialog"}}}``. Accepts the documented JSON list
    and the Python-repr dicts (one per repeated query key) that panda-client sends. Changes nothing."""
    try:
        return req.engine.events.statuses(job_task_ids)
    except (ValueError, TypeError):
        raise Failure(MESSAGE_DATABASE) from None


@module.endpoint("POST", production=True)
def acquire_event_ranges(
    req: ApiRequest,
    job_id: int,
    jobset_id: int,
    task_id: int = None,
    n_ranges: int = 10,
    timeout: int = 60,
    scattered: bool = False,
    segment_id: int = None,
) -> list:
    """Reserve up to ``n_ranges`` ready event ranges of the jobset for a sent/starting/running job that
    is not being killed (ready -> sent, renamed to the job's PandaID); a bare list, [] when none."""
    return req.engine.events.acquire(job_id, jobset_id, task_id, n_ranges, scattered, segment_id)


@module.endpoint("POST", production=True)
def update_single_event_range(
    req: ApiRequest,
    event_range_id: str,
    event_range_status: str,
    core_count: int = None,
    cpu_consumption_time: float = None,
    object_store_id: int = None,
    timeout: int = 60,
) -> Reply:
    """Report one event range: finished/failed/fatal are stored (fatal as failed with attemptNr 1),
    running/transferring accepted but not stored (``success`` None); ``data.Command`` is the JSON
    string of the pilot commands per PandaID."""
    success, command = req.engine.events.update_single(
        event_range_id, event_range_status, core_count, cpu_consumption_time, object_store_id
    )
    if success is False:
        raise Failure(MESSAGE_DATABASE)
    return Reply({"Command": command}, success=success)


@module.endpoint("POST", production=True)
def update_event_ranges(req: ApiRequest, event_ranges: str | List, timeout: int = 120, version: int = 0) -> dict:
    """Bulk report of event ranges (version 0 normal, 1 jumbo with zip files, 2 fine-grained): the
    statuses are stored as for update_single_event_range; ``data`` is ``{"StatusCode": 0, "Returns":
    [True|False|None per range], "Commands": {PandaID: command}}``. ``event_ranges`` is the JSON string
    of the list (Harvester, pilots) or the list itself (panda-client's update_events)."""
    try:
        decoded = json.loads(event_ranges) if isinstance(event_ranges, str) else event_ranges
        returns, commands = req.engine.events.update(decoded, version)
    except (ValueError, TypeError):
        raise Failure("ERROR : failed to convert eventRanges with json") from None
    return {"StatusCode": 0, "Returns": returns, "Commands": commands}
