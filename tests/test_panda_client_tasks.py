"""The real panda-client 2.2.0 (from PyPI) against a live emulator: the task functions of its library
and the real ``prun`` and ``pbook`` command lines with a fake OIDC token (reference clients.md
§2.3–2.7). panda-client reads its environment at import, so every session runs in a subprocess.

The emulator's clock is frozen at the real time of the test run (pbook asks for the tasks of the
last 14 days by the real clock); the tests move it between client sessions."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from pandamock.app import create_app
from tests.helpers import fake_token, live_server, panda_client_env
from tests.tasks_support import ANALYSIS_QUEUE, prun_params, run_pilots, tasks_scenario, until

JANE = {
    "sub": "jdoe",
    "name": "Jane Doe",
    "preferred_username": "jdoe",
    "groups": ["atlas"],
    "iss": "https://atlas-auth.example.org/",
    "aud": "atlas_panda_client",
    "exp": 4102444800,
}


@pytest.fixture(scope="module")
def live():
    scenario = tasks_scenario()
    scenario["clock"] = {"start": "now", "frozen": True}
    app = create_app({"scenario": "default"}, scenario=scenario)
    with live_server(app) as server:
        yield server


@pytest.fixture
def server(live):
    live.emulator.reset()
    return live


@pytest.fixture
def engine(server):
    return server.emulator.engine


@pytest.fixture
def client(server):
    return server.app.test_client()


def client_env(server, tmp_path, token: dict | None = None) -> dict:
    env = panda_client_env(server.url, tmp_path)
    if token is not None:
        env.update({"PANDA_AUTH": "oidc", "PANDA_AUTH_VO": "atlas", "PANDA_AUTH_ID_TOKEN": fake_token(token)})
    return env


def library(server, tmp_path, body: str, token: dict | None = None) -> dict:
    """Run ``body`` (filling the dict ``out``) with ``pandaclient.Client`` imported as ``Client``."""
    script = (
        "import json, datetime\nfrom pandaclient import Client\nout = {}\n"
        + textwrap.dedent(body)
        + "\nprint(json.dumps(out, default=str))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=client_env(server, tmp_path, token),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def cli(server, tmp_path, program: str, *args: str) -> str:
    """Run ``prun`` or ``pbook`` (their entry points) as Jane Doe with a fake token; stdout + stderr."""
    entry = {
        "prun": "from pandaclient.PrunScript import main; main()",
        "pbook": "import pandaclient.PBookScript as p; p.main()",
    }[program]
    done = subprocess.run(
        [sys.executable, "-c", entry, *args],
        env=client_env(server, tmp_path, JANE),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_insert_task_and_read_it_back(server, engine, client, tmp_path):
    params = prun_params(n_jobs=2, site=ANALYSIS_QUEUE)
    out = library(server, tmp_path, f"out['insert'] = Client.insertTaskParams({params!r})", token=JANE)
    status, (code, message) = out["insert"]
    assert (status, code) == (0, 0) and message.startswith("succeeded. new jediTaskID=")
    task_id = int(message.split("=")[-1])
    assert engine.tasks.get(task_id)["userName"] == "Jane Doe"
    until(engine, task_id, "running")
    ids = sorted(engine.jobs.table.ids("by_task", task_id))
    run_pilots(client, engine, ANALYSIS_QUEUE, "user", fail={ids[1]}, rounds=1)
    out = library(
        server,
        tmp_path,
        f"""
        tid = {task_id}
        out['status'] = Client.getTaskStatus(tid)
        out['details'] = Client.getJediTaskDetails({{'jediTaskID': tid}}, True, True)
        out['ids'] = Client.getPandaIDsWithTaskID(tid)
        out['params'] = Client.getTaskParamsMap(tid)
        out['range'] = Client.getJobIDsJediTasksInTimeRange('2000-01-01 00:00:00')
        out['since'] = Client.get_tasks_detailed_info_since(filters={{'jediTaskID': str(tid)}})
        status, jobs = Client.get_job_descriptions(tid, unsuccessful_only=True)
        out['jobs'] = [status, [(j['PandaID'], j['jobStatus'], j['extendedProdSourceLabel']) for j in jobs]]
        out['files'] = Client.get_files_in_datasets(tid, 'output')
        out['json'] = Client.get_task_details_json(tid)
        out['parent'] = Client.get_parent_detailed_info(tid)
        """,
        token=JANE,
    )
    assert out["status"] == [0, "running"]
    status, details = out["details"]
    assert status == 0 and details["jediTaskID"] == task_id and details["status"] == "running"
    assert details["statistics"] == "failed*1,finished*1" and details["cliParams"] == params["cliParams"]
    assert out["ids"] == [0, sorted(engine.jobs.table.ids("by_task", task_id))]
    assert out["params"][0] == 0 and out["params"][1]["taskName"] == "user.jdoe.probe/"
    assert out["params"][1]["userName"] == "Jane Doe"
    status, tasks = out["range"]
    assert status == 0 and tasks[str(task_id)]["status"] == "running"
    status, detailed = out["since"]
    assert status == 0 and [t["jediTaskID"] for t in detailed] == [task_id]
    assert out["jobs"] == [0, [[ids[1], "failed", "user_scout"]]]
    status, files = out["files"]
    assert status == 0 and files[0]["dataset"]["name"] == f"user.jdoe.probe_out.root.{task_id}"
    assert sorted(f["status"] for f in files[0]["files"]) == ["failed", "finished"]
    status, (ok, info) = out["json"]
    assert status == 0 and ok is True and info["jediTaskID"] == task_id and "taskParams" in info
    assert out["parent"] == [255, None]  # a task without parent: a failure envelope ("No parent task found")


def test_task_commands_through_the_library(server, engine, client, tmp_path):
    task_id = library(
        server,
        tmp_path,
        f"out['r'] = Client.insertTaskParams({prun_params(n_jobs=1, site=ANALYSIS_QUEUE)!r})",
        token=JANE,
    )["r"][1][1].split("=")[-1]
    task_id = int(task_id)
    until(engine, task_id, "running")
    out = library(server, tmp_path, f"out['pause'] = Client.pauseTask({task_id})")
    assert out["pause"] == [0, [True, 0]]
    until(engine, task_id, "paused")
    out = library(server, tmp_path, f"out['resume'] = Client.resumeTask({task_id})")
    assert out["resume"] == [0, [True, 0]]
    until(engine, task_id, "running")
    out = library(
        server,
        tmp_path,
        f"""
        out['increase'] = Client.increase_attempt_nr({task_id}, 2)
        out['reload'] = Client.reload_input({task_id})
        out['retry'] = Client.retryTask({task_id})
        """,
        token=JANE,
    )
    assert out["increase"] == [0, [False, "production or pilot role required"]]
    assert out["reload"] == [
        0,
        [False, "Command rejected: the incexec command is not accepted if the task is in running status"],
    ]
    assert out["retry"] == [0, [0, "retry has been triggered for failed jobs while the task is still running"]]
    out = library(server, tmp_path, f"out['increase'] = Client.increase_attempt_nr({task_id}, 2)")
    assert out["increase"] == [0, [True, 0]]
    out = library(server, tmp_path, f"out['finish'] = Client.finishTask({task_id}, soft=True)", token=JANE)
    assert out["finish"] == [0, [True, 0]]
    until(engine, task_id, {"done", "finished", "failed"})
    out = library(
        server,
        tmp_path,
        f"""
        out['reactivate'] = Client.reactivateTask({task_id})
        out['kill_done'] = Client.killTask({task_id})
        """,
    )
    assert out["reactivate"] == [0, [True, 0]]
    assert engine.tasks.get(task_id)["status"] == "ready"
    assert out["kill_done"] == [0, [True, 0]]  # ready: accepted
    until(engine, task_id, "aborted")


def test_prun_submits_a_task(server, engine, tmp_path):
    (tmp_path / "run.sh").write_text("echo hello > out.root\n")
    output = cli(
        server,
        tmp_path,
        "prun",
        "--exec",
        "sh run.sh",
        "--outDS",
        "user.jdoe.cli",
        "--nJobs",
        "2",
        "--noBuild",
        "--outputs",
        "out.root",
    )
    [line] = [line for line in output.splitlines() if "jediTaskID=" in line]
    assert line.startswith("INFO : succeeded. new jediTaskID=")
    task_id = int(line.split("=")[-1])
    task = engine.tasks.get(task_id)
    assert (task["taskName"], task["userName"], task["status"]) == ("user.jdoe.cli/", "Jane Doe", "registered")
    until(engine, task_id, "running")
    job = engine.jobs.get(min(engine.jobs.table.ids("by_task", task_id)))
    assert "-a jobO." in job["jobParameters"] and f"user.jdoe.{task_id}._000001.out.root" in job["jobParameters"]
    assert f"--sourceURL {server.url}" in job["jobParameters"]
    # the sandbox prun uploaded is on the emulator's file server
    sandbox = job["jobParameters"].split("-a ")[1].split()[0]
    assert engine.files.cache_file(sandbox) is not None


def test_pbook_show_kill_retry_and_native_workflow(server, engine, client, tmp_path):
    task_id = library(
        server,
        tmp_path,
        f"out['r'] = Client.insertTaskParams({prun_params(n_jobs=1, site=ANALYSIS_QUEUE, maxAttempt=1)!r})",
        token=JANE,
    )["r"][1][1].split("=")[-1]
    task_id = int(task_id)
    until(engine, task_id, "running")
    shown = cli(server, tmp_path, "pbook", "show", str(task_id))
    assert "PBook user: Jane Doe" in shown
    [row] = [line for line in shown.splitlines() if str(task_id) in line]
    assert row.split() == [str(task_id), str(task_id), "running", "0%", "user.jdoe.probe/"]
    killed = cli(server, tmp_path, "pbook", "kill", str(task_id))
    assert f"Done, jediTaskID={task_id} will be killed within the next 30 min" in killed
    assert engine.tasks.commands.get(task_id)["command"] == "kill"
    until(engine, task_id, "aborted")
    retried = cli(server, tmp_path, "pbook", "retry", str(task_id))
    assert "ERROR : Command rejected: the retry command is not accepted if the task is in aborted status" in retried
    definition = {
        "workflow_name": "pbook-native",
        "steps": {"only": {"type": "task", "task_params": prun_params(name="user.jdoe.native", n_jobs=1)}},
    }
    reply = client.post(
        "/api/v1/workflow/submit_workflow",
        json={"workflow_definition": definition},
        headers={"Accept": "application/json"},
    )
    workflow_id = json.loads(reply.data)["data"]["workflow_id"]
    for _ in range(4):  # parsed, checked, starting, running
        engine.clock.advance(60)
        engine.tick()
    shown = cli(server, tmp_path, "pbook", "show_native_workflow", str(workflow_id))
    assert f'workflow_id={workflow_id}  name="pbook-native"  status=running  submitted_as=managed' in shown
    [step] = [line for line in shown.splitlines() if " only " in line]
    assert step.split()[:4] == ["0", "only", "submitted", "panda_task"]
