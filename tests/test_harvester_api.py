"""``/api/v1/harvester/*`` and ``pilot/update_worker_status``: state before/after and exact replies."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from pandamock.engine import records
from pandamock.engine.statuses import JOB, created
from tests.helpers import JSON, envelope

DB_ERROR = "database error in the PanDA server"
START = dt.datetime(2026, 11, 29, 12, 0, 0)
PILOT = "atlpilo1"  # compact name of the default (production) identity
JDOE = {**JSON, "X-Pandamock-Identity": "jdoe"}


@pytest.fixture
def frozen(engine):
    engine.clock.freeze()
    engine.clock.set(START)
    return engine


def post(client, endpoint, headers=JSON, **body):
    return envelope(client.post(f"/api/v1/harvester/{endpoint}", json=body, headers=headers))


def get(client, endpoint, headers=JSON, **query):
    return envelope(client.get(f"/api/v1/harvester/{endpoint}", query_string=query, headers=headers))


def table(engine, name):
    return engine.store.table(name)


def worker(engine, harvester_id, worker_id):
    return table(engine, "workers").get(f"{harvester_id}:{worker_id}")


def add_job(engine, panda_id, status, site="CERN-PROD_UCORE"):
    with engine.operation():
        job = records.new_job(
            {"PandaID": panda_id, "jobStatus": "activated", "computingSite": site, "prodSourceLabel": "managed"}
        )
        created(engine.store.table("jobs"), job, JOB, engine.now())
        path = {"activated": [], "sent": ["sent"], "starting": ["sent", "starting"], "running": ["sent", "running"]}
        from pandamock.engine.statuses import transition

        for step in path[status]:
            transition(engine.store.table("jobs"), panda_id, JOB, step, engine.now())


# --- heartbeat -----------------------------------------------------------------------------------
def test_heartbeat_registers_a_new_instance_with_its_metadata(client, frozen):
    assert table(frozen, "harvester_instances").get("h1") is None
    data = {"startTime": "datetime/2026-11-29 10:00:00.123456", "sw_version": "0.7.5", "commit_stamp": "abc123"}
    assert post(client, "heartbeat", harvester_id="h1", data=data) == {"success": True, "message": "", "data": None}
    assert table(frozen, "harvester_instances").get("h1") == {
        "harvester_ID": "h1",
        "description": "automatic",
        "startTime": dt.datetime(2026, 11, 29, 10, 0, 0, 123456),
        "owner": PILOT,
        "hostName": "127.0.0.1",
        "lastUpdate": START,
        "sw_version": "0.7.5",
        "commit_stamp": "abc123",
    }


def test_heartbeat_updates_last_update_and_keeps_metadata(client, frozen):
    post(client, "heartbeat", harvester_id="h1", data={"sw_version": "0.7.5"})
    frozen.clock.advance(90)
    assert post(client, "heartbeat", harvester_id="h1", data={"SW_VERSION": "0.7.6"})["success"] is True
    record = table(frozen, "harvester_instances").get("h1")
    assert record["lastUpdate"] == START + dt.timedelta(seconds=90)
    assert record["sw_version"] == "0.7.6"  # column names are case-insensitive, as in Oracle


def test_heartbeat_without_data_is_a_plain_heartbeat(client, frozen):
    assert post(client, "heartbeat", harvester_id="h2")["success"] is True
    assert table(frozen, "harvester_instances").get("h2")["lastUpdate"] == START


def test_heartbeat_commands_add_command_locks(client, frozen):
    data = {
        "commands": [{"command": "SET_N_WORKERS_JOBTYPE", "computingSite": "BNL_PROD_MCORE", "resourceType": "MCORE"}]
    }
    assert post(client, "heartbeat", harvester_id="h1", data=data)["success"] is True
    locks = list(table(frozen, "harvester_command_locks").values())
    assert locks == [
        {
            "lock_key": "h1|BNL_PROD_MCORE|MCORE|SET_N_WORKERS_JOBTYPE",
            "harvester_ID": "h1",
            "computingSite": "BNL_PROD_MCORE",
            "resourceType": "MCORE",
            "command": "SET_N_WORKERS_JOBTYPE",
            "lockedTime": START - dt.timedelta(days=1),
            "lockedBy": None,
        }
    ]


@pytest.mark.parametrize(
    "data",
    [
        {"no_such_column": 1},
        {"startTime": "datetime/yesterday"},
        {"sw_version": "x" * 51},
        {"commands": [{"command": "X"}]},
        {"commands": 5},
    ],
)
def test_heartbeat_bad_data_is_a_database_error_and_writes_nothing(client, frozen, data):
    assert post(client, "heartbeat", harvester_id="h1", data=data) == {
        "success": False,
        "message": DB_ERROR,
        "data": None,
    }
    assert table(frozen, "harvester_instances").get("h1") is None
    assert len(table(frozen, "harvester_command_locks")) == 0


# --- workers -------------------------------------------------------------------------------------
def test_update_workers_inserts_then_updates(client, frozen):
    body = {
        "workerID": 7,
        "batchID": "123.0",
        "status": "submitted",
        "computingSite": "CERN-PROD_UCORE",
        "nCore": 8,
        "submitTime": "datetime/2026-11-29 11:59:00.000000",
        "resourceType": "MCORE",
        "unknownAttribute": "ignored",
    }
    assert post(client, "update_workers", harvester_id="h1", workers=[body]) == {
        "success": True,
        "message": "",
        "data": [True],
    }
    stored = worker(frozen, "h1", 7)
    assert stored["status"] == "submitted"
    assert stored["submitTime"] == dt.datetime(2026, 11, 29, 11, 59)
    assert stored["lastUpdate"] == START
    assert stored["nCore"] == 8 and stored["batchID"] == "123.0"
    assert "unknownAttribute" not in stored
    frozen.clock.advance(60)
    assert post(client, "update_workers", harvester_id="h1", workers=[{"workerID": 7, "status": "running"}])["success"]
    stored = worker(frozen, "h1", 7)
    assert (stored["status"], stored["nCore"], stored["lastUpdate"]) == ("running", 8, START + dt.timedelta(seconds=60))


def test_final_worker_status_sticks_for_three_hours(client, frozen):
    post(client, "update_workers", harvester_id="h1", workers=[{"workerID": 1, "status": "finished"}])
    frozen.clock.advance(3600)
    assert post(client, "update_workers", harvester_id="h1", workers=[{"workerID": 1, "status": "running"}])[
        "data"
    ] == [True]
    assert worker(frozen, "h1", 1)["status"] == "finished"
    frozen.clock.advance(3 * 3600)  # three hours after the last update
    post(client, "update_workers", harvester_id="h1", workers=[{"workerID": 1, "status": "running"}])
    assert worker(frozen, "h1", 1)["status"] == "running"


def test_update_workers_keeps_job_links(client, frozen):
    post(client, "update_workers", harvester_id="h1", workers=[{"workerID": 3, "pandaid_list": [11, 12]}])
    links = table(frozen, "worker_jobs")
    assert sorted(link["PandaID"] for link in links.find("by_worker", ("h1", 3))) == [11, 12]
    post(client, "update_workers", harvester_id="h1", workers=[{"workerID": 3, "pandaid_list": [12, 13]}])
    assert sorted(link["PandaID"] for link in links.find("by_worker", ("h1", 3))) == [12, 13]
    post(client, "update_workers", harvester_id="h1", workers=[{"workerID": 3, "pandaid_list": []}])
    assert sorted(link["PandaID"] for link in links.find("by_worker", ("h1", 3))) == [12, 13]  # empty: unchanged
    assert [w["workerID"] for w in frozen.harvester.workers_of_job(13)] == [3]


def test_final_worker_with_sync_level_1_fails_its_running_and_starting_jobs(client, frozen):
    add_job(frozen, 101, "running")
    add_job(frozen, 102, "starting")
    add_job(frozen, 103, "activated")
    post(
        client,
        "update_workers",
        harvester_id="h1",
        workers=[{"workerID": 9, "status": "running", "pandaid_list": [101, 102, 103]}],
    )
    jobs = table(frozen, "jobs")
    assert jobs.get(101)["taskBufferErrorCode"] == 0  # JobSpec zero-fills error codes
    final = {"workerID": 9, "status": "failed", "syncLevel": 1, "diagMessage": "killed by batch", "errorCode": 42}
    assert post(client, "update_workers", harvester_id="h1", workers=[final])["data"] == [True]
    assert jobs.get(101)["taskBufferErrorCode"] == 300
    assert jobs.get(101)["taskBufferErrorDiag"] == "The worker was failed while the job was running : killed by batch"
    assert jobs.get(102)["taskBufferErrorDiag"] == "The worker was failed while the job was starting : killed by batch"
    assert jobs.get(102)["startTime"] is None
    assert jobs.get(103)["taskBufferErrorCode"] == 0
    for panda_id in (101, 102, 103):  # the worker's error code reaches every active job
        assert jobs.get(panda_id)["supErrorCode"] == 42
        assert jobs.get(panda_id)["supErrorDiag"] == "Diag from worker : killed by batch"
    assert jobs.get(101)["jobStatus"] == "running"  # the adder fails them asynchronously
    frozen.clock.advance(frozen.delay("job_adder"))
    frozen.tick()
    assert [jobs.get(i)["jobStatus"] for i in (101, 102, 103)] == ["failed", "failed", "activated"]
    assert jobs.get(101)["endTime"] == START + dt.timedelta(seconds=frozen.delay("job_adder"))


def test_final_worker_without_sync_level_leaves_jobs_running(client, frozen):
    add_job(frozen, 201, "running")
    post(
        client,
        "update_workers",
        harvester_id="h1",
        workers=[{"workerID": 1, "status": "finished", "pandaid_list": [201]}],
    )
    frozen.clock.advance(3600)
    frozen.tick()
    job = table(frozen, "jobs").get(201)
    assert (job["jobStatus"], job["taskBufferErrorCode"], job["supErrorCode"]) == ("running", 0, 0)


def test_update_workers_with_an_empty_list_is_a_database_error(client):
    assert post(client, "update_workers", harvester_id="h1", workers=[]) == {
        "success": False,
        "message": DB_ERROR,
        "data": None,
    }


@pytest.mark.parametrize(
    "bad",
    [
        {"status": "running"},  # no workerID
        "not a dictionary",
        {"workerID": "seven"},
        {"workerID": 2, "nCore": "eight"},
        {"workerID": 2, "diagMessage": "x" * 501},
        {"workerID": 2, "submitTime": "datetime/29.11.2026"},
        {"workerID": 2, "batchID": {"nested": 1}},
        {"workerID": 2, "pandaid_list": 5},
        {"workerID": 2, "pandaid_list": ["abc"]},
    ],
)
def test_malformed_worker_refuses_the_whole_call(client, engine, bad):
    good = {"workerID": 1, "status": "running"}
    assert post(client, "update_workers", harvester_id="h1", workers=[good, bad]) == {
        "success": False,
        "message": DB_ERROR,
        "data": None,
    }
    assert len(table(engine, "workers")) == 0 and len(table(engine, "worker_jobs")) == 0
    assert envelope(client.get("/api/v1/system/is_alive", headers=JSON))["success"] is True


def test_get_current_worker_id(client):
    assert get(client, "get_current_worker_id", harvester_id="h1") == {
        "success": False,
        "message": DB_ERROR,
        "data": None,
    }
    post(client, "update_workers", harvester_id="h1", workers=[{"workerID": w} for w in (4, 17, 9)])
    post(client, "update_workers", harvester_id="h2", workers=[{"workerID": 99}])
    assert get(client, "get_current_worker_id", harvester_id="h1") == {"success": True, "message": "", "data": 17}


# --- metrics and dialogs -------------------------------------------------------------------------
def test_update_service_metrics(client, engine):
    metrics = [["2026-11-29 12:00:00.000001", "harvester.example.org", json.dumps({"cpu_pc": 15.2})]]
    assert post(client, "update_service_metrics", harvester_id="h1", metrics=metrics) == {
        "success": True,
        "message": "",
        "data": [True],
    }
    (stored,) = table(engine, "harvester_metrics").values()
    assert stored["creation_time"] == dt.datetime(2026, 11, 29, 12, 0, 0, 1)
    assert (stored["harvester_ID"], stored["harvester_host"], stored["metrics"]) == (
        "h1",
        "harvester.example.org",
        '{"cpu_pc": 15.2}',
    )
    bad = [["harvester.example.org", "2026-11-29 12:00:00.000001", "{}"]]  # host first, as the docstring says
    assert post(client, "update_service_metrics", harvester_id="h1", metrics=bad)["message"] == DB_ERROR
    assert len(table(engine, "harvester_metrics")) == 1


def test_add_dialogs_replaces_by_diag_id(client, engine):
    dialog = {
        "diagID": 1,
        "moduleName": "submitter",
        "identifier": "w-1",
        "creationTime": "2026-11-29 12:00:00.000000",
        "messageLevel": "ERROR",
        "diagMessage": "first",
    }
    assert post(client, "add_dialogs", harvester_id="h1", dialogs=[dialog]) == {
        "success": True,
        "message": "",
        "data": None,
    }
    post(client, "add_dialogs", harvester_id="h1", dialogs=[{**dialog, "diagMessage": "second"}])
    dialogs = table(engine, "harvester_dialogs")
    assert [d["diagMessage"] for d in dialogs.values()] == ["second"]
    assert dialogs.get("h1:1")["creationTime"] == dt.datetime(2026, 11, 29, 12)
    missing = {key: value for key, value in dialog.items() if key != "moduleName"}
    assert post(client, "add_dialogs", harvester_id="h1", dialogs=[{**dialog, "diagID": 2}, missing])["message"] == (
        DB_ERROR
    )
    assert len(dialogs) == 1


# --- worker statistics ---------------------------------------------------------------------------
def test_report_and_get_worker_statistics(client, frozen):
    stats = {
        "managed": {"SCORE": {"running": 3, "submitted": 1}, "Undefined": {"running": 9}},
        "user": {"MCORE": {"idle": 2}},
    }
    assert post(
        client,
        "report_worker_statistics",
        harvester_id="h1",
        panda_queue="CERN-PROD_UCORE",
        statistics=json.dumps(stats),
    ) == {"success": True, "message": "OK", "data": None}
    post(
        client,
        "report_worker_statistics",
        harvester_id="h2",
        panda_queue="CERN-PROD_UCORE",
        statistics='{"managed": {"SCORE": {"running": 1}}}',
    )
    expected = {
        "CERN-PROD_UCORE": {
            "h1": {"managed": {"SCORE": {"running": 3, "submitted": 1}}, "user": {"MCORE": {"idle": 2}}},
            "h2": {"managed": {"SCORE": {"running": 1}}},
        }
    }
    assert get(client, "get_worker_statistics") == {"success": True, "message": "", "data": expected}
    # a new report replaces the instance's counts at the queue
    post(
        client,
        "report_worker_statistics",
        harvester_id="h1",
        panda_queue="CERN-PROD_UCORE",
        statistics='{"managed": {"SCORE": {"finished": 5}}}',
    )
    assert get(client, "get_worker_statistics")["data"]["CERN-PROD_UCORE"]["h1"] == {
        "managed": {"SCORE": {"finished": 5}}
    }
    frozen.clock.advance(4 * 3600 + 1)
    assert get(client, "get_worker_statistics")["data"] == {}


@pytest.mark.parametrize(
    "statistics", ["not json", "[1, 2]", '{"managed": {"SCORE": {"running": "many"}}}', '{"managed": 3}']
)
def test_report_worker_statistics_bad_json_is_a_database_error(client, engine, statistics):
    post(
        client,
        "report_worker_statistics",
        harvester_id="h1",
        panda_queue="Q",
        statistics='{"managed": {"SCORE": {"running": 1}}}',
    )
    assert post(client, "report_worker_statistics", harvester_id="h1", panda_queue="Q", statistics=statistics) == {
        "success": False,
        "message": "database error",
        "data": None,
    }
    assert [row["n_workers"] for row in table(engine, "harvester_worker_stats").values()] == [1]


# --- commands ------------------------------------------------------------------------------------
def _serve_queue(client, harvester_id="h1", queue="CERN-PROD_UCORE"):
    post(client, "update_workers", harvester_id=harvester_id, workers=[{"workerID": 1, "computingSite": queue}])


def _sweep(client, queue="CERN-PROD_UCORE", ces=("ce.cern-prod.example.org",), headers=JSON):
    return post(
        client,
        "add_sweep_command",
        headers=headers,
        panda_queue=queue,
        status_list=["submitted", "running"],
        ce_list=list(ces),
        submission_host_list=["submit01.example.org"],
    )


def test_add_sweep_command_creates_kill_workers_for_the_serving_instance(client, frozen):
    _serve_queue(client)
    assert _sweep(client, ces=("ce.cern-prod.example.org", "ce.elsewhere.example.org")) == {
        "success": True,
        "message": "",
        "data": None,
    }
    (command,) = table(frozen, "harvester_commands").values()
    assert command == {
        "command_id": 1_000_001,
        "command": "KILL_WORKERS",
        "harvester_ID": "h1",
        "ack_requested": 0,
        "creation_date": START,
        "status": "new",
        "status_date": START,
        "params": {
            "status": ["submitted", "running"],
            "computingSite": ["CERN-PROD_UCORE"],
            "computingElement": ["ce.cern-prod.example.org"],  # only the queue's CEs
            "submissionHost": ["submit01.example.org"],
        },
    }
    _sweep(client)  # a new sweep replaces the instance's previous KILL_WORKERS command
    assert [c["command_id"] for c in table(frozen, "harvester_commands").values()] == [1_000_002]


def test_add_sweep_command_refusals(client, engine):
    assert _sweep(client, queue="NO_SUCH_QUEUE") == {
        "success": False,
        "message": "Error retrieving queue configuration from DB",
        "data": None,
    }
    assert _sweep(client) == {"success": False, "message": "Queue not served by any harvester ID", "data": None}
    assert _sweep(client, headers=JDOE) == {
        "success": False,
        "message": "production or pilot role required",
        "data": None,
    }
    assert len(table(engine, "harvester_commands")) == 0


def test_sweep_command_becomes_visible_after_the_configured_delay(client, frozen, monkeypatch):
    monkeypatch.setitem(frozen.progression, "harvester_command", 30.0)
    _serve_queue(client)
    _sweep(client)
    assert post(client, "acquire_commands", harvester_id="h1", n_commands=5)["data"] == []
    frozen.clock.advance(30)
    assert [c["command"] for c in post(client, "acquire_commands", harvester_id="h1", n_commands=5)["data"]] == [
        "KILL_WORKERS"
    ]


def _commands(engine, harvester_id, count):
    for i in range(count):
        engine.clock.advance(1)
        with engine.operation():
            engine.harvester._make_command_visible(harvester_id, f"COMMAND_{i}", {"n": i})


def test_acquire_commands_hands_out_each_new_command_once_oldest_first(client, frozen):
    _commands(frozen, "h1", 3)
    _commands(frozen, "h2", 1)
    first = post(client, "acquire_commands", harvester_id="h1", n_commands=2)
    assert first == {
        "success": True,
        "message": "",
        "data": [
            {
                "command_id": 1_000_001,
                "command": "COMMAND_0",
                "params": {"n": 0},
                "ack_requested": 0,
                "creation_date": "2026-11-29T12:00:01",
            },
            {
                "command_id": 1_000_002,
                "command": "COMMAND_1",
                "params": {"n": 1},
                "ack_requested": 0,
                "creation_date": "2026-11-29T12:00:02",
            },
        ],
    }
    assert [c["command"] for c in post(client, "acquire_commands", harvester_id="h1", n_commands=5)["data"]] == [
        "COMMAND_2"
    ]
    assert post(client, "acquire_commands", harvester_id="h1", n_commands=5)["data"] == []
    statuses = sorted(
        (c["harvester_ID"], c["command"], c["status"]) for c in table(frozen, "harvester_commands").values()
    )
    assert statuses == [
        ("h1", "COMMAND_0", "retrieved"),
        ("h1", "COMMAND_1", "retrieved"),
        ("h1", "COMMAND_2", "retrieved"),
        ("h2", "COMMAND_0", "new"),
    ]
    assert post(client, "acquire_commands", harvester_id="h1", n_commands=1, headers=JDOE)["message"] == (
        "production or pilot role required"
    )


def test_acknowledge_commands(client, frozen):
    _commands(frozen, "h1", 3)
    post(client, "acquire_commands", harvester_id="h1", n_commands=2)
    assert post(client, "acknowledge_commands", command_ids=[1_000_001, 1_000_003, 424242]) == {
        "success": True,
        "message": "",
        "data": None,
    }
    commands = table(frozen, "harvester_commands")
    assert [commands.get(i)["status"] for i in (1_000_001, 1_000_002, 1_000_003)] == [
        "acknowledged",
        "retrieved",
        "new",
    ]
    for bad in ([], ["abc"]):
        assert post(client, "acknowledge_commands", command_ids=bad)["message"] == DB_ERROR
    assert post(client, "acknowledge_commands", command_ids="1000002")["message"] == (
        "Type error: 'command_ids' must be of type list, got str."
    )


# --- target slots --------------------------------------------------------------------------------
def test_add_target_slots_sets_replaces_and_deletes(client, frozen):
    reply = post(client, "add_target_slots", panda_queue="CERN-PROD_UCORE", slots=100, global_share="Express")
    assert reply == {
        "success": True,
        "message": "set numSlots=100 for PQ=CERN-PROD_UCORE gshare=Express resource=None",
        "data": None,
    }
    post(client, "add_target_slots", panda_queue="CERN-PROD_UCORE", slots=250, global_share="Express")
    assert frozen.harvester.target_slots("CERN-PROD_UCORE") == [
        {
            "slot_key": "CERN-PROD_UCORE|Express|None",
            "pandaQueueName": "CERN-PROD_UCORE",
            "gshare": "Express",
            "resourceType": None,
            "numSlots": 250,
            "modificationTime": START,
            "expirationTime": None,
        }
    ]
    reply = post(client, "add_target_slots", panda_queue="CERN-PROD_UCORE", slots=-1, global_share="Express")
    assert reply["message"] == "set numSlots=-1 for PQ=CERN-PROD_UCORE gshare=Express resource=None"
    assert len(table(frozen, "harvester_slots")) == 0


def test_target_slots_expire_after_the_given_days(client, frozen):
    post(client, "add_target_slots", panda_queue="Q", slots=5, resource_type="SCORE", expiration_date="2")
    assert table(frozen, "harvester_slots").get("Q|None|SCORE")["expirationTime"] == START + dt.timedelta(days=2)
    frozen.clock.advance(2 * 86400 - 1)
    frozen.tick()
    assert [s["numSlots"] for s in frozen.harvester.target_slots("Q")] == [5]
    frozen.clock.advance(1)
    frozen.tick()
    assert len(table(frozen, "harvester_slots")) == 0


def test_add_target_slots_with_a_non_numeric_expiration(client, engine):
    assert post(client, "add_target_slots", panda_queue="Q", slots=5, expiration_date="tomorrow") == {
        "success": False,
        "message": "database error in the panda server",
        "data": None,
    }
    assert len(table(engine, "harvester_slots")) == 0


# --- pilot/update_worker_status --------------------------------------------------------------------
def pilot_post(client, headers=JSON, **body):
    return envelope(client.post("/api/v1/pilot/update_worker_status", json=body, headers=headers))


def test_update_worker_status_started_and_finished(client, frozen):
    post(client, "update_workers", harvester_id="h1", workers=[{"workerID": 5, "status": "running"}])
    assert pilot_post(client, worker_id=5, harvester_id="h1", status="started", node_id="wn042.example.org") == {
        "success": True,
        "message": "",
        "data": None,
    }
    record = worker(frozen, "h1", 5)
    assert (record["pilotStatus"], record["pilotStartTime"], record["nodeID"]) == (
        "started",
        START,
        "wn042.example.org",
    )
    frozen.clock.advance(600)
    pilot_post(client, worker_id="5", harvester_id="h1", status="finished", node_id="wn042.example.org")
    record = worker(frozen, "h1", 5)
    assert (record["pilotStatus"], record["pilotEndTime"]) == ("finished", START + dt.timedelta(seconds=600))
    assert record["status"] == "running"  # harvester's own status is untouched


def test_update_worker_status_refusals(client, frozen):
    post(client, "update_workers", harvester_id="h1", workers=[{"workerID": 5}])
    assert pilot_post(client, worker_id=5, harvester_id="h1", status="running") == {
        "success": False,
        "message": "Invalid worker state. The worker state has to be in ('started', 'finished')",
        "data": None,
    }
    assert pilot_post(client, worker_id="five", harvester_id="h1", status="started") == {
        "success": False,
        "message": "Failed to update worker status",
        "data": None,
    }
    assert pilot_post(client, worker_id=5, harvester_id="h1", status="started", headers=JDOE)["message"] == (
        "production or pilot role required"
    )
    # an unknown worker: the UPDATE matches no row and still succeeds
    assert pilot_post(client, worker_id=6, harvester_id="h1", status="started")["success"] is True
    assert worker(frozen, "h1", 5)["pilotStatus"] is None and worker(frozen, "h1", 6) is None


def test_unknown_harvester_ids(client, engine):
    # as in the real server: commands of an unknown instance are an empty list, workers of an instance
    # that never sent a heartbeat are stored (the instance is not registered by them)
    assert post(client, "acquire_commands", harvester_id="nobody", n_commands=3) == {
        "success": True,
        "message": "",
        "data": [],
    }
    assert post(client, "update_workers", harvester_id="nobody", workers=[{"workerID": 1}])["data"] == [True]
    assert table(engine, "harvester_instances").get("nobody") is None
    assert get(client, "get_current_worker_id", harvester_id="somebody")["message"] == DB_ERROR
