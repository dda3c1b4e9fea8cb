"""Probe endpoints for the fault, journal and control tests: they carry the values fault rules
match on (PandaID, jediTaskID, queue, harvester and worker ids) and change real state."""

from __future__ import annotations

from typing import Any, List

from pandamock.api.registry import ApiModule, Registry, discover
from pandamock.app import create_app
from pandamock.config import Settings
from pandamock.emulator import Emulator
from pandamock.engine import records
from pandamock.engine.statuses import JOB, created, transition

probe = ApiModule("jobprobe")


@probe.endpoint("POST")
def update_job(
    req,
    job_id: int,
    job_status: str = "running",
    site_name: str = None,
    harvester_id: str = None,
    worker_id: int = None,
    task_id: int = None,
) -> dict:
    """Create job ``job_id`` (activated) or move it to ``job_status``."""
    engine = req.engine
    with engine.operation():
        jobs = engine.store.table("jobs")
        if jobs.get(job_id) is None:
            now = engine.now()
            record = records.new_job(
                {
                    "PandaID": job_id,
                    "jobStatus": "activated",
                    "computingSite": site_name or "CERN-PROD_UCORE",
                    "creationTime": now,
                    "stateChangeTime": now,
                    "modificationTime": now,
                }
            )
            created(jobs, record, JOB, engine.now())
        else:
            transition(jobs, job_id, JOB, job_status, engine.now())
        return {"PandaID": job_id, "jobStatus": jobs.get(job_id)["jobStatus"]}


@probe.endpoint("GET")
def get_job(req, job_id: int) -> Any:
    """The status of one job (None if unknown)."""
    with req.engine.operation():
        job = req.engine.store.table("jobs").get(job_id)
    return job["jobStatus"] if job else None


@probe.endpoint("GET")
def get_status(req, job_ids: List[int]) -> list:
    """Statuses of several jobs."""
    with req.engine.operation():
        jobs = req.engine.store.table("jobs")
        return [(jobs.get(i) or {}).get("jobStatus") for i in job_ids]


@probe.endpoint(None)
def acquire(req, site_name: str, harvester_id: str = None, worker_id: int = None, task_id: int = None) -> dict:
    """Any method; echoes its values."""
    return {"site_name": site_name, "harvester_id": harvester_id, "worker_id": worker_id, "task_id": task_id}


@probe.endpoint("POST")
def bulk(req, job_list: List, harvester_id: str = None) -> int:
    """A list of job records."""
    return len(job_list)


def default_without_generation() -> Any:
    """The default scenario's identities and queues without its generated tasks and jobs."""
    from pandamock.scenario import load

    scenario = load("default")
    scenario.generate = {}
    return scenario


def make_app(**settings: Any):
    """An app on the default scenario without its generated world (or ``scenario=``), with the probe
    endpoints added: the probes own the jobs table."""
    registry = Registry([probe, *discover().modules.values()])
    scenario = default_without_generation() if "scenario" not in settings else None
    emulator = Emulator(Settings.load({"scenario": "default", **settings}), scenario=scenario, registry=registry)
    return create_app(emulator=emulator)
