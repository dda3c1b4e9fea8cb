"""A Harvester-shaped session over a real socket, and concurrent command acquisition.

The calls and payloads follow Harvester's ``panda_communicator.py`` (reference clients.md §4):
requests, ``Accept: application/json``, ``Connection: close``, GET parameters in the query string,
POST parameters as a JSON body, uploads as multipart. Job acquisition and bulk job updates are the
pilot module's; the jobs the worker runs are arranged directly in the ``jobs`` table here.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import zlib

import pytest
import requests

from pandamock.app import create_app
from pandamock.engine import records
from pandamock.engine.statuses import JOB, created, transition
from tests.helpers import live_server

HEADERS = {"Accept": "application/json", "Connection": "close"}
HARVESTER = "CERN_central_A"
QUEUE = "CERN-PROD_UCORE"


@pytest.fixture(scope="module")
def live():
    app = create_app({"scenario": "default"})
    with live_server(app) as server:
        yield server


@pytest.fixture
def server(live):
    live.emulator.reset()
    engine = live.emulator.engine
    engine.clock.freeze()
    engine.clock.set(dt.datetime(2026, 11, 29, 12, 0, 0))
    return live


class Communicator:
    """The shape of Harvester's PanDA communicator."""

    def __init__(self, base: str) -> None:
        self.base = f"{base}/api/v1"

    def post(self, path: str, data: dict) -> dict:
        response = requests.post(f"{self.base}/{path}", json=data, headers=HEADERS, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def get(self, path: str, data: dict | None = None) -> dict:
        response = requests.get(f"{self.base}/{path}", params=data or {}, headers=HEADERS, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def upload(self, path: str, name: str, content: bytes) -> dict:
        files = {"file": (name, content)}
        response = requests.post(f"{self.base}/{path}", files=files, headers=HEADERS, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()


def running_job(engine, panda_id: int) -> None:
    with engine.operation():
        jobs = engine.store.table("jobs")
        job = records.new_job({"PandaID": panda_id, "jobStatus": "activated", "computingSite": QUEUE})
        created(jobs, job, JOB, engine.now())
        for status in ("sent", "starting", "running"):
            transition(jobs, panda_id, JOB, status, engine.now())


def test_harvester_session(server):
    engine = server.emulator.engine
    com = Communicator(server.url)
    assert com.get("system/is_alive") == {"success": True, "message": "", "data": None}

    # is_alive: the instance registers itself with its metadata
    data = {"startTime": "datetime/2026-11-29 11:00:00.000000", "sw_version": "0.7.5", "commit_stamp": "d561b72f"}
    assert com.post("harvester/heartbeat", {"harvester_id": HARVESTER, "data": data})["success"] is True
    instance = engine.store.table("harvester_instances").get(HARVESTER)
    assert (instance["owner"], instance["hostName"], instance["sw_version"]) == ("atlpilo1", "127.0.0.1", "0.7.5")

    # credentials and configuration Harvester fetches
    assert com.get("creds/get_proxy", {"role": "production"})["data"]["user_proxy"].startswith("-----BEGIN")
    assert len(com.get("creds/get_token_key", {"client_name": "panda_harvester"})["data"]["tokenKey"]) == 32
    pair = com.get(
        "creds/get_key_pair", {"public_key_name": "harvester_public_key", "private_key_name": "harvester_private_key"}
    )
    assert set(pair["data"]) == {"public_key", "private_key"}

    # a worker is submitted for two jobs, starts running, and is reported with statistics
    running_job(engine, 7001)
    running_job(engine, 7002)
    worker = {
        "workerID": 1,
        "batchID": "4242.0",
        "queueName": QUEUE,
        "status": "submitted",
        "computingSite": QUEUE,
        "nCore": 8,
        "submitTime": "datetime/2026-11-29 12:00:00.000000",
        "resourceType": "MCORE",
        "jobType": "managed",
        "computingElement": "ce.cern-prod.example.org",
        "submissionHost": "aipanda183.cern.ch",
        "harvesterHost": "aipanda183.cern.ch",
        "syncLevel": 1,
        "pandaid_list": [7001, 7002],
    }
    assert com.post("harvester/update_workers", {"harvester_id": HARVESTER, "workers": [worker]})["data"] == [True]
    engine.clock.advance(120)
    worker.update(status="running", startTime="datetime/2026-11-29 12:01:30.000000")
    assert com.post("harvester/update_workers", {"harvester_id": HARVESTER, "workers": [worker]})["data"] == [True]
    assert com.get("harvester/get_current_worker_id", {"harvester_id": HARVESTER}) == {
        "success": True,
        "message": "",
        "data": 1,
    }
    stats = {"managed": {"MCORE": {"running": 1, "submitted": 0}}}
    reply = com.post(
        "harvester/report_worker_statistics",
        {"harvester_id": HARVESTER, "panda_queue": QUEUE, "statistics": json.dumps(stats)},
    )
    assert reply == {"success": True, "message": "OK", "data": None}
    assert com.get("harvester/get_worker_statistics")["data"] == {QUEUE: {HARVESTER: stats}}

    # monitoring: metrics, dialogs, a JEDI log
    metrics = [["2026-11-29 12:02:00.000000", "aipanda183.cern.ch", json.dumps({"rss_mib": 2737.36})]]
    assert com.post("harvester/update_service_metrics", {"harvester_id": HARVESTER, "metrics": metrics})["data"] == [
        True
    ]
    dialog = {
        "diagID": 1,
        "moduleName": "submitter",
        "identifier": "worker 1",
        "creationTime": "2026-11-29 12:02:00.000000",
        "messageLevel": "INFO",
        "diagMessage": "submitted",
    }
    assert com.post("harvester/add_dialogs", {"harvester_id": HARVESTER, "dialogs": [dialog]})["success"] is True
    log = zlib.compress(b"worker 1 log\n")
    url = com.upload("file_server/upload_jedi_log", "harvester_worker_1.log", log)["data"]
    assert url == f"{server.url}/cache/jedilog/harvester_worker_1.log"
    assert requests.get(url, timeout=10).content == log

    # an operator sweeps the queue; the instance picks the command up once and acknowledges it
    sweep = {
        "panda_queue": QUEUE,
        "status_list": ["submitted", "running"],
        "ce_list": ["ce.cern-prod.example.org"],
        "submission_host_list": ["aipanda183.cern.ch"],
    }
    assert com.post("harvester/add_sweep_command", sweep) == {"success": True, "message": "", "data": None}
    commands = com.post("harvester/acquire_commands", {"harvester_id": HARVESTER, "n_commands": 10})["data"]
    assert [(c["command"], c["params"]["computingSite"]) for c in commands] == [("KILL_WORKERS", [QUEUE])]
    assert com.post("harvester/acquire_commands", {"harvester_id": HARVESTER, "n_commands": 10})["data"] == []
    ids = [c["command_id"] for c in commands]
    assert com.post("harvester/acknowledge_commands", {"command_ids": ids})["success"] is True
    assert engine.store.table("harvester_commands").get(ids[0])["status"] == "acknowledged"

    # the worker is killed while its jobs run: syncLevel 1 fails them (the adder does it asynchronously)
    worker.update(status="cancelled", diagMessage="killed by KILL_WORKERS", errorCode=None)
    assert com.post("harvester/update_workers", {"harvester_id": HARVESTER, "workers": [worker]})["data"] == [True]
    engine.clock.advance(engine.delay("job_adder"))
    assert com.get("harvester/get_worker_statistics")["success"] is True  # an engine call applies what came due
    jobs = engine.store.table("jobs")
    for panda_id in (7001, 7002):
        assert jobs.get(panda_id)["jobStatus"] == "failed"
        assert jobs.get(panda_id)["taskBufferErrorDiag"] == (
            "The worker was cancelled while the job was running : killed by KILL_WORKERS"
        )
    # the pilot's own view of the worker
    reply = com.post(
        "pilot/update_worker_status",
        {"worker_id": 1, "harvester_id": HARVESTER, "status": "finished", "node_id": "wn1"},
    )
    assert reply["success"] is True
    assert engine.store.table("workers").get(f"{HARVESTER}:1")["pilotStatus"] == "finished"


def test_concurrent_harvesters_never_get_the_same_command(server):
    engine = server.emulator.engine
    total = 300
    with engine.operation():
        for i in range(total):
            engine.harvester._make_command_visible(HARVESTER, f"COMMAND_{i}", {"i": i})
    received: list[list[int]] = [[] for _ in range(8)]
    errors: list[BaseException] = []

    def harvester(slot: int) -> None:
        try:
            with requests.Session() as session:
                while True:
                    response = session.post(
                        f"{server.url}/api/v1/harvester/acquire_commands",
                        json={"harvester_id": HARVESTER, "n_commands": 7},
                        headers={"Accept": "application/json"},
                        timeout=10,
                    )
                    batch = response.json()["data"]
                    if not batch:
                        return
                    received[slot].extend(command["command_id"] for command in batch)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=harvester, args=(slot,)) for slot in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    handed_out = [command_id for batch in received for command_id in batch]
    assert len(handed_out) == total and len(set(handed_out)) == total
    assert sum(1 for batch in received if batch) > 1  # the instances really competed
    statuses = {c["status"] for c in engine.store.table("harvester_commands").values()}
    assert statuses == {"retrieved"}
