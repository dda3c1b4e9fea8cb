"""Harvester, file-server and credential state: scenario generation, dumps that load back, resets."""

from __future__ import annotations

import io
import json

from pandamock.api.envelope import encode
from pandamock.app import create_app, emulator_of
from pandamock.engine.snapshot import dump
from pandamock.scenario import Scenario, load
from tests.helpers import JSON, envelope

TABLES = (
    "harvester_instances",
    "workers",
    "worker_jobs",
    "harvester_commands",
    "harvester_worker_stats",
    "harvester_slots",
    "harvester_queues",
    "secrets",
    "cache_files",
    "sandbox_files",
    "file_server_requests",
)


def generated_scenario(count: int) -> dict:
    data = load("default").as_dict()
    data["generate"] = {"harvester_instances": count}
    data["clock"] = {"start": "2026-11-29T12:00:00", "frozen": True}
    return data


def test_generate_harvester_instances_serving_the_queues():
    apps = [create_app(scenario=generated_scenario(2)) for _ in range(2)]
    engines = [emulator_of(app).engine for app in apps]
    engine = engines[0]
    instances = engine.store.table("harvester_instances")
    assert sorted(instances.records) == ["pandamock_harvester_01", "pandamock_harvester_02"]
    assert {record["owner"] for record in instances.values()} == {"atlpilo1"}
    served = {row["computingSite"]: row["harvester_ID"] for row in engine.store.table("harvester_queues").values()}
    assert len(served) == len(engine.world.sites) == 7 and set(served.values()) == set(instances.records)
    workers = engine.store.table("workers")
    assert len(workers) == 7 * 4
    assert sorted({w["status"] for w in workers.values()}) == ["finished", "idle", "running", "submitted"]
    assert all(workers.get(key)["computingSite"] in served for key in workers.records)
    # deterministic: the same scenario generates the same world
    assert list(engines[1].store.table("workers").values()) == list(workers.values())
    assert list(engines[1].store.table("harvester_instances").values()) == list(instances.values())
    # the generated world is usable through the API
    client = apps[0].test_client()
    queue = "BNL_PROD_MCORE"
    reply = envelope(
        client.post(
            "/api/v1/harvester/add_sweep_command",
            json={"panda_queue": queue, "status_list": ["idle"], "ce_list": [], "submission_host_list": []},
            headers=JSON,
        )
    )
    assert reply["success"] is True
    (command,) = engine.store.table("harvester_commands").values()
    assert command["harvester_ID"] == served[queue]
    current = envelope(
        client.get(
            "/api/v1/harvester/get_current_worker_id", query_string={"harvester_id": served[queue]}, headers=JSON
        )
    )
    assert current["data"] == max(w["workerID"] for w in workers.values() if w["harvesterID"] == served[queue])
    for app in apps:
        emulator_of(app).engine.files.close()


def _make_state(client):
    post = lambda path, **body: envelope(client.post(f"/api/v1/{path}", json=body, headers=JSON))  # noqa: E731
    post("harvester/heartbeat", harvester_id="h1", data={"sw_version": "0.7.5"})
    post(
        "harvester/update_workers",
        harvester_id="h1",
        workers=[{"workerID": 3, "status": "running", "computingSite": "CERN-PROD_UCORE", "pandaid_list": [5]}],
    )
    post(
        "harvester/add_sweep_command",
        panda_queue="CERN-PROD_UCORE",
        status_list=["running"],
        ce_list=["ALL"],
        submission_host_list=[],
    )
    post(
        "harvester/report_worker_statistics",
        harvester_id="h1",
        panda_queue="CERN-PROD_UCORE",
        statistics='{"managed": {"SCORE": {"running": 1}}}',
    )
    post("harvester/add_target_slots", panda_queue="CERN-PROD_UCORE", slots=10, expiration_date="3")
    post("creds/set_user_secrets", key="k", value="v")
    post("file_server/upload_file_recovery_request", dataset="ds")
    data = {"file": (io.BytesIO(b"content"), "jobO.s.tar.gz")}
    assert envelope(client.post("/api/v1/file_server/upload_cache_file", data=data, headers=JSON))["success"] is True


def test_a_state_dump_loads_back_as_a_scenario(client, engine):
    engine.clock.freeze()
    _make_state(client)
    document = json.loads(encode(dump(engine), as_json=True))
    reloaded = create_app(scenario=Scenario.from_dict(document, source="<dump>"))
    other = emulator_of(reloaded).engine
    for name in TABLES:
        assert list(other.store.table(name).values()) == list(engine.store.table(name).values()), name
    # the reloaded world keeps working: the command is handed out once
    commands = envelope(
        reloaded.test_client().post(
            "/api/v1/harvester/acquire_commands", json={"harvester_id": "h1", "n_commands": 5}, headers=JSON
        )
    )["data"]
    assert [c["command"] for c in commands] == ["KILL_WORKERS"]
    other.files.close()


def test_reset_forgets_workers_commands_secrets_and_files(client, emulator):
    engine = emulator.engine
    _make_state(client)
    assert all(len(engine.store.table(name)) for name in ("workers", "harvester_commands", "secrets", "cache_files"))
    emulator.reset()
    for name in TABLES:
        assert len(engine.store.table(name)) == 0, name
    assert client.get("/cache/jobO.s.tar.gz").status_code == 404
    reply = envelope(client.get("/api/v1/creds/get_user_secrets", headers=JSON))
    assert reply["data"] == "{}"
    # the same name can be uploaded again after a reset
    data = {"file": (io.BytesIO(b"fresh"), "jobO.s.tar.gz")}
    assert envelope(client.post("/api/v1/file_server/upload_cache_file", data=data, headers=JSON))["success"] is True
    assert client.get("/cache/jobO.s.tar.gz").data == b"fresh"
