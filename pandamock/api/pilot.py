"""``/api/v1/pilot/*``: job dispatch, heartbeats and final reports, worker-node registry.

``pilot/update_worker_status`` (the pilot-level status of a harvester worker) lives with the
harvester endpoints' state and is declared by that area.
"""

from __future__ import annotations

from typing import Any, List

from ..engine.jobs import update_params
from ..engine.outcome import Failure, Reply
from ..engine.payloads import resolve_transformation
from . import envelope as env
from .params import CheckFailed, ServerCrash, bind, cast_and_check
from .registry import ApiModule
from .request import ApiRequest

module = ApiModule("pilot")


@module.endpoint("POST")
def acquire_jobs(
    req: ApiRequest,
    site_name: str,
    timeout: int = 60,
    memory: int = None,
    disk_space: int = None,
    prod_source_label: str = None,
    node: str = None,
    computing_element: str = None,
    prod_user_id: str = None,
    get_proxy_key: str = None,
    task_id: int = None,
    n_jobs: int = 1,
    background: bool = None,
    resource_type: str = None,
    harvester_id: str = None,
    worker_id: int = None,
    scheduler_id: str = None,
    job_type: str = None,
    via_topic: bool = None,
    remaining_time: Any = None,
) -> dict:
    """Dispatch: reserve activated jobs of the queue (highest currentPriority first), move them
    activated -> sent and return their job dictionaries (``{"StatusCode": 0, "jobs": [...]}``).
    Records the harvester worker <-> job link when ``harvester_id`` and ``worker_id`` are given.
    A payload script ``/trf/user/<name>`` is answered as a URL on this server (or ``trf_url``)."""
    reply = req.engine.jobs.acquire(
        site_name,
        production=req.identity.production,
        dn=req.identity.dn,
        n_jobs=n_jobs,
        memory=memory,
        disk_space=disk_space,
        prod_source_label=prod_source_label,
        node=node,
        computing_element=computing_element,
        prod_user_id=prod_user_id,
        get_proxy_key=get_proxy_key,
        task_id=task_id,
        background=background,
        resource_type=resource_type,
        harvester_id=harvester_id,
        worker_id=worker_id,
        scheduler_id=scheduler_id,
        job_type=job_type,
    )
    trf_base = req.emulator.settings.trf_url or f"{req.base_url}/trf/user"
    for job in reply["jobs"]:
        job["transformation"] = resolve_transformation(job.get("transformation"), trf_base)
    return reply


@module.endpoint("GET")
def get_job_status(req: ApiRequest, job_ids: List[int], timeout: int = 60) -> list:
    """Status and attempt number of jobs as the pilot sees them (active, waiting and archived jobs;
    ``not found`` otherwise). Changes nothing."""
    return req.engine.jobs.pilot_status(job_ids)


@module.endpoint("POST", production=True)
def update_job(
    req: ApiRequest,
    job_id: int,
    job_status: str,
    job_output_report: str = "",
    node: str = None,
    cpu_consumption_time: int = None,
    cpu_consumption_unit: str = None,
    scheduler_id: str = None,
    pilot_id: str = None,
    site_name: str = None,
    pilot_log: str = "",
    meta_data: str = "",
    cpu_conversion_factor: float | int = None,
    trans_exit_code: int = None,
    pilot_error_code: int = None,
    pilot_error_diag: str = None,
    exe_error_code: int = None,
    exe_error_diag: str = None,
    pilot_timing: str = None,
    start_time: str = None,
    end_time: str = None,
    n_events: int = None,
    n_input_files: int = None,
    batch_id: str = None,
    attempt_nr: int = None,
    job_metrics: str = None,
    stdout: str = "",
    job_sub_status: str = None,
    core_count: int = None,
    max_rss: int | float = None,
    max_vmem: int | float = None,
    max_swap: int | float = None,
    max_pss: int | float = None,
    avg_rss: int | float = None,
    avg_vmem: int | float = None,
    avg_swap: int | float = None,
    avg_pss: int | float = None,
    tot_rchar: int | float = None,
    tot_wchar: int | float = None,
    tot_rbytes: int | float = None,
    tot_wbytes: int | float = None,
    rate_rchar: int | float = None,
    rate_wchar: int | float = None,
    rate_rbytes: int | float = None,
    rate_wbytes: int | float = None,
    corrupted_files: str = None,
    mean_core_count: int = None,
    cpu_architecture_level: str = None,
    grid: str = None,
    source_site: str = None,
    destination_site: str = None,
    timeout: int = 60,
) -> Reply:
    """Heartbeat or final report of a job: status change with the guards of §7.1 (finished/failed are
    stored as holding until the adder), metrics and error fields, metadata; ``data`` carries
    ``StatusCode`` and the pilot ``command`` (``"NULL"`` when there is nothing to do)."""
    values = dict(locals())
    return _update_one(req, values)


def _update_one(req: ApiRequest, values: dict) -> Reply:
    success, message, data = req.engine.jobs.update(
        values["job_id"],
        values["job_status"],
        attempt_nr=values.get("attempt_nr"),
        params=update_params(values),
        job_output_report=values.get("job_output_report", ""),
        pilot_log=values.get("pilot_log", ""),
        meta_data=values.get("meta_data", ""),
        stdout=values.get("stdout", ""),
    )
    return Reply(data, message=message, success=success)


@module.endpoint("POST", production=True)
def update_jobs_bulk(req: ApiRequest, job_list: List, harvester_id: str = None) -> list:
    """``update_job`` for each job dict of ``job_list`` (same parameter names, each validated like a
    call of its own); ``data`` is one ``{success, message, data}`` envelope per job, in order."""
    spec = module.endpoints["update_job"]
    items: list[Any] = []
    broken = None
    for job_dict in job_list:
        try:
            params = dict(job_dict)
            job_id = params.pop("job_id")
            job_status = params.pop("job_status")
        except (KeyError, TypeError, ValueError) as exc:
            broken = f"failed with {type(exc).__name__} {exc}"
            break
        if "meta_data" in params:
            params["meta_data"] = str(params["meta_data"])
        try:
            bound = bind(spec, {"job_id": job_id, "job_status": job_status, **params})
            cast_and_check(spec, bound, "POST")
        except (CheckFailed, ServerCrash) as exc:
            items.append(str(exc))
            continue
        items.append(
            dict(
                bound,
                params=update_params(bound),
            )
        )
    results = req.engine.jobs.update_bulk(items)
    if broken is not None:
        raise Failure(broken, data=[])
    return [env.envelope(success, message, data) for success, message, data in results]


@module.endpoint("POST", production=True)
def update_worker_node(
    req: ApiRequest,
    site: str,
    host_name: str,
    cpu_model: str,
    panda_queue: str = None,
    n_logical_cpus: int = None,
    n_sockets: int = None,
    cores_per_socket: int = None,
    threads_per_core: int = None,
    cpu_architecture: str = None,
    cpu_architecture_level: str = None,
    clock_speed: float = None,
    total_memory: int = None,
    total_local_disk: int = None,
    timeout: int = 60,
) -> Reply:
    """Register a worker node's hardware (site level, and queue level when ``panda_queue`` is given),
    or refresh its ``last_seen``."""
    message = req.engine.jobs.update_worker_node(
        site,
        panda_queue,
        host_name,
        cpu_model,
        n_logical_cpus=n_logical_cpus,
        n_sockets=n_sockets,
        cores_per_socket=cores_per_socket,
        threads_per_core=threads_per_core,
        cpu_architecture=cpu_architecture,
        cpu_architecture_level=cpu_architecture_level,
        clock_speed=clock_speed,
        total_memory=total_memory,
        total_local_disk=total_local_disk,
    )
    return Reply(None, message=message)


@module.endpoint("POST", production=True)
def update_worker_node_gpu(
    req: ApiRequest,
    site: str,
    host_name: str,
    vendor: str,
    model: str,
    count: int,
    vram: int = None,
    architecture: str = None,
    framework: str = None,
    framework_version: str = None,
    driver_version: str = None,
    timeout: int = 60,
) -> Reply:
    """Register the GPUs of a worker node, or refresh their count, framework and ``last_seen``."""
    message = req.engine.jobs.update_worker_node_gpu(
        site,
        host_name,
        vendor,
        model,
        count,
        vram=vram,
        architecture=architecture,
        framework=framework,
        framework_version=framework_version,
        driver_version=driver_version,
    )
    return Reply(None, message=message)


@module.endpoint("POST", production=True)
def update_worker_status(
    req: ApiRequest, worker_id: Any, harvester_id: Any, status: Any, timeout: Any = 60, node_id: Any = None
) -> None:
    """The pilot's view of its worker: ``pilotStatus`` started/finished, ``pilotStartTime``/``pilotEndTime``
    and ``nodeID`` of the ``workers`` record."""
    return req.engine.harvester.update_worker_pilot_status(worker_id, harvester_id, status, node_id)
