"""Jobs and event ranges for the tests of pilot/*, job/*, event/* and statistics/*.

The tests build their own world (the default scenario's identities and queues, a frozen clock,
known progression delays) and create the jobs and event ranges they need, so they do not depend
on what the default scenario generates.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from pandamock.app import create_app, emulator_of
from pandamock.engine import records

ROOT = Path(__file__).resolve().parents[1]
START = "2026-11-29T12:00:00"
ACTIVATION_DELAY = 60.0
ADDER_DELAY = 300.0
PILOT_DN = "/DC=ch/DC=cern/OU=Organic Units/OU=Users/CN=atlpilo1/CN=614260/CN=Robot: ATLAS Pilot1"
JDOE_DN = "/DC=ch/DC=cern/OU=Organic Units/OU=Users/CN=jdoe/CN=123456/CN=Jane Doe"
HIGGS_DN = "/DC=ch/DC=cern/OU=Organic Units/OU=Users/CN=hboson/CN=654321/CN=Hugo Boson"
AS_JDOE = {"X-Pandamock-Identity": "jdoe"}
AS_HIGGS = {"X-Pandamock-Identity": "higgs"}
HITS_DATASET = "mc23_13p6TeV.801167.Py8EG_A14NNPDF23LO_jj_JZ2.simul.HITS.e8514_s4162_tid40000123_00"
LOG_DATASET = "mc23_13p6TeV.801167.Py8EG_A14NNPDF23LO_jj_JZ2.simul.log.e8514_s4162_tid40000123_00"


def jobs_scenario() -> dict:
    """The default scenario's identities and queues (+ a brokeroff queue), frozen clock, no generation."""
    default = yaml.safe_load((ROOT / "scenarios" / "default.yaml").read_text())
    sites = copy.deepcopy(default["sites"])
    sites.append(
        {
            "name": "TOKYO_BROKEROFF",
            "site": "TOKYO-LCG2",
            "cloud": "FR",
            "type": "production",
            "status": "brokeroff",
            "capability": "score",
            "corecount": 1,
            "ddm": "TOKYO-LCG2_DATADISK",
        }
    )
    return {
        "name": "jobs-tests",
        "seed": 42,
        "clock": {"start": START, "frozen": True},
        "identities": default["identities"],
        "sites": sites,
        "fixtures": ["resource_types.json"],
        "progression": {"job_activation": ACTIVATION_DELAY, "job_adder": ADDER_DELAY},
    }


def make_app(**settings: Any):
    return create_app({"scenario": "default", **settings}, scenario=jobs_scenario())


def job_files(n_inputs: int = 2, tag: str = "0001") -> list[dict]:
    """Realistic FileSpec dicts: inputs of an EVNT dataset, a HITS output and a log."""
    files = []
    for i in range(1, n_inputs + 1):
        files.append(
            {
                "type": "input",
                "lfn": f"EVNT.38520012._00{i:04d}.pool.root.1",
                "GUID": f"8D1C6E4A-1F2B-4C3D-9E8F-00000000{i:04d}",
                "scope": "mc23_13p6TeV",
                "dataset": "mc23_13p6TeV.801167.Py8EG_A14NNPDF23LO_jj_JZ2.evgen.EVNT.e8514_tid38520012_00",
                "prodDBlock": "mc23_13p6TeV.801167.Py8EG_A14NNPDF23LO_jj_JZ2.evgen.EVNT.e8514_tid38520012_00",
                "prodDBlockToken": "NULL",
                "dispatchDBlock": f"panda.{tag}.11.29.GEN.dis",
                "dispatchDBlockToken": "NULL",
                "fsize": 1_048_576 * i,
                "checksum": f"ad:0a1b2c{i:02d}",
            }
        )
    files.append(
        {
            "type": "output",
            "lfn": f"HITS.40000123._{tag}.pool.root.1",
            "GUID": f"5A9E0B71-2C3D-4E5F-8091-{tag:0>12}",
            "scope": "mc23_13p6TeV",
            "dataset": HITS_DATASET,
            "destinationDBlock": HITS_DATASET + "_sub0123",
            "destinationDBlockToken": "ATLASDATADISK",
            "destinationSE": "BNL_PROD_MCORE",
            "prodDBlockToken": "NULL",
            "dispatchDBlockToken": "NULL",
        }
    )
    files.append(
        {
            "type": "log",
            "lfn": f"log.40000123._{tag}.job.log.tgz.1",
            "GUID": f"C3D4E5F6-0718-293A-4B5C-{tag:0>12}",
            "scope": "mc23_13p6TeV",
            "dataset": LOG_DATASET,
            "destinationDBlock": LOG_DATASET + "_sub0124",
            "destinationDBlockToken": "ATLASDATADISK",
            "destinationSE": "BNL_PROD_MCORE",
            "prodDBlockToken": "NULL",
            "dispatchDBlockToken": "NULL",
        }
    )
    return files


def job_values(**overrides: Any) -> dict:
    """A production simulation job (JobSpec attributes) on BNL_PROD_MCORE."""
    values = {
        "computingSite": "BNL_PROD_MCORE",
        "prodSourceLabel": "managed",
        "jobName": "mc23_13p6TeV.801167.simul.e8514_s4162.40000123._000001",
        "transformation": "Sim_tf.py",
        "homepackage": "Athena/23.0.53",
        "AtlasRelease": "Atlas-23.0.53",
        "cmtConfig": "x86_64-el9-gcc13-opt",
        "jobParameters": "--inputEVNTFile=EVNT.38520012._000001.pool.root.1 --outputHITSFile=HITS.pool.root",
        "processingType": "simul",
        "assignedPriority": 900,
        "currentPriority": 900,
        "attemptNr": 1,
        "maxAttempt": 5,
        "coreCount": 8,
        "minRamCount": 16000,
        "maxDiskCount": 20000,
        "maxWalltime": 43200,
        "jediTaskID": 40000123,
        "lockedby": "jedi",
        "jobsetID": 7001,
        "jobDefinitionID": 31,
        "gshare": "MC Simulation",
        "prodUserID": PILOT_DN,
        "workingGroup": "AP_MCGN",
        "Files": job_files(),
    }
    values.update(overrides)
    return values


def create(engine, status: str = "activated", **overrides: Any) -> dict:
    """One stored job (activated by default)."""
    return engine.jobs.create_jobs([job_values(**overrides)], status=status)[0]


def create_es_job(
    engine, n_ranges: int = 6, jobset: int = 9001, task: int = 40000900, status: str = "activated", **more
):
    """An event-service consumer job of ``jobset`` and ``n_ranges`` ready ranges of that jobset."""
    values = {
        "computingSite": "DESY-HH_ES",
        "eventService": 1,
        "jobsetID": jobset,
        "jediTaskID": task,
        "coreCount": 1,
        "minRamCount": 2000,
        "processingType": "evgen",
    }
    values.update(more)
    job = create(engine, status=status, **values)
    add_ranges(engine, task, jobset, n_ranges)
    return job


def add_ranges(
    engine, task: int, jobset: int, n_ranges: int, file_id: int = 30000000501, attempt: int = 3
) -> list[str]:
    """Ready event ranges of a jobset (PandaID = jobsetID before dispatch)."""
    ids = []
    with engine.operation():
        table = engine.store.table("event_ranges")
        for i in range(1, n_ranges + 1):
            record = records.new_event_range(
                {
                    "jediTaskID": task,
                    "PandaID": jobset,
                    "fileID": file_id,
                    "job_processID": i,
                    "attemptNr": attempt,
                    "status": "ready",
                    "def_min_eventID": (i - 1) * 100,
                    "def_max_eventID": i * 100 - 1,
                    "datasetID": 500000901,
                    "jobsetID": jobset,
                    "event_offset": jobset,
                    "LFN": "EVNT.38520099._000001.pool.root.1",
                    "GUID": "0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0",
                    "scope": "mc23_13p6TeV",
                }
            )
            table.insert(record)
            ids.append(record["eventRangeID"])
    return ids


def body(response) -> dict:
    """The JSON envelope of a response (HTTP 200 text/plain)."""
    assert response.status_code == 200, response.data
    assert response.headers["Content-Type"] == "text/plain"
    return json.loads(response.data)


def post(client, path: str, payload: dict, headers: dict | None = None) -> dict:
    return body(client.post(f"/api/v1/{path}", json=payload, headers={"Accept": "application/json", **(headers or {})}))


def get(client, path: str, params: Any = None, headers: dict | None = None) -> dict:
    return body(
        client.get(f"/api/v1/{path}", query_string=params, headers={"Accept": "application/json", **(headers or {})})
    )


def emulator(app):
    return emulator_of(app)


# --- fixtures (import them into a test module to use them) ------------------------------------
@pytest.fixture(scope="session")
def jobs_shared_app():
    return make_app()


@pytest.fixture
def japp(jobs_shared_app):
    emulator_of(jobs_shared_app).reset()
    return jobs_shared_app


@pytest.fixture
def jengine(japp):
    return emulator_of(japp).engine


@pytest.fixture
def jclient(japp):
    return japp.test_client()
