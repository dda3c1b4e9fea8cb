# ruff: noqa: F811 - the fixtures are imported from tests.jobs_support
"""pilot/acquire_jobs and pilot/get_job_status: dispatch rules, the job dictionary, the pilot's view."""

from __future__ import annotations

import pytest

from tests.jobs_support import (  # noqa: F401 - fixtures
    AS_HIGGS,
    AS_JDOE,
    JDOE_DN,
    create,
    get,
    japp,
    jclient,
    jengine,
    jobs_shared_app,
    post,
)

#: Keys of Appendix A every job dictionary has (the conditional ones are tested separately).
ALWAYS = [
    "StatusCode",
    "PandaID",
    "prodSourceLabel",
    "swRelease",
    "homepackage",
    "transformation",
    "jobName",
    "jobDefinitionID",
    "cloud",
    "inFiles",
    "dispatchDblock",
    "dispatchDBlockToken",
    "dispatchDBlockTokenForOut",
    "outFiles",
    "destinationDblock",
    "destinationDBlockToken",
    "prodDBlocks",
    "prodDBlockToken",
    "realDatasets",
    "realDatasetsIn",
    "fileDestinationSE",
    "logFile",
    "logGUID",
    "jobPars",
    "attemptNr",
    "GUID",
    "checksum",
    "fsize",
    "scopeIn",
    "scopeOut",
    "scopeLog",
    "ddmEndPointIn",
    "ddmEndPointOut",
    "destinationSE",
    "prodUserID",
    "maxCpuCount",
    "minRamCount",
    "maxDiskCount",
    "cmtConfig",
    "processingType",
    "transferType",
    "sourceSite",
    "currentPriority",
    "taskID",
    "coreCount",
    "jobsetID",
    "reqID",
    "nucleus",
    "maxWalltime",
    "resource_type",
    "ioIntensity",
    "ioIntensityUnit",
    "nSent",
]


def acquire(client, headers=None, **params):
    payload = {"site_name": "BNL_PROD_MCORE", "node": "wn042.bnl.gov", **params}
    return post(client, "pilot/acquire_jobs", payload, headers)


def test_dispatch_takes_the_highest_priority_and_moves_it_to_sent(jclient, jengine):
    low = create(jengine, currentPriority=500)
    high = create(jengine, currentPriority=950)
    same = create(jengine, currentPriority=950)
    reply = acquire(
        jclient, n_jobs=2, computing_element="gridgk01.racf.bnl.gov", scheduler_id="harvester-CERN_central_A"
    )
    assert reply["success"] is True and reply["message"] == ""
    data = reply["data"]
    assert data["StatusCode"] == 0
    assert [job["PandaID"] for job in data["jobs"]] == [high["PandaID"], same["PandaID"]]
    for panda_id in (high["PandaID"], same["PandaID"]):
        job = jengine.jobs.get(panda_id)
        assert job["jobStatus"] == "sent"
        assert job["modificationHost"] == "wn042.bnl.gov"
        assert job["computingElement"] == "gridgk01.racf.bnl.gov"
        assert job["schedulerID"] == "harvester-CERN_central_A"
        assert job["startTime"] == jengine.now()
        assert job["stateChangeTime"] == jengine.now()
    assert jengine.jobs.get(low["PandaID"])["jobStatus"] == "activated"


def test_job_dictionary_has_appendix_a_shape(jclient, jengine):
    job = create(jengine)
    data = acquire(jclient)["data"]["jobs"][0]
    assert list(data) == ALWAYS
    assert data["PandaID"] == job["PandaID"]
    assert data["inFiles"] == "EVNT.38520012._000001.pool.root.1,EVNT.38520012._000002.pool.root.1"
    assert data["GUID"] == "8D1C6E4A-1F2B-4C3D-9E8F-000000000001,8D1C6E4A-1F2B-4C3D-9E8F-000000000002"
    assert data["fsize"] == "1048576,2097152"
    assert data["checksum"] == "ad:0a1b2c01,ad:0a1b2c02"
    assert data["scopeIn"] == "mc23_13p6TeV,mc23_13p6TeV"
    assert data["dispatchDBlockToken"] == "NULL,NULL"
    assert data["outFiles"] == "HITS.40000123._0001.pool.root.1,log.40000123._0001.job.log.tgz.1"
    assert data["logFile"] == "log.40000123._0001.job.log.tgz.1"
    assert data["logGUID"] == "C3D4E5F6-0718-293A-4B5C-000000000001"
    assert data["scopeOut"] == "mc23_13p6TeV" and data["scopeLog"] == "mc23_13p6TeV"
    assert data["destinationDBlockToken"] == "ATLASDATADISK,ATLASDATADISK"
    assert data["ddmEndPointIn"] == "BNL-OSG2_DATADISK,BNL-OSG2_DATADISK"
    assert data["ddmEndPointOut"] == "BNL-OSG2_DATADISK,BNL-OSG2_DATADISK"
    assert data["jobPars"] == job["jobParameters"]
    assert data["swRelease"] == "Atlas-23.0.53" and data["homepackage"] == "Athena/23.0.53"
    assert data["taskID"] == 40000123  # lockedby jedi: the JEDI task
    assert data["coreCount"] == 8 and data["minRamCount"] == 16000 and data["maxWalltime"] == 43200
    assert data["resource_type"] == "MCORE"  # 8 cores, 2000 MB per core
    assert data["cloud"] == "US"
    assert data["nSent"] == 1


def test_conditional_job_dictionary_keys(jclient, jengine):
    create(
        jengine,
        specialHandling="debug,lc,po,nc,up",
        container_name="docker://atlas/athena:23.0.53",
        eventService=1,
    )
    data = acquire(jclient)["data"]["jobs"][0]
    assert data["debug"] == "True"
    assert data["loopingCheck"] is False
    assert data["putLogToOS"] == "True"
    assert data["noExecStrCnv"] == "True"
    assert data["usePrefetcher"] == "True"
    assert data["container_name"] == "docker://atlas/athena:23.0.53"
    assert data["eventService"] == "True"
    assert data["prodDBlockTokenForOutput"] == "NULL,NULL"


def test_multi_step_job_parameters_are_split(jclient, jengine):
    create(jengine, jobParameters='setup.sh<MULTI_STEP_EXEC>{"preprocess": {"command": "pre.sh"}}</MULTI_STEP_EXEC>')
    data = acquire(jclient)["data"]["jobs"][0]
    assert data["jobPars"] == "setup.sh"
    assert data["preprocess"] == {"command": "pre.sh"}


def test_no_jobs(jclient, jengine):
    assert acquire(jclient) == {"success": False, "message": "No jobs in PanDA", "data": None}
    assert acquire(jclient, site_name="NO_SUCH_QUEUE") == {
        "success": False,
        "message": "No jobs in PanDA",
        "data": None,
    }


def test_n_jobs_null_is_a_type_error_and_the_engine_answers_the_single_job_form(jclient, jengine):
    job = create(jengine)
    assert acquire(jclient, n_jobs=None)["message"] == "Type error: 'n_jobs' must be of type int, got NoneType."
    data = jengine.jobs.acquire("BNL_PROD_MCORE", production=True, dn="", n_jobs=None)
    assert data["PandaID"] == job["PandaID"] and "jobs" not in data


def test_filters_memory_disk_resource_type_and_task(jclient, jengine):
    big = create(jengine, minRamCount=32000, maxDiskCount=10, currentPriority=999)
    fat_disk = create(jengine, minRamCount=1000, maxDiskCount=90000, currentPriority=998)
    other_task = create(jengine, jediTaskID=40000999, minRamCount=0, currentPriority=997)
    fits = create(jengine, minRamCount=0, maxDiskCount=0, currentPriority=100)
    reply = acquire(jclient, memory=16000, disk_space=50000, task_id=40000123)
    assert [job["PandaID"] for job in reply["data"]["jobs"]] == [fits["PandaID"]]
    assert acquire(jclient, memory=16000, disk_space=50000, task_id=40000123)["message"] == "No jobs in PanDA"
    assert acquire(jclient, resource_type="SCORE")["message"] == "No jobs in PanDA"
    assert acquire(jclient, resource_type="MCORE_HIMEM")["data"]["jobs"][0]["PandaID"] == big["PandaID"]
    assert jengine.jobs.get(fat_disk["PandaID"])["jobStatus"] == "activated"
    assert jengine.jobs.get(other_task["PandaID"])["jobStatus"] == "activated"


def test_negative_memory_counts_as_no_limit(jclient, jengine):
    job = create(jengine, minRamCount=64000)
    assert acquire(jclient, memory=-5)["data"]["jobs"][0]["PandaID"] == job["PandaID"]


def test_prod_source_label_rules(jclient, jengine):
    managed = create(jengine, prodSourceLabel="managed", currentPriority=10)
    test = create(jengine, prodSourceLabel="test", currentPriority=20)
    user = create(jengine, prodSourceLabel="user", currentPriority=30)
    panda = create(jengine, prodSourceLabel="panda", currentPriority=40)
    ptest = create(jengine, prodSourceLabel="ptest", currentPriority=50)
    default = acquire(jclient, n_jobs=10)["data"]["jobs"]
    assert [job["PandaID"] for job in default] == [ptest["PandaID"], test["PandaID"], managed["PandaID"]]
    users = acquire(jclient, n_jobs=10, prod_source_label="user")["data"]["jobs"]
    assert [job["PandaID"] for job in users] == [panda["PandaID"], user["PandaID"]]


def test_non_production_caller_gets_only_its_own_user_jobs(jclient, jengine):
    mine = create(jengine, prodSourceLabel="user", prodUserID=JDOE_DN, currentPriority=10)
    create(jengine, prodSourceLabel="user", currentPriority=99)  # the pilot robot's own user job
    refused = acquire(jclient, headers=AS_JDOE)
    assert refused == {
        "success": False,
        "message": "no production/pilot role in VOMS FQANs or non pilot owner",
        "data": None,
    }
    # prod_user_id is forced to the caller: asking for someone else's jobs still gets one's own
    reply = acquire(jclient, headers=AS_JDOE, prod_source_label="user", prod_user_id="Somebody Else", n_jobs=5)
    assert [job["PandaID"] for job in reply["data"]["jobs"]] == [mine["PandaID"]]
    # a working-group production role is no production role either
    assert acquire(jclient, headers=AS_HIGGS)["message"] == "no production/pilot role in VOMS FQANs or non pilot owner"


def test_queue_status_test_turns_labels_into_test(jclient, jengine):
    managed = create(jengine, computingSite="UKI-LT2-QMUL_TEST", prodSourceLabel="managed", currentPriority=99)
    test = create(jengine, computingSite="UKI-LT2-QMUL_TEST", prodSourceLabel="test", currentPriority=1)
    reply = acquire(jclient, site_name="UKI-LT2-QMUL_TEST", prod_source_label="managed", n_jobs=5)
    assert [job["PandaID"] for job in reply["data"]["jobs"]] == [test["PandaID"]]
    assert jengine.jobs.get(managed["PandaID"])["jobStatus"] == "activated"


def test_offline_queue_gets_nothing_and_brokeroff_still_dispatches(jclient, jengine):
    offline = create(jengine, computingSite="IN2P3-CC_OFFLINE")
    brokeroff = create(jengine, computingSite="TOKYO_BROKEROFF")
    assert acquire(jclient, site_name="IN2P3-CC_OFFLINE")["message"] == "No jobs in PanDA"
    assert jengine.jobs.get(offline["PandaID"])["jobStatus"] == "activated"
    assert acquire(jclient, site_name="TOKYO_BROKEROFF")["data"]["jobs"][0]["PandaID"] == brokeroff["PandaID"]


def test_jobs_with_a_pending_command_are_not_dispatched(jclient, jengine):
    job = create(jengine)
    with jengine.operation():
        jengine.jobs.table.update(job["PandaID"], {"commandToPilot": "tobekilled"})
    assert acquire(jclient)["message"] == "No jobs in PanDA"


def test_unified_queue_job_type(jclient, jengine):
    user = create(jengine, computingSite="CERN-PROD_UCORE", prodSourceLabel="user", currentPriority=5)
    managed = create(jengine, computingSite="CERN-PROD_UCORE", prodSourceLabel="managed", currentPriority=1)
    reply = acquire(jclient, site_name="CERN-PROD_UCORE", prod_source_label="unified", job_type="managed", n_jobs=5)
    assert [job["PandaID"] for job in reply["data"]["jobs"]] == [managed["PandaID"]]
    reply = acquire(jclient, site_name="CERN-PROD_UCORE", prod_source_label="unified", n_jobs=5)
    assert [job["PandaID"] for job in reply["data"]["jobs"]] == [user["PandaID"]]


def test_harvester_worker_link_is_recorded(jclient, jengine):
    job = create(jengine)
    acquire(jclient, harvester_id="CERN_central_A", worker_id=123456)
    link = jengine.store.table("worker_jobs").get(f"CERN_central_A:123456:{job['PandaID']}")
    assert link == {
        "link_key": f"CERN_central_A:123456:{job['PandaID']}",
        "harvesterID": "CERN_central_A",
        "workerID": 123456,
        "PandaID": job["PandaID"],
        "lastUpdate": jengine.now(),
    }


def test_proxy_key_only_for_production_role(jclient, jengine):
    create(jengine)
    data = acquire(jclient, get_proxy_key="True")["data"]["jobs"][0]
    assert data["credname"] == "" and data["myproxy"] == ""
    reply = acquire(jclient, get_proxy_key=True)
    assert reply["message"] == "Type error: 'get_proxy_key' must be of type str, got bool."


def test_bad_site_name_type(jclient, jengine):
    reply = post(jclient, "pilot/acquire_jobs", {"site_name": 5})
    assert reply == {"success": False, "message": "Type error: 'site_name' must be of type str, got int.", "data": None}


def test_pilot_get_job_status(jclient, jengine):
    activated = create(jengine)
    defined = create(jengine, status="defined")
    with jengine.operation():
        jengine.jobs.move(activated["PandaID"], "sent")
    reply = get(jclient, "pilot/get_job_status", {"job_ids": [activated["PandaID"], defined["PandaID"], 42]})
    assert reply == {
        "success": True,
        "message": "",
        "data": [
            {"job_id": activated["PandaID"], "status": "sent", "attempt_number": 1},
            {"job_id": defined["PandaID"], "status": "not found", "attempt_number": 0},
            {"job_id": 42, "status": "not found", "attempt_number": 0},
        ],
    }


def test_pilot_get_job_status_is_get_only(jclient, jengine):
    reply = post(jclient, "pilot/get_job_status", {"job_ids": [1]})
    assert reply["message"] == "expecting GET, received POST"


@pytest.mark.parametrize("n_jobs", [1, 3])
def test_dispatch_never_returns_a_job_twice(jclient, jengine, n_jobs):
    created = {create(jengine, currentPriority=i)["PandaID"] for i in range(7)}
    seen = []
    while True:
        reply = acquire(jclient, n_jobs=n_jobs)
        if not reply["success"]:
            break
        seen.extend(job["PandaID"] for job in reply["data"]["jobs"])
    assert sorted(seen) == sorted(created)
    assert jengine.store.table("jobs").count("dispatch", ("BNL_PROD_MCORE", "activated")) == 0
