"""Which WSGI server: requests/s of the same Flask JSON endpoint on werkzeug, cheroot and waitress.

Run: ``python bench/bench_server_stack.py [--duration 5]``. Prints each stack's req/s and p50/p99
and its ratio to werkzeug's development server, all measured in this run.
"""

from __future__ import annotations

import argparse

from _common import get, load, python, start_process, stop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    results = {}
    for stack in ("werkzeug", "cheroot", "waitress"):
        process, url, _ = start_process([python(), "bench/bare_servers.py", "--stack", stack])
        try:
            results[stack] = load(url, [get("/api/v1/system/is_alive")], args.duration, args.connections)
        finally:
            stop(process)
    base = results["werkzeug"]["rps"]
    print(f"{'stack':<10} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'vs werkzeug':>12}")
    for stack, result in results.items():
        print(
            f"{stack:<10} {result['rps']:>9.0f} {result['p50_ms']:>8.2f} {result['p99_ms']:>8.2f} "
            f"{result['rps'] / base:>11.2f}x"
        )


if __name__ == "__main__":
    main()
