"""The dashboard's pages against a small world and the ``big`` one, measured in one run.

Goal (issue 10): the overview renders in under 200 ms with 100,000 jobs and 1,000,000 event
ranges in the state, because it reads index group sizes only. Every page is requested over
HTTP (the emulator's cheroot server in this process, one keep-alive connection), in the default
world (42 jobs, 180 event ranges) and in the ``big`` scenario's world; the table prints the
median and p99 time per page and the ratio big / small of the medians (a page that scanned
records would show a ratio in the hundreds).

Run: ``python bench/bench_dashboard.py [--rounds 30]``. The big world needs about 4 GB of memory
and ten seconds to load.
"""

from __future__ import annotations

import argparse
import gc
import http.client
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pandamock.app import create_app, emulator_of  # noqa: E402
from pandamock.server import MockServer  # noqa: E402

UI = "/_pandamock/ui"


def pages(engine) -> list[tuple[str, str]]:
    """(name, path) of the pages to measure, with ids taken from the world through its indexes."""
    store = engine.store
    jobs = store["jobs"]
    ranges = store["event_ranges"]
    finished = jobs.count("by_status", "finished")
    es_job = next(
        (pid for pid in jobs.ids("by_status", "running") if ranges.count("by_job_status", (pid, "finished"))),
        next(iter(jobs.records)),
    )
    task_id = store["tasks"].ids("by_status", "running")[0]
    deep = max(1, finished // 50 - 1)
    return [
        ("overview (HTML)", f"{UI}/"),
        ("overview feed (JSON)", f"{UI}/feed/overview.json"),
        ("jobs, no filter", f"{UI}/jobs"),
        ("jobs finished, last page", f"{UI}/jobs?status=finished&page={deep}"),
        ("jobs of a queue", f"{UI}/jobs?queue=BNL_PROD_MCORE"),
        ("jobs of a task", f"{UI}/jobs?task={task_id}"),
        ("tasks, no filter", f"{UI}/tasks"),
        ("task page", f"{UI}/tasks/{task_id}"),
        ("job page (event ranges)", f"{UI}/jobs/{es_job}"),
        ("journal", f"{UI}/journal"),
        ("faults", f"{UI}/faults"),
    ]


def measure(url: str, path: str, rounds: int) -> list[float]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    times = []
    for i in range(rounds + 3):
        started = time.perf_counter()
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        elapsed = time.perf_counter() - started
        if response.status != 200:
            raise RuntimeError(f"{path}: HTTP {response.status}")
        if i >= 3:  # warm-up
            times.append(elapsed * 1000)
    connection.close()
    return times


def run_world(scenario: str, rounds: int) -> tuple[dict[str, list[float]], dict[str, int], float]:
    started = time.perf_counter()
    app = create_app({"scenario": scenario, "journal_size": 10000})
    loaded = time.perf_counter() - started
    emulator = emulator_of(app)
    gc.collect()
    gc.freeze()  # like `pandamock serve`: the loaded world is not walked by the cyclic collector
    counts = {name: len(emulator.engine.store[name]) for name in ("tasks", "jobs", "event_ranges")}
    results = {}
    with MockServer(app, port=0) as server:
        for name, path in pages(emulator.engine):
            results[name] = measure(server.url, path, rounds)
    gc.unfreeze()
    return results, counts, loaded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    small, small_counts, _ = run_world("default", args.rounds)
    big, big_counts, load_seconds = run_world("big", args.rounds)
    print(f"small world: {small_counts}")
    print(f"big world:   {big_counts} (loaded in {load_seconds:.1f} s)")
    print(f"{args.rounds} requests per page over HTTP, one keep-alive connection; times in ms")
    print(f"  {'page':<28} {'small p50':>9} {'big p50':>9} {'big p99':>9} {'big/small':>9}")
    for name in small:
        s50 = statistics.median(small[name])
        b50 = statistics.median(big[name])
        b99 = sorted(big[name])[max(0, int(len(big[name]) * 0.99) - 1)]
        print(f"  {name:<28} {s50:>9.2f} {b50:>9.2f} {b99:>9.2f} {b50 / s50:>9.2f}")
    overview = statistics.median(big["overview (HTML)"])
    verdict = "PASS" if overview < 200 else "FAIL"
    print(f"overview in the big world: p50 {overview:.1f} ms (goal < 200 ms): {verdict}")


if __name__ == "__main__":
    main()
