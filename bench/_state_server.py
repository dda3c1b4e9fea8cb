"""pandamock with two bench-only routes that change state, for measuring durable mode over HTTP.

``python bench/_state_server.py [--state-file PATH] [--scenario NAME]`` prints ``serving <url>``.

* ``POST /_bench/toggle``: one status change per request (a job of the scenario activated <->
  throttled, in turn), one engine operation each, like a state-changing endpoint.
* ``POST /_bench/insert?id=N``: inserts task N (for counting acknowledged changes after a kill -9).

They stand in for the API's state-changing endpoints, which other parts of pandamock provide.
"""

from __future__ import annotations

import argparse
import itertools
import signal
import threading

from flask import jsonify, request

from pandamock.app import create_app, emulator_of
from pandamock.engine import records
from pandamock.engine.statuses import JOB, transition
from pandamock.server import MockServer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--state-file", default=None)
    parser.add_argument("--scenario", default="default")
    args = parser.parse_args()
    app = create_app({"scenario": args.scenario, "state_file": args.state_file, "log_level": "warning"})
    emulator = emulator_of(app)
    engine = emulator.engine
    jobs = engine.store["jobs"]
    with engine.operation():
        movable = sorted(jobs.ids("by_status", "activated") + jobs.ids("by_status", "throttled"))
    turn = itertools.count()

    @app.post("/_bench/toggle")
    def toggle():
        panda_id = movable[next(turn) % len(movable)]
        with engine.operation():
            current = jobs.get(panda_id)["jobStatus"]
            target = "throttled" if current == "activated" else "activated"
            transition(jobs, panda_id, JOB, target, engine.now())
        return jsonify({"PandaID": panda_id, "jobStatus": target})

    @app.post("/_bench/insert")
    def insert():
        task_id = int(request.args["id"])
        with engine.operation():
            engine.store["tasks"].insert(records.new_task({"jediTaskID": task_id, "status": "registered"}))
        return jsonify({"jediTaskID": task_id})

    server = MockServer(app, port=0, threads=16).start()
    print(f"serving {server.url}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass
    server.stop()
    emulator.close()


if __name__ == "__main__":
    main()
