"""pandamock against a bare Flask app on the same server stack (cheroot), measured in one run.

1. Start-up: process start until the first ``GET /api/v1/system/is_alive`` answers 200, for
   ``pandamock serve`` (default scenario) and for a bare Flask app on cheroot.
2. Throughput: requests/s and p50/p99 of ``is_alive`` through pandamock's full pipeline
   (identity, decoding, checks, journal, envelope) against a bare Flask JSON endpoint.

Run: ``python bench/bench_core.py [--duration 5] [--starts 5]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

from _common import get, load, python, start_process, stop, wait_ready


def startup(args: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        process, url, _ = start_process(args)
        try:
            times.append(wait_ready(url, "/api/v1/system/is_alive", started))
        finally:
            stop(process)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--starts", type=int, default=5)
    args = parser.parse_args()
    pandamock_cmd = [python(), "-m", "pandamock", "serve", "--port", "0", "--log-level", "warning"]
    bare_cmd = [python(), "bench/bare_servers.py", "--stack", "cheroot"]

    pm_start = startup(pandamock_cmd, args.starts)
    bare_start = startup(bare_cmd, args.starts)

    results = {}
    for name, cmd in (("bare flask", bare_cmd), ("pandamock", pandamock_cmd)):
        process, url, _ = start_process(cmd)
        try:
            results[name] = load(url, [get("/api/v1/system/is_alive")], args.duration, args.connections)
        finally:
            stop(process)

    print(f"start-up to first is_alive (median of {args.starts}):")
    print(f"  pandamock serve  {pm_start * 1000:8.0f} ms")
    print(f"  bare flask       {bare_start * 1000:8.0f} ms")
    print(f"  ratio            {pm_start / bare_start:8.2f}x")
    print(f"is_alive throughput ({args.connections} keep-alive connections, {args.duration:.0f} s each):")
    for name, result in results.items():
        print(f"  {name:<15} {result['rps']:8.0f} req/s  p50 {result['p50_ms']:.2f} ms  p99 {result['p99_ms']:.2f} ms")
    ratio = results["pandamock"]["rps"] / results["bare flask"]["rps"]
    print(f"  ratio pandamock / bare flask: {ratio:.2f}")


if __name__ == "__main__":
    main()
