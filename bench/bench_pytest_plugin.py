"""Per-test overhead of the pytest plugin's fixtures, against an empty test and pytest-httpserver.

One pytest session (in a subprocess, so the plugin is loaded through its entry point as users get
it) runs ``--tests`` (default 200) tests of each kind, interleaved (test i of every kind runs
before test i+1 of any kind, so machine load hits all kinds alike):

* ``empty``: a test that uses no fixture (the baseline);
* ``httpserver``: pytest-httpserver's ``httpserver`` fixture (one server per session, cleared per test);
* ``pandamock``: the live fixture (one server per session, the emulator reset per test);
* ``pandamock_client``: the in-process client fixture (reset per test, no socket);
* the same three with one request each (``GET /api/v1/system/is_alive`` for pandamock, an
  expected request for httpserver).

A tiny plugin records each test's setup + call + teardown time. Per-test overhead = median time of
a kind minus the median of ``empty``; the first test of each kind (which starts the session's
server / emulator) is reported apart as the one-off cost, and the session's last test (whose
teardown stops the session's servers) as the session end. Also printed: ``Emulator.reset()`` alone
on the default scenario (``--resets`` calls). Goal: per-test reset ≤ 5 ms.

Run: ``python bench/bench_pytest_plugin.py [--tests 200] [--scenario default]``.
Needs pytest-httpserver (in the ``test`` extra).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

KINDS = {
    "empty": "def test_empty(n):\n    pass\n",
    "httpserver": "def test_httpserver(httpserver, n):\n    pass\n",
    "pandamock": "def test_pandamock(pandamock, n):\n    pass\n",
    "pandamock_client": "def test_pandamock_client(pandamock_client, n):\n    pass\n",
    "httpserver+request": textwrap.dedent(
        """
        def test_httpserver_request(httpserver, n):
            httpserver.expect_request("/api/v1/system/is_alive").respond_with_json({"success": True})
            assert requests.get(httpserver.url_for("/api/v1/system/is_alive")).status_code == 200
        """
    ),
    "pandamock+request": textwrap.dedent(
        """
        def test_pandamock_request(pandamock, n):
            assert requests.get(pandamock.api_url + "/system/is_alive").status_code == 200
        """
    ),
    "pandamock_client+request": textwrap.dedent(
        """
        def test_pandamock_client_request(pandamock_client, n):
            assert pandamock_client.call("system/is_alive")["success"] is True
        """
    ),
}

RECORDER = textwrap.dedent(
    """
    import json, os
    import pytest

    TIMES = {}

    def pytest_runtest_logreport(report):
        TIMES.setdefault(report.nodeid, 0.0)
        TIMES[report.nodeid] += report.duration

    def pytest_collection_modifyitems(items):
        # interleave the kinds: test n of every kind, then n + 1
        items.sort(key=lambda item: (item.callspec.params["n"], item.nodeid.split("[")[0]))

    def pytest_sessionfinish(session):
        with open(os.environ["BENCH_OUT"], "w") as out:
            json.dump(TIMES, out)
    """
)


def write_suite(directory: Path, tests: int) -> None:
    body = ["import pytest", "import requests", "", f"pytestmark = pytest.mark.parametrize('n', range({tests}))", ""]
    for source in KINDS.values():
        body.append(source)
    (directory / "test_bench.py").write_text("\n".join(body))
    (directory / "conftest.py").write_text(RECORDER)


def kind_of(nodeid: str) -> str:
    function = nodeid.split("::")[-1].split("[")[0]
    for kind, source in KINDS.items():
        if f"def {function}(" in source:
            return kind
    raise KeyError(nodeid)


def run_suite(tests: int, scenario: str) -> tuple[dict[str, list[float]], float, tuple[str, float]]:
    with tempfile.TemporaryDirectory(prefix="pandamock-bench-") as tmp:
        directory = Path(tmp)
        write_suite(directory, tests)
        out = directory / "times.json"
        env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_", "PANDAMOCK_"))}
        env["BENCH_OUT"] = str(out)
        started = time.perf_counter()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "-p",
                "no:randomly",
                "--pandamock-scenario",
                scenario,
                str(directory),
            ],
            cwd=directory,
            env=env,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"the benchmark suite failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        times: dict[str, list[float]] = {kind: [] for kind in KINDS}
        recorded = json.loads(out.read_text())  # in run order
        for nodeid, seconds in recorded.items():
            times[kind_of(nodeid)].append(seconds)
        last = list(recorded)[-1]
        times[kind_of(last)].pop()  # its teardown ends the session: reported apart
        return times, wall, (kind_of(last), recorded[last])


def reset_alone(scenario: str, resets: int) -> tuple[float, float, dict]:
    sys.path.insert(0, str(ROOT))
    from pandamock.app import create_app, emulator_of

    with tempfile.TemporaryDirectory() as tls:
        emulator = emulator_of(create_app({"scenario": scenario, "https_port": -1, "tls_dir": tls}))
        counts = {name: n for name, n in emulator.engine.counts().items() if n}
        samples = []
        for _ in range(resets):
            started = time.perf_counter()
            emulator.reset()
            samples.append(time.perf_counter() - started)
        emulator.engine.files.close()
    return statistics.median(samples), max(samples), counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=200, help="tests of each kind (default 200)")
    parser.add_argument("--scenario", default="default")
    parser.add_argument("--resets", type=int, default=1000)
    args = parser.parse_args()

    times, wall, (last_kind, last_seconds) = run_suite(args.tests, args.scenario)
    baseline = statistics.median(times["empty"][1:])
    print(
        f"pytest session: {len(KINDS)} kinds x {args.tests} tests, interleaved, in {wall:.1f} s "
        f"(scenario {args.scenario})"
    )
    print(f"{'kind':<26}{'median ms':>10}{'mean ms':>10}{'p95 ms':>9}{'overhead ms':>13}{'first test ms':>15}")
    for kind, samples in times.items():
        steady = sorted(samples[1:])
        median = statistics.median(steady)
        p95 = steady[int(0.95 * (len(steady) - 1))]
        overhead = median - baseline
        print(
            f"{kind:<26}{median * 1000:>10.3f}{statistics.mean(steady) * 1000:>10.3f}{p95 * 1000:>9.3f}"
            f"{overhead * 1000:>13.3f}{samples[0] * 1000:>15.1f}"
        )
    print(f"session end (the last test, {last_kind}, stops the servers): {last_seconds * 1000:.1f} ms")
    pm = statistics.median(times["pandamock"][1:]) - baseline
    hs = statistics.median(times["httpserver"][1:]) - baseline
    local = statistics.median(times["pandamock_client"][1:]) - baseline
    print(f"pandamock fixture overhead / httpserver fixture overhead: {pm / hs:.2f}x" if hs > 0 else "")
    print(f"pandamock_client fixture overhead / httpserver fixture overhead: {local / hs:.2f}x" if hs > 0 else "")
    median, worst, counts = reset_alone(args.scenario, args.resets)
    records = sum(counts.values())
    print(
        f"Emulator.reset() alone ({args.scenario}, {records} records): median {median * 1000:.3f} ms, "
        f"max {worst * 1000:.3f} ms over {args.resets} resets"
    )
    verdict = "met" if pm <= 0.005 else "NOT met"
    print(f"goal per-test reset + fixture setup <= 5 ms: {verdict} ({pm * 1000:.3f} ms)")


if __name__ == "__main__":
    main()
