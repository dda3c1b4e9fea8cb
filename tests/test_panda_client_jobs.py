"""The real panda-client 2.2.0 (installed from PyPI) against a live emulator: the calls that reach
job/* and event/*. panda-client reads its environment when ``pandaclient.Client`` is imported, so
every call runs in a subprocess of its own (reference clients.md §2.3–2.5)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from pandamock.app import emulator_of
from pandamock.server import MockServer
from tests.helpers import panda_client_env
from tests.jobs_support import add_ranges, create, make_app

TASK = 40000900
JOBSET = 9001


@pytest.fixture(scope="module")
def server():
    with MockServer(make_app(), port=0) as live:
        yield live


@pytest.fixture
def engine(server):
    emulator = emulator_of(server.app)
    emulator.reset()
    return emulator.engine


def run_client(server, tmp_path, code: str):
    """Run ``code`` with panda-client pointed at the live server; returns what it printed as JSON."""
    env = panda_client_env(server.url, tmp_path)
    script = "import json, datetime\nfrom pandaclient import Client\n" + textwrap.dedent(code)
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


SUBMIT = """
from pandaclient.JobSpec import JobSpec
from pandaclient.FileSpec import FileSpec
job = JobSpec()
job.jobName = "mc23_13p6TeV.801167.client.test"
job.prodSourceLabel = "managed"
job.computingSite = "BNL_PROD_MCORE"
job.transformation = "Sim_tf.py"
job.jobParameters = "--inputEVNTFile=EVNT.01.pool.root.1"
job.assignedPriority = 900
job.currentPriority = 900
job.jobDefinitionID = 77
job.coreCount = 8
job.creationTime = datetime.datetime(2026, 11, 29, 11, 30, 0, 250000)
log = FileSpec()
log.lfn = "log.40000123._000077.job.log.tgz.1"
log.type = "log"
log.dataset = "mc23_13p6TeV.simul.log.e8514_s4162_tid40000123_00"
log.destinationDBlock = "mc23_13p6TeV.simul.log.e8514_s4162_tid40000123_00_sub0124"
log.GUID = "C3D4E5F6-0718-293A-4B5C-000000000077"
job.addFile(log)
status, output = Client.submitJobs([job])
print(json.dumps([status, output]))
"""


def test_submit_get_status_debug_mode_and_kill(server, engine, tmp_path):
    status, output = run_client(server, tmp_path, SUBMIT)
    assert status == 0
    [[panda_id, definition, name]] = output
    assert (definition, name) == (77, "mc23_13p6TeV.801167.client.test")
    stored = engine.jobs.get(panda_id)
    assert stored["jobStatus"] == "defined" and stored["creationHost"]
    assert stored["Files"][0]["lfn"] == "log.40000123._000077.job.log.tgz.1"

    described = run_client(
        server,
        tmp_path,
        f"""
        status, jobs = Client.getJobStatus([{panda_id}, 1])
        job = jobs[0]
        print(json.dumps([status, job.PandaID, job.jobStatus, job.jobName, [f.lfn for f in job.Files], jobs[1],
                          type(job.creationTime).__name__]))
        """,
    )
    assert described == [
        0,
        panda_id,
        "defined",
        "mc23_13p6TeV.801167.client.test",
        ["log.40000123._000077.job.log.tgz.1"],
        None,
        "datetime",
    ]

    debug = run_client(server, tmp_path, f"print(json.dumps(Client.setDebugMode({panda_id}, True, False)))")
    assert debug == [0, None]
    assert engine.jobs.get(panda_id)["specialHandling"] == "debug"

    full = run_client(
        server,
        tmp_path,
        f"""
        status, jobs = Client.getFullJobStatus([{panda_id}])
        print(json.dumps([status, jobs[0].specialHandling, jobs[0].computingSite]))
        """,
    )
    assert full == [0, "debug", "BNL_PROD_MCORE"]

    killed = run_client(server, tmp_path, f"print(json.dumps(Client.killJobs([{panda_id}])))")
    assert killed == [0, [True]]
    assert engine.jobs.get(panda_id)["jobStatus"] == "cancelled"


def test_get_user_job_metadata(server, engine, tmp_path):
    job = create(engine, prodSourceLabel="user", jediTaskID=40000777, metadata='{"nEvents": 42, "files": []}')
    with engine.operation():
        for step in ("sent", "running", "holding", "finished"):
            engine.jobs.move(job["PandaID"], step)
    result = run_client(server, tmp_path, "print(json.dumps(Client.getUserJobMetadata(40000777)))")
    assert result == [0, {str(job["PandaID"]): {"nEvents": 42, "files": []}}]
    assert run_client(server, tmp_path, "print(json.dumps(Client.getUserJobMetadata(1)))") == [0, {}]


def test_events_status_and_update(server, engine, tmp_path):
    job = create(engine, computingSite="DESY-HH_ES", eventService=1, jobsetID=JOBSET, jediTaskID=TASK, coreCount=1)
    other = create(engine, computingSite="DESY-HH_ES", eventService=1, jobsetID=JOBSET, jediTaskID=TASK, coreCount=1)
    add_ranges(engine, TASK, JOBSET, 3)
    with engine.operation():
        engine.jobs.move(job["PandaID"], "sent")
        engine.jobs.move(job["PandaID"], "running")
    ranges = engine.events.acquire(job["PandaID"], JOBSET, TASK, 2)
    ids = [item["eventRangeID"] for item in ranges]
    pid = job["PandaID"]

    statuses = run_client(
        server, tmp_path, f"print(json.dumps(Client.get_events_status([{{'task_id': {TASK}, 'panda_id': {pid}}}])))"
    )
    assert statuses == [
        0,
        {
            str(pid): {
                ids[0]: {"status": "sent", "error": None, "dialog": None},
                ids[1]: {"status": "sent", "error": None, "dialog": None},
            }
        },
    ]
    # several pairs arrive as repeated query keys
    both = run_client(
        server,
        tmp_path,
        f"print(json.dumps(Client.get_events_status([{{'task_id': {TASK}, 'panda_id': {pid}}}, "
        f"{{'task_id': {TASK}, 'panda_id': {other['PandaID']}}}])))",
    )
    assert both[0] == 0 and set(both[1]) == {str(pid), str(other["PandaID"])}

    updated = run_client(
        server,
        tmp_path,
        f"""
        events = [{{"eventRangeID": "{ids[0]}", "eventStatus": "finished"}},
                  {{"eventRangeID": "{ids[1]}", "eventStatus": "failed", "errorCode": 1220, "errorDiag": "crash"}}]
        print(json.dumps(Client.update_events(events)))
        """,
    )
    assert updated == [0, {"StatusCode": 0, "Returns": [True, True], "Commands": {str(pid): None}}]
    table = engine.store.table("event_ranges")
    assert table.get(ids[0])["status"] == "finished"
    assert (table.get(ids[1])["status"], table.get(ids[1])["error_code"]) == ("failed", 1220)
