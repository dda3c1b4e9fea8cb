"""The pilot-fleet simulator (pandamock simulate) against a live emulator."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from pandamock.app import emulator_of
from pandamock.cli import main
from pandamock.server import MockServer
from pandamock.simulate import FAILURES, Fleet, format_summary
from tests.jobs_support import add_ranges, create, make_app


@pytest.fixture
def world():
    app = make_app()
    engine = emulator_of(app).engine
    with MockServer(app, port=0) as server:
        yield server, engine


def test_fleet_runs_every_job_once_with_failures(world):
    server, engine = world
    ids = [create(engine, currentPriority=i % 7)["PandaID"] for i in range(60)]
    result = Fleet(server.url, pilots=6, queue="BNL_PROD_MCORE", failure_rate=0.3, seed=7).run()
    assert result.errors == [] and result.http_errors == 0
    assert result.jobs_acquired == 60 and result.jobs_finished + result.jobs_failed == 60
    assert 5 <= result.jobs_failed <= 35
    assert sum(result.failures.values()) == result.jobs_failed
    assert set(result.failures) <= {reason for reason, _, _ in FAILURES}
    # 60 jobs × (starting + 2 heartbeats + final) updates, 60 acquisitions + 6 empty ones
    assert len(result.latencies["pilot/update_job"]) == 240
    assert len(result.latencies["pilot/acquire_jobs"]) == 66
    jobs = [engine.jobs.get(panda_id) for panda_id in ids]
    assert {job["jobStatus"] for job in jobs} == {"holding"}  # the adder's delay has not passed
    failed = [job for job in jobs if job["pilotErrorCode"]]
    assert len(failed) == result.jobs_failed
    assert {job["pilotErrorCode"] for job in failed} <= {code for _, code, _ in FAILURES}
    assert all(job["maxRSS"] > 0 and job["cpuConsumptionTime"] > 0 and job["endTime"] for job in jobs)
    summary = format_summary(result)
    assert "jobs run        60" in summary and "pilot/update_job" in summary and "p99 ms" in summary


def test_fleet_event_service(world):
    server, engine = world
    for _ in range(3):
        create(engine, computingSite="DESY-HH_ES", eventService=1, jobsetID=9001, jediTaskID=40000900, coreCount=1)
    add_ranges(engine, 40000900, 9001, 50)
    result = Fleet(server.url, pilots=3, queue="DESY-HH_ES", event_service=True, n_ranges=4).run()
    assert result.ranges_processed == 50 and result.errors == []
    table = engine.store.table("event_ranges")
    assert table.count("by_status", "finished") == 50


def test_fleet_job_limit_and_duration(world):
    server, engine = world
    for i in range(20):
        create(engine, currentPriority=i)
    result = Fleet(server.url, pilots=4, queue="BNL_PROD_MCORE", jobs=5, heartbeats=0).run()
    assert result.jobs_finished == 5
    assert engine.store.table("jobs").count("dispatch", ("BNL_PROD_MCORE", "activated")) == 15
    result = Fleet(server.url, pilots=2, queue="ANALY_MWT2_UCORE", duration=0.3, idle_sleep=0.05).run()
    assert result.jobs_acquired == 0 and result.elapsed >= 0.3
    assert len(result.latencies["pilot/acquire_jobs"]) >= 2


def test_fleet_reports_killed_jobs(world):
    server, engine = world
    job = create(engine)
    fleet = Fleet(server.url, pilots=1, queue="BNL_PROD_MCORE")
    # the server sets tobekilled while the pilot runs: kill right after dispatch
    original = fleet._acquire

    def acquire_then_kill(session, node):
        acquired = original(session, node)
        if acquired is not None:
            engine.jobs.kill([acquired["PandaID"]], "ops", None, True)
        return acquired

    fleet._acquire = acquire_then_kill
    result = fleet.run()
    assert result.failures == {"killed by server": 1}
    # the kill cancelled the sent job at once; the pilot's reports find it archived
    assert engine.jobs.get(job["PandaID"])["jobStatus"] == "cancelled"


def test_simulate_command(world):
    server, engine = world
    for i in range(10):
        create(engine, currentPriority=i)
    runner = CliRunner()
    done = runner.invoke(
        main,
        [
            "simulate",
            "--url",
            server.url,
            "--pilots",
            "3",
            "--queue",
            "BNL_PROD_MCORE",
            "--failure-rate",
            "0",
            "--json",
        ],
    )
    assert done.exit_code == 0, done.output
    summary = json.loads(done.output)
    assert summary["jobs_finished"] == 10 and summary["jobs_failed"] == 0
    assert set(summary["endpoints"]) == {"pilot/acquire_jobs", "pilot/update_job"}
    text = runner.invoke(
        main, ["simulate", "--url", server.url, "--pilots", "1", "--queue", "BNL_PROD_MCORE", "--quiet"]
    )
    assert text.exit_code == 0 and "jobs run        0" in text.output


def test_simulate_command_unreachable_server():
    done = CliRunner().invoke(main, ["simulate", "--url", "http://127.0.0.1:9", "--queue", "Q", "--quiet"])
    assert done.exit_code == 1
    assert "error: pilot 0: HttpError" in done.output
