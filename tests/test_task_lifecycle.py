# ruff: noqa: F811 - the fixtures are imported from tests.tasks_support
"""End to end through HTTP: tasks submitted, their jobs run by pilots through the pilot API, the task
ending as JEDI ends it; failures and retries, pause/resume, kill, reassign, event service, staging."""

from __future__ import annotations

import pytest

from tests.tasks_support import (
    ANALYSIS_QUEUE,
    AS_JDOE,
    PRODUCTION_QUEUE,
    advance,
    app,  # noqa: F401 - fixture
    call,
    client,  # noqa: F401 - fixture
    engine,  # noqa: F401 - fixture
    production_params,
    prun_params,
    run_pilots,
    submit,
    tasks_app,  # noqa: F401 - fixture
    until,
)


def statuses(engine, task_id):
    return sorted(engine.jobs.get(p)["jobStatus"] for p in engine.jobs.table.ids("by_task", task_id))


@pytest.fixture
def observed(engine):
    """Every status change the clock ticks of the test apply (a request collects its own for the journal)."""
    with engine.observe() as changes:
        yield changes


def task_moves(observed, task_id):
    return [change["to"] for change in observed if change["table"] == "tasks" and change["id"] == task_id]


def test_submit_run_done(client, engine, observed):
    reply = submit(client, prun_params(n_jobs=3, site=ANALYSIS_QUEUE))
    assert reply["success"] is True
    task_id = reply["data"]
    assert reply["message"] == f"succeeded. new jediTaskID={task_id}"
    task = engine.tasks.get(task_id)
    assert (task["status"], task["userName"], task["taskType"], task["taskPriority"]) == (
        "registered",
        "Jane Doe",
        "anal",
        1000,
    )
    assert engine.jobs.table.count("by_task", task_id) == 0
    created = task["creationDate"]
    # registered -> defined -> ready -> scouting (jobs) -> running, one task_step (60 s) each
    seen = []
    for _ in range(4):
        advance(engine, 60)
        seen.append(engine.tasks.get(task_id)["status"])
    assert seen == ["defined", "ready", "scouting", "running"]
    task = engine.tasks.get(task_id)
    assert task["startTime"] is not None and task["queuedTime"] is not None and task["activatedTime"] is not None
    assert task["creationDate"] == created and task["modificationTime"] > created
    ids = sorted(engine.jobs.table.ids("by_task", task_id))
    assert len(ids) == 3
    job = engine.jobs.get(ids[0])
    assert job["jobStatus"] == "activated" and job["computingSite"] == ANALYSIS_QUEUE
    assert job["prodUserName"] == "Jane Doe" and job["jediTaskID"] == task_id and job["lockedby"] == "jedi"
    assert f"user.jdoe.{task_id}._000001.out.root" in job["jobParameters"]
    assert job["jobParameters"].endswith('-p "sh%20run.sh"')
    assert [f["lfn"] for f in job["Files"]] == [
        f"user.jdoe.{task_id}._000001.out.root",
        f"user.jdoe.probe.log.{task_id}.1.log.tgz",
    ]
    assert job["specialHandling"] == "sj"  # the first jobs are scouts

    ran = run_pilots(client, engine, ANALYSIS_QUEUE, "user")
    assert sorted(ran) == ids
    assert until(engine, task_id, "done") == "done"
    task = engine.tasks.get(task_id)
    assert task["endTime"] is not None and task["progress"] == 100 and task["failureRate"] == 0
    assert task_moves(observed, task_id) == ["defined", "ready", "scouting", "running", "prepared", "done"]
    outputs = call(client, "GET", "task/get_datasets_and_files", task_id=task_id, dataset_types=["output", "log"])
    assert outputs["success"] and {f["status"] for d in outputs["data"] for f in d["files"]} == {"finished"}
    assert {d["dataset"]["name"] for d in outputs["data"]} == {
        f"user.jdoe.probe_out.root.{task_id}",
        f"user.jdoe.probe.log.{task_id}",
    }


def test_failures_then_retry_then_done(client, engine, observed):
    task_id = submit(client, prun_params(n_jobs=4, site=ANALYSIS_QUEUE, maxAttempt=1))["data"]
    until(engine, task_id, "running")
    ids = sorted(engine.jobs.table.ids("by_task", task_id))
    run_pilots(client, engine, ANALYSIS_QUEUE, "user", fail={ids[1], ids[3]})
    assert until(engine, task_id, "finished") == "finished"  # some inputs failed, no attempt left
    task = engine.tasks.get(task_id)
    assert (task["progress"], task["failureRate"]) == (50, 50)

    reply = call(client, "POST", "task/retry", headers=AS_JDOE, task_id=task_id)
    assert reply == {
        "success": True,
        "message": f"command=retry is registered for task ID {task_id}. will be executed in a few minutes",
        "data": 0,
    }
    assert engine.tasks.get(task_id)["status"] == "finished"  # applied later, after task_command
    assert until(engine, task_id, "running", step=30) == "running"
    new = sorted(set(engine.jobs.table.ids("by_task", task_id)) - set(ids))
    assert len(new) == 2 and all(engine.jobs.get(p)["attemptNr"] == 2 for p in new)
    run_pilots(client, engine, ANALYSIS_QUEUE, "user")
    assert until(engine, task_id, "done") == "done"
    assert task_moves(observed, task_id)[-6:] == [
        "finished",
        "toretry",
        "ready",
        "running",
        "prepared",
        "done",
    ]


def test_automatic_retry_of_a_failed_job_while_attempts_remain(client, engine):
    task_id = submit(client, prun_params(n_jobs=1, site=ANALYSIS_QUEUE, maxAttempt=2))["data"]
    until(engine, task_id, "running")
    [first] = engine.jobs.table.ids("by_task", task_id)
    run_pilots(client, engine, ANALYSIS_QUEUE, "user", fail={first}, rounds=1)
    advance(engine, 120, steps=4)
    ids = sorted(engine.jobs.table.ids("by_task", task_id))
    assert len(ids) == 2 and engine.jobs.get(ids[1])["attemptNr"] == 2
    run_pilots(client, engine, ANALYSIS_QUEUE, "user", fail={ids[1]})
    assert until(engine, task_id, "failed") == "failed"  # every input failed
    assert engine.tasks.get(task_id)["failureRate"] == 100


def test_production_task_with_failed_inputs_is_exhausted_and_needs_production_role_to_retry(client, engine):
    params = production_params(maxAttempt=1)
    reply = submit(client, params, headers={"Accept": "application/json"})
    task_id = reply["data"]
    until(engine, task_id, "running")
    ids = sorted(engine.jobs.table.ids("by_task", task_id))
    assert len(ids) == 4  # 2 files x 1000 events / 500 per job
    first = engine.jobs.get(ids[0])
    assert first["computingSite"] in (PRODUCTION_QUEUE, "CERN-PROD_UCORE")
    assert "--maxEvents=500 --skipEvents=0" in first["jobParameters"]
    assert "--maxEvents=500 --skipEvents=500" in engine.jobs.get(ids[1])["jobParameters"]
    run_pilots(client, engine, first["computingSite"], None, fail={ids[0]})
    for queue in ("CERN-PROD_UCORE", PRODUCTION_QUEUE):
        run_pilots(client, engine, queue, None, fail={ids[0]})
    assert until(engine, task_id, "exhausted") == "exhausted"
    assert engine.tasks.get(task_id)["oldStatus"] == "running"
    refused = call(client, "POST", "task/retry", headers={**AS_JDOE}, task_id=task_id)
    assert refused["message"] == "not the task owner or no production role"
    accepted = call(client, "POST", "task/retry", task_id=task_id)
    assert accepted["data"] == 0
    assert until(engine, task_id, "running", step=30) == "running"


def test_pause_throttles_activated_jobs_and_resume_activates_them(client, engine):
    task_id = submit(client, prun_params(n_jobs=3, site=ANALYSIS_QUEUE))["data"]
    until(engine, task_id, "running")
    advance(engine, 20)
    assert statuses(engine, task_id) == ["activated"] * 3
    reply = call(client, "POST", "task/pause", task_id=task_id)
    assert reply == {
        "success": True,
        "message": f"command=pause is registered for task ID {task_id}. will be executed in a few minutes",
        "data": 0,
    }
    advance(engine, 120)
    task = engine.tasks.get(task_id)
    assert (task["status"], task["oldStatus"]) == ("paused", "running")
    assert statuses(engine, task_id) == ["throttled"] * 3
    assert not call(client, "POST", "pilot/acquire_jobs", site_name=ANALYSIS_QUEUE, prod_source_label="user")["success"]
    again = call(client, "POST", "task/pause", task_id=task_id)
    assert again == {
        "success": False,
        "message": "Command rejected: the pause command is not accepted if the task is in paused status",
        "data": 4,
    }
    assert call(client, "POST", "task/resume", task_id=task_id)["data"] == 0
    advance(engine, 120)
    task = engine.tasks.get(task_id)
    assert (task["status"], task["oldStatus"]) == ("running", None)
    assert statuses(engine, task_id) == ["activated"] * 3
    run_pilots(client, engine, ANALYSIS_QUEUE, "user")
    assert until(engine, task_id, "done") == "done"


def test_kill_while_running(client, engine):
    task_id = submit(client, prun_params(n_jobs=3, site=ANALYSIS_QUEUE))["data"]
    until(engine, task_id, "running")
    advance(engine, 20)
    ids = sorted(engine.jobs.table.ids("by_task", task_id))
    # one job runs on a worker node, the others are still queued
    job = call(client, "POST", "pilot/acquire_jobs", site_name=ANALYSIS_QUEUE, prod_source_label="user")["data"][
        "jobs"
    ][0]
    running = job["PandaID"]
    call(client, "POST", "pilot/update_job", job_id=running, job_status="running")
    reply = call(client, "POST", "task/kill", headers=AS_JDOE, task_id=task_id)
    assert reply["data"] == 0 and reply["message"].startswith("command=kill is registered for task ID")
    advance(engine, 120)
    assert engine.tasks.get(task_id)["status"] == "aborting"
    assert engine.jobs.get(running)["jobStatus"] == "running"
    assert engine.jobs.get(running)["commandToPilot"] == "tobekilled"
    for other in ids:
        if other != running:
            assert engine.jobs.get(other)["jobStatus"] == "cancelled"
            assert engine.jobs.get(other)["taskBufferErrorCode"] == 100
    # the pilot sees tobekilled and ends the job
    heartbeat = call(client, "POST", "pilot/update_job", job_id=running, job_status="running")
    assert heartbeat["data"]["command"] == "tobekilled"
    call(client, "POST", "pilot/update_job", job_id=running, job_status="failed", pilot_error_code=1144)
    advance(engine, 30)
    assert engine.tasks.get(task_id)["status"] in ("toabort", "aborted")
    assert until(engine, task_id, "aborted") == "aborted"
    assert call(client, "POST", "task/kill", headers=AS_JDOE, task_id=task_id) == {
        "success": False,
        "message": "Command rejected: the kill command is not accepted if the task is in aborted status",
        "data": 4,
    }


def test_finish_soft_waits_for_running_jobs(client, engine):
    task_id = submit(client, prun_params(n_jobs=3, site=ANALYSIS_QUEUE))["data"]
    until(engine, task_id, "running")
    advance(engine, 20)
    job = call(client, "POST", "pilot/acquire_jobs", site_name=ANALYSIS_QUEUE, prod_source_label="user")["data"][
        "jobs"
    ][0]
    call(client, "POST", "pilot/update_job", job_id=job["PandaID"], job_status="running")
    assert call(client, "POST", "task/finish", headers=AS_JDOE, task_id=task_id, soft=True)["data"] == 0
    advance(engine, 120)
    assert engine.tasks.get(task_id)["status"] == "finishing"
    assert engine.jobs.get(job["PandaID"])["commandToPilot"] is None  # soft: running jobs go on
    assert statuses(engine, task_id).count("cancelled") == 2
    call(client, "POST", "pilot/update_job", job_id=job["PandaID"], job_status="finished")
    assert until(engine, task_id, {"finished"}) == "finished"  # one input finished, two never ran


def test_reassign_to_a_site_kills_and_remakes_the_jobs_there(client, engine):
    task_id = submit(client, prun_params(n_jobs=2, site=ANALYSIS_QUEUE))["data"]
    until(engine, task_id, "running")
    advance(engine, 20)
    old = sorted(engine.jobs.table.ids("by_task", task_id))
    reply = call(client, "POST", "task/reassign", task_id=task_id, site="CERN-PROD_UCORE", headers=AS_JDOE)
    assert reply["data"] == 0
    advance(engine, 120)
    task = engine.tasks.get(task_id)
    assert (task["status"], task["site"]) == ("running", "CERN-PROD_UCORE")
    assert all(engine.jobs.get(p)["jobStatus"] == "closed" for p in old)
    assert engine.jobs.get(old[0])["jobSubStatus"] == "toreassign"
    advance(engine, 90)
    new = sorted(set(engine.jobs.table.ids("by_task", task_id)) - set(old))
    assert len(new) == 2 and {engine.jobs.get(p)["computingSite"] for p in new} == {"CERN-PROD_UCORE"}
    run_pilots(client, engine, "CERN-PROD_UCORE", "user")
    assert until(engine, task_id, "done") == "done"


def test_event_service_task_gets_event_ranges(client, engine):
    params = production_params(
        taskName="mc23_13p6TeV.601229.ES.simul",
        eventService=1,
        coreCount=1,
        nEventsPerInputFile=20,
        nEventsPerJob=10,
        nEventsPerRange=2,
        nFiles=1,
        site="DESY-HH_ES",
    )
    task_id = submit(client, params, headers={"Accept": "application/json"})["data"]
    until(engine, task_id, "running")
    advance(engine, 20)
    ids = sorted(engine.jobs.table.ids("by_task", task_id))
    assert len(ids) == 2
    job = engine.jobs.get(ids[0])
    assert job["eventService"] == 1 and "es" in job["specialHandling"]
    acquired = call(client, "POST", "pilot/acquire_jobs", site_name="DESY-HH_ES")["data"]["jobs"][0]
    assert acquired["eventService"] == "True"
    call(client, "POST", "pilot/update_job", job_id=acquired["PandaID"], job_status="running")
    ranges = call(
        client,
        "POST",
        "event/acquire_event_ranges",
        job_id=acquired["PandaID"],
        jobset_id=acquired["jobsetID"],
        task_id=task_id,
        n_ranges=10,
    )["data"]
    assert len(ranges) == 5
    assert ranges[0]["startEvent"] == 0 and ranges[0]["lastEvent"] == 1
    assert ranges[0]["eventRangeID"].startswith(f"{task_id}-{acquired['PandaID']}-")


def test_input_prestaging_goes_through_the_data_carousel(client, engine):
    task_id = submit(client, production_params(inputPreStaging=True), headers={"Accept": "application/json"})["data"]
    assert until(engine, task_id, "staging") == "staging"
    [request] = engine.carousel.requests.values()
    assert request["status"] == "queued" and request["dataset"].endswith("_tid38520012_00")
    assert request["source_rse"].endswith("_DATATAPE")
    reply = call(client, "POST", "data_carousel/force_to_staging", request_id=request["request_id"])
    assert reply["success"] and reply["message"] == "status has become staging"
    assert reply["data"]["ddm_rule_id"] and reply["data"]["status"] == "staging"
    advance(engine, 900)
    assert engine.carousel.requests.get(request["request_id"])["status"] == "done"
    assert engine.tasks.get(task_id)["status"] == "staged"
    assert until(engine, task_id, "running") == "running"
    retire = call(client, "POST", "data_carousel/retire_unused", request_id=request["request_id"])
    assert retire == {
        "success": False,
        "message": f"failed to retire request_id={request['request_id']} : still used by active tasks [{task_id}]",
        "data": None,
    }


def test_refused_parameters_break_the_task(client, engine):
    params = prun_params(nEventsPerJob="ten")
    task_id = submit(client, params)["data"]
    advance(engine, 60)
    task = engine.tasks.get(task_id)
    assert task["status"] == "broken"
    assert task["errorDialog"] == "nEventsPerJob must be an integer, got str"
    assert engine.jobs.table.count("by_task", task_id) == 0


@pytest.mark.parametrize(
    "params, message",
    [
        ({"vo": "atlas", "prodSourceLabel": "user"}, "failed to insert task parameters: 'taskName' is missing"),
        (
            {"taskName": 5, "vo": "atlas", "prodSourceLabel": "user"},
            "failed to insert task parameters: 'taskName' must be a non-empty string",
        ),
    ],
)
def test_server_side_refusals(client, engine, params, message):
    before = engine.counts()["tasks"]
    reply = submit(client, params)
    assert reply == {"success": False, "message": message, "data": 4}
    assert engine.counts()["tasks"] == before


def test_jobs_failed_by_a_lost_harvester_worker_reach_the_task(client, engine):
    """A syncLevel=1 final worker fails its running jobs through the job service: JEDI sees them."""
    task_id = submit(client, prun_params(n_jobs=1, site=ANALYSIS_QUEUE, maxAttempt=1))["data"]
    until(engine, task_id, "running")
    advance(engine, 20)
    job = call(
        client,
        "POST",
        "pilot/acquire_jobs",
        site_name=ANALYSIS_QUEUE,
        prod_source_label="user",
        harvester_id="h1",
        worker_id=9,
    )["data"]["jobs"][0]
    call(client, "POST", "pilot/update_job", job_id=job["PandaID"], job_status="running")
    final = {"workerID": 9, "status": "failed", "syncLevel": 1, "diagMessage": "killed by batch"}
    assert call(client, "POST", "harvester/update_workers", harvester_id="h1", workers=[final])["data"] == [True]
    advance(engine, 30)  # the adder fails the job
    assert engine.jobs.get(job["PandaID"])["jobStatus"] == "failed"
    [row] = engine.tasks.files.find("by_panda", job["PandaID"])[:1]
    assert row["status"] == "failed"  # the task's input saw the failure (no attempt left)
    assert until(engine, task_id, "failed") == "failed"


def test_progression_is_kept_when_the_request_that_applied_it_is_refused(client, engine):
    """JEDI's steps that came due are applied before a request and stay applied when the request
    itself fails (here: a pilot finding no job)."""
    task_id = submit(client, prun_params(n_jobs=1, site=ANALYSIS_QUEUE))["data"]
    engine.clock.advance(60)
    reply = call(client, "POST", "pilot/acquire_jobs", site_name="UKI-LT2-QMUL_TEST")
    assert reply == {"success": False, "message": "No jobs in PanDA", "data": None}
    assert engine.tasks.get(task_id)["status"] == "defined"
    assert not [
        step
        for step in engine.pending_steps()
        if step["args"].get("jediTaskID") == task_id and step["due"] <= engine.clock.time()
    ]


def test_a_task_survives_a_restart_with_a_state_file(tmp_path):
    """Tasks, their parameters, JEDI's bookkeeping and pending steps are part of the durable state."""
    from pandamock.config import Settings
    from pandamock.emulator import Emulator
    from tests.tasks_support import JDOE_DN, tasks_scenario

    path = tmp_path / "state.json"
    first = Emulator(Settings.load({"state_file": str(path)}, environ={}), scenario=tasks_scenario())
    engine = first.engine
    _, message = engine.tasks.submit(prun_params(n_jobs=2, site=ANALYSIS_QUEUE), JDOE_DN, False)
    task_id = int(message.split("=")[-1])
    advance(engine, 60 * 3, steps=3)  # defined, ready, scouting: jobs made
    assert engine.tasks.get(task_id)["status"] == "scouting"
    jobs = sorted(engine.jobs.table.ids("by_task", task_id))
    assert engine.tasks.command(task_id, "pause", JDOE_DN, True)[0] == 0
    first.close()
    again = Emulator(Settings.load({"state_file": str(path)}, environ={}), scenario=tasks_scenario())
    restored = again.engine
    assert restored.tasks.get(task_id)["status"] == "scouting"
    assert sorted(restored.jobs.table.ids("by_task", task_id)) == jobs
    assert restored.tasks.params.get(task_id)["taskParams"] == engine.tasks.params.get(task_id)["taskParams"]
    advance(restored, 120)  # the registered pause is applied after the restart
    assert restored.tasks.get(task_id)["status"] == "paused"
    assert {restored.jobs.get(p)["jobStatus"] for p in jobs} == {"throttled"}
    again.close()
