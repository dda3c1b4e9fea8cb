"""The client commands (fault, clock, journal, state, reset, status) against a live server."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import requests
from click.testing import CliRunner

from pandamock.app import emulator_of
from pandamock.cli import main
from pandamock.server import MockServer
from tests.faultprobe import make_app
from tests.helpers import serve_process

START = "2026-11-29T12:00:00"


@pytest.fixture(scope="module")
def server():
    with MockServer(make_app(), port=0) as live:
        yield live


@pytest.fixture
def live(server):
    emulator = emulator_of(server.app)
    emulator.reset()
    emulator.engine.clock.freeze()
    emulator.engine.clock.set(START)
    return server


def run(live, *args, env=None):
    result = CliRunner().invoke(main, [*args, "--url", live.url], env=env, catch_exceptions=False)
    return result


def test_fault_add_list_update_delete_clear(live):
    emulator = emulator_of(live.app)
    result = run(
        live,
        "fault",
        "add",
        "--endpoint",
        "system/is_alive",
        "--status",
        "503",
        "--probability",
        "0.3",
        "--for",
        "120s",
    )
    assert result.exit_code == 0, result.output
    assert result.output == "rule-1: system/is_alive -> 503 [probability 0.3; window ... .. 2026-11-29T12:02:00]\n"
    assert emulator.faults.get("rule-1").definition == {
        "id": "rule-1",
        "endpoint": "system/is_alive",
        "status": 503,
        "probability": 0.3,
        "for": "120s",
    }
    result = run(
        live, "fault", "add", "--id", "slow", "--endpoint", "jobprobe/*", "--endpoint", "system/*", "--delay", "0.5..2",
        "--panda-id", "42", "--site", "CERN-*", "--param", "job_status=sent", "--continue", "--position", "0",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert emulator.faults.get("slow").definition == {
        "id": "slow",
        "endpoint": ["jobprobe/*", "system/*"],
        "panda_id": 42,
        "site": "CERN-*",
        "params": {"job_status": "sent"},
        "delay": [0.5, 2.0],
        "continue": True,
    }
    listing = run(live, "fault", "list").output.splitlines()
    assert listing[0].split() == ["ID", "STATE", "MATCHED", "FIRED", "RULE"]
    assert listing[1].split()[:4] == ["slow", "active", "0", "0"]
    assert listing[2].split()[:4] == ["rule-1", "active", "0", "0"]
    rules = json.loads(run(live, "fault", "list", "--json").output)
    assert [rule["id"] for rule in rules] == ["slow", "rule-1"]
    result = run(live, "fault", "update", "rule-1", "--status", "500", "--message", "ORA-03113")
    assert result.exit_code == 0 and emulator.faults.get("rule-1").definition["message"] == "ORA-03113"
    assert json.loads(run(live, "fault", "show", "rule-1").output)["status"] == 500
    assert run(live, "fault", "delete", "slow").output == "deleted slow\n"
    assert run(live, "fault", "clear").output == "cleared 1 rule\n"
    assert run(live, "fault", "list").output == "no fault rules\n"


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--endpoint", "system/*", "--action", "drop", "--probability", "1.5"],
            "probability: must be at most 1, got 1.5",
        ),
        (["--endpoint", "system/[x", "--status", "503"], "endpoint: malformed glob 'system/[x': unclosed '['"),
        (["--endpoint", "system/*", "--status", "404"], "status: expected one of 403, 500, 503, got 404"),
        (["--endpoint", "system/*", "--rule", '{"colour": "red", "status": 503}'], "colour: unknown key"),
        (["--endpoint", "pilot/updte_job", "--status", "503"], "endpoint: 'pilot/updte_job' matches no endpoint"),
        (
            ["--endpoint", "system/*", "--delay", "slow"],
            "Invalid value for --delay: expected seconds (2, 0.5) or a range MIN..MAX, got 'slow'",
        ),
        (
            ["--endpoint", "system/*", "--param", "oops", "--status", "503"],
            "Invalid value for --param: expected NAME=VALUE, got 'oops'",
        ),
        (["--endpoint", "system/*", "--action", "explode"], "Invalid value for '--action'"),
    ],
)
def test_invalid_rules_exit_2_with_the_message(live, args, message):
    result = run(live, "fault", "add", *args)
    assert result.exit_code == 2
    assert message in result.output
    assert emulator_of(live.app).faults.rules == []


def test_unknown_rule_and_unreachable_server_exit_1(live):
    result = run(live, "fault", "delete", "nope")
    assert (result.exit_code, result.output) == (1, "pandamock: no fault rule 'nope'; rules: none\n")
    result = CliRunner().invoke(main, ["fault", "list", "--url", "http://127.0.0.1:9"])
    assert result.exit_code == 1 and "pandamock: cannot reach pandamock at http://127.0.0.1:9" in result.output


def test_clock_commands(live):
    assert run(live, "clock").output == f"{START} (frozen)\n"
    assert run(live, "clock", "advance", "300").output == "2026-11-29T12:05:00 (frozen)\n"
    assert run(live, "clock", "advance", "1h").output == "2026-11-29T13:05:00 (frozen)\n"
    assert run(live, "clock", "set", "2026-12-24T18:00:00").output == "2026-12-24T18:00:00 (frozen)\n"
    assert run(live, "clock", "speed", "60").output.endswith("(frozen)\n")
    assert "running x60" in run(live, "clock", "unfreeze").output
    assert run(live, "clock", "freeze").output.endswith("(frozen)\n")
    assert json.loads(run(live, "clock", "show", "--json").output)["speed"] == 60
    result = CliRunner().invoke(main, ["clock", "advance", "--url", live.url, "--", "-5"])
    assert result.exit_code == 2 and "the clock only moves forward" in result.output


def test_journal_commands(live):
    requests.get(f"{live.url}/api/v1/system/is_alive", timeout=5)
    requests.post(f"{live.url}/api/v1/jobprobe/update_job", json={"job_id": "x"}, timeout=5)
    emulator_of(live.app).faults.add({"id": "down", "endpoint": "system/*", "status": 503})
    requests.get(f"{live.url}/api/v1/system/is_alive", timeout=5)
    lines = run(live, "journal", "tail").output.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("#") and "GET system/is_alive atlpilo1 -> 200 success" in lines[0]
    assert "POST jobprobe/update_job atlpilo1 -> 200 success=False" in lines[1]
    assert "-> 503" in lines[2] and "fault=down" in lines[2]
    assert len(run(live, "journal", "tail", "-n", "1").output.splitlines()) == 1
    failed = run(live, "journal", "tail", "--failed", "--endpoint", "jobprobe/*", "--json").output.splitlines()
    assert [json.loads(line)["endpoint"] for line in failed] == ["jobprobe/update_job"]
    assert len(run(live, "journal", "tail", "--status", "503").output.splitlines()) == 1
    summary = run(live, "journal", "summary").output.splitlines()
    assert summary[0].split() == ["ENDPOINT", "REQUESTS", "FAILED", "FAULTS", "P50", "MS", "P99", "MS"]
    row = next(line for line in summary if line.startswith("system/is_alive"))
    assert row.split()[1:4] == ["2", "1", "1"]
    assert summary[-1] == "3 requests, 2 failed, 1 faults fired"
    assert json.loads(run(live, "journal", "summary", "--json").output)["requests"] == 3
    assert run(live, "journal", "clear").output == "cleared 3 entries\n"


def test_state_reset_and_status(live, tmp_path):
    requests.post(f"{live.url}/api/v1/jobprobe/update_job", json={"job_id": 5}, timeout=5)
    requests.post(f"{live.url}/api/v1/jobprobe/update_job", json={"job_id": 6}, timeout=5)
    dump = json.loads(run(live, "state", "dump", "--table", "jobs", "--where", "PandaID=6").output)
    assert [job["PandaID"] for job in dump["records"]["jobs"]] == [6]
    assert dump["records"]["jobs"][0]["creationTime"] == {"__datetime__": START}
    path = tmp_path / "dump.json"
    result = run(live, "state", "dump", "-o", str(path))
    assert result.exit_code == 0 and "jobs 2" in result.output
    result = run(live, "state", "dump", "--table", "nope")
    assert result.exit_code == 1 and "no table 'nope'" in result.output
    assert run(live, "reset").output.startswith("reset to scenario 'default' at ")
    assert emulator_of(live.app).engine.store.table("jobs").get(5) is None
    result = run(live, "state", "load", str(path))
    assert result.exit_code == 0 and "loaded scenario 'default-dump'" in result.output
    assert emulator_of(live.app).engine.store.table("jobs").get(5)["jobStatus"] == "activated"
    status = run(live, "status").output
    assert "scenario 'default-dump'" in status and "jobs 2" in status
    assert run(live, "state", "load", "default").exit_code == 0


def test_url_and_token_from_the_environment():
    with MockServer(make_app(control_token="s3cret"), port=0) as live:
        env = {"PANDAMOCK_URL": live.url, "PANDAMOCK_CONTROL_TOKEN": "s3cret"}
        result = CliRunner().invoke(main, ["fault", "list"], env=env)
        assert (result.exit_code, result.output) == (0, "no fault rules\n")
        result = CliRunner().invoke(main, ["fault", "list"], env={"PANDAMOCK_URL": live.url})
        assert (result.exit_code, result.output) == (1, "pandamock: the control plane needs its token\n")
        result = CliRunner().invoke(main, ["fault", "list", "--token", "wrong"], env={"PANDAMOCK_URL": live.url})
        assert (result.exit_code, result.output) == (1, "pandamock: wrong control-plane token\n")


def test_the_real_command_against_a_served_process():
    """`pandamock serve` in its own process, driven by `pandamock fault add` in another."""
    process, url = serve_process()
    try:
        command = [sys.executable, "-m", "pandamock", "fault", "add", "--url", url, "--endpoint", "system/is_alive"]
        done = subprocess.run([*command, "--status", "503", "--retry-after", "60"], capture_output=True, text=True)
        assert (done.returncode, done.stdout) == (0, "rule-1: system/is_alive -> 503\n")
        response = requests.get(f"{url}/api/v1/system/is_alive", timeout=5)
        assert response.status_code == 503 and response.headers["Retry-After"] == "60"
        bad = subprocess.run([*command, "--status", "503", "--probability", "1.5"], capture_output=True, text=True)
        assert (bad.returncode, bad.stderr) == (2, "pandamock: probability: must be at most 1, got 1.5\n")
    finally:
        process.terminate()
        process.wait(timeout=15)
