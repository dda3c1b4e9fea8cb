"""Many pilots at once against a live server: every job and every event range is handed out exactly
once, and no update is lost."""

from __future__ import annotations

import json
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests

from pandamock.app import emulator_of
from pandamock.server import MockServer
from tests.jobs_support import add_ranges, create, make_app

CLIENTS = 40
JOBS = 400
ES_JOBS = 40
RANGES = 1200
TASK = 40000900
JOBSET = 9001
HEADERS = {"Accept": "application/json"}


def call(session: requests.Session, url: str, path: str, payload: dict) -> dict:
    response = session.post(f"{url}/api/v1/{path}", json=payload, headers=HEADERS, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def test_concurrent_pilots_get_each_job_and_range_once():
    app = make_app()
    engine = emulator_of(app).engine
    for i in range(JOBS):
        create(engine, currentPriority=i % 50, jobName=f"job-{i}")
    es_jobs = [
        create(engine, computingSite="DESY-HH_ES", eventService=1, jobsetID=JOBSET, jediTaskID=TASK, coreCount=1)
        for _ in range(ES_JOBS)
    ]
    add_ranges(engine, TASK, JOBSET, RANGES)
    start = threading.Barrier(CLIENTS)

    def pilot(_: int) -> tuple[list[int], list[str]]:
        jobs: list[int] = []
        ranges: list[str] = []
        with requests.Session() as session:
            start.wait()
            # production jobs: acquire, start, heartbeat with a value unique to the job, report
            while True:
                reply = call(session, server.url, "pilot/acquire_jobs", {"site_name": "BNL_PROD_MCORE", "n_jobs": 2})
                if not reply["success"]:
                    assert reply["message"] == "No jobs in PanDA"
                    break
                for job in reply["data"]["jobs"]:
                    panda_id = job["PandaID"]
                    jobs.append(panda_id)
                    for status in ("starting", "running"):
                        update = {"job_id": panda_id, "job_status": status, "n_events": panda_id % 977}
                        assert call(session, server.url, "pilot/update_job", update)["data"]["command"] == "NULL"
            # event service: one consumer job per pilot takes ranges until none are left
            reply = call(session, server.url, "pilot/acquire_jobs", {"site_name": "DESY-HH_ES"})
            if reply["success"]:
                es_id = reply["data"]["jobs"][0]["PandaID"]
                call(session, server.url, "pilot/update_job", {"job_id": es_id, "job_status": "running"})
                while True:
                    got = call(
                        session,
                        server.url,
                        "event/acquire_event_ranges",
                        {"job_id": es_id, "jobset_id": JOBSET, "task_id": TASK, "n_ranges": 7},
                    )["data"]
                    if not got:
                        break
                    ids = [item["eventRangeID"] for item in got]
                    ranges.extend(ids)
                    report = json.dumps([{"eventRangeID": range_id, "eventStatus": "finished"} for range_id in ids])
                    returns = call(session, server.url, "event/update_event_ranges", {"event_ranges": report})["data"]
                    assert returns["Returns"] == [True] * len(ids)
        return jobs, ranges

    with MockServer(app, port=0, threads=CLIENTS + 8) as server:
        with ThreadPoolExecutor(CLIENTS) as pool:
            results = list(pool.map(pilot, range(CLIENTS)))

    dispatched = Counter(panda_id for jobs, _ in results for panda_id in jobs)
    assert len(dispatched) == JOBS and set(dispatched.values()) == {1}
    assert sum(1 for jobs, _ in results if jobs) > 1  # the work was really shared
    for panda_id in dispatched:
        job = engine.jobs.get(panda_id)
        assert job["jobStatus"] == "running" and job["nEvents"] == panda_id % 977  # no update lost
    ranges = Counter(range_id for _, ids in results for range_id in ids)
    assert len(ranges) == RANGES and set(ranges.values()) == {1}
    table = engine.store.table("event_ranges")
    assert {table.get(range_id)["status"] for range_id in ranges} == {"finished"}
    assert sum(engine.jobs.get(job["PandaID"])["nEvents"] for job in es_jobs) == RANGES
