"""Example: a pilot-like client loop against the live `pandamock` fixture.

The pilot asks for a job at its queue, reports it starting and running (heartbeats), and sends
its final report; PanDA keeps a finished job in ``holding`` until its adder has registered the
output, then ``finished``. The test arranges the queue's work directly in the engine, lets a small
pilot loop drain the queue, advances the emulator clock past the adder's delay and checks every
job's life in the journal.
"""

from __future__ import annotations

import pytest
import requests

from pandamock.engine import records, statuses

QUEUE = "MOCK_QUEUE"  # the one queue of the `empty` scenario: only the jobs this test arranges

pytestmark = pytest.mark.pandamock(scenario="empty")


@pytest.fixture(autouse=True)
def _pilot_api(pandamock):
    # pilot/acquire_jobs and pilot/update_job come with pandamock's jobs module
    if pandamock.emulator.registry.lookup("pilot", "acquire_jobs") is None:
        pytest.skip("this pandamock does not serve pilot/acquire_jobs")


class Pilot:
    """The pilot's side of the job protocol (PanDA API v1), one job at a time."""

    def __init__(self, base_url: str, site: str, node: str = "wn042.example.org") -> None:
        self.api = f"{base_url}/api/v1"
        self.site = site
        self.node = node
        self.session = requests.Session()
        self.session.headers["Accept"] = "application/json"

    def _post(self, endpoint: str, **params) -> dict:
        response = self.session.post(f"{self.api}/{endpoint}", json=params, timeout=10)
        response.raise_for_status()
        return response.json()

    def get_job(self) -> dict | None:
        reply = self._post("pilot/acquire_jobs", site_name=self.site, node=self.node, prod_source_label="managed")
        if reply["success"] is False and reply["message"] == "No jobs in PanDA":
            return None
        assert reply["success"] is True, reply
        return reply["data"]["jobs"][0]

    def update(self, job: dict, status: str, **fields) -> dict:
        reply = self._post(
            "pilot/update_job",
            job_id=job["PandaID"],
            job_status=status,
            attempt_nr=job["attemptNr"],
            site_name=self.site,
            node=self.node,
            **fields,
        )
        assert reply["success"] is True, reply
        return reply["data"]

    def execute(self, job: dict, heartbeats: int = 2) -> str:
        """Run the payload: starting, heartbeats while running, then the final report."""
        self.update(job, "starting")
        for _ in range(heartbeats):
            command = self.update(job, "running", core_count=job["coreCount"])["command"]
            if command == "tobekilled":
                self.update(job, "failed", pilot_error_code=1144, pilot_error_diag="Job killed by panda server")
                return "killed"
        self.update(job, "finished", cpu_consumption_time=3600, n_events=100, trans_exit_code=0)
        return "finished"

    def run(self) -> list[int]:
        """Run jobs until the queue is empty; returns their PandaIDs in the order they ran."""
        done = []
        while (job := self.get_job()) is not None:
            self.execute(job)
            done.append(job["PandaID"])
        return done


def activated_job(engine, site: str, priority: int, **values) -> int:
    """Arrange a job waiting for a pilot at ``site``."""
    with engine.operation():
        panda_id = engine.ids.next("PandaID")
        job = records.new_job(
            {
                "PandaID": panda_id,
                "jobStatus": "activated",
                "computingSite": site,
                "prodSourceLabel": "managed",
                "jobName": f"mc23_13p6TeV.801234.simul.{panda_id}",
                "transformation": "Sim_tf.py",
                "attemptNr": 1,
                "maxAttempt": 3,
                "currentPriority": priority,
                "assignedPriority": priority,
                "coreCount": 8,
                "minRamCount": 2000,
                "resource_type": "MCORE",
                "creationTime": engine.now(),
                **values,
            }
        )
        statuses.created(engine.store.table("jobs"), job, statuses.JOB, engine.now())
    return panda_id


def test_pilot_drains_the_queue(pandamock):
    engine = pandamock.engine
    low = activated_job(engine, QUEUE, priority=500)
    high = activated_job(engine, QUEUE, priority=900)

    ran = Pilot(pandamock.url, QUEUE).run()

    assert ran == [high, low]  # highest priority first
    assert {job["jobStatus"] for job in pandamock.records("jobs", computingSite=QUEUE)} == {"holding"}
    pandamock.advance(engine.delay("job_adder"))
    for panda_id in ran:
        pandamock.journal.assert_statuses(panda_id, ["activated", "sent", "starting", "running", "holding", "finished"])
    pandamock.journal.assert_called("pilot/acquire_jobs", times=3)  # the third found the queue empty
    pandamock.journal.assert_called("pilot/update_job", times=2 * 4)
    pandamock.journal.assert_no_unexpected_failures(allow=["pilot/acquire_jobs"])  # "No jobs in PanDA"


def test_the_server_kills_a_job_through_the_heartbeat(pandamock):
    engine = pandamock.engine
    panda_id = activated_job(engine, QUEUE, priority=500)
    pilot = Pilot(pandamock.url, QUEUE)
    job = pilot.get_job()

    # while the job runs, the server decides to kill it (what job/kill does to a running job)
    with engine.operation():
        engine.store.table("jobs").update(panda_id, {"commandToPilot": "tobekilled"})

    assert pilot.execute(job) == "killed"
    pandamock.advance(engine.delay("job_adder"))
    job = pandamock.records("jobs", PandaID=panda_id)[0]
    assert (job["jobStatus"], job["pilotErrorCode"]) == ("failed", 1144)
    pandamock.journal.assert_statuses(panda_id, ["activated", "sent", "starting", "running", "holding", "failed"])
