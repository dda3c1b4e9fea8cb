"""JEDI in miniature under load, and the cost of get_tasks_modified_since against the state size.

1. Tasks end to end: ``--tasks`` tasks of ``--jobs-per-task`` jobs each are submitted through the
   API (``task/submit``, prun's parameters) to ``pandamock serve`` (clock running, JEDI delays of
   0.2 s), and a simulated pilot fleet (``pandamock.simulate``, in ``--processes`` client
   processes) runs every job (acquire -> starting -> running -> finished) until every task is
   ``done``. Prints the wall time from the first submission to the last task done, the requests
   (submissions, pilot calls, status polls) and requests/s.
2. ``task/get_tasks_modified_since`` with a fixed answer (``--result`` tasks of the caller
   modified since ``since``) against a state of ``--small`` and of ``--big`` tasks, in process:
   the engine query and the whole request (pipeline + JSON), best of interleaved rounds.
   Goal: big / small <= 1.2.

Run: ``python bench/bench_tasks.py [--tasks 1000] [--jobs-per-task 100] [--processes 2] [--pilots 16]
[--small 100] [--big 100000] [--result 50]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import yaml
from _common import ROOT, python, start_process, stop

sys.path.insert(0, str(ROOT))

from pandamock.simulate import Fleet, FleetResult  # noqa: E402

QUEUE = "ANALY_MWT2_UCORE"
DELAYS = {
    "job_activation": 0.0,
    "job_adder": 0.0,
    "task_step": 0.2,
    "task_command": 1.0,
    "task_completion": 0.2,
}


def scenario() -> dict:
    default = yaml.safe_load((ROOT / "scenarios" / "default.yaml").read_text())
    return {
        "name": "bench-tasks",
        "seed": 11,
        "clock": {"start": "now", "speed": 1.0},
        "identities": default["identities"],
        "sites": default["sites"],
        "fixtures": ["resource_types.json"],
        "progression": DELAYS,
    }


def task_parameters(index: int, jobs: int) -> dict:
    sys.path.insert(0, str(ROOT))
    from tests.tasks_support import prun_params

    return prun_params(name=f"user.bench.t{index:05d}", n_jobs=jobs, site=QUEUE)


class Connection:
    """One keep-alive JSON connection."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
        self.requests = 0

    def call(self, method: str, path: str, payload: dict | None = None) -> dict:
        headers = {"Accept": "application/json"}
        body = None
        if payload is not None:
            body = json.dumps(payload)
            headers["Content-Type"] = "application/json"
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        data = response.read()
        self.requests += 1
        if response.status != 200:
            raise RuntimeError(f"{path}: HTTP {response.status} {data[:200]!r}")
        return json.loads(data)


def _fleet(args: tuple) -> FleetResult:
    url, pilots, jobs, seed = args
    fleet = Fleet(
        url,
        pilots=pilots,
        queue=QUEUE,
        jobs=jobs,
        duration=3600 * 6,
        heartbeats=1,
        idle_sleep=0.05,
        prod_source_label="user",
        seed=seed,
    )
    return fleet.run()


def end_to_end(options: argparse.Namespace) -> None:
    total_jobs = options.tasks * options.jobs_per_task
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench-tasks.yaml"
        path.write_text(yaml.safe_dump(scenario()))
        args = [python(), "-m", "pandamock", "serve", "--scenario", str(path), "--port", "0", "--log-level", "warning"]
        args += ["--journal-size", "1000"]
        process, url, _ = start_process(args, timeout=300)
        try:
            client = Connection(url)
            started = time.perf_counter()
            since = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(minutes=1)
            task_ids = []
            for index in range(options.tasks):
                reply = client.call(
                    "POST", "/api/v1/task/submit", {"task_parameters": task_parameters(index, options.jobs_per_task)}
                )
                if not reply["success"]:
                    raise RuntimeError(reply)
                task_ids.append(reply["data"])
            submitted = time.perf_counter() - started
            work = [
                (url, max(1, options.pilots // options.processes), total_jobs // options.processes, i)
                for i in range(options.processes)
            ]
            with multiprocessing.get_context("spawn").Pool(options.processes) as pool:
                pending = pool.map_async(_fleet, work)
                done = 0
                polls = 0
                query = f"/api/v1/task/get_tasks_modified_since?since={since:%Y-%m-%d+%H:%M:%S}"
                while True:
                    time.sleep(1.0)
                    tasks = client.call("GET", query)["data"]
                    polls += 1
                    done = sum(1 for task in tasks.values() if task["status"] == "done")
                    if done == options.tasks:
                        break
                    if pending.ready() and done < options.tasks:
                        pending.get()  # raise the fleet's error, if any
                        broken = {t["status"] for t in tasks.values()}
                        if not ({"registered", "defined", "ready", "scouting", "running"} & broken):
                            raise RuntimeError(f"tasks ended as {broken}")
                elapsed = time.perf_counter() - started
                results = pending.get()
        finally:
            stop(process)
    merged = FleetResult()
    for result in results:
        merged.merge(result)
    if merged.errors or merged.http_errors:
        raise RuntimeError(f"the fleet failed: {merged.errors[:3]} ({merged.http_errors} HTTP errors)")
    requests = merged.requests + client.requests
    print(
        f"1. {options.tasks} tasks x {options.jobs_per_task} jobs, {options.pilots} pilots in {options.processes} "
        "client processes (acquire -> starting -> running -> finished):"
    )
    print(f"  submitted {options.tasks} tasks in {submitted:.1f} s ({options.tasks / submitted:.0f} task/submit per s)")
    print(f"  all {done} tasks done after {elapsed:.1f} s wall time; {merged.jobs_finished} jobs finished")
    print(f"  requests: {requests} ({merged.requests} pilot calls, {options.tasks} submissions, {polls} status polls)")
    print(f"  throughput: {requests / elapsed:.0f} req/s overall, {merged.rps:.0f} req/s during the fleet's run")
    for endpoint, stats in merged.endpoint_stats().items():
        print(
            f"  {endpoint:<28} {stats['count']:>7} calls  p50 {stats['p50_ms']:6.2f} ms  p99 {stats['p99_ms']:6.2f} ms"
        )


# -- part 2 -----------------------------------------------------------------------------------------------
def populated(n_tasks: int, result: int):
    """An app whose state holds ``n_tasks`` tasks; ``result`` of them are Jane Doe's user tasks
    modified after ``since``, the others older, of other users or other labels."""
    from pandamock.app import create_app, emulator_of
    from pandamock.engine import records

    app = create_app(
        {"log_level": "warning", "journal_size": 100},
        scenario={**scenario(), "clock": {"start": "2026-11-29T12:00:00", "frozen": True}},
    )
    engine = emulator_of(app).engine
    now = engine.now()
    since = now - dt.timedelta(hours=1)
    users = ["Jane Doe", "Hugo Boson", "atlpilo1", "Ann Other"]
    with engine.store.bulk():
        table = engine.store.table("tasks")
        first = engine.ids.reserve("jediTaskID", n_tasks)
        for i, task_id in enumerate(first):
            if i < result:
                user, label, modified = "Jane Doe", "user", since + dt.timedelta(seconds=1 + i)
            else:
                user = users[i % len(users)]
                label = "user" if i % 3 else "managed"
                modified = since - dt.timedelta(minutes=1 + i % 40000)
                if user == "Jane Doe" and label == "user" and i % 2:
                    modified = since - dt.timedelta(days=2)
            table.insert(
                records.new_task(
                    {
                        "jediTaskID": task_id,
                        "taskName": f"user.bench.{task_id}/",
                        "status": "running" if i % 2 else "done",
                        "userName": user,
                        "prodSourceLabel": label,
                        "creationDate": modified - dt.timedelta(hours=2),
                        "modificationTime": modified,
                        "reqID": task_id,
                    }
                ),
                owned=True,
            )
    return app, engine, since.strftime("%Y-%m-%d %H:%M:%S")


def timed(run, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def modified_since(options: argparse.Namespace) -> None:
    small_app, small, since = populated(options.small, options.result)
    big_app, big, _ = populated(options.big, options.result)
    headers = {"Accept": "application/json", "X-Pandamock-Identity": "jdoe"}
    query = {"since": since}
    clients = {"small": small_app.test_client(), "big": big_app.test_client()}
    for name, client in clients.items():
        data = json.loads(
            client.get("/api/v1/task/get_tasks_modified_since", query_string=query, headers=headers).data
        )["data"]
        assert len(data) == options.result, (name, len(data))
    engine_times = {"small": float("inf"), "big": float("inf")}
    http_times = {"small": float("inf"), "big": float("inf")}
    repeat = 200
    for _ in range(options.rounds):  # interleaved rounds, best of each
        for name, engine in (("small", small), ("big", big)):
            engine_times[name] = min(
                engine_times[name],
                timed(lambda e=engine: e.tasks.modified_since("Jane Doe", since, False, None, "user"), repeat),
            )
            client = clients[name]
            http_times[name] = min(
                http_times[name],
                timed(
                    lambda c=client: c.get(
                        "/api/v1/task/get_tasks_modified_since", query_string=query, headers=headers
                    ),
                    20,
                ),
            )
    print(
        f"2. get_tasks_modified_since answering {options.result} tasks, state of {options.small} vs "
        f"{options.big} tasks (best of {options.rounds} interleaved rounds):"
    )
    for label, times in (("engine query", engine_times), ("HTTP request", http_times)):
        ratio = times["big"] / times["small"]
        print(
            f"  {label + ':':<14} {times['small'] * 1e6:8.1f} us vs {times['big'] * 1e6:8.1f} us   "
            f"ratio big/small {ratio:.2f} (goal <= 1.2)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--jobs-per-task", type=int, default=100)
    parser.add_argument("--processes", type=int, default=2, help="client processes of the pilot fleet")
    parser.add_argument("--pilots", type=int, default=16, help="pilots in total")
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--big", type=int, default=100_000)
    parser.add_argument("--result", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--skip-end-to-end", action="store_true")
    options = parser.parse_args()
    if not options.skip_end_to_end:
        end_to_end(options)
    modified_since(options)


if __name__ == "__main__":
    main()
