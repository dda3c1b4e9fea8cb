"""Shared pieces of the benchmarks: servers in their own processes and a keep-alive load generator.

The load generator runs in separate processes (http.client, one persistent connection each) so
that client and server do not share a GIL; every ratio a benchmark prints compares two servers
measured by the same generator in the same run.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]


def start_process(args: list[str], env: dict | None = None, timeout: float = 60) -> tuple[subprocess.Popen, str, float]:
    """Start a server process that prints a line containing 'serving <url>'; returns (process, url, seconds).

    HTTPS stays off (``PANDAMOCK_HTTPS_PORT=-1``) unless ``env`` or the environment set it, so that
    benchmarks measure what they name and never take port 25443."""
    env = {"PANDAMOCK_HTTPS_PORT": os.environ.get("PANDAMOCK_HTTPS_PORT", "-1"), **(env or {})}
    started = time.perf_counter()
    process = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        cwd=ROOT,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        if "serving " in line:
            url = line.split("serving ", 1)[1].split()[0]
            return process, url, time.perf_counter() - started
    process.kill()
    raise RuntimeError(f"server {args} did not start")


def wait_ready(url: str, path: str, started: float, timeout: float = 60) -> float:
    """Seconds from ``started`` (perf_counter) until ``GET path`` answers 200."""
    parts = urlsplit(url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=2)
            connection.request("GET", path)
            if connection.getresponse().status == 200:
                return time.perf_counter() - started
        except OSError:
            time.sleep(0.005)
    raise RuntimeError(f"{url}{path} never answered 200")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def _worker(args: tuple) -> list[float]:
    url, requests_list, duration = args
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    latencies = []
    end = time.perf_counter() + duration
    i = 0
    while time.perf_counter() < end:
        method, path, body, headers = requests_list[i % len(requests_list)]
        i += 1
        t0 = time.perf_counter()
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        latencies.append(time.perf_counter() - t0)
        if response.status >= 500:
            raise RuntimeError(f"{path}: HTTP {response.status}")
    connection.close()
    return latencies


def load(url: str, requests_list: list[tuple], duration: float = 5.0, connections: int = 4) -> dict:
    """Drive ``connections`` keep-alive clients for ``duration`` seconds; req/s, p50 and p99 (ms)."""
    with multiprocessing.get_context("spawn").Pool(connections) as pool:
        started = time.perf_counter()
        results = pool.map(_worker, [(url, requests_list, duration)] * connections)
        elapsed = time.perf_counter() - started
    latencies = sorted(latency for result in results for latency in result)
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


def get(path: str, headers: dict | None = None) -> tuple:
    return ("GET", path, None, headers or {})


def post_json(path: str, payload: dict) -> tuple:
    return ("POST", path, json.dumps(payload), {"Content-Type": "application/json", "Accept": "application/json"})


def python() -> str:
    return sys.executable
