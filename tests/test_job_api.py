# ruff: noqa: F811 - the fixtures are imported from tests.jobs_support
"""job/*: status, descriptions, offline script, metadata, kill, reassign, set_command, debug mode, submit."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from pandamock.engine.records import FILE_ATTRIBUTES, JOB_ATTRIBUTES
from tests.jobs_support import (  # noqa: F401 - fixtures
    ACTIVATION_DELAY,
    AS_HIGGS,
    AS_JDOE,
    HIGGS_DN,
    JDOE_DN,
    PILOT_DN,
    START,
    create,
    get,
    japp,
    jclient,
    jengine,
    job_values,
    jobs_shared_app,
    post,
)

NOW = dt.datetime.fromisoformat(START)


def to_final(engine, job, status="finished"):
    with engine.operation():
        for step in ("sent", "running", "holding", status):
            engine.jobs.move(job["PandaID"], step)


# --- job/get_status ------------------------------------------------------------------------
def test_get_status(jclient, jengine):
    running = create(jengine)
    recent = create(jengine)
    old = create(jengine)
    defined = jengine.jobs.create_jobs([job_values()], status="defined", activate_after=None)[0]
    with jengine.operation():
        jengine.jobs.move(running["PandaID"], "sent")
        jengine.jobs.table.update(running["PandaID"], {"commandToPilot": "tobekilled"})
    to_final(jengine, old)
    jengine.clock.advance(3601)
    to_final(jengine, recent, "failed")
    ids = [running["PandaID"], recent["PandaID"], old["PandaID"], defined["PandaID"], 1]
    reply = get(jclient, "job/get_status", {"job_ids": ids})
    assert reply == {
        "success": True,
        "message": "",
        "data": [
            {"status": "sent", "command": "tobekilled"},
            {"status": "failed", "command": None},
            {"status": "unknown", "command": "tobekilled"},
            {"status": "unknown", "command": "tobekilled"},
            {"status": "unknown", "command": "tobekilled"},
        ],
    }


def test_get_status_casts_repeated_keys(jclient, jengine):
    reply = jclient.get("/api/v1/job/get_status?job_ids=abc", headers={"Accept": "application/json"})
    assert json.loads(reply.data)["message"] == (
        "Type error: 'job_ids' with value '['abc']' could not be casted to type List from list."
    )


# --- descriptions ------------------------------------------------------------------------------
@pytest.mark.parametrize("endpoint", ["job/get_description", "job/get_description_incl_archive"])
def test_descriptions(jclient, jengine, endpoint):
    job = create(jengine)
    to_final(jengine, job)
    reply = post(jclient, endpoint, {"job_ids": [job["PandaID"], 12345]})
    assert reply["success"] is True
    described, missing = reply["data"]
    assert missing is None
    assert list(described) == list(JOB_ATTRIBUTES) + ["Files"]
    assert described["jobStatus"] == "finished"
    assert described["modificationTime"] == {"__datetime__": NOW.isoformat()}
    assert described["prodUserName"] == "atlpilo1" and described["prodUserID"] == PILOT_DN
    assert len(described["Files"]) == 4
    assert list(described["Files"][0]) == list(FILE_ATTRIBUTES)
    assert described["Files"][0]["PandaID"] == job["PandaID"]
    # any HTTP method, GET casts the repeated keys
    by_get = get(jclient, endpoint, {"job_ids": [str(job["PandaID"])]})
    assert by_get["data"][0]["PandaID"] == job["PandaID"]


# --- offline script ------------------------------------------------------------------------------
def test_offline_execution_script(jclient, jengine):
    job = create(jengine)
    response = jclient.get(f"/api/v1/job/generate_offline_execution_script?job_id={job['PandaID']}")
    assert response.status_code == 200
    script = response.data.decode()
    assert script.startswith("#!/bin/bash\n")
    assert 'rucio download "mc23_13p6TeV:EVNT.38520012._000001.pool.root.1" --no-subdir || exit 1' in script
    assert "asetup --platform=x86_64-el9-gcc13-opt Athena,23.0.53" in script
    assert "export ATHENA_PROC_NUMBER=8" in script
    assert f"Sim_tf.py {job['jobParameters']}" in script
    as_json = jclient.get(
        f"/api/v1/job/generate_offline_execution_script?job_id={job['PandaID']}", headers={"Accept": "application/json"}
    )
    assert json.loads(as_json.data) == script


def test_offline_execution_script_errors(jclient, jengine):
    old = create(jengine)
    to_final(jengine, old)
    jengine.clock.advance(40 * 86400)
    reply = get(jclient, "job/generate_offline_execution_script", {"job_id": old["PandaID"]})
    assert reply == {
        "success": False,
        "message": f"ERROR: Cannot get PandaID={old['PandaID']} in DB for the last 30 days. "
        "You may add &days=N to the URL",
        "data": None,
    }
    reply = get(jclient, "job/generate_offline_execution_script", {"job_id": old["PandaID"], "days": 7})
    assert reply["message"].endswith("for the last 7 days. You may change &days=N in the URL")
    found = jclient.get(f"/api/v1/job/generate_offline_execution_script?job_id={old['PandaID']}&days=60")
    assert found.data.startswith(b"#!/bin/bash")


# --- metadata ------------------------------------------------------------------------------------
def test_metadata_for_analysis_jobs(jclient, jengine):
    user_job = create(jengine, prodSourceLabel="user", jediTaskID=40000777, metadata='{"nEvents": 50}')
    bad_json = create(jengine, prodSourceLabel="user", jediTaskID=40000777, metadata="not json")
    running = create(jengine, prodSourceLabel="user", jediTaskID=40000777, metadata='{"x": 1}')
    to_final(jengine, user_job)
    to_final(jengine, bad_json)
    assert running["jobStatus"] == "activated"
    reply = get(jclient, "job/get_metadata_for_analysis_jobs", {"task_id": 40000777})
    assert reply == {"success": True, "message": "", "data": {str(user_job["PandaID"]): {"nEvents": 50}}}
    assert get(jclient, "job/get_metadata_for_analysis_jobs", {"task_id": 1}) == {
        "success": True,
        "message": "No metadata found",
        "data": {},
    }


# --- kill ------------------------------------------------------------------------------------------
def test_kill_queued_jobs_are_cancelled_and_running_ones_flagged(jclient, jengine):
    queued = create(jengine)
    running = create(jengine)
    defined = create(jengine, status="defined")
    with jengine.operation():
        jengine.jobs.move(running["PandaID"], "sent")
        jengine.jobs.move(running["PandaID"], "running")
    finals = []
    jengine.jobs.final_callbacks.append(lambda job, previous: finals.append((job["PandaID"], previous)))
    try:
        reply = post(jclient, "job/kill", {"job_ids": [queued["PandaID"], running["PandaID"], defined["PandaID"], 7]})
    finally:
        jengine.jobs.final_callbacks.clear()
    assert reply == {"success": True, "message": "", "data": [True, True, True, False]}
    cancelled = jengine.jobs.get(queued["PandaID"])
    assert cancelled["jobStatus"] == "cancelled"
    assert cancelled["taskBufferErrorCode"] == 100
    assert cancelled["taskBufferErrorDiag"] == f"killed by {PILOT_DN}"
    assert cancelled["commandToPilot"] == "tobekilled" and cancelled["endTime"] == NOW
    assert {f["status"] for f in cancelled["Files"] if f["type"] != "input"} == {"failed"}
    assert jengine.jobs.get(defined["PandaID"])["jobStatus"] == "cancelled"
    flagged = jengine.jobs.get(running["PandaID"])
    assert flagged["jobStatus"] == "running" and flagged["commandToPilot"] == "tobekilled"
    assert finals == [(queued["PandaID"], "activated"), (defined["PandaID"], "defined")]
    # a second non-forced kill of a flagged job changes nothing
    assert post(jclient, "job/kill", {"job_ids": [running["PandaID"]]})["data"] == [False]


@pytest.mark.parametrize(
    "code, status, sub_status, error_code, diag",
    [
        (2, "closed", "toreassign", 102, "expired in activated. status unchanged since 2026-11-29 12:00:00"),
        (3, "cancelled", None, 103, "aborted by ExtIF"),
        (51, "closed", "toreassign", 100, "reassigned by JEDI"),
        (55, "closed", "taskdone", 100, "killed since task is (almost) done"),
        (60, "closed", None, 100, "closed by the pilot"),
        (10, "closed", None, 130, "fast rebrokerage due to Nq/Nr overshoot"),
        (50, "cancelled", None, 100, PILOT_DN),
    ],
)
def test_kill_codes(jclient, jengine, code, status, sub_status, error_code, diag):
    job = create(jengine)
    assert post(jclient, "job/kill", {"job_ids": [job["PandaID"]], "code": code})["data"] == [True]
    killed = jengine.jobs.get(job["PandaID"])
    assert (
        killed["jobStatus"],
        killed["jobSubStatus"],
        killed["taskBufferErrorCode"],
        killed["taskBufferErrorDiag"],
    ) == (
        status,
        sub_status,
        error_code,
        diag,
    )


def test_forced_kill_of_running_jobs(jclient, jengine):
    managed = create(jengine)
    user = create(jengine, prodSourceLabel="user", prodUserID=JDOE_DN)
    for job in (managed, user):
        with jengine.operation():
            jengine.jobs.move(job["PandaID"], "sent")
            jengine.jobs.move(job["PandaID"], "running")
    assert post(jclient, "job/kill", {"job_ids": [managed["PandaID"]], "code": 9})["data"] == [True]
    assert jengine.jobs.get(managed["PandaID"])["jobStatus"] == "cancelled"
    # production role on a user job: only some codes; 99 forces
    assert post(jclient, "job/kill", {"job_ids": [user["PandaID"]]})["data"] == [False]
    assert post(jclient, "job/kill", {"job_ids": [user["PandaID"]], "code": 99})["data"] == [True]
    assert jengine.jobs.get(user["PandaID"])["jobStatus"] == "cancelled"


def test_kill_ownership(jclient, jengine):
    mine = create(jengine, prodSourceLabel="user", prodUserID=JDOE_DN)
    theirs = create(jengine, prodSourceLabel="user", prodUserID=HIGGS_DN)
    reply = post(jclient, "job/kill", {"job_ids": [mine["PandaID"], theirs["PandaID"]]}, AS_JDOE)
    assert reply["data"] == [True, False]
    assert jengine.jobs.get(mine["PandaID"])["taskBufferErrorDiag"] == f"killed by {JDOE_DN}"
    assert jengine.jobs.get(theirs["PandaID"])["jobStatus"] == "activated"


def test_kill_with_working_group_production_role(jclient, jengine):
    higgs_group = create(jengine, workingGroup="GP_Higgs")
    other_group = create(jengine, workingGroup="AP_Top")
    reply = post(jclient, "job/kill", {"job_ids": [higgs_group["PandaID"], other_group["PandaID"]]}, AS_HIGGS)
    # the role /atlas/phys-higgs/Role=production gives phys-higgs and gr_phys-higgs, not "Higgs"
    assert reply["data"] == [False, False]
    tagged = create(jengine, workingGroup="AP_phys-higgs")
    assert post(jclient, "job/kill", {"job_ids": [tagged["PandaID"]]}, AS_HIGGS)["data"] == [True]
    assert jengine.jobs.get(tagged["PandaID"])["jobStatus"] == "cancelled"


def test_kill_options_job_sub_status(jclient, jengine):
    job = create(jengine)
    post(jclient, "job/kill", {"job_ids": [job["PandaID"]], "kill_options": ["jobSubStatus=preempted"]})
    assert jengine.jobs.get(job["PandaID"])["jobSubStatus"] == "preempted"


def test_kill_bad_ids(jclient, jengine):
    assert (
        post(jclient, "job/kill", {"job_ids": "1"})["message"] == "Type error: 'job_ids' must be of type list, got str."
    )


# --- reassign ------------------------------------------------------------------------------------------
def test_reassign(jclient, jengine):
    waiting = create(jengine, status="waiting")
    activated = create(jengine)
    assert post(jclient, "job/reassign", {"job_ids": [waiting["PandaID"], activated["PandaID"], 3]}) == {
        "success": True,
        "message": "",
        "data": None,
    }
    assert jengine.jobs.get(waiting["PandaID"])["jobStatus"] == "defined"
    assert jengine.jobs.get(activated["PandaID"])["jobStatus"] == "activated"
    jengine.clock.advance(ACTIVATION_DELAY)
    jengine.tick()
    assert jengine.jobs.get(waiting["PandaID"])["jobStatus"] == "activated"


# --- set_command -------------------------------------------------------------------------------------
def test_set_command(jclient, jengine):
    job = create(jengine)
    defined = create(jengine, status="defined")
    assert post(jclient, "job/set_command", {"job_id": job["PandaID"], "command": "softkill"}) == {
        "success": True,
        "message": "command received",
        "data": None,
    }
    assert jengine.jobs.get(job["PandaID"])["commandToPilot"] == "softkill"
    assert post(jclient, "job/set_command", {"job_id": defined["PandaID"], "command": "x"})["message"] == (
        f"no active job with PandaID={defined['PandaID']}"
    )
    assert post(jclient, "job/set_command", {"job_id": job["PandaID"], "command": "x" * 251})["message"] == (
        "command string too long. must be less than 250 chars"
    )
    with jengine.operation():
        jengine.jobs.table.update(job["PandaID"], {"commandToPilot": "tobekilled"})
    reply = post(jclient, "job/set_command", {"job_id": job["PandaID"], "command": "x"})
    assert reply == {"success": False, "message": "job is being killed", "data": None}
    assert post(jclient, "job/set_command", {"job_id": job["PandaID"], "command": "x"}, AS_JDOE)["message"] == (
        "production or pilot role required"
    )


# --- set_debug_mode ----------------------------------------------------------------------------------
def test_set_debug_mode(jclient, jengine):
    job = create(jengine, specialHandling="lc")
    reply = post(jclient, "job/set_debug_mode", {"job_id": job["PandaID"], "mode": True})
    assert reply == {"success": True, "message": "Succeeded", "data": None}
    assert jengine.jobs.get(job["PandaID"])["specialHandling"] == "debug"
    again = post(jclient, "job/set_debug_mode", {"job_id": job["PandaID"], "mode": True})
    assert again == {"success": False, "message": "Already set accordingly", "data": None}
    assert post(jclient, "job/set_debug_mode", {"job_id": job["PandaID"], "mode": False})["message"] == "Succeeded"
    assert jengine.jobs.get(job["PandaID"])["specialHandling"] == ""
    assert post(jclient, "job/set_debug_mode", {"job_id": 5, "mode": True})["message"] == (
        "PandaID=5 not found in active DB"
    )
    holding = create(jengine)
    with jengine.operation():
        for step in ("sent", "running", "holding"):
            jengine.jobs.move(holding["PandaID"], step)
    assert post(jclient, "job/set_debug_mode", {"job_id": holding["PandaID"], "mode": True})["message"] == (
        "Cannot set debugMode since the job status is holding which is not in one of "
        "['defined', 'activated', 'running', 'sent', 'starting', 'assigned']"
    )
    assert post(jclient, "job/set_debug_mode", {"job_id": job["PandaID"], "mode": "yes"})["message"] == (
        "Type error: 'mode' must be of type bool, got str."
    )


# --- submit -------------------------------------------------------------------------------------------
def serialized(jobs):
    """What panda-client's MiscUtils.dump_jobs_json sends: attribute lists + file lists (with owner)."""
    states = []
    for job in jobs:
        state = [job.get(name) for name in JOB_ATTRIBUTES]
        files = []
        for file in job.get("Files", []):
            files.append([file.get(name) for name in ("row_ID",) + FILE_ATTRIBUTES[1:18]] + [None])
        state.append(files)
        states.append(state)

    def default(value):
        return {"_datetime_object": value.strftime("%Y-%m-%d %H:%M:%S.%f")}

    return json.dumps(states, default=default)


def user_job(**values):
    job = {
        "jobName": "user.jdoe.probe.1",
        "prodSourceLabel": "user",
        "computingSite": "ANALY_MWT2_UCORE",
        "transformation": "https://pandaserver.cern.ch/trf/user/runGen-00-00-02",
        "jobParameters": "-j '' --sourceURL https://pandaserver.cern.ch:25443 -p 'echo hello'",
        "creationTime": dt.datetime(2026, 11, 29, 11, 59, 0, 123456),
        "currentPriority": 1000,
        "Files": [
            {
                "type": "log",
                "lfn": "user.jdoe.probe.log.tgz",
                "dataset": "user.jdoe.probe.log/",
                "destinationDBlock": "user.jdoe.probe.log/",
                "GUID": "11111111-2222-3333-4444-555555555555",
                "scope": "user.jdoe",
            }
        ],
    }
    job.update(values)
    return job


def test_submit_user_jobs(jclient, jengine):
    reply = post(
        jclient, "job/submit", {"jobs": serialized([user_job(), user_job(jobName="user.jdoe.probe.2")])}, AS_JDOE
    )
    assert reply["success"] is True
    (first_id, definition, jobset), (second_id, definition2, jobset2) = reply["data"]
    assert definition == definition2 and jobset == jobset2 and set(jobset) == {"jobsetID"}
    job = jengine.jobs.get(first_id)
    assert job["jobStatus"] == "defined"
    assert job["prodUserID"] == JDOE_DN and job["prodUserName"] == "Jane Doe"
    assert job["creationTime"] == dt.datetime(2026, 11, 29, 11, 59, 0, 123456)
    assert job["job_label"] == "user" and job["relocationFlag"] == 1 and job["taskID"] == 4
    assert job["Files"][0]["lfn"] == "user.jdoe.probe.log.tgz" and job["Files"][0]["PandaID"] == first_id
    assert second_id == first_id + 1
    jengine.clock.advance(ACTIVATION_DELAY)
    jengine.tick()
    assert jengine.jobs.get(first_id)["jobStatus"] == "activated"
    described = post(jclient, "job/get_description", {"job_ids": [first_id]})["data"][0]
    assert described["jobName"] == "user.jdoe.probe.1"


def test_submit_production_jobs(jclient, jengine):
    values = job_values()
    reply = post(jclient, "job/submit", {"jobs": serialized([values])})
    panda_id, definition, name = reply["data"][0]
    assert (definition, name) == (31, values["jobName"])
    refused = post(jclient, "job/submit", {"jobs": serialized([values])}, AS_JDOE)
    assert refused == {
        "success": False,
        "message": f"{JDOE_DN} is missing production for prodSourceLabel=managed submission",
        "data": None,
    }
    assert jengine.jobs.get(panda_id + 1) is None


def test_submit_brokers_jobs_without_a_queue(jclient, jengine):
    reply = post(jclient, "job/submit", {"jobs": serialized([user_job(computingSite=None)])}, AS_JDOE)
    job = jengine.jobs.get(reply["data"][0][0])
    assert job["computingSite"] in ("ANALY_MWT2_UCORE", "CERN-PROD_UCORE")


@pytest.mark.parametrize(
    "jobs, message",
    [
        ("[]", "No jobs were submitted"),
        (
            "{",
            "Failed to deserialize jobs: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        ),
        ('{"a": 1}', "Failed to deserialize jobs: expected a list of job states, got dict"),
    ],
)
def test_submit_errors(jclient, jengine, jobs, message):
    before = len(jengine.jobs.table)
    assert post(jclient, "job/submit", {"jobs": jobs}) == {"success": False, "message": message, "data": None}
    assert len(jengine.jobs.table) == before


def test_submit_invalid_job_label(jclient, jengine):
    reply = post(jclient, "job/submit", {"jobs": serialized([user_job(job_label="analysis")])}, AS_JDOE)
    assert reply["message"] == "job_label=analysis is not valid"
