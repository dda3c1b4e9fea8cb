"""The simulated pilot fleet (pandamock.simulate) against live servers, measured in one run.

1. Pilot cycle vs a bare endpoint: the fleet's acquire -> starting -> running ×2 -> finished cycle
   against pandamock (1k jobs in the state) and against a bare Flask app on the same server stack
   (cheroot) answering the same calls with fixed JSON. Goal: pandamock >= 0.8 of the bare
   throughput.
2. State size: the same cycle (plus event-service jobs working through their event ranges)
   against pandamock holding 1k jobs / 20k event ranges and 200k jobs / 2M event ranges.
   Goal: small-state throughput / big-state throughput <= 1.2.

The fleet runs in several client processes (so that client and server do not share a GIL).
Run: ``python bench/bench_jobs.py [--jobs 600] [--processes 2] [--pilots 16] [--big-jobs 200000]
[--big-ranges 2000000]``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
from pathlib import Path

from _common import python, start_process, stop

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pandamock.simulate import Fleet, FleetResult  # noqa: E402


def _fleet(args: tuple) -> FleetResult:
    url, pilots, queue, jobs, event_service, seed = args
    fleet = Fleet(url, pilots=pilots, queue=queue, jobs=jobs, event_service=event_service, seed=seed, n_ranges=8)
    return fleet.run()


def drive(url: str, processes: int, pilots: int, queue: str, jobs: int, event_service: bool = False) -> FleetResult:
    """Run the fleet split over ``processes`` client processes; merged figures."""
    work = [(url, max(1, pilots // processes), queue, jobs // processes, event_service, i) for i in range(processes)]
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        results = pool.map(_fleet, work)
    merged = FleetResult()
    for result in results:
        merged.merge(result)  # elapsed: the longest fleet (process start-up not included)
    if merged.errors or merged.http_errors:
        raise RuntimeError(f"the fleet failed: {merged.errors[:3]} ({merged.http_errors} HTTP errors)")
    return merged


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), 0 elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def overall(result: FleetResult) -> tuple[float, float, float]:
    latencies = sorted(value for values in result.latencies.values() for value in values)
    p50 = latencies[len(latencies) // 2] * 1000
    p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000
    return result.rps, p50, p99


def row(name: str, result: FleetResult) -> str:
    rps, p50, p99 = overall(result)
    cpu = getattr(result, "server_cpu", 0.0) / result.requests * 1e6 if result.requests else 0.0
    return (
        f"  {name:<30} {result.requests:>6} req {rps:>7.0f} req/s  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms"
        f"  server CPU {cpu:5.0f} us/req"
    )


def serve(args: list[str]) -> tuple:
    process, url, seconds = start_process([python(), "bench/jobs_server.py", *args], timeout=1800)
    return process, url, seconds


def measured(pid: int, run) -> FleetResult:
    """Run ``run()`` and note the server's CPU time it took (``result.server_cpu``)."""
    before = cpu_seconds(pid)
    result = run()
    result.server_cpu = cpu_seconds(pid) - before
    return result


def cycle(process, url: str, options: argparse.Namespace, with_es: bool) -> tuple[FleetResult, FleetResult | None]:
    pid = process.pid
    production = measured(pid, lambda: drive(url, options.processes, options.pilots, "BNL_PROD_MCORE", options.jobs))
    es = None
    if with_es:
        es = measured(
            pid,
            lambda: drive(url, options.processes, options.pilots, "DESY-HH_ES", options.es_jobs, event_service=True),
        )
    return production, es


def median_run(results: list[FleetResult]) -> FleetResult:
    """The run with the median throughput."""
    return sorted(results, key=lambda result: result.rps)[len(results) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=800, help="jobs per measured cycle")
    parser.add_argument("--es-jobs", type=int, default=80, help="event-service jobs per cycle (64 ranges each)")
    parser.add_argument("--processes", type=int, default=2, help="client processes")
    parser.add_argument("--pilots", type=int, default=16, help="pilots in total")
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement (the median is shown)")
    parser.add_argument("--big-jobs", type=int, default=200_000)
    parser.add_argument("--big-ranges", type=int, default=2_000_000)
    options = parser.parse_args()
    small_state = ["--app", "pandamock", "--jobs", "1000", "--ranges", "20000"]
    small_state += ["--cycle-jobs", str(options.jobs + 100), "--es-jobs", str(options.es_jobs)]
    big_state = ["--app", "pandamock", "--jobs", str(options.big_jobs), "--ranges", str(options.big_ranges)]
    big_state += ["--cycle-jobs", str(options.repeats * options.jobs + 100)]
    big_state += ["--es-jobs", str(options.repeats * options.es_jobs)]

    print(
        f"pilot cycle: {options.pilots} pilots in {options.processes} client processes, {options.jobs} jobs, "
        f"acquire -> starting -> running x2 -> finished; median of {options.repeats} interleaved runs",
        flush=True,
    )
    bare_process, bare_url, _ = serve(["--app", "bare"])
    big_process, big_url, big_seconds = serve(big_state)
    bare_runs, small_runs, small_es_runs, big_runs, big_es_runs = [], [], [], [], []
    try:
        for _ in range(options.repeats):  # interleaved, so that drifts of the machine hit all alike
            bare_runs.append(cycle(bare_process, bare_url, options, with_es=False)[0])
            process, url, _ = serve(small_state)  # a fresh 1k-job state for every run
            try:
                production, es = cycle(process, url, options, with_es=True)
            finally:
                stop(process)
            small_runs.append(production)
            small_es_runs.append(es)
            production, es = cycle(big_process, big_url, options, with_es=True)
            big_runs.append(production)
            big_es_runs.append(es)
    finally:
        stop(bare_process)
        stop(big_process)
    bare, small, small_es = median_run(bare_runs), median_run(small_runs), median_run(small_es_runs)
    big, big_es = median_run(big_runs), median_run(big_es_runs)
    print("1. pandamock vs a bare Flask JSON endpoint on cheroot (same fleet, same calls):")
    print(row("bare flask", bare))
    print(row("pandamock (1k jobs)", small))
    print(f"  ratio pandamock / bare, req/s: {small.rps / bare.rps:.2f} (goal >= 0.8)")
    cpu_ratio = (bare.server_cpu / bare.requests) / (small.server_cpu / small.requests) if small.server_cpu else 0
    print(f"  ratio bare / pandamock, server CPU per request: {cpu_ratio:.2f}")

    print(
        f"2. state size: 1k jobs / 20k event ranges vs {options.big_jobs // 1000}k jobs / "
        f"{options.big_ranges / 1e6:g}M event ranges (big state loaded in {big_seconds:.0f} s):"
    )
    print(row("pilot cycle, 1k jobs", small))
    print(row(f"pilot cycle, {options.big_jobs // 1000}k jobs", big))
    print(row("event service, small state", small_es))
    print(row("event service, big state", big_es))
    print(f"  event ranges processed per run: {small_es.ranges_processed} / {big_es.ranges_processed}")
    print(f"  ratio small / big, pilot cycle req/s:   {small.rps / big.rps:.2f} (goal <= 1.2)")
    print(f"  ratio small / big, event service req/s: {small_es.rps / big_es.rps:.2f} (goal <= 1.2)")
    print(f"  ratio big / small, pilot cycle p50:     {overall(big)[1] / overall(small)[1]:.2f}")


if __name__ == "__main__":
    main()
