"""Example: arrange PanDA's state directly in the engine, then test what a client sees — in-process.

``pandamock_engine`` is this test's engine (reset to the scenario before the test) and
``pandamock_client`` an in-process client of the same emulator (Flask test client: no socket, the
fastest way in). Records are plain dicts with PanDA's own key names, made complete by
``pandamock.engine.records.new_*``; every write goes inside ``engine.operation()`` (one atomic
transaction) and status changes through ``statuses.created``/``statuses.transition`` so the
journal and the state machines see them.

The module's scenario is given inline: two ordinary users and one queue.
"""

from __future__ import annotations

import pytest

from pandamock.engine import records, statuses

SCENARIO = {
    "name": "two-analysts",
    "seed": 42,
    "clock": {"start": "2026-03-02T09:00:00"},
    "identities": [
        {
            "name": "robot",
            "dn": "/DC=ch/DC=cern/OU=Organic Units/OU=Users/CN=robot/CN=1/CN=Robot: production",
            "fqans": ["/atlas/Role=production"],
            "default": True,
        },
        {"name": "alice", "dn": "/DC=ch/DC=cern/OU=Organic Units/OU=Users/CN=alice/CN=111111/CN=Alice Analyst"},
        {"name": "bob", "dn": "/DC=ch/DC=cern/OU=Organic Units/OU=Users/CN=bob/CN=222222/CN=Bob Builder"},
    ],
    "sites": [{"name": "ANALY_TEST", "type": "analysis", "corecount": 1}],
    "fixtures": ["resource_types.json"],
}

pytestmark = pytest.mark.pandamock(scenario=SCENARIO, frozen=True)


def analysis_task(engine, owner: str, n_jobs: int) -> tuple[int, list[int]]:
    """A user's running analysis task with ``n_jobs`` activated jobs at ANALY_TEST."""
    user = engine.world.user(owner)
    with engine.operation():
        now = engine.now()
        tasks, jobs = engine.store.table("tasks"), engine.store.table("jobs")
        task_id = engine.ids.next("jediTaskID")
        task = records.new_task(
            {
                "jediTaskID": task_id,
                "taskName": f"user.{owner}.mc23.analysis.v1/",
                "status": "registered",
                "userName": user["compact_name"],
                "prodSourceLabel": "user",
                "taskType": "anal",
                "vo": "atlas",
                "site": "ANALY_TEST",
                "creationDate": now,
            }
        )
        statuses.created(tasks, task, statuses.TASK, now)
        for step in ("defined", "ready", "running"):  # what JEDI would have done
            statuses.transition(tasks, task_id, statuses.TASK, step, now)
        panda_ids = []
        for _ in range(n_jobs):
            panda_id = engine.ids.next("PandaID")
            job = records.new_job(
                {
                    "PandaID": panda_id,
                    "jediTaskID": task_id,
                    "jobStatus": "activated",
                    "computingSite": "ANALY_TEST",
                    "prodSourceLabel": "user",
                    "prodUserName": user["compact_name"],
                    "prodUserID": user["dn"],
                    "attemptNr": 1,
                    "creationTime": now,
                }
            )
            statuses.created(jobs, job, statuses.JOB, now)
            panda_ids.append(panda_id)
    return task_id, panda_ids


def test_arranged_state_is_there(pandamock_engine):
    task_id, panda_ids = analysis_task(pandamock_engine, "alice", n_jobs=3)

    jobs = pandamock_engine.store.table("jobs")
    assert sorted(job["PandaID"] for job in jobs.find("by_task", task_id)) == panda_ids
    assert pandamock_engine.store.table("tasks").get(task_id)["status"] == "running"
    assert pandamock_engine.now().isoformat() == "2026-03-02T09:00:00"  # frozen at the scenario's start


def test_only_the_task_owner_may_ask_for_a_file_recovery(pandamock_engine, pandamock_client):
    task_id, _ = analysis_task(pandamock_engine, "alice", n_jobs=1)

    refused = pandamock_client.call("file_server/upload_file_recovery_request", identity="bob", task_id=task_id)
    assert refused == {"success": False, "message": "not the task owner or no production role", "data": None}

    accepted = pandamock_client.call("file_server/upload_file_recovery_request", identity="alice", task_id=task_id)
    assert accepted["success"] is True, accepted
    (request,) = pandamock_engine.store.table("file_server_requests").values()
    assert (request["kind"], request["owner"], request["parameters"]["jediTaskID"]) == (
        "file_recovery",
        "Alice Analyst",
        task_id,
    )


def test_each_test_starts_from_the_scenario(pandamock_engine):
    # what the tests above arranged is gone: the emulator was reset before this test
    assert len(pandamock_engine.store.table("tasks")) == 0
    assert len(pandamock_engine.store.table("file_server_requests")) == 0
