"""What TLS costs: requests/s of one `pandamock serve` over HTTP and over HTTPS (with a proxy certificate).

Run: ``python bench/bench_tls.py [--duration 5] [--connections 4]``. Two client styles, each on
both listeners of the same server process, measured in this run:

* keep-alive: one persistent connection per client (Harvester's requests session, the load of a
  busy client); the TLS handshake is paid once;
* new connection per call: what panda-client 2.2.0 (httpx, one connection per call) and the
  pilot (curl) do; with HTTPS every call pays a full handshake with client-certificate checks.

Prints req/s, p50/p99 latency (ms) and the HTTPS/HTTP ratio per style.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from urllib.parse import urlsplit

from _common import ROOT, stop

PATH = "/api/v1/system/get_user_attributes"
HEADERS = {"Accept": "application/json"}


def _connection(url: str, ca_file: str | None, proxy: str | None) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    if parts.scheme == "http":
        return http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    context = ssl.create_default_context(cafile=ca_file)
    context.load_cert_chain(proxy)
    return http.client.HTTPSConnection(parts.hostname, parts.port, timeout=30, context=context)


def _worker(args: tuple) -> list[float]:
    url, ca_file, proxy, duration, keep_alive = args
    latencies = []
    connection = _connection(url, ca_file, proxy) if keep_alive else None
    end = time.perf_counter() + duration
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        current = connection or _connection(url, ca_file, proxy)
        current.request("GET", PATH, headers=HEADERS)
        response = current.getresponse()
        response.read()
        if not keep_alive:
            current.close()
        latencies.append(time.perf_counter() - t0)
        if response.status != 200:
            raise RuntimeError(f"{url}{PATH}: HTTP {response.status}")
    if connection is not None:
        connection.close()
    return latencies


def measure(url: str, ca_file: str, proxy: str, duration: float, connections: int, keep_alive: bool) -> dict:
    with multiprocessing.get_context("spawn").Pool(connections) as pool:
        started = time.perf_counter()
        results = pool.map(_worker, [(url, ca_file, proxy, duration, keep_alive)] * connections)
        elapsed = time.perf_counter() - started
    latencies = sorted(latency for result in results for latency in result)
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tls_dir:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "PANDAMOCK_TLS_DIR": tls_dir}
        pandamock = [sys.executable, "-m", "pandamock"]
        process = subprocess.Popen(
            [*pandamock, "serve", "--port", "0", "--https-port", "0", "--log-level", "error"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
            cwd=ROOT,
        )
        try:
            line = process.stdout.readline()
            http_url, _, https_url = line.split("serving ", 1)[1].split()[:3]
            proxy = subprocess.run(
                [*pandamock, "certs", "proxy", "jdoe"], env=env, capture_output=True, text=True, check=True
            ).stdout.strip()
            ca_file = os.path.join(tls_dir, "ca", "ca.pem")
            print(f"{'client style':<26} {'listener':<8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'vs http':>8}")
            for style, keep_alive in (("keep-alive", True), ("new connection per call", False)):
                base = None
                for name, url in (("http", http_url), ("https", https_url)):
                    result = measure(url, ca_file, proxy, args.duration, args.connections, keep_alive)
                    base = base or result["rps"]
                    print(
                        f"{style:<26} {name:<8} {result['rps']:>8.0f} {result['p50_ms']:>8.2f} "
                        f"{result['p99_ms']:>8.2f} {result['rps'] / base:>7.2f}x"
                    )
        finally:
            stop(process)


if __name__ == "__main__":
    main()
