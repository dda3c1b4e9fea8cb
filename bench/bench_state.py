"""The state: load time and memory of a big world, cost growth with size, durable mode, kill -9, reset.

Sections (``--sections``, default all):

* ``load``: load time and peak RSS of the ``big`` scenario (100,000 jobs, 1,000,000 event ranges),
  in a fresh process; then the time of a reset after 100 changes in that world.
* ``growth``: the cost of one engine operation (lock + transaction + the work) doing a keyed
  lookup, "the 10 activated jobs of queue X, highest priority first" (``jobs`` index
  ``dispatch``), "10 ready event ranges of job Y" (``event_ranges`` index ``by_job_status``) and a
  status change (job activated <-> throttled; event range ready <-> sent), in a world of 1k jobs
  and 1k event ranges vs the big world (100k jobs, 1M event ranges); printed as ratios (goal <=
  1.2). The bare store operation (no engine operation around it) is printed too.
* ``durable``: status changes per second with ``--state-file`` vs in memory, in-process and over
  HTTP (a server process with a bench-only status-change route, driven by the keep-alive load
  generator of ``_common.py``); ratio durable / memory.
* ``kill``: clients add records over HTTP to a server with ``--state-file``; the server is killed
  with SIGKILL; the state is loaded again and every acknowledged record is looked for.
* ``reset``: ``Engine.reset`` of the default world after 20 changes (milliseconds), against
  putting back the whole captured state and against loading the scenario again.

Run: ``python bench/bench_state.py [--sections load,growth,durable,kill,reset] [--duration 5]``.
The big world needs about 4 GB of memory (the ``growth`` section holds it next to the small one).
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from _common import ROOT, load, post_json, python, start_process, stop

sys.path.insert(0, str(ROOT))

from pandamock.config import Settings  # noqa: E402
from pandamock.emulator import Emulator  # noqa: E402
from pandamock.engine import Engine  # noqa: E402
from pandamock.engine.statuses import EVENT, JOB, transition  # noqa: E402
from pandamock.scenario import load as load_scenario  # noqa: E402

SMALL = {"tasks": 9, "event_service_tasks": 1, "jobs_per_task": 100, "events_per_job": 10, "files_per_dataset": 20}

LOAD_SCRIPT = """
import json, resource, time, sys
sys.path.insert(0, {root!r})
from pandamock.engine import Engine
from pandamock.engine.statuses import JOB, transition
from pandamock.scenario import load
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
engine = Engine()
engine.load_scenario(load("big"))
seconds = time.perf_counter() - started
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
jobs = engine.store["jobs"]
resets = []
for _ in range(5):
    with engine.operation():
        for panda_id in jobs.ids("by_status", "activated")[:100]:
            transition(jobs, panda_id, JOB, "sent", engine.now())
    t0 = time.perf_counter()
    engine.reset()
    resets.append(time.perf_counter() - t0)
print(json.dumps({{"seconds": seconds, "rss_mb": rss / 1024, "before_mb": before / 1024,
                  "counts": engine.counts(), "reset_ms": sorted(resets)[2] * 1000}}))
"""


def section_load() -> None:
    print("== load: the big scenario in a fresh process")
    result = subprocess.run(
        [python(), "-c", LOAD_SCRIPT.format(root=str(ROOT))], capture_output=True, text=True, check=True
    )
    data = json.loads(result.stdout)
    counts = data["counts"]
    print(
        f"big: {counts['jobs']:,} jobs, {counts['event_ranges']:,} event ranges, {counts['dataset_files']:,} dataset "
        f"files, {counts['tasks']:,} tasks"
    )
    print(
        f"load time {data['seconds']:.1f} s; peak RSS {data['rss_mb']:,.0f} MB "
        f"(interpreter alone {data['before_mb']:.0f} MB)"
    )
    print(f"reset after 100 job status changes in the big world: {data['reset_ms']:.2f} ms (median of 5)")


def _world(generate: dict | None) -> Engine:
    scenario = load_scenario("big" if generate is None else "default")
    scenario.clock = {"start": "2026-11-29T12:00:00", "frozen": True}
    if generate is not None:
        scenario.generate = generate
    engine = Engine()
    engine.load_scenario(scenario)
    return engine


def _timed(operation, arguments: list, rounds: int = 7) -> float:
    """Best over rounds of the mean cost (µs) of ``operation(argument)`` over ``arguments`` (the
    best round is the one least disturbed by other processes)."""
    means = []
    for _ in range(rounds):
        started = time.perf_counter_ns()
        for argument in arguments:
            operation(argument)
        means.append((time.perf_counter_ns() - started) / len(arguments) / 1000)
    return min(means)


def _measure(engine: Engine, rng: random.Random, samples: int, hot: int | None) -> dict[str, tuple[float, float]]:
    """Costs in µs (inside an engine operation, bare store) of each operation on ``samples`` targets:
    drawn from the whole world (``hot`` None), or ``hot`` targets drawn once and used in turn."""
    jobs = engine.store["jobs"]
    ranges = engine.store["event_ranges"]

    def targets(population: list) -> list:
        if hot is None:
            return [population[rng.randrange(len(population))] for _ in range(samples)]
        chosen = rng.sample(population, min(hot, len(population)))
        return [chosen[i % len(chosen)] for i in range(samples)]

    job_ids = targets(list(jobs.records))
    queues = [q for q in engine.world.sites.records if jobs.count("dispatch", (q, "activated"))]
    queue_list = [queues[i % len(queues)] for i in range(samples)]
    es_list = targets(
        [pid for pid in jobs.ids("by_status", "activated") if ranges.count("by_job_status", (pid, "ready"))]
    )
    dispatch = jobs.index("dispatch")
    by_job_status = ranges.index("by_job_status")
    movable = list(dict.fromkeys(targets(jobs.ids("by_status", "activated"))))  # distinct: toggled in pairs
    ready = list(dict.fromkeys(targets(ranges.ids("by_status", "ready"))))

    def lookup(pid):
        return jobs.get(pid)

    def top_jobs(queue):
        return [jobs.records[pid] for pid in itertools.islice(dispatch.iter_ids((queue, "activated")), 10)]

    def top_ranges(pid):
        return [ranges.records[rid] for rid in itertools.islice(by_job_status.iter_ids((pid, "ready")), 10)]

    def in_operation(function):
        def run(argument):
            with engine.operation():
                return function(argument)

        return run

    def toggle_job(pid):
        with engine.operation():
            target = "throttled" if jobs.records[pid]["jobStatus"] == "activated" else "activated"
            transition(jobs, pid, JOB, target, engine.now())

    def toggle_range(rid):
        with engine.operation():
            target = "sent" if ranges.records[rid]["status"] == "ready" else "ready"
            transition(ranges, rid, EVENT, target, engine.now())

    results = {
        "keyed lookup (jobs)": (_timed(in_operation(lookup), job_ids), _timed(lookup, job_ids)),
        "10 activated jobs of a queue by priority": (
            _timed(in_operation(top_jobs), queue_list),
            _timed(top_jobs, queue_list),
        ),
        "10 ready event ranges of a job": (_timed(in_operation(top_ranges), es_list), _timed(top_ranges, es_list)),
        "job status change": (_timed(toggle_job, movable * 2), float("nan")),
        "event range status change": (_timed(toggle_range, ready * 2), float("nan")),
    }
    engine.reset()
    return results


def section_growth(samples: int, hot: int) -> None:
    print("== growth: cost of one operation, small world vs big world")
    small = _world(SMALL)
    big = _world(None)
    print(f"small: {len(small.store['jobs']):,} jobs, {len(small.store['event_ranges']):,} event ranges")
    print(f"big:   {len(big.store['jobs']):,} jobs, {len(big.store['event_ranges']):,} event ranges")
    for title, hot_set in (
        ("targets drawn from the whole world (the big one does not fit in the CPU caches)", None),
        (f"the same {hot} targets in turn (equal cache footprint: what is left is the algorithm)", hot),
    ):
        runs = [
            (_measure(small, random.Random(1), samples, hot_set), _measure(big, random.Random(1), samples, hot_set))
        ]
        runs.append(
            (_measure(small, random.Random(1), samples, hot_set), _measure(big, random.Random(1), samples, hot_set))
        )
        small_results = {name: tuple(map(min, *(run[0][name] for run in runs))) for name in runs[0][0]}
        big_results = {name: tuple(map(min, *(run[1][name] for run in runs))) for name in runs[0][1]}
        print(f"-- {title}")
        print(
            f"{'operation':<42} {'small µs':>9} {'big µs':>9} {'ratio':>6}   "
            f"{'bare store: small':>18} {'big':>7} {'ratio':>6}"
        )
        for name, (small_op, small_bare) in small_results.items():
            big_op, big_bare = big_results[name]
            bare = (
                f"{small_bare:>18.2f} {big_bare:>7.2f} {big_bare / small_bare:>6.2f}"
                if small_bare == small_bare
                else ""
            )
            print(f"{name:<42} {small_op:>9.2f} {big_op:>9.2f} {big_op / small_op:>6.2f}   {bare}")


def section_durable(duration: float, connections: int) -> None:
    print("== durable: status changes/s with a state file vs in memory")
    with tempfile.TemporaryDirectory() as folder:
        rates = {}
        for mode in ("memory", "state file"):
            settings = {"scenario": "default"}
            if mode == "state file":
                settings["state_file"] = str(Path(folder) / "inproc.json")
            emulator = Emulator(Settings.load(settings, environ={}))
            engine = emulator.engine
            jobs = engine.store["jobs"]
            movable = jobs.ids("by_status", "activated")
            done = 0
            end = time.perf_counter() + duration
            while time.perf_counter() < end:
                for pid in movable:
                    with engine.operation():
                        target = "throttled" if jobs.records[pid]["jobStatus"] == "activated" else "activated"
                        transition(jobs, pid, JOB, target, engine.now())
                done += len(movable)
            rates[mode] = done / duration
            emulator.close()
        print(
            f"in-process: memory {rates['memory']:,.0f}/s, state file {rates['state file']:,.0f}/s, "
            f"ratio {rates['state file'] / rates['memory']:.2f}"
        )
        http_rates = {}
        for mode in ("memory", "state file"):
            command = [python(), "bench/_state_server.py"]
            if mode == "state file":
                command += ["--state-file", str(Path(folder) / "http.json")]
            process, url, _ = start_process(command)
            try:
                http_rates[mode] = load(url, [post_json("/_bench/toggle", {})], duration, connections)
            finally:
                stop(process)
        memory, durable = http_rates["memory"], http_rates["state file"]
        print(
            f"over HTTP ({connections} keep-alive clients): memory {memory['rps']:,.0f} req/s (p50 "
            f"{memory['p50_ms']:.2f} ms), state file {durable['rps']:,.0f} req/s (p50 {durable['p50_ms']:.2f} ms), "
            f"ratio {durable['rps'] / memory['rps']:.2f}"
        )


def _inserter(url: str, first: int, acknowledged: list, stop_event: threading.Event) -> None:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    task_id = first
    try:
        while not stop_event.is_set():
            connection.request(
                "POST", f"/_bench/insert?id={task_id}", body=b"{}", headers={"Content-Type": "application/json"}
            )
            response = connection.getresponse()
            response.read()
            if response.status == 200:
                acknowledged.append(task_id)
            task_id += 1
    except (OSError, http.client.HTTPException):
        pass  # the server was killed


def section_kill(seconds: float, clients: int) -> None:
    print("== kill -9: acknowledged changes after a restart")
    with tempfile.TemporaryDirectory() as folder:
        state = Path(folder) / "state.json"
        process, url, _ = start_process([python(), "bench/_state_server.py", "--state-file", str(state)])
        acknowledged: list[list[int]] = [[] for _ in range(clients)]
        stop_event = threading.Event()
        threads = [
            threading.Thread(target=_inserter, args=(url, 1 + i * 10_000_000, acknowledged[i], stop_event))
            for i in range(clients)
        ]
        for thread in threads:
            thread.start()
        time.sleep(seconds)
        process.kill()  # SIGKILL, no shutdown
        process.wait()
        stop_event.set()
        for thread in threads:
            thread.join()
        emulator = Emulator(Settings.load({"state_file": str(state)}, environ={}))
        tasks = emulator.engine.store["tasks"]
        acked = [task_id for ids in acknowledged for task_id in ids]
        found = sum(1 for task_id in acked if tasks.get(task_id) is not None)
        print(
            f"{clients} clients for {seconds:.0f} s, then SIGKILL: {len(acked):,} changes acknowledged, {found:,} "
            f"found after restart, {len(acked) - found} lost ({emulator.state.replayed:,} log lines replayed)"
        )
        emulator.close()


def section_reset(rounds: int) -> None:
    print("== reset: the default world after 20 changes")
    engine = Engine()
    scenario = load_scenario("default")
    engine.load_scenario(scenario)
    jobs = engine.store["jobs"]

    def change() -> None:
        with engine.operation():
            for pid in jobs.ids("by_status", "activated")[:10]:
                transition(jobs, pid, JOB, "sent", engine.now())
            for rid in engine.store["event_ranges"].ids("by_status", "ready")[:5]:
                transition(engine.store["event_ranges"], rid, EVENT, "sent", engine.now())
            for task_id in range(1, 6):
                engine.store["tasks"].insert({"jediTaskID": task_id, "status": "registered"})

    times = {"Engine.reset (revert the changes)": [], "restore the whole capture": [], "load the scenario again": []}
    for _ in range(rounds):
        change()
        started = time.perf_counter()
        engine.reset()
        times["Engine.reset (revert the changes)"].append(time.perf_counter() - started)
        change()
        started = time.perf_counter()
        engine.store.restore(engine._baseline)
        engine._baseline = engine.store.checkpoint()
        times["restore the whole capture"].append(time.perf_counter() - started)
    for _ in range(max(rounds // 10, 3)):
        started = time.perf_counter()
        engine.load_scenario(scenario)
        times["load the scenario again"].append(time.perf_counter() - started)
    print(f"default world: {engine.counts()['jobs']} jobs, {engine.counts()['event_ranges']} event ranges")
    for name, values in times.items():
        print(f"{name:<36} median {statistics.median(values) * 1000:8.3f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sections", default="load,growth,durable,kill,reset")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per throughput measurement")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--samples", type=int, default=2000, help="operations per timing round")
    parser.add_argument("--rounds", type=int, default=200, help="reset rounds")
    parser.add_argument("--hot", type=int, default=100, help="targets of the equal-footprint growth measurement")
    args = parser.parse_args()
    sections = args.sections.split(",")
    if "load" in sections:
        section_load()
    if "growth" in sections:
        section_growth(args.samples, args.hot)
    if "durable" in sections:
        section_durable(args.duration, args.connections)
    if "kill" in sections:
        section_kill(args.duration, args.connections)
    if "reset" in sections:
        section_reset(args.rounds)


if __name__ == "__main__":
    main()
