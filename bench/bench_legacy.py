"""The legacy dispatcher against the v1 API on the same server, measured in one run.

One pandamock process holds two pilot queues with N activated payload jobs each. Client processes
run pilot cycles (dispatch -> starting -> running -> finished, four requests per job) in rounds
that alternate between

* **legacy**: ``/server/panda/getJob`` and ``updateJob`` in pilot3's urllib form (gzip JSON body
  without Content-Encoding, no Accept header, URL-encoded answers), and
* **v1**: ``/api/v1/pilot/acquire_jobs`` and ``pilot/update_job`` (JSON, JSON envelopes),

each round on its own queue, so both see the same state size. Goal: legacy cycles/s >= 0.8 of v1.
Run: ``python bench/bench_legacy.py [--jobs 8000] [--processes 4] [--rounds 3]``.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import yaml
from _common import python, start_process, stop

LEGACY_QUEUE = "BENCH_LEGACY"
V1_QUEUE = "BENCH_V1"


def scenario(jobs: int) -> dict:
    queue = {"cloud": "CERN", "tier": "T3", "type": "production", "capability": "score", "corecount": 1}
    return {
        "name": "bench-legacy",
        "seed": 7,
        "clock": {"start": "2026-11-29T12:00:00", "speed": 1.0},
        "identities": [
            {
                "name": "pilot",
                "dn": "/DC=ch/DC=cern/OU=Organic Units/OU=Users/CN=atlpilo1/CN=614260/CN=Robot: ATLAS Pilot1",
                "fqans": ["/atlas/Role=production", "/atlas/Role=pilot"],
                "default": True,
            }
        ],
        "sites": [
            {"name": name, "site": name, "ddm": f"{name}_DATADISK", "payload": {"jobs": jobs, "sleep": 0}, **queue}
            for name in (LEGACY_QUEUE, V1_QUEUE)
        ],
        "fixtures": ["resource_types.json"],
        "generate": {"files_per_dataset": 1},
    }


def _legacy(connection: http.client.HTTPConnection, function: str, data: dict) -> dict:
    body = gzip.compress(json.dumps(data).encode())
    connection.request("POST", f"/server/panda/{function}", body=body, headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    text = response.read().decode()
    if response.status != 200:
        raise RuntimeError(f"{function}: HTTP {response.status} {text[:200]}")
    return {key: values[0] for key, values in parse_qs(text).items()}


def _v1(connection: http.client.HTTPConnection, path: str, data: dict) -> dict:
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    connection.request("POST", f"/api/v1/{path}", body=json.dumps(data), headers=headers)
    response = connection.getresponse()
    text = response.read()
    if response.status != 200:
        raise RuntimeError(f"{path}: HTTP {response.status} {text[:200]!r}")
    return json.loads(text)


def _cycles(args: tuple) -> tuple[int, list[float]]:
    """Run pilot cycles for ``duration`` seconds; (cycles, per-request latencies)."""
    url, mode, duration = args
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    latencies: list[float] = []
    cycles = 0
    end = time.perf_counter() + duration
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        if mode == "legacy":
            job = _legacy(
                connection, "getJob", {"siteName": LEGACY_QUEUE, "prodSourceLabel": "managed", "mem": 16000.0}
            )
            if job.get("StatusCode") != "0":
                break
            latencies.append(time.perf_counter() - t0)
            for state in ("starting", "running", "finished"):
                t0 = time.perf_counter()
                update = {"jobId": job["PandaID"], "state": state, "attemptNr": 1, "startTime": 1.5, "timestamp": "x"}
                if _legacy(connection, "updateJob", update).get("command") != "NULL":
                    raise RuntimeError(f"updateJob {state}: unexpected answer")
                latencies.append(time.perf_counter() - t0)
        else:
            reply = _v1(connection, "pilot/acquire_jobs", {"site_name": V1_QUEUE, "prod_source_label": "managed"})
            if not reply["success"]:
                break
            job = reply["data"]["jobs"][0]
            latencies.append(time.perf_counter() - t0)
            for state in ("starting", "running", "finished"):
                t0 = time.perf_counter()
                update = {"job_id": job["PandaID"], "job_status": state, "attempt_nr": 1}
                if _v1(connection, "pilot/update_job", update)["data"]["command"] != "NULL":
                    raise RuntimeError(f"update_job {state}: unexpected answer")
                latencies.append(time.perf_counter() - t0)
        cycles += 1
    connection.close()
    return cycles, latencies


def measure(url: str, mode: str, processes: int, duration: float) -> dict:
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        started = time.perf_counter()
        results = pool.map(_cycles, [(url, mode, duration)] * processes)
        elapsed = time.perf_counter() - started
    cycles = sum(result[0] for result in results)
    latencies = sorted(value for result in results for value in result[1])
    return {
        "cycles_per_s": cycles / elapsed,
        "cycles": cycles,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[max(int(len(latencies) * 0.99) - 1, 0)] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=8000, help="activated jobs per queue")
    parser.add_argument("--processes", type=int, default=4, help="client processes")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per protocol")
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per round")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "bench-legacy.yaml"
        path.write_text(yaml.safe_dump(scenario(options.jobs)))
        process, url, seconds = start_process(
            [python(), "-m", "pandamock", "serve", "--port", "0", "--scenario", str(path), "--log-level", "warning"],
            env={"PANDAMOCK_DATA_DIR": directory},
        )
        try:
            print(f"server up in {seconds:.1f}s at {url}; {options.jobs} payload jobs per queue")
            figures: dict[str, list[dict]] = {"legacy": [], "v1": []}
            for _ in range(options.rounds):
                for mode in ("legacy", "v1"):
                    figures[mode].append(measure(url, mode, options.processes, options.duration))
        finally:
            stop(process)
    best = {mode: max(rounds, key=lambda figure: figure["cycles_per_s"]) for mode, rounds in figures.items()}
    for mode in ("legacy", "v1"):
        figure = best[mode]
        print(
            f"{mode:>6}: {figure['cycles_per_s']:7.1f} pilot cycles/s (4 requests each), "
            f"p50 {figure['p50_ms']:.2f} ms, p99 {figure['p99_ms']:.2f} ms per request"
        )
    ratio = best["legacy"]["cycles_per_s"] / best["v1"]["cycles_per_s"]
    print(f"legacy / v1 throughput: {ratio:.2f} (goal >= 0.8)")
    sys.exit(0 if ratio >= 0.8 else 1)


if __name__ == "__main__":
    main()
