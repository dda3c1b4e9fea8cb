# ruff: noqa: F811 - the fixtures are imported from tests.tasks_support
"""task/* submission rules, queries and edits: exact replies and the state before and after."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tests.tasks_support import (
    ANALYSIS_QUEUE,
    AS_HIGGS,
    AS_JDOE,
    add_task,
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


# -- submission ------------------------------------------------------------------------------------------
def test_non_production_callers_get_their_name_type_and_priority(client, engine):
    params = prun_params(userName="someone.else", taskType="prod", taskPriority=5)
    task_id = submit(client, params)["data"]
    stored = call(client, "GET", "task/get_task_parameters", task_id=task_id)["data"]
    assert (stored["userName"], stored["taskType"], stored["taskPriority"]) == ("Jane Doe", "anal", 1000)
    assert stored["jobParameters"] == params["jobParameters"]
    task = engine.tasks.get(task_id)
    assert (task["userName"], task["taskType"], task["currentPriority"], task["reqID"]) == (
        "Jane Doe",
        "anal",
        1000,
        task_id,
    )


def test_production_callers_keep_their_parameters(client, engine):
    task_id = submit(client, production_params(), headers={"Accept": "application/json"})["data"]
    task = engine.tasks.get(task_id)
    assert (task["userName"], task["taskType"], task["taskPriority"], task["gshare"]) == (
        "pilot",
        "prod",
        900,
        "ATLAS Sim",
    )
    assert task["splitRule"] == "NE=500,CC=8" and task["coreCount"] == 8


def test_official_task_gets_the_working_group(client, engine):
    task_id = submit(client, prun_params(official=True), headers=AS_HIGGS)["data"]
    assert call(client, "GET", "task/get_task_parameters", task_id=task_id)["data"]["workingGroup"] == "higgs"


def test_duplicate_user_task_names(client, engine):
    first = submit(client, prun_params(n_jobs=1, site=ANALYSIS_QUEUE))["data"]
    again = submit(client, prun_params(n_jobs=1, site=ANALYSIS_QUEUE))
    assert again == {
        "success": False,
        "message": f"jediTaskID={first} is already queued for outDS=user.jdoe.probe/. "
        "You cannot submit duplicated tasks",
        "data": 2,
    }
    until(engine, first, "running")
    run_pilots(client, engine, ANALYSIS_QUEUE, "user")
    until(engine, first, "done")
    reactivated = submit(client, prun_params(n_jobs=1, site=ANALYSIS_QUEUE, nEvents=2))
    assert reactivated == {
        "success": True,
        "message": f"reactivation accepted. jediTaskID={first} (currently in done state) will be re-executed "
        "with old and/or new input",
        "data": first,
    }
    assert engine.tasks.commands.get(first)["command"] == "incexec"
    assert json.loads(engine.tasks.commands.get(first)["comment"])[0] == {"nEvents": 2}
    assert engine.counts()["tasks"] == 1


def test_unknown_parent(client):
    reply = submit(client, prun_params(), parent_tid=12345)
    assert reply == {"success": False, "message": "parent jediTaskID=12345 is not found", "data": 11}


def test_task_parameters_must_be_an_object(client):
    response = client.post("/api/v1/task/submit", json={"task_parameters": "{}"}, headers=AS_JDOE)
    assert json.loads(response.data) == {
        "success": False,
        "message": "Type error: 'task_parameters' must be of type dict, got str.",
        "data": None,
    }


def test_unknown_site_breaks_the_task(client, engine):
    task_id = submit(client, prun_params(site="NO_SUCH_QUEUE"))["data"]
    advance(engine, 60)
    task = engine.tasks.get(task_id)
    assert (task["status"], task["errorDialog"]) == ("broken", "site=NO_SUCH_QUEUE is not a PanDA queue")


def test_brokerage_over_online_queues_of_the_right_kind(client, engine):
    task_id = submit(client, prun_params(n_jobs=6))["data"]
    until(engine, task_id, "running")
    sites = {engine.jobs.get(p)["computingSite"] for p in engine.jobs.table.ids("by_task", task_id)}
    assert sites and sites <= {"ANALY_MWT2_UCORE", "CERN-PROD_UCORE"}


def test_input_dataset_made_by_an_earlier_task_is_read(client, engine):
    first = submit(client, prun_params(n_jobs=2, site=ANALYSIS_QUEUE))["data"]
    until(engine, first, "running")
    run_pilots(client, engine, ANALYSIS_QUEUE, "user")
    until(engine, first, "done")
    chained = prun_params(name="user.jdoe.second", n_jobs=1, site=ANALYSIS_QUEUE, noInput=False)
    chained["jobParameters"].append(
        {"type": "template", "param_type": "input", "value": "-i ${IN}", "dataset": "user.jdoe.probe_out.root/"}
    )
    del chained["nEvents"], chained["nEventsPerJob"]
    second = submit(client, chained)["data"]
    until(engine, second, "running")
    inputs = call(client, "GET", "task/get_datasets_and_files", task_id=second)["data"]
    produced = call(client, "GET", "task/get_datasets_and_files", task_id=first, dataset_types="output")["data"]
    assert sorted(f["lfn"] for f in inputs[0]["files"]) == sorted(f["lfn"] for f in produced[0]["files"])
    job = engine.jobs.get(min(engine.jobs.table.ids("by_task", second)))
    assert f"-i user.jdoe.{first}._000001.out.root" in job["jobParameters"]


# -- queries -------------------------------------------------------------------------------------------------
def test_get_status(client, engine):
    task_id = add_task(engine, "scouting")
    assert call(client, "GET", "task/get_status", task_id=str(task_id)) == {
        "success": True,
        "message": "",
        "data": "scouting",
    }
    assert call(client, "GET", "task/get_status", task_id="x")["message"] == "jediTaskID must be an integer"
    assert call(client, "GET", "task/get_status", task_id=1)["message"] == "Task not found"


def test_get_details_job_ids_and_descriptions(client, engine):
    task_id = submit(client, prun_params(n_jobs=3, site=ANALYSIS_QUEUE))["data"]
    until(engine, task_id, "running")
    ids = sorted(engine.jobs.table.ids("by_task", task_id))
    run_pilots(client, engine, ANALYSIS_QUEUE, "user", fail={ids[0]}, rounds=1)
    details = call(client, "GET", "task/get_details", task_id=task_id, include_parameters=True, include_status=True)
    assert details["data"] == {
        "inDS": "",
        "outDS": "user.jdoe.probe_out.root/",
        "statistics": "failed*1,finished*2",
        "PandaID": ids,
        "mergeStatus": None,
        "mergePandaID": [],
        "status": "running",
        "cliParams": prun_params()["cliParams"],
    }
    assert call(client, "GET", "task/get_job_ids", task_id=task_id)["data"] == sorted(
        engine.jobs.table.ids("by_task", task_id)
    )
    descriptions = call(client, "GET", "task/get_job_descriptions", task_id=task_id, unsuccessful_only=True)["data"]
    assert [d["PandaID"] for d in descriptions] == [ids[0]]
    failed = descriptions[0]
    assert failed["extendedProdSourceLabel"] == "user_scout"
    assert (
        failed["jobDuration"]
        == (engine.jobs.get(ids[0])["endTime"] - engine.jobs.get(ids[0])["startTime"]).total_seconds()
    )
    assert {f["type"] for f in failed["Files"]} == {"output", "log"}
    assert (
        call(client, "GET", "task/get_details", task_id=1)["message"]
        == "Task not found or error retrieving the details"
    )


def test_get_datasets_and_files(client, engine):
    task_id = submit(client, production_params(), headers={"Accept": "application/json"})["data"]
    advance(engine, 60)
    reply = call(client, "GET", "task/get_datasets_and_files", task_id=str(task_id), dataset_only=True)
    [entry] = reply["data"]
    assert entry["dataset"]["name"] == "mc23_13p6TeV.601229.PhPy8EG.evgen.EVNT.e8514_tid38520012_00"
    assert len(entry["files"]) == 4  # 2 files, 2 event chunks each
    assert set(entry["files"][0]) == {"lfn", "scope", "id", "status"}
    assert (
        entry["files"][0]["lfn"] == "EVNT.38520012._000001.pool.root.1" and entry["files"][0]["scope"] == "mc23_13p6TeV"
    )
    outputs = call(client, "GET", "task/get_datasets_and_files", task_id=task_id, dataset_types=["output", "log"])[
        "data"
    ]
    assert [d["dataset"]["name"] for d in outputs] == [
        f"mc23_13p6TeV.601229.PhPy8EG.simul.HITS.e8514_s4162_tid{task_id}_00",
        f"mc23_13p6TeV.601229.PhPy8EG.simul.log.e8514_s4162_tid{task_id}_00",
    ]
    assert call(client, "GET", "task/get_datasets_and_files", task_id="abc")["message"] == (
        "Database exception while gathering files"
    )
    assert call(client, "GET", "task/get_datasets_and_files", task_id=1)["message"] == "No data found for the task"


def test_get_tasks_modified_since(client, engine):
    old = add_task(engine, "done")
    advance(engine, 3600)
    since = engine.now().strftime("%Y-%m-%d %H:%M:%S")
    advance(engine, 60)
    new = add_task(engine, "running")
    other = add_task(engine, "running", prodSourceLabel="managed")
    reply = call(client, "GET", "task/get_tasks_modified_since", headers=AS_JDOE, since=since, dn="None")
    assert list(reply["data"]) == [str(new)]
    entry = reply["data"][str(new)]
    assert sorted(entry) == sorted(
        "jediTaskID modificationTime status processingType transUses transHome architecture reqID creationDate "
        "site cloud taskName".split()
    )
    assert entry["status"] == "running"
    labelled = call(
        client, "GET", "task/get_tasks_modified_since", headers=AS_JDOE, since=since, prod_source_label="managed"
    )
    assert list(labelled["data"]) == [str(other)]
    full = call(client, "GET", "task/get_tasks_modified_since", headers=AS_JDOE, since="2020-01-01 00:00:00", full=True)
    assert set(full["data"]) == {str(old), str(new)} and "splitRule" in full["data"][str(old)]
    # another user's tasks by DN (PanDA does not check the caller)
    by_dn = call(client, "GET", "task/get_tasks_modified_since", since=since, dn="/DC=ch/CN=Jane Doe")
    assert list(by_dn["data"]) == [str(new)]
    assert call(client, "GET", "task/get_tasks_modified_since", since="yesterday")["data"] == {}
    assert (
        call(client, "GET", "task/get_tasks_modified_since", headers=AS_JDOE, since=since, min_task_id=new + 1)["data"]
        == {}
    )


def test_modified_since_is_clamped_to_thirty_days(client, engine):
    task_id = add_task(engine, "done")
    with engine.operation():
        engine.store.table("tasks").update(task_id, {"modificationTime": engine.now() - dt.timedelta(days=40)})
    reply = call(client, "GET", "task/get_tasks_modified_since", headers=AS_JDOE, since="2020-01-01 00:00:00")
    assert reply["data"] == {}


def test_get_tasks_detailed_info_since(client, engine):
    first = add_task(engine, "done")
    second = add_task(engine, "running")
    add_task(engine, "running", userName="Somebody Else")
    reply = call(client, "GET", "task/get_tasks_detailed_info_since", headers=AS_JDOE)
    assert [t["jediTaskID"] for t in reply["data"]] == [first, second]
    assert {"pctFinished", "nFiles", "nFilesFinished", "nFilesFailed", "superStatus", "taskName"} <= set(
        reply["data"][0]
    )
    one = call(
        client,
        "GET",
        "task/get_tasks_detailed_info_since",
        headers=AS_JDOE,
        filters=json.dumps({"jediTaskID": str(second)}),
    )
    assert [t["jediTaskID"] for t in one["data"]] == [second]
    regex = call(
        client, "GET", "task/get_tasks_detailed_info_since", headers=AS_JDOE, filters='{"status": "done|broken"}'
    )
    assert [t["jediTaskID"] for t in regex["data"]] == [first]
    limited = call(client, "GET", "task/get_tasks_detailed_info_since", headers=AS_JDOE, n_tasks=1)
    assert len(limited["data"]) == 1
    assert call(client, "GET", "task/get_tasks_detailed_info_since", headers=AS_JDOE, n_tasks=0)["data"] == []
    assert (
        call(client, "GET", "task/get_tasks_detailed_info_since", filters="[1]")["message"]
        == "filters must be a JSON object"
    )
    assert (
        call(client, "GET", "task/get_tasks_detailed_info_since", filters="{")["message"] == "filters is not valid JSON"
    )
    assert (
        call(client, "GET", "task/get_tasks_detailed_info_since", filters='{"bogus": 1}')["message"]
        == "Failed to retrieve task IDs"
    )


def test_detailed_info_and_parent(client, engine):
    parent = submit(client, prun_params(name="user.jdoe.parent"))["data"]
    child = submit(client, prun_params(name="user.jdoe.child"), parent_tid=parent)["data"]
    info = call(client, "GET", "task/get_detailed_info", task_id=child)["data"]
    assert info["jediTaskID"] == child and info["parent_tid"] == parent and info["reqID"] == parent
    assert json.loads(info["taskParams"])["taskName"] == "user.jdoe.child/"
    assert "${SN/P}" in info["jobParamsTemplate"]
    assert call(client, "GET", "task/get_parent_detailed_info", task_id=child)["data"]["jediTaskID"] == parent
    assert call(client, "GET", "task/get_parent_detailed_info", task_id=parent)["message"] == "No parent task found"
    assert call(client, "GET", "task/get_parent_detailed_info", task_id=1)["message"] == "Child task not found"
    orphan = add_task(engine, "running", parent_tid=424242)
    assert call(client, "GET", "task/get_parent_detailed_info", task_id=orphan)["message"] == "Parent task not found"
    assert (
        call(client, "GET", "task/get_detailed_info", task_id=1)["message"]
        == "Task not found or error retrieving task info"
    )


# -- edits ----------------------------------------------------------------------------------------------------
def test_change_priority_moves_queued_jobs(client, engine):
    task_id = submit(client, prun_params(n_jobs=2, site=ANALYSIS_QUEUE))["data"]
    until(engine, task_id, "running")
    reply = call(client, "POST", "task/change_priority", task_id=task_id, priority=2000)
    assert reply == {"success": True, "message": "1 tasks changed", "data": None}
    assert engine.tasks.get(task_id)["currentPriority"] == 2000
    assert {engine.jobs.get(p)["currentPriority"] for p in engine.jobs.table.ids("by_task", task_id)} == {2000}
    assert call(client, "POST", "task/change_priority", task_id=1, priority=1)["message"] == "Task not found"


def test_change_attribute(client, engine):
    task_id = add_task(engine, "running")
    assert (
        call(client, "POST", "task/change_attribute", task_id=task_id, attribute_name="wallTime", value=3600)["message"]
        == "1 tasks changed"
    )
    assert call(client, "POST", "task/change_attribute", task_id=task_id, attribute_name="ramCount", value=4000)[
        "success"
    ]
    task = engine.tasks.get(task_id)
    assert (task["walltime"], task["ramCount"]) == (3600, 4000)
    info = call(client, "GET", "task/get_detailed_info", task_id=task_id)["data"]
    assert (info["walltime"], info["ramCount"]) == (3600, 4000)
    refused = call(client, "POST", "task/change_attribute", task_id=task_id, attribute_name="taskName", value=1)
    assert refused["message"] == (
        "taskName is not a valid attribute. Valid attributes are ['ramCount', 'wallTime', 'cpuTime', 'coreCount']"
    )
    assert (
        call(client, "POST", "task/change_attribute", task_id=task_id, attribute_name="ramCount", value="1")["message"]
        == "Type error: 'value' must be of type int, got str."
    )


def test_change_split_rule_and_modification_time(client, engine):
    task_id = add_task(engine, "running", splitRule="NF=1,NG=5")
    assert call(client, "POST", "task/change_split_rule", task_id=task_id, attribute_name="NF", value="4")["success"]
    assert call(client, "POST", "task/change_split_rule", task_id=task_id, attribute_name="AV", value="1")["success"]
    assert engine.tasks.get(task_id)["splitRule"] == "NF=4,NG=5,AV=1"
    refused = call(client, "POST", "task/change_split_rule", task_id=task_id, attribute_name="XX", value="1")
    assert refused["data"] == 2 and refused["message"].startswith(
        "XX is not a valid attribute. Valid attributes are ['AI'"
    )
    reply = call(client, "POST", "task/change_modification_time", task_id=task_id, hour_offset=-12)
    assert reply["message"] == "1 tasks changed"
    assert engine.tasks.get(task_id)["modificationTime"] == engine.now() - dt.timedelta(hours=12)


def test_reassign_global_share(client, engine):
    task_id = add_task(engine, "running")
    assert call(
        client,
        "POST",
        "task/reassign_global_share",
        task_id_list=[task_id],
        share="Group Analysis",
        reassign_running_jobs=False,
    ) == {
        "success": True,
        "message": None,
        "data": 0,
    }
    assert engine.tasks.get(task_id)["gshare"] == "Group Analysis"
    refused = call(
        client,
        "POST",
        "task/reassign_global_share",
        task_id_list=[task_id],
        share="Analysis",
        reassign_running_jobs=True,
    )
    assert refused == {"success": False, "message": "Share Analysis is not a leave share ", "data": 1}


def test_jumbo_jobs_and_job_cloning(client, engine):
    es_task = add_task(engine, "running", eventService=1, splitRule="ES=1")
    plain = add_task(engine, "running")
    assert call(client, "POST", "task/enable_jumbo_jobs", task_id=es_task, jumbo_jobs_total=5) == {
        "success": True,
        "message": "done",
        "data": 0,
    }
    task = engine.tasks.get(es_task)
    assert (task["useJumbo"], task["splitRule"]) == ("W", "ES=1,NJ=5,MJ=5")
    assert call(client, "POST", "task/enable_jumbo_jobs", task_id=plain, jumbo_jobs_total=5)["data"] == 3
    assert call(client, "POST", "task/enable_jumbo_jobs", task_id=1, jumbo_jobs_total=5)["message"] == "task not found"
    jumbo = call(client, "GET", "task/get_jumbo_job_datasets", from_offset=1)["data"]
    assert jumbo == {str(es_task): {"status": "running", "datasets": []}}
    assert call(client, "POST", "task/enable_job_cloning", jedi_task_id=plain, mode="storeonce") == {
        "success": True,
        "message": None,
        "data": None,
    }
    assert engine.tasks.get(plain)["splitRule"] == "UC=storeonce"
    assert call(client, "POST", "task/enable_job_cloning", jedi_task_id=plain, mode="twice")["message"] == (
        "invalid job cloning mode: twice"
    )
    assert call(client, "POST", "task/disable_job_cloning", jedi_task_id=plain)["success"]
    assert engine.tasks.get(plain)["splitRule"] == ""
    assert call(client, "POST", "task/disable_job_cloning", jedi_task_id=1)["message"] == "task not found"


def test_increase_attempts(client, engine):
    task_id = submit(client, prun_params(n_jobs=1, site=ANALYSIS_QUEUE, maxAttempt=1))["data"]
    until(engine, task_id, "running")
    [job] = engine.jobs.table.ids("by_task", task_id)
    with engine.operation():
        engine.jobs.kill([job], "tester", 9, True)
    # the input failed for good; JEDI would end the task after task_completion, but not yet
    assert engine.tasks.get(task_id)["status"] == "running"
    reply = call(client, "POST", "task/increase_attempts", task_id=task_id, increase=2)
    assert reply == {"success": True, "message": "increased attemptNr for 1 inputs (1 reactivated)", "data": 0}
    advance(engine, 60)
    assert len(engine.jobs.table.ids("by_task", task_id)) == 2
    assert call(client, "POST", "task/increase_attempts", task_id=task_id, increase=-1)["message"] == (
        "increase must be a positive integer, got -1"
    )
    done = add_task(engine, "done")
    assert call(client, "POST", "task/increase_attempts", task_id=done, increase=1) == {
        "success": False,
        "message": "command rejected since status=done or oldStatus=None not in [running, scouting, ready]",
        "data": 2,
    }
    assert call(client, "POST", "task/increase_attempts", task_id=1, increase=1)["data"] == 1


def test_reactivate(client, engine):
    task_id = submit(client, prun_params(n_jobs=1, site=ANALYSIS_QUEUE))["data"]
    until(engine, task_id, "running")
    run_pilots(client, engine, ANALYSIS_QUEUE, "user")
    until(engine, task_id, "done")
    reply = call(client, "POST", "task/reactivate", task_id=task_id)
    assert reply == {"success": True, "message": f"updated 1 inputs and task {task_id} was reactivated ", "data": 0}
    assert engine.tasks.get(task_id)["status"] == "ready"
    until(engine, task_id, "running")
    assert len(engine.jobs.table.ids("by_task", task_id)) == 2
    # PanDA answers success for a task that does not exist
    assert call(client, "POST", "task/reactivate", task_id=77) == {
        "success": True,
        "message": "updated 0 inputs and task 77 was reactivated ",
        "data": 0,
    }


def test_kill_unfinished_jobs(client, engine):
    task_id = submit(client, prun_params(n_jobs=2, site=ANALYSIS_QUEUE))["data"]
    until(engine, task_id, "running")
    ids = sorted(engine.jobs.table.ids("by_task", task_id))
    reply = call(client, "POST", "task/kill_unfinished_jobs", headers=AS_JDOE, task_id=task_id)
    assert reply == {"success": True, "message": "", "data": [True, True]}
    assert [engine.jobs.get(p)["jobStatus"] for p in ids] == ["cancelled", "cancelled"]
    other = call(client, "POST", "task/kill_unfinished_jobs", headers=AS_HIGGS, task_id=task_id)
    assert other["data"] == [False, False]


@pytest.mark.parametrize(
    "endpoint, params",
    [("task/get_job_ids", {"task_id": "x"}), ("task/get_task_parameters", {"task_id": "x"})],
)
def test_get_casts_task_ids(client, endpoint, params):
    reply = call(client, "GET", endpoint, **params)
    assert reply["message"] == "Type error: 'task_id' with value 'x' could not be casted to type int from str."
