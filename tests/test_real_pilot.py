"""The real pilot, unchanged: panda-pilot 3.7.0.36 (PyPI) runs a job of the default scenario to
``finished`` through the legacy ``/server/panda/*`` paths of a live pandamock on 127.0.0.1.

pilot3 3.7.0.36 talks to the server through curl only (form-encoded, ``Accept: application/json``),
and trusts payload scripts only from its built-in hosts: the emulator runs with ``trf_url`` set to
one of them and the pilot's ``http_proxy`` is the emulator, so the script comes from
``/trf/user/runpandamock`` (nothing leaves 127.0.0.1). ``PILOT_NOKILL=1`` always; the pilot runs in
its own PID namespace when ``unshare`` allows it. Skipped only when the package cannot be
installed (no package index reachable).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from pandamock.app import create_app, emulator_of
from pandamock.commands.pilot import OLD_PILOT_TRF_URL, pilot_environment
from pandamock.engine.payloads import rucio_path
from pandamock.server import MockServer

PILOT_VERSION = "3.7.0.36"
QUEUE = "PANDAMOCK_PILOT"


@pytest.fixture(scope="module")
def pilot3(tmp_path_factory) -> tuple[Path, Path]:
    """pilot3's source (pilot.py and the pilot package, from the panda-pilot sdist fetched with pip)
    and the Python of a virtual environment of its own, under the test's temporary directory."""
    base = tmp_path_factory.mktemp("pilot3")
    venv = base / "venv"
    made = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot create a virtual environment for panda-pilot: {made.stderr.strip()[-300:]}")
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    fetched = subprocess.run(
        [*pip, "download", "--no-deps", "--no-binary", ":all:", f"panda-pilot=={PILOT_VERSION}", "-d", str(base)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    archives = list(base.glob("panda[-_]pilot-*.tar.gz"))
    if fetched.returncode != 0 or not archives:
        pytest.skip(f"panda-pilot {PILOT_VERSION} cannot be installed from the package index: {fetched.stderr[-300:]}")
    with tarfile.open(archives[0]) as archive:
        try:
            archive.extractall(base, filter="data")
        except TypeError:  # a Python without extraction filters
            archive.extractall(base)
    source = base / f"panda-pilot-{PILOT_VERSION}"
    assert (source / "pilot.py").is_file() and (source / "pilot" / "control" / "job.py").is_file()
    return source, venv / "bin" / "python"


def _namespace_prefix() -> list[str]:
    """``unshare`` into a PID namespace when this machine allows it (the pilot then cannot see,
    let alone signal, any other process), else nothing (PILOT_NOKILL=1 still applies)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return []
    for prefix in (
        [unshare, "--pid", "--fork", "--mount-proc"],
        [unshare, "--pid", "--fork", "--mount-proc", "--map-root-user"],
    ):
        if subprocess.run([*prefix, "true"], capture_output=True).returncode == 0:
            return prefix
    return []


def test_pilot3_runs_a_default_scenario_job_to_finished(pilot3, tmp_path):
    pilot_dir, python = pilot3
    if shutil.which("curl") is None:
        pytest.skip("pilot3 3.7 talks to the server with curl, which is not installed")
    app = create_app({"scenario": "default", "trf_url": OLD_PILOT_TRF_URL, "data_dir": str(tmp_path / "data")})
    emulator = emulator_of(app)
    engine = emulator.engine
    waiting = set(engine.store["jobs"].ids("dispatch", (QUEUE, "activated")))
    assert waiting
    with MockServer(app, host="127.0.0.1", port=0) as server:
        env = pilot_environment(
            server.url,
            QUEUE,
            run_dir=str(tmp_path / "run"),
            pilot=str(pilot_dir / "pilot.py"),
            python=str(python),
            old_pilot=True,
            tls_dir=os.environ.get("PANDAMOCK_TLS_DIR"),
        )
        assert env["environment"]["PILOT_NOKILL"] == "1"
        assert env["environment"]["http_proxy"] == server.url
        run = Path(env["run_dir"])
        (run / "work").mkdir(parents=True)
        Path(env["token_file"]).write_text(env["token"])  # no trailing newline
        child_env = {key: value for key, value in os.environ.items() if key not in env["unset"]}
        child_env.update(env["environment"])
        child_env["HOME"] = str(tmp_path)
        done = subprocess.run(
            [*_namespace_prefix(), *env["command"]],
            cwd=pilot_dir,
            env=child_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=400,
        )
        output = done.stdout.decode(errors="replace")
        calls = [
            (entry["endpoint"], (entry.get("params") or {}).get("state"), entry["status"])
            for entry in emulator.journal.entries()
            if entry["path"].startswith("/server/panda/")
        ]
        assert done.returncode == 0, output[-3000:]
        assert calls[0] == ("legacy/getJob", None, 200), calls
        states = [state for endpoint, state, status in calls if endpoint == "legacy/updateJob" and status == 200]
        assert states[0] == "starting" and "running" in states and states[-1] == "finished", (calls, output[-3000:])

        dispatched = [panda_id for panda_id in waiting if engine.jobs.get(panda_id)["jobStatus"] != "activated"]
        assert len(dispatched) == 1, calls
        panda_id = dispatched[0]
        engine.clock.advance(engine.delay("job_adder") + 1)
        import requests

        status = requests.get(
            f"{server.url}/api/v1/job/get_status",
            params={"job_ids": panda_id},
            headers={"Accept": "application/json"},
            timeout=10,
        ).json()
    assert status["data"] == [{"status": "finished", "command": None}], output[-3000:]
    job = engine.jobs.get(panda_id)
    assert job["transExitCode"] == 0 and job["pilotErrorCode"] == 0
    assert job["pilotID"].endswith(f"|PR|{PILOT_VERSION}")
    assert json.loads(job["metadata"])["exitCode"] == 0  # the payload's jobReport.json
    storage = engine.payloads.storage_dir / "PANDAMOCK_DATADISK"
    for file in job["Files"]:
        replica = storage / rucio_path(file["scope"], file["lfn"])
        assert replica.is_file(), file["lfn"]  # the input was there, output and log were moved there
        if file["type"] in ("output", "log"):
            assert file["status"] == "ready" and file["fsize"] == replica.stat().st_size > 0
            assert file["checksum"].startswith("ad:")
