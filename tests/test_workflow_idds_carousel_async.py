# ruff: noqa: F811 - the fixtures are imported from tests.tasks_support
"""workflow/*, idds/*, data_carousel/* and async_process/*: their request state machines (§7.5)."""

from __future__ import annotations

import json

import pytest

from tests.tasks_support import (
    ANALYSIS_QUEUE,
    AS_HIGGS,
    AS_JDOE,
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


# -- workflows ----------------------------------------------------------------------------------------------
def two_step_definition() -> dict:
    first = prun_params(name="user.jdoe.wf${WFID}.gen", n_jobs=1, site=ANALYSIS_QUEUE)
    second = prun_params(name="user.jdoe.wf${WFID}.ana", n_jobs=1, site=ANALYSIS_QUEUE, noInput=False)
    del second["nEvents"], second["nEventsPerJob"]
    second["jobParameters"].append(
        {"type": "template", "param_type": "input", "value": "-i ${IN}", "dataset": "{gen/out.root}"}
    )
    return {
        "workflow_name": "two-steps",
        "steps": {"gen": {"type": "task", "task_params": first}, "ana": {"type": "task", "task_params": second}},
        "outputs": {"result": {"from": "ana/out.root"}},
    }


def test_workflow_runs_its_steps_in_order(client, engine):
    reply = call(client, "POST", "workflow/submit_workflow", headers=AS_JDOE, workflow_definition=two_step_definition())
    workflow_id = reply["data"]["workflow_id"]
    assert reply == {"success": True, "message": "", "data": {"workflow_id": workflow_id}}
    details = call(client, "GET", "workflow/get_workflow_details", headers=AS_JDOE, workflow_id=workflow_id)["data"]
    assert (details["status"], details["submitted_as"], details["user"], details["steps"]) == (
        "registered",
        "user",
        "Jane Doe",
        [],
    )
    advance(engine, 60 * 4, steps=4)  # parsed, checked, starting, running
    details = call(client, "GET", "workflow/get_workflow_details", workflow_id=workflow_id)["data"]
    assert details["status"] == "running"
    gen, ana = details["steps"]
    assert (gen["name"], gen["status"], gen["flavor"]) == ("gen", "submitted", "panda_task")
    assert (ana["name"], ana["status"], ana["parent_step_ids"]) == ("ana", "pending", [gen["step_id"]])
    gen_task = int(gen["target_id"])
    assert engine.tasks.get(gen_task)["taskName"] == f"user.jdoe.wf{workflow_id}.gen/"
    until(engine, gen_task, "running")
    run_pilots(client, engine, ANALYSIS_QUEUE, "user")
    until(engine, gen_task, "done")
    details = call(client, "GET", "workflow/get_workflow_details", workflow_id=workflow_id)["data"]
    gen, ana = details["steps"]
    assert gen["status"] == "done" and gen["progress"]["pct_finished"] == 100
    assert ana["status"] == "submitted"
    ana_task = int(ana["target_id"])
    until(engine, ana_task, "running")
    inputs = call(client, "GET", "task/get_datasets_and_files", task_id=ana_task)["data"]
    assert inputs[0]["dataset"]["name"] == f"user.jdoe.wf{workflow_id}.gen_out.root.{gen_task}"
    run_pilots(client, engine, ANALYSIS_QUEUE, "user")
    until(engine, ana_task, "done")
    details = call(client, "GET", "workflow/get_workflow_details", workflow_id=workflow_id)["data"]
    assert details["status"] == "done"
    assert details["data"] == [
        {
            "data_id": details["data"][0]["data_id"],
            "name": "result",
            "type": "output",
            "status": "done_generated",
            "flavor": "panda_task",
            "target_id": str(ana_task),
        }
    ]


def test_raw_request_with_a_sandbox_description_fails_with_a_reason(client, engine):
    params = {
        "sourceURL": "https://pandaserver.example.org:25443",
        "workflowSpecFile": "main.cwl",
        "outDS": "user.jdoe.wf",
    }
    reply = call(client, "POST", "workflow/submit_workflow_raw_request", headers=AS_JDOE, params=json.dumps(params))
    workflow_id = reply["data"]["workflow_id"]
    advance(engine, 60)
    details = call(client, "GET", "workflow/get_workflow_details", workflow_id=workflow_id)["data"]
    assert details["status"] == "failed" and details["name"] == "user.jdoe.wf"
    assert details["reason"] == (
        "cannot parse the workflow description: it is in a sandbox (https://pandaserver.example.org:25443) "
        "that pandamock does not read"
    )
    bad = call(client, "POST", "workflow/submit_workflow_raw_request", params="{not json")
    assert bad["success"] is False and bad["message"].startswith("Failed to parse params: {not json ")
    assert (
        call(client, "GET", "workflow/get_workflow_details", workflow_id=999)["message"] == "workflow_id=999 not found"
    )


def test_raw_request_with_an_inline_description_runs(client, engine):
    reply = call(client, "POST", "workflow/submit_workflow_raw_request", params=two_step_definition())
    advance(engine, 60 * 4, steps=4)
    details = call(client, "GET", "workflow/get_workflow_details", workflow_id=reply["data"]["workflow_id"])["data"]
    assert details["status"] == "running" and details["submitted_as"] == "user"


# -- iDDS ----------------------------------------------------------------------------------------------------
def test_idds_relay_submits_and_reads_requests(client, engine):
    reply = call(
        client,
        "POST",
        "idds/relay_idds_command",
        headers=AS_JDOE,
        command_name="submit",
        kwargs=json.dumps({"workflow": {"name": "my.workflow", "workload_id": 77}}),
        manager=True,
    )
    request_id = reply["data"]
    assert reply == {"success": True, "message": "", "data": request_id} and isinstance(request_id, int)
    status = call(
        client,
        "POST",
        "idds/relay_idds_command",
        command_name="get_status",
        kwargs=json.dumps({"request_id": request_id}),
        manager=True,
    )
    assert status["data"] == "New"
    advance(engine, 60)
    listed = call(
        client,
        "POST",
        "idds/relay_idds_command",
        command_name="get_requests",
        kwargs=json.dumps({"workload_id": 77}),
        json_outputs=True,
    )
    [request] = listed["data"]
    assert (request["name"], request["status"], request["username"]) == ("my.workflow", "Transforming", "Jane Doe")
    commands = list(engine.idds.commands.values())
    assert [c["command"] for c in commands] == ["submit", "get_status", "get_requests"]
    assert commands[0]["client"] == "ClientManager" and commands[0]["username"] == "Jane Doe"
    refused = call(client, "POST", "idds/relay_idds_command", command_name="format_disk")
    assert refused == {"success": False, "message": "format_disk is not a command of iDDS Client", "data": None}


def test_idds_workflow_commands_check_the_owner(client, engine):
    request_id = call(
        client,
        "POST",
        "idds/relay_idds_command",
        headers=AS_JDOE,
        command_name="submit",
        kwargs='{"workflow": {}}',
        manager=True,
    )["data"]
    kwargs = json.dumps({"request_id": request_id})
    assert call(
        client, "POST", "idds/execute_idds_workflow_command", headers=AS_HIGGS, command_name="abort", kwargs=kwargs
    ) == {
        "success": False,
        "message": f"request {request_id} is not owned by Hugo Boson",
        "data": None,
    }
    reply = call(
        client, "POST", "idds/execute_idds_workflow_command", headers=AS_JDOE, command_name="abort", kwargs=kwargs
    )
    assert reply == {"success": True, "message": "Command registered successfully: abort for 1 requests", "data": 0}
    advance(engine, 120)
    assert engine.idds.requests.get(request_id)["status"] == "Cancelled"
    assert (
        call(client, "POST", "idds/execute_idds_workflow_command", command_name="abort")["message"]
        == "request_id is missing"
    )
    assert (
        call(client, "POST", "idds/execute_idds_workflow_command", command_name="abort", kwargs='{"request_id": 5}')[
            "message"
        ]
        == "request 5 is not found"
    )
    assert (
        call(client, "POST", "idds/execute_idds_workflow_command", command_name="drop")["message"]
        == "drop is unsupported"
    )


def test_decode_idds_enum_always_fails(client):
    for method in ("GET", "POST"):
        response = client.open("/api/v1/idds/decode_idds_enum", method=method)
        assert response.status_code == 500
        assert response.data == b"argument of type 'PandaRequest' is not iterable"
    with_parameters = client.get("/api/v1/idds/decode_idds_enum?x=1", headers={"Accept": "application/json"})
    assert with_parameters.status_code == 200  # pandamock validates first (see the fidelity notes)
    assert json.loads(with_parameters.data)["message"] == "Argument error: got an unexpected keyword argument 'x'"


# -- data carousel -------------------------------------------------------------------------------------------
@pytest.fixture
def staging_task(client, engine):
    task_id = submit(client, production_params(inputPreStaging=True), headers={"Accept": "application/json"})["data"]
    until(engine, task_id, "staging")
    [request] = engine.carousel.requests.values()
    return task_id, request


def test_data_carousel_request_flow(client, engine, staging_task):
    task_id, request = staging_task
    rid = request["request_id"]
    source = call(client, "POST", "data_carousel/change_staging_source", request_id=rid)
    assert source["success"] and source["message"].startswith(
        f"status=queued changed source_rse from {request['source_rse']} to "
    )
    advance(engine, 300)  # data_carousel_staging
    staged = engine.carousel.requests.get(rid)
    assert staged["status"] == "staging" and staged["ddm_rule_id"] and staged["destination_rse"].endswith("_DATADISK")
    dropped = call(client, "POST", "data_carousel/change_staging_source", dataset=f"mc23_13p6TeV:{request['dataset']}")
    assert dropped["message"] == "status=staging source replica expression is dropped"
    moved = call(client, "POST", "data_carousel/change_staging_destination", request_id=rid)
    new_id = moved["data"]["new_request_id"]
    assert moved == {
        "success": True,
        "message": "new request resubmitted, destination changed; submitted iDDS requests",
        "data": {"request_id": rid, "new_request_id": new_id, "dataset": request["dataset"]},
    }
    assert engine.carousel.requests.get(rid)["status"] == "cancelled"
    assert engine.carousel.requests.get(new_id)["status"] == "staging"
    assert engine.carousel.requests.get(new_id)["destination_rse"] != staged["destination_rse"]
    advance(engine, 900)
    assert engine.carousel.requests.get(new_id)["status"] == "done"
    assert until(engine, task_id, "running") == "running"
    assert call(client, "POST", "data_carousel/force_to_staging", request_id=new_id)["message"] == (
        f"failed to stage request_id={new_id} : status=done not queued"
    )


def test_data_carousel_retire_and_refusals(client, engine, staging_task):
    task_id, request = staging_task
    rid = request["request_id"]
    assert call(client, "POST", "data_carousel/retire_unused", request_id=rid)["message"] == (
        f"failed to retire request_id={rid} : status=queued is not done"
    )
    call(client, "POST", "data_carousel/force_to_staging", request_id=rid)
    advance(engine, 900)
    call(client, "POST", "task/kill", task_id=task_id)
    advance(engine, 300, steps=3)
    assert engine.tasks.get(task_id)["status"] == "aborted"
    retired = call(client, "POST", "data_carousel/retire_unused", dataset=request["dataset"])
    assert retired == {
        "success": True,
        "message": "retired successfully",
        "data": {
            "request_id": rid,
            "dataset": request["dataset"],
            "status": "retired",
            "ddm_rule_id": retired["data"]["ddm_rule_id"],
        },
    }
    assert call(client, "POST", "data_carousel/force_to_staging")["message"] == "failed to get corresponding request"
    assert call(client, "POST", "data_carousel/force_to_staging", headers=AS_JDOE, request_id=rid)["message"] == (
        "production or pilot role required"
    )


# -- async requests ------------------------------------------------------------------------------------------
def test_grep_request_on_a_service(client, engine):
    call(client, "GET", "task/get_status", task_id=1)  # something in the server log
    reply = call(
        client,
        "POST",
        "async_process/submit_grep_request",
        pattern="get_status",
        log_filename="panda-server.log",
        service_name="server",
    )
    request_id = reply["data"]["request_id"]
    assert reply["success"] and len(request_id) == 36
    pending = call(client, "GET", "async_process/get_result", request_id=request_id)["data"]
    assert pending["overall_status"] == "pending" and len(pending["expected_machines"]) == 3
    assert {r["status"] for r in pending["results"]} == {"pending"}
    advance(engine, 5)
    running = call(client, "GET", "async_process/get_result", request_id=request_id)["data"]
    assert {r["status"] for r in running["results"]} == {"running"} and running["results"][0]["attempts"] == 1
    advance(engine, 5)
    done = call(client, "GET", "async_process/get_result", request_id=request_id)["data"]
    assert done["overall_status"] == "complete"
    assert {r["status"] for r in done["results"]} == {"done"}
    matched = [r for r in done["results"] if r["return_code"] == 0]
    assert len(matched) == 1 and "/api/v1/task/get_status" in matched[0]["result"]
    assert all(isinstance(r["started_at"], str) for r in done["results"])


def test_grep_refusals_and_read_access(client, engine):
    assert (
        call(
            client,
            "POST",
            "async_process/submit_grep_request",
            headers=AS_JDOE,
            pattern="x",
            log_filename="panda-a.log",
            service_name="server",
        )["message"]
        == "'Jane Doe' is not authorized"
    )
    cases = {
        ("x", "panda-a.log", None, None): "exactly one of service_name or machine_name must be provided",
        ("x", "../panda-a.log", "server", None): "invalid log_filename: must not contain path separators",
        (
            "x",
            "server.log",
            "server",
            None,
        ): "invalid log_filename: must start with 'panda-' and end with '.log' or '.gz'",
        ("x", "panda-a.log", "nothing", None): "no alive machines found for service 'nothing'",
    }
    for (pattern, name, service, machine), message in cases.items():
        params = {"pattern": pattern, "log_filename": name}
        if service:
            params["service_name"] = service
        if machine:
            params["machine_name"] = machine
        assert call(client, "POST", "async_process/submit_grep_request", **params)["message"] == message
    bad = call(
        client,
        "POST",
        "async_process/submit_grep_request",
        pattern="(",
        log_filename="panda-jedi.log",
        machine_name="aipanda161.cern.ch",
    )
    request_id = bad["data"]["request_id"]
    advance(engine, 10, steps=2)
    [row] = call(client, "GET", "async_process/get_result", request_id=request_id)["data"]["results"]
    assert (row["status"], row["return_code"]) == ("failed", 2) and row["stderr"].startswith("regex parse error")
    assert call(client, "GET", "async_process/get_result", headers=AS_JDOE, request_id=request_id)["message"] == (
        "'Jane Doe' is not authorized to read results (access='owner', requester='atlpilo1')"
    )
    assert (
        call(client, "GET", "async_process/get_result", request_id="nope")["message"] == "request_id 'nope' not found"
    )


def test_sleep_echo(client, engine):
    reply = call(
        client, "POST", "async_process/submit_sleep_echo_request", service_name="jedi", message="hello", seconds=30
    )
    request_id = reply["data"]["request_id"]
    advance(engine, 5)
    assert call(client, "GET", "async_process/get_result", request_id=request_id)["data"]["overall_status"] == "pending"
    advance(engine, 35)
    result = call(client, "GET", "async_process/get_result", request_id=request_id)["data"]
    assert result["overall_status"] == "complete" and result["expected_machines"] == ["any"]
    assert result["results"][0]["result"] == "hello"
    assert (
        call(client, "POST", "async_process/submit_sleep_echo_request", service_name="jedi", message="x", seconds=61)[
            "message"
        ]
        == "invalid seconds: must be between 0 and 60"
    )
    assert (
        call(client, "POST", "async_process/submit_sleep_echo_request", service_name="jedi", message="x" * 101)[
            "message"
        ]
        == "invalid message: must be at most 100 characters"
    )
