"""``/api/v1/harvester/*``: Harvester instances, workers, worker statistics, commands, target slots.

Engine: :mod:`pandamock.engine.harvester`.
"""

from __future__ import annotations

from typing import List

from ..engine.outcome import Reply
from .registry import ApiModule
from .request import ApiRequest

module = ApiModule("harvester")


def _remote_host(req: ApiRequest) -> str:
    """``req.get_remote_host()``: the caller's host name (its address when no name is known)."""
    return req.environ.get("REMOTE_HOST") or req.environ.get("REMOTE_ADDR") or ""


@module.endpoint("POST")
def update_workers(req: ApiRequest, harvester_id: str, workers: List) -> list:
    """Insert or update workers (shared ``workers`` table) and their job links (``worker_jobs``); a final
    worker with ``syncLevel`` 1 fails its running/starting jobs. Answers one ``true`` per worker."""
    return req.engine.harvester.update_workers(harvester_id, workers)


@module.endpoint("POST")
def update_service_metrics(req: ApiRequest, harvester_id: str, metrics: list) -> list:
    """Store ``[creation_time, host, metrics_json]`` entries in ``harvester_metrics``; answers ``[true]``."""
    return req.engine.harvester.update_service_metrics(harvester_id, metrics)


@module.endpoint("POST")
def add_dialogs(req: ApiRequest, harvester_id: str, dialogs: list) -> None:
    """Store diagnostic messages in ``harvester_dialogs`` (a message replaces the one with its diagID)."""
    return req.engine.harvester.add_dialogs(harvester_id, dialogs)


@module.endpoint("POST")
def heartbeat(req: ApiRequest, harvester_id: str, data: dict = None) -> None:
    """Register or update the instance in ``harvester_instances`` (owner, host, lastUpdate, metadata
    columns of ``data``); ``data.commands`` adds command locks."""
    return req.engine.harvester.heartbeat(harvester_id, data, req.identity.dn, _remote_host(req))


@module.endpoint("GET")
def get_current_worker_id(req: ApiRequest, harvester_id: str) -> int:
    """The highest workerID of the instance in ``workers``. Changes nothing."""
    return req.engine.harvester.get_current_worker_id(harvester_id)


@module.endpoint("GET")
def get_worker_statistics(req: ApiRequest) -> dict:
    """Worker counts reported in the last 4 hours (``harvester_worker_stats``). Changes nothing."""
    return req.engine.harvester.worker_statistics()


@module.endpoint("POST")
def report_worker_statistics(req: ApiRequest, harvester_id: str, panda_queue: str, statistics: str) -> Reply:
    """Replace the instance's worker counts at a queue in ``harvester_worker_stats``."""
    return req.engine.harvester.report_worker_statistics(harvester_id, panda_queue, statistics)


@module.endpoint("POST", production=True)
def acquire_commands(req: ApiRequest, harvester_id: str, n_commands: int, timeout: int = 30) -> list:
    """Hand out up to ``n_commands`` new commands of the instance (``harvester_commands``: new -> retrieved)."""
    return req.engine.harvester.acquire_commands(harvester_id, n_commands)


@module.endpoint("POST", production=True)
def acknowledge_commands(req: ApiRequest, command_ids: List, timeout: int = 30) -> None:
    """Mark retrieved commands acknowledged (``harvester_commands``: retrieved -> acknowledged)."""
    return req.engine.harvester.acknowledge_commands(command_ids)


@module.endpoint("POST", production=True)
def add_sweep_command(
    req: ApiRequest, panda_queue: str, status_list: List[str], ce_list: List[str], submission_host_list: List[str]
) -> Reply:
    """Create the KILL_WORKERS command (``harvester_commands``, status new) for the instance serving a queue."""
    return req.engine.harvester.add_sweep_command(panda_queue, status_list, ce_list, submission_host_list)


@module.endpoint("POST", production=True)
def add_target_slots(
    req: ApiRequest,
    panda_queue: str,
    slots: int,
    global_share: str = None,
    resource_type: str = None,
    expiration_date: str = None,
) -> Reply:
    """Set (``slots=-1``: delete) the target slots of a queue/global share/resource type in
    ``harvester_slots``; ``expiration_date`` is a number of days."""
    return req.engine.harvester.add_target_slots(panda_queue, slots, global_share, resource_type, expiration_date)
