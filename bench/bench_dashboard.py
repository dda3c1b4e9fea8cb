"""The dashboard's pages against a small world and the ``big`` one, measured in one run.

Goal (issue 10): the overview renders in under 200 ms with 100,000 jobs and 1,000,000 event
ranges in the state, because it reads index group sizes only. Every page is requested over
HTTP (the emulator's cheroot server in this process, one keep-alive connection), in a small
generated world (10 tasks, 1,000 jobs, 1,000 event ranges) and in the ``big`` scenario's world
(1,000 tasks, 100,000 jobs, 1,000,000 event ranges); lists show 10 rows, so every page is full in
both. The table prints the median and p99 time per page and the ratio big / small of the medians
(a page that scanned records would show a ratio near 100).

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
from pandamock.scenario import load  # noqa: E402
from pandamock.server import MockServer  # noqa: E402

UI = "/_pandamock/ui"
SMALL = {"tasks": 9, "event_service_tasks": 1, "jobs_per_task": 100, "events_per_job": 10, "files_per_dataset": 20}


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
    last = max(1, -(-finished // 10))
    return [
        ("overview (HTML)", f"{UI}/"),
        ("overview feed (JSON)", f"{UI}/feed/overview.json"),
        ("jobs, no filter", f"{UI}/jobs?per_page=10"),
        ("jobs finished, last page", f"{UI}/jobs?status=finished&per_page=10&page={last}"),
        ("jobs of a queue", f"{UI}/jobs?queue=BNL_PROD_MCORE&per_page=10"),
        ("jobs of a task", f"{UI}/jobs?task={task_id}&per_page=10"),
        ("tasks, no filter", f"{UI}/tasks?per_page=10"),
        ("task page", f"{UI}/tasks/{task_id}"),
        ("job page (event ranges)", f"{UI}/jobs/{es_job}?rper_page=10"),
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


def make_world(generate: dict | None) -> tuple:
    """(app, counts, load seconds) of the small world (``generate``) or of the ``big`` scenario."""
    started = time.perf_counter()
    scenario = load("big" if generate is None else "default")
    if generate is not None:
        scenario.generate = generate
    app = create_app({"journal_size": 10000}, scenario=scenario)
    loaded = time.perf_counter() - started
    store = emulator_of(app).engine.store
    counts = {name: len(store[name]) for name in ("tasks", "jobs", "event_ranges")}
    return app, counts, loaded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30, help="requests per page and world")
    parser.add_argument("--passes", type=int, default=3, help="interleaved passes over the pages")
    args = parser.parse_args()
    small_app, small_counts, _ = make_world(SMALL)
    big_app, big_counts, load_seconds = make_world(None)
    gc.collect()
    gc.freeze()  # like `pandamock serve`: the loaded worlds are not walked by the cyclic collector
    small_pages = pages(emulator_of(small_app).engine)
    big_pages = pages(emulator_of(big_app).engine)
    small: dict[str, list[float]] = {name: [] for name, _ in small_pages}
    big: dict[str, list[float]] = {name: [] for name, _ in big_pages}
    per_pass = max(1, args.rounds // args.passes)
    with MockServer(small_app, port=0) as small_server, MockServer(big_app, port=0) as big_server:
        for _ in range(args.passes):  # small and big in turn, so that machine noise hits both alike
            for (name, small_path), (_, big_path) in zip(small_pages, big_pages, strict=True):
                small[name].extend(measure(small_server.url, small_path, per_pass))
                big[name].extend(measure(big_server.url, big_path, per_pass))
    print(f"small world: {small_counts}")
    print(f"big world:   {big_counts} (loaded in {load_seconds:.1f} s)")
    print(
        f"{per_pass * args.passes} requests per page and world over HTTP ({args.passes} interleaved passes, "
        "one keep-alive connection); times in ms"
    )
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
