# ruff: noqa: F811 - the fixtures are imported from tests.jobs_support
"""event/*: acquire, the three update versions, single updates, counts, statuses and an ES cycle."""

from __future__ import annotations

import json

import pytest

from tests.jobs_support import (  # noqa: F401 - fixtures
    ADDER_DELAY,
    add_ranges,
    create_es_job,
    get,
    japp,
    jclient,
    jengine,
    jobs_shared_app,
    post,
)

TASK = 40000900
JOBSET = 9001


def start(engine, job, status="running"):
    with engine.operation():
        engine.jobs.move(job["PandaID"], "sent")
        if status != "sent":
            engine.jobs.move(job["PandaID"], status)


def acquire(client, job, n_ranges=4, **more):
    return post(
        client,
        "event/acquire_event_ranges",
        {"job_id": job["PandaID"], "jobset_id": JOBSET, "task_id": TASK, "n_ranges": n_ranges, **more},
    )


def ranges_of(engine, owner, status):
    return engine.store.table("event_ranges").ids("by_job_status", (owner, status))


def update_ranges(client, items, version=0):
    return post(client, "event/update_event_ranges", {"event_ranges": json.dumps(items), "version": version})


def test_acquire_moves_ready_ranges_to_the_job(jclient, jengine):
    job = create_es_job(jengine)
    start(jengine, job)
    reply = acquire(jclient, job)
    pid = job["PandaID"]
    assert reply == {
        "success": True,
        "message": "",
        "data": [
            {
                "eventRangeID": f"{TASK}-{pid}-30000000501-{i}-3",
                "startEvent": (i - 1) * 100,
                "lastEvent": i * 100 - 1,
                "LFN": "EVNT.38520099._000001.pool.root.1",
                "GUID": "0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0",
                "scope": "mc23_13p6TeV",
            }
            for i in range(1, 5)
        ],
    }
    assert ranges_of(jengine, pid, "sent") == [f"{TASK}-{pid}-30000000501-{i}-3" for i in range(1, 5)]
    assert ranges_of(jengine, JOBSET, "ready") == [f"{TASK}-{JOBSET}-30000000501-{i}-3" for i in (5, 6)]
    sent = jengine.store.table("event_ranges").get(f"{TASK}-{pid}-30000000501-1-3")
    assert sent["PandaID"] == pid and sent["status"] == "sent" and sent["event_offset"] == JOBSET


def test_acquire_only_for_running_jobs_not_being_killed(jclient, jengine):
    job = create_es_job(jengine)
    assert acquire(jclient, job)["data"] == []  # activated
    start(jengine, job, "sent")
    with jengine.operation():
        jengine.jobs.table.update(job["PandaID"], {"commandToPilot": "tobekilled"})
    assert acquire(jclient, job)["data"] == []
    assert len(ranges_of(jengine, JOBSET, "ready")) == 6
    assert acquire(jclient, {"PandaID": 1})["data"] == []


def test_last_ranges_close_the_unused_consumers_of_the_jobset(jclient, jengine):
    job = create_es_job(jengine, n_ranges=5)
    spare = create_es_job(jengine, n_ranges=0)
    started = create_es_job(jengine, n_ranges=0)
    start(jengine, job)
    start(jengine, started)
    assert len(acquire(jclient, job, n_ranges=4)["data"]) == 4
    assert jengine.jobs.get(spare["PandaID"])["jobStatus"] == "activated"
    assert len(acquire(jclient, job, n_ranges=4)["data"]) == 1
    closed = jengine.jobs.get(spare["PandaID"])
    assert (closed["jobStatus"], closed["jobSubStatus"], closed["taskBufferErrorCode"]) == ("closed", "es_unused", 116)
    assert jengine.jobs.get(started["PandaID"])["jobStatus"] == "running"
    assert acquire(jclient, job)["data"] == []


def test_available_count(jclient, jengine):
    job = create_es_job(jengine)
    add_ranges(jengine, TASK, JOBSET, 2, file_id=30000000502, attempt=0)  # no attempts left
    params = {"job_id": job["PandaID"], "jobset_id": JOBSET, "task_id": TASK}
    assert get(jclient, "event/get_available_event_range_count", params) == {"success": True, "message": "", "data": 6}
    start(jengine, job)
    acquire(jclient, job, n_ranges=2)
    assert get(jclient, "event/get_available_event_range_count", params)["data"] == 4
    reply = get(jclient, "event/get_available_event_range_count", params, {"X-Pandamock-Identity": "jdoe"})
    assert reply["message"] == "production or pilot role required"


def test_update_version_0(jclient, jengine):
    job = create_es_job(jengine, n_ranges=8)
    start(jengine, job)
    ids = [item["eventRangeID"] for item in acquire(jclient, job, n_ranges=7)["data"]]
    pid = job["PandaID"]
    reply = update_ranges(
        jclient,
        [
            {"eventRangeID": ids[0], "eventStatus": "finished", "objstoreID": 1521, "pathConvention": 1000},
            {"eventRangeID": ids[1], "eventStatus": "failed", "errorCode": 1220, "errorDiag": "payload crashed"},
            {"eventRangeID": ids[2], "eventStatus": "fatal", "errorCode": 1305},
            {"eventRangeID": ids[3], "eventStatus": "running"},
            {"eventRangeID": ids[4], "eventStatus": "transferring"},
            {"eventRangeID": ids[5], "eventStatus": "done"},
            {"eventRangeID": "not-a-range", "eventStatus": "finished"},
            {"eventRangeID": ids[6]},
            {"eventStatus": "finished"},
            {"eventRangeID": f"{TASK}-6999999999-30000000501-1-3", "eventStatus": "finished"},
        ],
    )
    assert reply == {
        "success": True,
        "message": "",
        "data": {
            "StatusCode": 0,
            "Returns": [True, True, True, None, None, False, False, False, False, False],
            "Commands": {str(pid): None, "6999999999": "tobekilled"},
        },
    }
    table = jengine.store.table("event_ranges")
    finished = table.get(ids[0])
    assert (finished["status"], finished["objstore_ID"], finished["path_convention"]) == ("finished", 1521, 1000)
    failed = table.get(ids[1])
    assert (failed["status"], failed["error_code"], failed["error_diag"]) == ("failed", 1220, "payload crashed")
    assert table.get(ids[2]) is None
    fatal = table.get(f"{TASK}-{pid}-30000000501-3-1")
    assert (fatal["status"], fatal["attemptNr"], fatal["error_code"]) == ("failed", 1, 1305)
    assert table.get(ids[3])["status"] == "sent" and table.get(ids[4])["status"] == "sent"
    assert jengine.jobs.get(pid)["nEvents"] == 1


def test_update_needs_a_job_in_a_running_status(jclient, jengine):
    job = create_es_job(jengine)
    start(jengine, job)
    ids = [item["eventRangeID"] for item in acquire(jclient, job, n_ranges=2)["data"]]
    with jengine.operation():
        jengine.jobs.move(job["PandaID"], "holding")
    reply = update_ranges(jclient, [{"eventRangeID": ids[0], "eventStatus": "finished"}])
    assert reply["data"]["Returns"] == [False]
    assert jengine.store.table("event_ranges").get(ids[0])["status"] == "sent"


def test_update_version_1_registers_zip_files(jclient, jengine):
    job = create_es_job(jengine, eventService=4)
    start(jengine, job)
    ids = [item["eventRangeID"] for item in acquire(jclient, job, n_ranges=3)["data"]]
    chunk = {
        "zipFile": {
            "lfn": "EventService_premerge_01.tar",
            "objstoreID": 1521,
            "fsize": 123456,
            "adler32": "0badf00d",
            "numEvents": 3,
        },
        "eventRanges": [{"eventRangeID": range_id, "eventStatus": "finished"} for range_id in ids],
    }
    reply = update_ranges(jclient, [chunk], version=1)
    assert reply["data"]["Returns"] == [True, True, True]
    files = [f for f in jengine.jobs.get(job["PandaID"])["Files"] if f["type"] == "zipoutput"]
    assert len(files) == 1
    zip_file = files[0]
    assert (zip_file["lfn"], zip_file["fsize"], zip_file["checksum"], zip_file["destinationSE"]) == (
        "EventService_premerge_01.tar",
        123456,
        "ad:0badf00d",
        1521,
    )
    assert {jengine.store.table("event_ranges").get(i)["zipRow_ID"] for i in ids} == {zip_file["row_ID"]}


def test_update_version_2_before_dispatch(jclient, jengine):
    job = create_es_job(jengine, eventService=6)
    ready_id = f"{TASK}-{JOBSET}-30000000501-1-3"
    assert update_ranges(jclient, [{"eventRangeID": ready_id, "eventStatus": "finished"}], version=0)["data"][
        "Returns"
    ] == [False]
    reply = update_ranges(jclient, [{"eventRangeID": ready_id, "eventStatus": "finished"}], version=2)
    assert reply["data"] == {"StatusCode": 0, "Returns": [True], "Commands": {str(JOBSET): None}}
    assert jengine.store.table("event_ranges").get(ready_id)["status"] == "finished"
    assert job["jobStatus"] == "activated"


def test_update_with_bad_json(jclient, jengine):
    reply = post(jclient, "event/update_event_ranges", {"event_ranges": "[{"})
    assert reply == {"success": False, "message": "ERROR : failed to convert eventRanges with json", "data": None}
    # panda-client sends the list itself: accepted as well
    reply = post(
        jclient, "event/update_event_ranges", {"event_ranges": [{"eventRangeID": "1-2-3-4-5", "eventStatus": "x"}]}
    )
    assert reply["data"] == {"StatusCode": 0, "Returns": [False], "Commands": {}}
    reply = post(jclient, "event/update_event_ranges", {"event_ranges": {"a": 1}})
    assert reply["message"] == "Type error: 'event_ranges' must be of type Union, got dict."


def test_update_single_event_range(jclient, jengine):
    job = create_es_job(jengine)
    start(jengine, job)
    ids = [item["eventRangeID"] for item in acquire(jclient, job, n_ranges=2)["data"]]
    reply = post(
        jclient,
        "event/update_single_event_range",
        {"event_range_id": ids[0], "event_range_status": "finished", "core_count": 1, "cpu_consumption_time": 12.5},
    )
    assert reply == {"success": True, "message": "", "data": {"Command": json.dumps({str(job["PandaID"]): None})}}
    running = post(
        jclient, "event/update_single_event_range", {"event_range_id": ids[1], "event_range_status": "running"}
    )
    assert running == {"success": None, "message": "", "data": {"Command": "{}"}}
    bad = post(jclient, "event/update_single_event_range", {"event_range_id": "x", "event_range_status": "finished"})
    assert bad == {"success": False, "message": "database error in the PanDA server", "data": None}
    with_store = post(
        jclient,
        "event/update_single_event_range",
        {"event_range_id": ids[1], "event_range_status": "failed", "object_store_id": 1521},
    )
    assert with_store["success"] is True
    assert jengine.store.table("event_ranges").get(ids[1])["objstore_ID"] == 1521
    typed = post(
        jclient,
        "event/update_single_event_range",
        {"event_range_id": ids[1], "event_range_status": "failed", "cpu_consumption_time": 12},
    )
    assert typed["message"] == "Type error: 'cpu_consumption_time' must be of type float, got int."


@pytest.mark.parametrize(
    "value",
    [
        json.dumps([{"task_id": TASK, "panda_id": "{pid}"}]),
        "{{'task_id': {task}, 'panda_id': {pid}}}",
        json.dumps([{"task_id": TASK, "job_id": "{pid}"}]),
    ],
)
def test_event_range_statuses(jclient, jengine, value):
    job = create_es_job(jengine)
    start(jengine, job)
    pid = job["PandaID"]
    ids = [item["eventRangeID"] for item in acquire(jclient, job, n_ranges=2)["data"]]
    update_ranges(jclient, [{"eventRangeID": ids[0], "eventStatus": "failed", "errorCode": 7, "errorDiag": "oops"}])
    text = value.replace('"{pid}"', str(pid)).replace("{pid}", str(pid)).replace("{task}", str(TASK))
    text = text.replace("{{", "{").replace("}}", "}")
    reply = get(jclient, "event/get_event_range_statuses", {"job_task_ids": text})
    assert reply == {
        "success": True,
        "message": "",
        "data": {
            str(pid): {
                ids[0]: {"status": "failed", "error": 7, "dialog": "oops"},
                ids[1]: {"status": "sent", "error": None, "dialog": None},
            }
        },
    }


def test_event_range_statuses_repeated_keys_and_errors(jclient, jengine):
    first = create_es_job(jengine)
    second = create_es_job(jengine, n_ranges=0)
    items = [f"{{'task_id': {TASK}, 'panda_id': {job['PandaID']}}}" for job in (first, second)]
    reply = get(jclient, "event/get_event_range_statuses", {"job_task_ids": items})
    assert reply["data"] == {str(first["PandaID"]): {}, str(second["PandaID"]): {}}
    for bad in ("not json", json.dumps([{"task_id": 1}]), json.dumps([5])):
        assert get(jclient, "event/get_event_range_statuses", {"job_task_ids": bad}) == {
            "success": False,
            "message": "database error in the PanDA server",
            "data": None,
        }


def test_event_service_cycle_through_http(jclient, jengine):
    job = create_es_job(jengine, n_ranges=3)
    dispatched = post(jclient, "pilot/acquire_jobs", {"site_name": "DESY-HH_ES", "node": "wn01.desy.de"})
    data = dispatched["data"]["jobs"][0]
    assert data["PandaID"] == job["PandaID"] and data["eventService"] == "True" and data["jobsetID"] == JOBSET
    pid = job["PandaID"]
    for status in ("starting", "running"):
        assert post(jclient, "pilot/update_job", {"job_id": pid, "job_status": status})["data"]["command"] == "NULL"
    processed = []
    while True:
        ranges = acquire(jclient, job, n_ranges=2)["data"]
        if not ranges:
            break
        report = [{"eventRangeID": item["eventRangeID"], "eventStatus": "finished"} for item in ranges]
        assert update_ranges(jclient, report)["data"]["Returns"] == [True] * len(ranges)
        processed.extend(item["eventRangeID"] for item in ranges)
    assert len(processed) == 3 and len(set(processed)) == 3
    assert jengine.jobs.get(pid)["nEvents"] == 3
    post(jclient, "pilot/update_job", {"job_id": pid, "job_status": "finished", "n_events": 3})
    jengine.clock.advance(ADDER_DELAY)
    statuses = get(
        jclient, "event/get_event_range_statuses", {"job_task_ids": json.dumps([{"task_id": TASK, "panda_id": pid}])}
    )
    assert {item["status"] for item in statuses["data"][str(pid)].values()} == {"finished"}
    assert jengine.jobs.get(pid)["jobStatus"] == "finished"
