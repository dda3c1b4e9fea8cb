"""A world for the task tests: the default scenario's identities and queues, a frozen clock, known
JEDI delays and no generated tasks; HTTP helpers that submit tasks and play pilots."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from pandamock.app import create_app, emulator_of
from pandamock.engine import records
from pandamock.engine.statuses import TASK, created
from tests.helpers import JSON, envelope

ROOT = Path(__file__).resolve().parents[1]
START = "2026-11-29T12:00:00"
DELAYS = {
    "job_activation": 10.0,
    "job_adder": 30.0,
    "task_step": 60.0,
    "task_command": 120.0,
    "task_completion": 30.0,
    "data_carousel_staging": 300.0,
    "data_carousel_done": 900.0,
    "async_request": 5.0,
}
JDOE_DN = "/DC=ch/DC=cern/OU=Organic Units/OU=Users/CN=jdoe/CN=123456/CN=Jane Doe"
PILOT_DN = "/DC=ch/DC=cern/OU=Organic Units/OU=Users/CN=atlpilo1/CN=614260/CN=Robot: ATLAS Pilot1"
AS_JDOE = {**JSON, "X-Pandamock-Identity": "jdoe"}
AS_HIGGS = {**JSON, "X-Pandamock-Identity": "higgs"}
AS_PILOT = dict(JSON)
ANALYSIS_QUEUE = "ANALY_MWT2_UCORE"
PRODUCTION_QUEUE = "BNL_PROD_MCORE"


def tasks_scenario() -> dict:
    default = yaml.safe_load((ROOT / "scenarios" / "default.yaml").read_text())
    return {
        "name": "tasks-tests",
        "seed": 7,
        "clock": {"start": START, "frozen": True},
        "identities": copy.deepcopy(default["identities"]),
        "sites": copy.deepcopy(default["sites"]),
        "fixtures": ["resource_types.json"],
        "progression": dict(DELAYS),
    }


def make_app(**settings: Any):
    return create_app({"scenario": "default", **settings}, scenario=tasks_scenario())


@pytest.fixture(scope="session")
def tasks_app():
    return make_app()


@pytest.fixture
def app(tasks_app):
    emulator_of(tasks_app).reset()
    return tasks_app


@pytest.fixture
def engine(app):
    return emulator_of(app).engine


@pytest.fixture
def client(app):
    return app.test_client()


def prun_params(name: str = "user.jdoe.probe", n_jobs: int = 3, **extra: Any) -> dict:
    """Task parameters as ``prun --exec "sh run.sh" --outDS <name> --nJobs N --noBuild`` sends them."""
    params = {
        "taskName": f"{name}/",
        "uniqueTaskName": True,
        "vo": "atlas",
        "architecture": None,
        "transUses": "",
        "transHome": None,
        "processingType": "panda-client-2.2.0-jedi-run",
        "prodSourceLabel": "user",
        "site": None,
        "excludedSite": [],
        "includedSite": None,
        "nEvents": n_jobs,
        "nEventsPerJob": 1,
        "cliParams": f'prun --exec "sh run.sh" --outDS {name} --nJobs {n_jobs} --noBuild --outputs out.root',
        "nMaxFilesPerJob": 200,
        "respectSplitRule": True,
        "sourceURL": "https://pandaserver.example.org:25443",
        "log": {
            "dataset": f"{name}.log/",
            "container": f"{name}.log/",
            "type": "template",
            "param_type": "log",
            "value": f"{name}.log.$JEDITASKID.${{SN}}.log.tgz",
        },
        "jobParameters": [
            {"type": "constant", "value": '-j "" --sourceURL ${SURL}'},
            {"type": "constant", "value": "-r ."},
            {"type": "constant", "value": "__delimiter__", "hidden": True},
            {"type": "constant", "value": "-a jobO.5924ea56-fe70-4ce8-95b2-613ff637d881.tar.gz"},
            {
                "type": "template",
                "value": "user.jdoe.$JEDITASKID._${SN/P}.out.root",
                "param_type": "output",
                "dataset": f"{name}_out.root/",
                "container": f"{name}_out.root/",
                "hidden": True,
            },
            {"type": "constant", "value": "-o \"{'out.root': 'user.jdoe.$JEDITASKID._${SN/P}.out.root'}\""},
            {"type": "constant", "value": '-p "', "padding": False},
            {"type": "constant", "value": "sh%20run.sh", "padding": False},
            {"type": "constant", "value": '"'},
        ],
        "noInput": True,
    }
    params.update(extra)
    return params


def production_params(name: str = "mc23_13p6TeV.601229.PhPy8EG.simul.e8514_s4162", **extra: Any) -> dict:
    """A production simulation task reading an EVNT dataset."""
    params = {
        "taskName": name,
        "taskType": "prod",
        "userName": "pilot",
        "vo": "atlas",
        "prodSourceLabel": "managed",
        "processingType": "simul",
        "taskPriority": 900,
        "transPath": "Sim_tf.py",
        "transHome": "Athena-24.0.50",
        "transUses": "Atlas-24.0.50",
        "architecture": "x86_64-el9-gcc13-opt",
        "coreCount": 8,
        "ramCount": 2000,
        "nEventsPerInputFile": 1000,
        "nEventsPerJob": 500,
        "nFiles": 2,
        "log": {
            "type": "template",
            "param_type": "log",
            "value": "log.${TASKID}._${SN/P}.job.log.tgz",
            "dataset": "mc23_13p6TeV.601229.PhPy8EG.simul.log.e8514_s4162_tid${TASKID}_00",
        },
        "jobParameters": [
            {
                "type": "template",
                "param_type": "input",
                "value": "--inputEVNTFile=${IN/L}",
                "dataset": "mc23_13p6TeV.601229.PhPy8EG.evgen.EVNT.e8514_tid38520012_00",
            },
            {"type": "template", "param_type": "number", "value": "--maxEvents=${MAXEVENTS}"},
            {"type": "template", "param_type": "number", "value": "--skipEvents=${SKIPEVENTS}"},
            {
                "type": "template",
                "param_type": "output",
                "value": "--outputHITSFile=HITS.${TASKID}._${SN/P}.pool.root.1",
                "dataset": "mc23_13p6TeV.601229.PhPy8EG.simul.HITS.e8514_s4162_tid${TASKID}_00",
            },
        ],
    }
    params.update(extra)
    return params


def submit(client, params: dict, headers: dict = AS_JDOE, **extra: Any) -> dict:
    response = client.post("/api/v1/task/submit", json={"task_parameters": params, **extra}, headers=headers)
    return envelope(response)


def call(client, method: str, endpoint: str, headers: dict = AS_PILOT, **params: Any) -> dict:
    if method == "GET":
        response = client.get(f"/api/v1/{endpoint}", query_string=params, headers=headers)
    else:
        response = client.post(f"/api/v1/{endpoint}", json=params, headers=headers)
    return envelope(response)


def advance(engine, seconds: float, steps: int = 1) -> None:
    """Move the clock forward in ``steps`` jumps, applying what came due after each."""
    for _ in range(steps):
        engine.clock.advance(seconds / steps)
        engine.tick()


def until(engine, task_id: int, statuses: set[str] | str, limit: float = 3600, step: float = 10) -> str:
    """Advance until the task reaches one of ``statuses`` (fails after ``limit`` emulated seconds)."""
    wanted = {statuses} if isinstance(statuses, str) else statuses
    waited = 0.0
    while True:
        status = engine.tasks.get(task_id)["status"]
        if status in wanted:
            return status
        if waited >= limit:
            raise AssertionError(f"task {task_id} stayed {status}, expected {sorted(wanted)}")
        advance(engine, step)
        waited += step


def run_pilots(
    client, engine, queue: str, label: str | None, fail: set[int] = frozenset(), rounds: int = 20
) -> list[int]:
    """Pilots on ``queue`` take every activated job through the pilot API and end it (finished, or
    failed for the PandaIDs in ``fail``); returns the PandaIDs they ran."""
    ran = []
    for _ in range(rounds):
        payload = {"site_name": queue, "node": "wn001.example.org", "n_jobs": 50}
        if label:
            payload["prod_source_label"] = label
        reply = call(client, "POST", "pilot/acquire_jobs", **payload)
        if not reply["success"]:
            advance(engine, 60)
            if not engine.jobs.table.count("dispatch", (queue, "activated")):
                if not [j for j in engine.jobs.table.find("by_status", "defined") if j["computingSite"] == queue]:
                    break
            continue
        for job in reply["data"]["jobs"]:
            panda_id = job["PandaID"]
            attempt = job["attemptNr"]
            assert call(client, "POST", "pilot/update_job", job_id=panda_id, job_status="starting", attempt_nr=attempt)[
                "success"
            ]
            assert call(client, "POST", "pilot/update_job", job_id=panda_id, job_status="running", attempt_nr=attempt)[
                "success"
            ]
            final = "failed" if panda_id in fail else "finished"
            extra = {"pilot_error_code": 1305, "pilot_error_diag": "payload failed"} if final == "failed" else {}
            reply = call(
                client, "POST", "pilot/update_job", job_id=panda_id, job_status=final, attempt_nr=attempt, **extra
            )
            assert reply["success"], reply
            ran.append(panda_id)
        advance(engine, 60)
    return ran


def add_task(engine, status: str, **values: Any) -> int:
    """A task record in any status (for the command table), owned by Jane Doe."""
    with engine.operation():
        task_id = engine.ids.next("jediTaskID")
        now = engine.now()
        record = records.new_task(
            {
                "jediTaskID": task_id,
                "taskName": f"user.jdoe.table.{task_id}/",
                "status": "registered",
                "userName": "Jane Doe",
                "prodSourceLabel": "user",
                "taskType": "anal",
                "vo": "atlas",
                "creationDate": now,
                "modificationTime": now,
                "reqID": task_id,
                **values,
            }
        )
        created(engine.store.table("tasks"), record, TASK, now)
        engine.store.table("tasks").update(task_id, {"status": status})
    return task_id


def later(engine) -> dt.datetime:
    return engine.now()
