"""Harvester, file-server and credential endpoints against ``system/is_alive`` on one server, one run.

Each line drives ``pandamock serve`` (default scenario) with the same keep-alive load generator and
prints requests/s, p50/p99 and the ratio to ``is_alive`` (the cost of the pipeline alone):

* a Harvester cycle mix: heartbeat, update_workers (one worker), report_worker_statistics,
  acquire_commands, get_worker_statistics;
* ``update_workers`` with 100 workers per call (upserts of existing workers), also as workers/s;
* ``upload_cache_file`` of a 64 KiB sandbox (an ``.__ow__`` name, so every call writes the file);
* ``creds/get_user_secrets``.

Run: ``python bench/bench_harvester.py [--duration 5] [--connections 4]``.
"""

from __future__ import annotations

import argparse
import json
import os

from _common import get, load, post_json, python, start_process, stop


def multipart(path: str, name: str, content: bytes) -> tuple:
    boundary = "pandamockbench"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}", "Accept": "application/json"}
    return ("POST", path, body, headers)


def worker(worker_id: int, status: str = "running") -> dict:
    return {
        "workerID": worker_id,
        "status": status,
        "computingSite": "CERN-PROD_UCORE",
        "nCore": 8,
        "resourceType": "MCORE",
        "jobType": "managed",
        "batchID": f"{worker_id}.0",
        "submitTime": "datetime/2026-11-29 12:00:00.000000",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    api = "/api/v1"
    stats = json.dumps({"managed": {"MCORE": {"running": 10, "submitted": 3}}})
    cycle = [
        post_json(f"{api}/harvester/heartbeat", {"harvester_id": "bench", "data": {"sw_version": "0.7.5"}}),
        post_json(f"{api}/harvester/update_workers", {"harvester_id": "bench", "workers": [worker(1)]}),
        post_json(
            f"{api}/harvester/report_worker_statistics",
            {"harvester_id": "bench", "panda_queue": "CERN-PROD_UCORE", "statistics": stats},
        ),
        post_json(f"{api}/harvester/acquire_commands", {"harvester_id": "bench", "n_commands": 10}),
        get(f"{api}/harvester/get_worker_statistics", {"Accept": "application/json"}),
    ]
    batch = [worker(i) for i in range(1, 101)]
    scenarios = {
        "is_alive": [get(f"{api}/system/is_alive")],
        "harvester cycle mix": cycle,
        "update_workers x100": [
            post_json(f"{api}/harvester/update_workers", {"harvester_id": "bulk", "workers": batch})
        ],
        "upload_cache_file 64KiB": [
            multipart(f"{api}/file_server/upload_cache_file", "jobO.bench.tar.gz.__ow__", os.urandom(64 * 1024))
        ],
        "get_user_secrets": [get(f"{api}/creds/get_user_secrets", {"Accept": "application/json"})],
    }
    command = [python(), "-m", "pandamock", "serve", "--port", "0", "--log-level", "warning"]
    process, url, _ = start_process(command)
    results = {}
    try:
        for name, requests_list in scenarios.items():
            results[name] = load(url, requests_list, args.duration, args.connections)
    finally:
        stop(process)
    base = results["is_alive"]["rps"]
    print(f"pandamock serve, {args.connections} keep-alive connections, {args.duration:.0f} s per line:")
    for name, result in results.items():
        print(
            f"  {name:<26} {result['rps']:8.0f} req/s  p50 {result['p50_ms']:6.2f} ms  p99 {result['p99_ms']:6.2f} ms"
            f"  ratio to is_alive {result['rps'] / base:.2f}"
        )
    print(f"  update_workers x100 = {results['update_workers x100']['rps'] * 100:.0f} worker upserts/s")


if __name__ == "__main__":
    main()
