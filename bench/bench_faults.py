"""Cost of fault rules that do not fire: the pipeline with 50 non-matching rules vs no rules.

Measured in one run, same process, interleaved rounds (median of the rounds):

1. in-process: ``GET /api/v1/system/is_alive`` (the cheapest endpoint, so the largest relative
   overhead) straight through the WSGI app, for
   a. no rules,
   b. 50 rules whose endpoint globs do not match (the common case: rules for other endpoints),
   c. 50 rules matching every endpoint (``*``) but not the request's values (``panda_id``),
      the worst case: every request is decoded early and every rule's values compared;
2. over HTTP: ``pandamock serve`` on the default scenario vs the same scenario with the 50
   rules of (b), driven by the keep-alive load generator of ``_common.py``.

Goal: (b) within 10% of (a).

Run: ``python bench/bench_faults.py [--requests 20000] [--rounds 7] [--duration 5]``.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml
from _common import get, load, python, start_process, stop

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pandamock.app import create_app, emulator_of  # noqa: E402
from pandamock.scenario import load as load_scenario  # noqa: E402

RULES = 50


def endpoint_rules() -> list[dict]:
    """50 rules on other endpoints (globs and exact names), with gates and windows."""
    rules = []
    for i in range(RULES):
        rule = {"id": f"other-{i}", "status": (403, 500, 503)[i % 3]}
        rule["endpoint"] = ["pilot/update_job", "harvester/*", f"task/get_*_{i}", "job/kill"][i % 4]
        if i % 5 == 0:
            rule["probability"] = 0.5
        if i % 7 == 0:
            rule["from"] = 60
        rules.append(rule)
    return rules


def value_rules() -> list[dict]:
    """50 rules on every endpoint that never match the request's values."""
    return [{"id": f"value-{i}", "endpoint": "*", "panda_id": 1000 + i, "status": 503} for i in range(RULES)]


def make(rules: list[dict]):
    app = create_app({"scenario": "default", "journal_size": 1000})
    emulator = emulator_of(app)
    for rule in rules:
        emulator.faults.add(rule)
    emulator.engine.clock.freeze()
    return app


def environ() -> dict:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/api/v1/system/is_alive",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "25080",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_ACCEPT": "application/json",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.url_scheme": "http",
    }


def per_request_us(app, requests: int) -> float:
    statuses = []

    def start_response(status, headers, exc_info=None):
        statuses.append(status)

    started = time.perf_counter()
    for _ in range(requests):
        body = app(environ(), start_response)
        b"".join(body)
    elapsed = time.perf_counter() - started
    assert set(statuses) == {"200 OK"}, set(statuses)
    return elapsed / requests * 1e6


def in_process(requests: int, rounds: int) -> dict[str, float]:
    apps = {"no rules": make([]), "50 rules, other endpoints": make(endpoint_rules())}
    apps["50 rules on *, other values"] = make(value_rules())
    for app in apps.values():
        per_request_us(app, 2000)  # warm up
    times: dict[str, list[float]] = {name: [] for name in apps}
    for _ in range(rounds):
        for name, app in apps.items():
            times[name].append(per_request_us(app, requests))
    return {name: statistics.median(values) for name, values in times.items()}


def over_http(duration: float, connections: int) -> dict[str, dict]:
    scenario = load_scenario("default").as_dict()
    scenario["name"] = "default-with-50-rules"
    scenario["faults"] = endpoint_rules()
    fixtures = Path(__file__).resolve().parents[1] / "fixtures"
    scenario["fixtures"] = [str(fixtures / name) for name in scenario.get("fixtures", [])]
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fifty.yaml"
        path.write_text(yaml.safe_dump(scenario))
        base = [python(), "-m", "pandamock", "serve", "--port", "0", "--log-level", "warning"]
        for name, extra in (("no rules", []), ("50 rules, other endpoints", ["--scenario", str(path)])):
            process, url, _ = start_process(base + extra)
            try:
                results[name] = load(url, [get("/api/v1/system/is_alive")], duration, connections)
            finally:
                stop(process)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--skip-http", action="store_true")
    args = parser.parse_args()

    timings = in_process(args.requests, args.rounds)
    base = timings["no rules"]
    print(f"in-process GET system/is_alive (median of {args.rounds} rounds x {args.requests} requests):")
    for name, value in timings.items():
        print(f"  {name:<30} {value:8.1f} us/request  ratio {value / base:5.3f}")
    if not args.skip_http:
        results = over_http(args.duration, args.connections)
        print(f"over HTTP ({args.connections} keep-alive connections, {args.duration:.0f} s each):")
        for name, result in results.items():
            print(
                f"  {name:<30} {result['rps']:8.0f} req/s  p50 {result['p50_ms']:.2f} ms  p99 {result['p99_ms']:.2f} ms"
            )
        ratio = results["50 rules, other endpoints"]["rps"] / results["no rules"]["rps"]
        print(f"  throughput ratio 50 rules / no rules: {ratio:.3f}")


if __name__ == "__main__":
    main()
