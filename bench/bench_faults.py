"""Cost of fault rules that do not fire: the pipeline with 50 non-matching rules vs no rules.

Measured in one run, same process, interleaved rounds (the best and the median round; the best
round is the least disturbed by other load on the machine):

1. in-process: ``GET /api/v1/system/is_alive`` (the cheapest endpoint, so the largest relative
   overhead) straight through the WSGI app, for
   a. no rules,
   b. 50 rules whose endpoint globs do not match (the common case: rules for other endpoints),
   c. 50 rules matching every endpoint (``*``) but not the request's values (``panda_id``),
      the worst case: every request is decoded early and every rule's values compared;
2. the fault check alone (``FaultEngine.before_call``, timeit best of 5) with the rules of (b)
   and (c), as a share of the pipeline's per-request time (a): robust against machine load;
3. over HTTP: ``pandamock serve`` on the default scenario vs the same scenario with the 50
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


def in_process(requests: int, rounds: int) -> dict[str, tuple[float, float]]:
    apps = {"no rules": make([]), "50 rules, other endpoints": make(endpoint_rules())}
    apps["50 rules on *, other values"] = make(value_rules())
    for app in apps.values():
        per_request_us(app, 2000)  # warm up
    times: dict[str, list[float]] = {name: [] for name in apps}
    for _ in range(rounds):
        for name, app in apps.items():
            times[name].append(per_request_us(app, requests))
    return {name: (min(values), statistics.median(values)) for name, values in times.items()}


def hook_cost(rules: list[dict], count: int = 100000) -> float:
    """Microseconds of one ``before_call`` (no rule fires) for an is_alive request."""
    import timeit

    from pandamock.api.pipeline import Call

    app = make(rules)
    emulator = emulator_of(app)
    spec = emulator.registry.lookup("system", "is_alive")

    def check() -> None:
        call = Call(environ(), spec, {}, emulator.identities.resolve)
        assert emulator.faults.before_call(call) is None

    def baseline() -> None:
        Call(environ(), spec, {}, emulator.identities.resolve)

    cost = min(timeit.repeat(check, number=count, repeat=5)) - min(timeit.repeat(baseline, number=count, repeat=5))
    return cost / count * 1e6


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
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--skip-http", action="store_true")
    args = parser.parse_args()

    timings = in_process(args.requests, args.rounds)
    best, median = timings["no rules"]
    print(f"in-process GET system/is_alive ({args.rounds} interleaved rounds x {args.requests} requests):")
    print(f"  {'':<30} {'best round':>18} {'ratio':>7} {'median round':>20} {'ratio':>7}")
    for name, (low, mid) in timings.items():
        print(f"  {name:<30} {low:10.1f} us/req {low / best:7.3f} {mid:12.1f} us/req {mid / median:7.3f}")
    print("the fault check alone (before_call, best of 5), as a share of the best pipeline round:")
    cases = (("50 rules, other endpoints", endpoint_rules()), ("50 rules on *, other values", value_rules()))
    for name, rules in cases:
        cost = hook_cost(rules)
        print(f"  {name:<30} {cost:8.2f} us/request  = {cost / best * 100:5.1f}% of {best:.1f} us")
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
