"""Servers for bench_jobs.py: pandamock with a populated job state, or a bare Flask app that answers
the same pilot calls with fixed JSON, both on cheroot. Prints ``serving <url>``.

``python bench/jobs_server.py --app pandamock --jobs 200000 --ranges 2000000``
``python bench/jobs_server.py --app bare``
"""

from __future__ import annotations

import argparse
import gc
import itertools
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flask import Flask, jsonify, request  # noqa: E402

from pandamock.server import MockServer  # noqa: E402

QUEUE = "BNL_PROD_MCORE"
ES_QUEUE = "DESY-HH_ES"
ES_TASK = 40000900
QUEUES = ["BNL_PROD_MCORE", "CERN-PROD_UCORE", "ANALY_MWT2_UCORE", "DESY-HH_ES", "UKI-LT2-QMUL_TEST"]
#: statuses of the jobs that are not for the cycle (the rest of a busy PanDA)
BACKGROUND = (
    ["running"] * 30 + ["finished"] * 40 + ["failed"] * 8 + ["holding"] * 5 + ["starting"] * 5 + ["cancelled"] * 2
)


def bare_app() -> Flask:
    """The pilot calls answered with fixed JSON (request bodies parsed), no state."""
    app = Flask("bare")
    counter = itertools.count(1)
    job = None

    @app.post("/api/v1/pilot/acquire_jobs")
    def acquire_jobs():
        request.get_json()
        data = dict(job, PandaID=next(counter))
        return jsonify({"success": True, "message": "", "data": {"StatusCode": 0, "jobs": [data]}})

    @app.post("/api/v1/pilot/update_job")
    def update_job():
        request.get_json()
        return jsonify({"success": True, "message": "", "data": {"StatusCode": 0, "command": "NULL"}})

    from tests.jobs_support import job_values

    values = job_values()
    job = {
        "StatusCode": 0,
        "PandaID": 0,
        "prodSourceLabel": "managed",
        "jobName": values["jobName"],
        "transformation": values["transformation"],
        "jobPars": values["jobParameters"],
        "inFiles": ",".join(f["lfn"] for f in values["Files"] if f["type"] == "input"),
        "attemptNr": 1,
        "coreCount": 8,
    }
    return app


def populate(engine, n_jobs: int, n_ranges: int, cycle_jobs: int, es_jobs: int, es_ranges: int) -> None:
    """Put ``n_jobs`` jobs and ``n_ranges`` event ranges in the state: ``cycle_jobs`` activated jobs on
    QUEUE and ``es_jobs`` event-service jobs on ES_QUEUE (``es_ranges`` ranges each) for the cycle,
    the rest spread over queues and statuses; the other ranges belong to other jobsets."""
    from pandamock.engine import records
    from tests.jobs_support import job_files, job_values

    now = engine.now()
    base = job_values()
    files = job_files(2)
    jobs_table = engine.store.table("jobs")
    ranges_table = engine.store.table("event_ranges")
    started = time.perf_counter()
    with engine.store.bulk():
        panda_ids = engine.ids.reserve("PandaID", n_jobs + es_jobs)
        row = iter(engine.ids.reserve("row_ID", (n_jobs + es_jobs) * len(files)))
        for i, panda_id in enumerate(panda_ids):
            if i >= n_jobs:
                site, status = ES_QUEUE, "activated"
            elif i < cycle_jobs:
                site, status = QUEUE, "activated"
            else:
                site, status = QUEUES[i % len(QUEUES)], BACKGROUND[i % len(BACKGROUND)]
            values = dict(base, PandaID=panda_id, computingSite=site, jobStatus=status, currentPriority=i % 1000)
            values["creationTime"] = values["modificationTime"] = values["stateChangeTime"] = now
            values["resource_type"] = "MCORE"
            values["jediTaskID"] = 40000000 + i // 500
            values["jobsetID"] = 100000 + i // 50
            if i >= n_jobs:
                values.update(eventService=1, jediTaskID=ES_TASK, jobsetID=200000 + (i - n_jobs), coreCount=1)
            job = records.new_job(values)
            job["Files"] = [dict(records.new_file(f), PandaID=panda_id, row_ID=next(row)) for f in files]
            jobs_table.put(job)
        lfn, guid, scope = "EVNT.38520099._000001.pool.root.1", "0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0", "mc23_13p6TeV"
        ready, finished = "ready", "finished"

        def add_range(task: int, owner: int, number: int, status: str) -> None:
            record = records.new_event_range(
                {
                    "jediTaskID": task,
                    "PandaID": owner,
                    "fileID": 30000000000 + owner,
                    "job_processID": number,
                    "attemptNr": 3,
                    "status": status,
                    "def_min_eventID": number * 100,
                    "def_max_eventID": number * 100 + 99,
                    "datasetID": 500000000 + task % 1000,
                    "jobsetID": owner,
                    "event_offset": owner,
                    "LFN": lfn,
                    "GUID": guid,
                    "scope": scope,
                }
            )
            ranges_table.put(record)

        for j in range(es_jobs):
            for number in range(es_ranges):
                add_range(ES_TASK, 200000 + j, number, ready)
        background = max(0, n_ranges - es_jobs * es_ranges)
        per_jobset = 2000
        for k in range(background):
            jobset, number = divmod(k, per_jobset)
            add_range(41000000 + jobset // 10, 300000 + jobset, number, ready if number % 3 else finished)
    gc.collect()
    seconds = time.perf_counter() - started
    print(f"populated {len(jobs_table)} jobs, {len(ranges_table)} event ranges in {seconds:.1f} s", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--app", choices=["pandamock", "bare"], default="pandamock")
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--ranges", type=int, default=20000)
    parser.add_argument("--cycle-jobs", type=int, default=700)
    parser.add_argument("--es-jobs", type=int, default=20)
    parser.add_argument("--es-ranges", type=int, default=64)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args()
    if args.app == "bare":
        app = bare_app()
    else:
        from pandamock.app import create_app, emulator_of
        from tests.jobs_support import jobs_scenario

        scenario = jobs_scenario()
        scenario["progression"] = {"job_activation": 60.0, "job_adder": 300.0}
        app = create_app({"log_level": "warning", "journal_size": 10000}, scenario=scenario)
        engine = emulator_of(app).engine
        engine.clock.unfreeze()
        populate(engine, args.jobs, args.ranges, args.cycle_jobs, args.es_jobs, args.es_ranges)
    server = MockServer(app, port=0, threads=args.threads).start()
    print(f"serving {server.url}", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
