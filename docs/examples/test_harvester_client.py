"""Example: a Harvester-like client against the live `pandamock` fixture.

The client below talks to the server the way Harvester's panda communicator does (requests,
JSON bodies on POST, query strings on GET, ``Accept: application/json``, one connection per call).
The test drives one worker through its life: the instance registers with a heartbeat, submits a
worker for a job that is running at the queue, picks up an operator's sweep command, and reports
the worker failed; PanDA then fails the job (after its adder delay).
"""

from __future__ import annotations

import json

import pytest
import requests

from pandamock.engine import records, statuses

QUEUE = "CERN-PROD_UCORE"
HARVESTER_ID = "CERN_central_A"


class HarvesterClient:
    """The calls Harvester's communicator makes, reduced to what this test needs."""

    def __init__(self, base_url: str, harvester_id: str) -> None:
        self.api = f"{base_url}/api/v1"
        self.harvester_id = harvester_id

    def _call(self, method: str, endpoint: str, **params):
        headers = {"Accept": "application/json", "Connection": "close"}
        if method == "GET":
            response = requests.get(f"{self.api}/{endpoint}", params=params, headers=headers, timeout=10)
        else:
            response = requests.post(f"{self.api}/{endpoint}", json=params, headers=headers, timeout=10)
        response.raise_for_status()
        return response.json()

    def heartbeat(self, **data):
        return self._call("POST", "harvester/heartbeat", harvester_id=self.harvester_id, data=data)

    def update_workers(self, workers: list[dict]):
        return self._call("POST", "harvester/update_workers", harvester_id=self.harvester_id, workers=workers)

    def max_worker_id(self):
        return self._call("GET", "harvester/get_current_worker_id", harvester_id=self.harvester_id)

    def get_commands(self, n: int = 10):
        return self._call("POST", "harvester/acquire_commands", harvester_id=self.harvester_id, n_commands=n)

    def ack_commands(self, command_ids: list[int]):
        return self._call("POST", "harvester/acknowledge_commands", command_ids=command_ids)

    def report_worker_stats(self, queue: str, stats: dict):
        return self._call(
            "POST",
            "harvester/report_worker_statistics",
            harvester_id=self.harvester_id,
            panda_queue=queue,
            statistics=json.dumps(stats),
        )


def running_job(engine, site: str) -> int:
    """Arrange a job that a pilot is running at ``site`` (created activated, then sent, running)."""
    with engine.operation():
        jobs = engine.store.table("jobs")
        panda_id = engine.ids.next("PandaID")
        job = records.new_job(
            {
                "PandaID": panda_id,
                "jobStatus": "activated",
                "computingSite": site,
                "prodSourceLabel": "managed",
                "jobName": f"mc23_13p6TeV.801234.simul.{panda_id}",
                "attemptNr": 1,
                "currentPriority": 1000,
                "coreCount": 8,
                "creationTime": engine.now(),
            }
        )
        statuses.created(jobs, job, statuses.JOB, engine.now())
        statuses.transition(jobs, panda_id, statuses.JOB, "sent", engine.now())
        statuses.transition(jobs, panda_id, statuses.JOB, "running", engine.now())
    return panda_id


@pytest.fixture
def harvester(pandamock):
    return HarvesterClient(pandamock.url, HARVESTER_ID)


def test_worker_lifecycle(pandamock, harvester):
    engine = pandamock.engine
    panda_id = running_job(engine, QUEUE)

    assert harvester.heartbeat(sw_version="0.7.5")["success"] is True
    worker = {"workerID": 1, "computingSite": QUEUE, "status": "submitted", "nCore": 8, "syncLevel": 1}
    assert harvester.update_workers([worker])["data"] == [True]
    assert harvester.update_workers([{**worker, "status": "running", "pandaid_list": [panda_id]}])["data"] == [True]
    assert harvester.max_worker_id()["data"] == 1

    # an operator asks Harvester to sweep the queue's stuck workers (in-process, as a production user)
    reply = pandamock.client.call(
        "harvester/add_sweep_command",
        panda_queue=QUEUE,
        status_list=["submitted"],
        ce_list=["ce.cern-prod.example.org"],
        submission_host_list=["harvester.example.org"],
    )
    assert reply["success"] is True, reply
    commands = harvester.get_commands()["data"]
    assert [command["command"] for command in commands] == ["KILL_WORKERS"]
    assert harvester.ack_commands([command["command_id"] for command in commands])["success"] is True
    assert harvester.get_commands()["data"] == []  # a command is handed out once

    # the batch system loses the worker: PanDA fails its running job after the adder delay
    lost = {**worker, "status": "failed", "errorCode": 1, "diagMessage": "batch job removed"}
    assert harvester.update_workers([lost])["data"] == [True]
    assert pandamock.records("jobs", PandaID=panda_id)[0]["jobStatus"] == "running"
    pandamock.advance(engine.delay("job_adder"))
    job = pandamock.records("jobs", PandaID=panda_id)[0]
    assert job["jobStatus"] == "failed"
    assert job["taskBufferErrorCode"] == 300
    assert job["supErrorDiag"] == "Diag from worker : batch job removed"

    pandamock.journal.assert_statuses(panda_id, ["activated", "sent", "running", "failed"])
    pandamock.journal.assert_statuses(f"{HARVESTER_ID}:1", ["submitted", "running", "failed"], table="workers")
    pandamock.journal.assert_called("harvester/update_workers", times=3)
    pandamock.journal.assert_no_unexpected_failures()


def test_worker_statistics_are_per_instance(pandamock, harvester):
    stats = {"managed": {"SCORE": {"running": 4, "submitted": 2}}}
    assert harvester.report_worker_stats(QUEUE, stats)["success"] is True
    reply = requests.get(f"{pandamock.api_url}/harvester/get_worker_statistics", headers={"Accept": "application/json"})
    assert reply.json()["data"][QUEUE][HARVESTER_ID] == stats
