# ruff: noqa: F811 - the fixtures are imported from tests.jobs_support
"""statistics/*: aggregations of the live job state in the real shapes."""

from __future__ import annotations

import pytest

from tests.jobs_support import create, get, japp, jclient, jengine, job_values, jobs_shared_app  # noqa: F401

EMPTY = {"success": False, "message": "Database failure getting the job statistics", "data": {}}


def move(engine, job, *steps):
    with engine.operation():
        for step in steps:
            engine.jobs.move(job["PandaID"], step)


@pytest.fixture
def world(jengine):
    """BNL: 2 activated MCORE simul, 1 running SCORE evgen, 1 finished 13 h ago, 1 failed 1 h ago;
    ANALY_MWT2: 1 user job running, 1 merging; DESY: 1 defined."""
    create(jengine)
    create(jengine)
    running = create(jengine, coreCount=1, minRamCount=2000, processingType="evgen", gshare="MC Event Generation")
    move(jengine, running, "sent", "running")
    old = create(jengine)
    move(jengine, old, "sent", "running", "holding", "finished")
    jengine.clock.advance(12 * 3600)
    recent = create(jengine)
    move(jengine, recent, "sent", "running", "holding", "failed")
    jengine.clock.advance(3600)
    user = create(
        jengine,
        computingSite="ANALY_MWT2_UCORE",
        prodSourceLabel="user",
        coreCount=1,
        minRamCount=1000,
        processingType="panda-client-1.5.0-jedi-run",
        gshare="User Analysis",
    )
    move(jengine, user, "sent", "running")
    merging = create(
        jengine,
        computingSite="ANALY_MWT2_UCORE",
        prodSourceLabel="user",
        coreCount=1,
        minRamCount=1000,
        gshare="User Analysis",
    )
    move(jengine, merging, "sent", "running", "holding", "merging")
    jengine.jobs.create_jobs([job_values(computingSite="DESY-HH_ES")], status="defined", activate_after=None)
    return jengine


def test_empty_state_is_a_failure(jclient, jengine):
    for endpoint in (
        "job_stats_by_cloud",
        "production_job_stats_by_cloud_and_processing_type",
        "active_job_stats_by_site",
        "job_stats_by_site_and_resource_type",
        "job_stats_by_site_share_and_resource_type",
    ):
        assert get(jclient, f"statistics/{endpoint}") == EMPTY
    assert get(jclient, "statistics/active_job_detailed_stats_by_site") == {
        "success": False,
        "message": "Database failure getting the job statistics with resource_type and prodsourcelabel",
        "data": {},
    }


def test_active_job_stats_by_site(jclient, world):
    assert get(jclient, "statistics/active_job_stats_by_site") == {
        "success": True,
        "message": "",
        "data": {
            "BNL_PROD_MCORE": {"activated": 2, "running": 1, "assigned": 0},
            "ANALY_MWT2_UCORE": {"running": 1, "assigned": 0, "activated": 0},
            "DESY-HH_ES": {"defined": 1, "assigned": 0, "activated": 0, "running": 0},
        },
    }


def test_active_job_detailed_stats_by_site(jclient, world):
    assert get(jclient, "statistics/active_job_detailed_stats_by_site")["data"] == {
        "BNL_PROD_MCORE": {"MCORE": {"managed": {"activated": 2}}, "SCORE": {"managed": {"running": 1}}},
        "ANALY_MWT2_UCORE": {"SCORE": {"user": {"running": 1}}},
        "DESY-HH_ES": {"MCORE": {"managed": {"defined": 1}}},
    }


def test_job_stats_by_site_and_resource_type(jclient, world):
    data = get(jclient, "statistics/job_stats_by_site_and_resource_type")["data"]
    zero = {"assigned": 0, "activated": 0, "running": 0, "finished": 0, "failed": 0}
    assert data == {
        "BNL_PROD_MCORE": {
            "MCORE": dict(zero, activated=2, failed=1),
            "SCORE": dict(zero, running=1),
        },
        "ANALY_MWT2_UCORE": {"SCORE": dict(zero, running=1, merging=1)},
        "DESY-HH_ES": {"MCORE": dict(zero, defined=1)},
    }
    # a 14-hour window also counts the job that finished 13 hours ago
    wide = get(jclient, "statistics/job_stats_by_site_and_resource_type", {"time_window": 14 * 60})["data"]
    assert wide["BNL_PROD_MCORE"]["MCORE"]["finished"] == 1
    narrow = get(jclient, "statistics/job_stats_by_site_and_resource_type", {"time_window": 30})["data"]
    assert narrow["BNL_PROD_MCORE"]["MCORE"]["failed"] == 0


@pytest.mark.parametrize("window", [-1, 10081])
def test_time_window_bounds(jclient, world, window):
    for endpoint in ("job_stats_by_site_and_resource_type", "job_stats_by_site_share_and_resource_type"):
        assert get(jclient, f"statistics/{endpoint}", {"time_window": window}) == {
            "success": False,
            "message": 'Parameter "time_window" needs to be a positive integer smaller than 10080 min (7 days)',
            "data": {},
        }


def test_job_stats_by_site_share_and_resource_type(jclient, world):
    data = get(jclient, "statistics/job_stats_by_site_share_and_resource_type")["data"]
    zero = {"assigned": 0, "activated": 0, "running": 0, "finished": 0, "failed": 0}
    assert data == {
        "BNL_PROD_MCORE": {"managed": {"MCORE": dict(zero, activated=2, failed=1), "SCORE": dict(zero, running=1)}},
        "ANALY_MWT2_UCORE": {"user": {"SCORE": dict(zero, running=1, merging=1)}},
        "DESY-HH_ES": {"managed": {"MCORE": dict(zero, defined=1)}},
    }


def test_job_stats_by_cloud(jclient, world):
    assert get(jclient, "statistics/job_stats_by_cloud")["data"] == {
        "US": {"activated": 2, "running": 1, "failed": 1},
        "DE": {"defined": 1},
    }
    assert get(jclient, "statistics/job_stats_by_cloud", {"type": "analysis"})["data"] == {
        "US": {"running": 1, "merging": 1}
    }
    assert get(jclient, "statistics/job_stats_by_cloud", {"type": "everything"}) == {
        "success": False,
        "message": 'Parameter "type" needs to be either "production" or "analysis" ',
        "data": {},
    }


def test_production_job_stats_by_cloud_and_processing_type(jclient, world):
    assert get(jclient, "statistics/production_job_stats_by_cloud_and_processing_type")["data"] == {
        "US": {"simul": {"activated": 2, "failed": 1}, "evgen": {"running": 1}},
        "DE": {"simul": {"defined": 1}},
    }


def test_statistics_need_no_identity(jclient, world):
    response = jclient.get("/api/v1/statistics/active_job_stats_by_site", headers={"Accept": "application/json"})
    assert response.status_code == 200
