"""``/server/panda/*``: the legacy dispatcher, through HTTP in pilot3's own wire format.

Two transports, as pilot3 sends them (pilot3_legacy.md §6): the urllib path (``Content-Type:
application/json``, a gzip body without ``Content-Encoding``, no ``Accept`` header: URL-encoded
answers) and the curl path (a form, ``Accept: application/json``: JSON answers without a
trailing newline).
"""

from __future__ import annotations

import ast
import gzip
import json
from urllib.parse import parse_qs

import pytest

from pandamock.engine.payloads import PAYLOAD_TRANSFORMATION
from tests.helpers import JSON, envelope

QUEUE = "PANDAMOCK_PILOT"
ES_QUEUE = "DESY-HH_ES"
URLLIB_HEADERS = {"Content-Type": "application/json", "User-Agent": "pilot/3.11.5.1 (Python 3.11.7; Linux x86_64)"}


def urllib_post(client, function: str, data: dict):
    """pilot3's request2: gzip-compressed JSON, no Content-Encoding, no Accept header."""
    body = gzip.compress(json.dumps(data).encode())
    return client.post(f"/server/panda/{function}", data=body, headers=URLLIB_HEADERS)


def curl_post(client, function: str, data: dict):
    """pilot3's curl fallback: a form of str() values with Accept: application/json."""
    return client.post(f"/server/panda/{function}", data={key: str(value) for key, value in data.items()}, headers=JSON)


def form_reply(response) -> dict:
    """An URL-encoded legacy answer the way pilot3 reads it (parse_qs, one-element lists unwrapped)."""
    assert response.status_code == 200, response.data
    assert response.headers["Content-Type"] == "text/plain"
    text = response.data.decode()
    assert not text.startswith("{")
    return {key: values[0] if len(values) == 1 else values for key, values in parse_qs(text).items()}


def json_reply(response) -> dict:
    """A JSON legacy answer: starts with { and ends with } (no trailing newline), typed values."""
    assert response.status_code == 200, response.data
    assert response.headers["Content-Type"] == "application/json"
    assert response.data[:1] == b"{" and response.data[-1:] == b"}"
    return json.loads(response.data)


def get_job_request(site: str = QUEUE, **extra) -> dict:
    """getJob as pilot3 3.11.5.1 sends it (§7.1), JSON types kept."""
    data = {
        "siteName": site,
        "computingElement": site,
        "prodSourceLabel": "managed",
        "diskSpace": 30000,
        "workingGroup": "",
        "cpu": 2445.406,
        "mem": 24105.55,
        "node": "wn042.example.org",
        "allowOtherCountry": False,
    }
    data.update(extra)
    return data


def update_request(job: dict, state: str, **extra) -> dict:
    """updateJob as pilot3 sends it (§7.2): string jobId, epoch-float times, extra timestamp."""
    data = {
        "jobId": str(job["PandaID"]),
        "state": state,
        "timestamp": "2026-11-29T14:07:42+00:00",
        "siteName": QUEUE,
        "node": "wn042.example.org",
        "attemptNr": int(job["attemptNr"]),
        "schedulerID": "unknown",
        "pilotID": "unknown|PR|3.11.5.1",
        "startTime": 1795968582.1767259,
        "xml": "",
        "metaData": "",
        "coreCount": 1,
        "meanCoreCount": 1.0,
        "cpuConsumptionUnit": "s+AMD EPYC 7702 64-Core Processor+AVX2",
        "cpu_architecture_level": "x86-64-v3",
    }
    data.update(extra)
    return data


def job_of(engine, panda_id) -> dict:
    return engine.jobs.get(int(panda_id))


# --------------------------------------------------------------------------------------------------
# the full cycle
# --------------------------------------------------------------------------------------------------
def test_full_job_cycle_on_the_urllib_path_then_finished_in_v1(client, engine):
    waiting = engine.store["jobs"].ids("dispatch", (QUEUE, "activated"))
    assert waiting, "the default scenario has payload jobs on the pilot queue"

    reply = form_reply(urllib_post(client, "getJob", get_job_request()))
    assert reply["StatusCode"] == "0"
    panda_id = int(reply["PandaID"])
    assert panda_id in waiting
    assert reply["transformation"] == "http://localhost/trf/user/runpandamock"
    assert reply["jobPars"].startswith("--sleep 5 --exit-code 0 --input ")
    assert reply["nSent"] == "1" and reply["attemptNr"] == "1" and reply["coreCount"] == "1"
    job = job_of(engine, panda_id)
    assert job["jobStatus"] == "sent" and job["modificationHost"] == "wn042.example.org"
    assert job["transformation"] == PAYLOAD_TRANSFORMATION  # stored server-relative

    for state in ("starting", "running"):
        response = urllib_post(client, "updateJob", update_request(job, state))
        assert response.data == b"StatusCode=0&command=NULL"
        assert job_of(engine, panda_id)["jobStatus"] == state
    output, log = [f["lfn"] for f in job["Files"] if f["type"] == "output"] + [reply["logFile"]]
    report = {
        output: {"guid": "", "fsize": 1024, "adler32": "cca62f94", "surl": f"file://localhost/x/{output}"},
        log: {"guid": reply["logGUID"], "fsize": 10971, "adler32": "5498445a", "surl": f"file://localhost/x/{log}"},
    }
    final = update_request(
        job,
        "finished",
        xml=json.dumps(report),
        metaData='{"exitCode": 0}',
        pilotTiming="1|0|5|0|0|0",
        endTime=1795968600.255745,
        pilotErrorCode=0,
        pilotErrorDiag="",
        transExitCode=0,
        exeErrorCode=0,
        exeErrorDiag="",
        cpuConsumptionTime=3,
    )
    response = urllib_post(client, "updateJob", final)
    assert response.data == b"StatusCode=0&command=NULL"
    held = job_of(engine, panda_id)
    assert held["jobStatus"] == "holding"
    assert held["pilotTiming"] == "1|0|5|0|0|0" and held["cpuConsumptionTime"] == 3
    assert held["metadata"] == '{"exitCode": 0}' and held["pilotID"] == "unknown|PR|3.11.5.1"

    before = envelope(client.get(f"/api/v1/job/get_status?job_ids={panda_id}", headers=JSON))
    assert before["data"] == [{"status": "holding", "command": None}]
    engine.clock.advance(engine.delay("job_adder") + 1)
    after = envelope(client.get(f"/api/v1/job/get_status?job_ids={panda_id}", headers=JSON))
    assert after["data"] == [{"status": "finished", "command": None}]
    files = {f["lfn"]: f for f in job_of(engine, panda_id)["Files"]}
    assert (files[output]["fsize"], files[output]["checksum"], files[output]["status"]) == (
        1024,
        "ad:cca62f94",
        "ready",
    )
    assert files[output]["GUID"] == next(f["GUID"] for f in job["Files"] if f["lfn"] == output)  # no guid reported
    assert (files[log]["fsize"], files[log]["checksum"], files[log]["GUID"]) == (10971, "ad:5498445a", reply["logGUID"])


def test_curl_path_answers_json_without_trailing_newline(client, engine):
    response = curl_post(client, "getJob", get_job_request())
    job = json_reply(response)
    assert job["StatusCode"] == 0 and isinstance(job["PandaID"], int)
    assert "jobs" not in job  # the single-job form: pilots never send nJobs
    assert job["transformation"] == "http://localhost/trf/user/runpandamock"
    assert job["prodSourceLabel"] == "managed" and job["coreCount"] == 1
    update = curl_post(client, "updateJob", update_request(job, "running"))
    assert update.data == b'{"StatusCode": 0, "command": "NULL"}'
    assert update.headers["Content-Type"] == "application/json"
    assert job_of(engine, job["PandaID"])["jobStatus"] == "running"


def test_plain_json_body_and_json_booleans(client, engine):
    """A JSON body need not be gzipped (the magic decides); JSON true/false become "True"/"False"."""
    body = json.dumps(get_job_request(getProxyKey=True)).encode()
    response = client.post("/server/panda/getJob", data=body, headers={**URLLIB_HEADERS, **JSON})
    job = json_reply(response)
    assert job["credname"] == "" and job["myproxy"] == ""  # getProxyKey "True" with a production role


def test_bulk_form_only_when_njobs_is_given(client, engine):
    job_list = form_reply(urllib_post(client, "getJob", get_job_request(nJobs=2)))
    jobs = json.loads(job_list["jobs"])  # URL-encoded answers carry the list as a JSON string
    assert job_list["StatusCode"] == "0" and len(jobs) == 2
    assert {job_of(engine, job["PandaID"])["jobStatus"] for job in jobs} == {"sent"}
    assert all(job["transformation"] == "http://localhost/trf/user/runpandamock" for job in jobs)
    as_json = json_reply(curl_post(client, "getJob", get_job_request(nJobs=5)))
    assert as_json["StatusCode"] == 0 and len(as_json["jobs"]) == 1  # the third and last one


def test_no_jobs_is_status_code_20(client, engine):
    for _ in engine.store["jobs"].ids("dispatch", (QUEUE, "activated")):
        assert form_reply(urllib_post(client, "getJob", get_job_request()))["StatusCode"] == "0"
    assert urllib_post(client, "getJob", get_job_request()).data == b"StatusCode=20"
    assert json_reply(curl_post(client, "getJob", get_job_request())) == {
        "StatusCode": 20,
        "errorDialog": "no jobs in PanDA",
    }


def test_dispatch_writes_the_input_replicas(client, engine):
    job = json_reply(curl_post(client, "getJob", get_job_request()))
    from pandamock.engine.payloads import adler32_of, rucio_path

    rse = job["ddmEndPointIn"]
    path = engine.payloads.storage_dir / rse / rucio_path(job["scopeIn"], job["inFiles"])
    data = path.read_bytes()
    assert len(data) == int(job["fsize"]) and adler32_of(data) == job["checksum"]


def test_v1_acquire_jobs_resolves_the_transformation_too(client, engine):
    reply = envelope(client.post("/api/v1/pilot/acquire_jobs", json={"site_name": QUEUE}, headers=JSON))
    (job,) = reply["data"]["jobs"]
    assert job["transformation"] == "http://localhost/trf/user/runpandamock"


def test_trf_url_setting_names_the_script_host():
    from pandamock.app import create_app

    app = create_app({"trf_url": "http://pandaserver-doma.cern.ch:25080/trf/user/"})
    job = json_reply(curl_post(app.test_client(), "getJob", get_job_request()))
    assert job["transformation"] == "http://pandaserver-doma.cern.ch:25080/trf/user/runpandamock"


# --------------------------------------------------------------------------------------------------
# commands and roles
# --------------------------------------------------------------------------------------------------
def test_tobekilled_after_a_v1_kill(client, engine):
    job = json_reply(curl_post(client, "getJob", get_job_request()))
    assert json_reply(curl_post(client, "updateJob", update_request(job, "running")))["command"] == "NULL"
    killed = envelope(client.post("/api/v1/job/kill", json={"job_ids": [job["PandaID"]]}, headers=JSON))
    assert killed["data"] == [True]
    assert job_of(engine, job["PandaID"])["commandToPilot"] == "tobekilled"
    response = urllib_post(client, "updateJob", update_request(job, "running"))
    assert response.data == b"StatusCode=0&command=tobekilled"


def test_debug_mode_through_set_debug_mode_then_update_job(client, engine):
    job = json_reply(curl_post(client, "getJob", get_job_request()))
    response = urllib_post(client, "setDebugMode", {"pandaID": str(job["PandaID"]), "modeOn": True})
    assert response.data == b"Succeeded" and response.headers["Content-Type"] == "text/plain"
    assert "debug" in job_of(engine, job["PandaID"])["specialHandling"]
    assert urllib_post(client, "setDebugMode", {"pandaID": str(job["PandaID"]), "modeOn": True}).data == (
        b"Already set accordingly"
    )
    assert form_reply(urllib_post(client, "updateJob", update_request(job, "running")))["command"] == "debug"


def test_stale_and_odd_updates(client, engine):
    job = json_reply(curl_post(client, "getJob", get_job_request()))
    assert urllib_post(client, "updateJob", {"jobId": "NULL", "state": "running"}).data == b"StatusCode=0"
    assert urllib_post(client, "updateJob", update_request(job, "bogus")).data == b"StatusCode=0"
    assert job_of(engine, job["PandaID"])["jobStatus"] == "sent"  # neither changed anything
    wrong_attempt = update_request(job, "running", attemptNr=7)
    assert urllib_post(client, "updateJob", wrong_attempt).data == b"StatusCode=0&command=tobekilled"
    unknown = update_request(job, "running", jobId="123")
    assert urllib_post(client, "updateJob", unknown).data == b"StatusCode=0&command=tobekilled"


def test_without_production_or_pilot_role_status_code_60(strict_client):
    """Anonymous (strict mode, plain http): no DN, no FQANs."""
    assert urllib_post(strict_client, "getJob", get_job_request()).data == b"StatusCode=60"
    assert json_reply(curl_post(strict_client, "getJob", get_job_request())) == {
        "StatusCode": 60,
        "errorDialog": "no production/pilot role in VOMS FQANs or non pilot owner",
    }
    assert urllib_post(strict_client, "updateJob", {"jobId": "1", "state": "running"}).data == b"StatusCode=60"
    assert urllib_post(strict_client, "getEventRanges", {"pandaID": "1", "jobsetID": "2"}).data == (
        b"failed to retrieve DN"
    )


def test_any_atlas_fqan_is_a_pilot_role_for_the_legacy_dispatcher(client, engine):
    """The old _checkRole counted every /atlas/ FQAN (its VOMS patch): jdoe gets production jobs."""
    job = json_reply(
        client.post("/server/panda/getJob", data=get_job_request(), headers={**JSON, "X-Pandamock-Identity": "jdoe"})
    )
    assert job["StatusCode"] == 0
    banned = client.post("/server/panda/getJob", data=get_job_request(), headers={"X-Pandamock-Identity": "mallory"})
    assert banned.status_code == 403 and banned.data == b"ERROR : Mallory Banned is banned"


def test_pilot_token_with_pilot_origin(client, engine):
    from tests.helpers import fake_token

    token = fake_token(
        {
            "iss": "https://iam.example.org/",
            "name": "atlpilo1",
            "preferred_username": "pilot",
            "groups": ["atlas", "atlas/pilot"],
        }
    )
    headers = {"Authorization": f"Bearer {token}", "Origin": "atlas.pilot", **JSON}
    job = json_reply(client.post("/server/panda/getJob", data=get_job_request(), headers=headers))
    assert job["StatusCode"] == 0
    entry = engine_journal_last(client)
    assert entry["endpoint"] == "legacy/getJob" and entry["identity"] == "Atlpilo1"


def engine_journal_last(client) -> dict:
    from pandamock.app import emulator_of

    return emulator_of(client.application).journal.entries()[-1]


# --------------------------------------------------------------------------------------------------
# the rest of what pilots call
# --------------------------------------------------------------------------------------------------
def test_get_status_is_always_url_encoded(client, engine):
    job = json_reply(curl_post(client, "getJob", get_job_request()))
    defined = next(iter(engine.store["jobs"].ids("by_status", "running")))
    response = curl_post(client, "getStatus", {"ids": f"{job['PandaID']} 999 {defined}"})
    assert response.headers["Content-Type"] == "text/plain"
    assert parse_qs(response.data.decode()) == {
        "StatusCode": ["0"],
        "status": ["sent+notfound+running"],
        "attemptNr": [f"1+0+{job_of(engine, defined)['attemptNr']}"],
    }


def test_event_ranges_of_an_event_service_job(client, engine):
    job = json_reply(curl_post(client, "getJob", get_job_request(ES_QUEUE)))
    assert job["eventService"] == "True" and job["jobsetID"]
    request = {"pandaID": job["PandaID"], "jobsetID": job["jobsetID"], "taskID": job["taskID"], "nRanges": 3}
    got = json_reply(curl_post(client, "getEventRanges", request))
    assert got["StatusCode"] == 0 and len(got["eventRanges"]) == 3
    first = got["eventRanges"][0]
    assert set(first) == {"eventRangeID", "startEvent", "lastEvent", "LFN", "GUID", "scope"}
    assert first["eventRangeID"].startswith(f"{job['taskID']}-{job['PandaID']}-")
    ranges = engine.store["event_ranges"]
    assert ranges.get(first["eventRangeID"])["status"] == "sent"
    # without Accept: application/json the list travels as a JSON string
    more = form_reply(urllib_post(client, "getEventRanges", {**request, "nRanges": 1}))
    assert len(json.loads(more["eventRanges"])) == 1

    update = [{"eventRangeID": r["eventRangeID"], "eventStatus": "finished"} for r in got["eventRanges"][:2]]
    update.append({"eventRangeID": got["eventRanges"][2]["eventRangeID"], "eventStatus": "failed", "errorCode": 1220})
    done = json_reply(curl_post(client, "updateEventRanges", {"eventRanges": json.dumps(update), "version": 0}))
    assert done == {
        "StatusCode": 0,
        "Returns": "[true, true, true]",
        "Command": json.dumps({str(job["PandaID"]): None}),
    }
    assert ranges.get(first["eventRangeID"])["status"] == "finished"
    assert ranges.get(got["eventRanges"][2]["eventRangeID"])["status"] == "failed"
    statuses = envelope(
        client.get(
            "/api/v1/event/get_event_range_statuses",
            query_string={"job_task_ids": json.dumps([{"task_id": job["taskID"], "panda_id": job["PandaID"]}])},
            headers=JSON,
        )
    )["data"]
    assert statuses[str(job["PandaID"])][first["eventRangeID"]]["status"] == "finished"
    broken = json_reply(curl_post(client, "updateEventRanges", {"eventRanges": "[not json"}))
    assert broken == {"StatusCode": 30, "errorDialog": "ERROR : failed to convert eventRanges with json"}
    del request["nRanges"]
    available = json_reply(urllib_post(client, "checkEventsAvailability", request))
    assert available["StatusCode"] == 0 and available["nEventRanges"] == engine.events.available_count(
        job["PandaID"], job["jobsetID"], job["taskID"]
    )


def test_single_event_range_update_is_url_encoded(client, engine):
    job = json_reply(curl_post(client, "getJob", get_job_request(ES_QUEUE)))
    request = {"pandaID": job["PandaID"], "jobsetID": job["jobsetID"], "taskID": job["taskID"], "nRanges": 1}
    (event_range,) = json_reply(curl_post(client, "getEventRanges", request))["eventRanges"]
    running = curl_post(
        client, "updateEventRange", {"eventRangeID": event_range["eventRangeID"], "eventStatus": "running"}
    )
    assert running.data == b"StatusCode=30"  # accepted but not stored: the old dispatcher's failure
    done = curl_post(
        client, "updateEventRange", {"eventRangeID": event_range["eventRangeID"], "eventStatus": "finished"}
    )
    assert parse_qs(done.data.decode()) == {"StatusCode": ["0"], "Command": [json.dumps({str(job["PandaID"]): None})]}


def test_update_jobs_in_bulk(client, engine):
    first = json_reply(curl_post(client, "getJob", get_job_request()))
    second = json_reply(curl_post(client, "getJob", get_job_request()))
    job_list = [update_request(first, "running"), update_request(second, "starting")]
    response = curl_post(client, "updateJobsInBulk", {"jobList": json.dumps(job_list), "harvester_id": "h1"})
    assert response.headers["Content-Type"] == "text/plain"
    ok, answers = json.loads(response.data)
    assert ok is True and [json.loads(answer["content"]) for answer in answers] == [
        {"StatusCode": 0, "command": "NULL"},
        {"StatusCode": 0, "command": "NULL"},
    ]
    assert (job_of(engine, first["PandaID"])["jobStatus"], job_of(engine, second["PandaID"])["jobStatus"]) == (
        "running",
        "starting",
    )
    broken = [update_request(first, "finished"), {"jobId": str(second["PandaID"]), "state": "running", "bogus": 1}]
    response = urllib_post(client, "updateJobsInBulk", {"jobList": json.dumps(broken)})
    assert json.loads(response.data) == [
        False,
        "updateJobsInBulk None failed with BindError updateJob() got an unexpected keyword argument 'bogus'",
    ]
    assert job_of(engine, first["PandaID"])["jobStatus"] == "holding"  # the one before was applied


def test_worker_pilot_status(client, engine):
    envelope(
        client.post(
            "/api/v1/harvester/update_workers",
            json={"harvester_id": "h1", "workers": [{"workerID": 77, "status": "submitted", "computingSite": QUEUE}]},
            headers=JSON,
        )
    )
    request = {"workerID": "77", "harvesterID": "h1", "status": "started", "site": QUEUE, "node_id": "wn042"}
    assert urllib_post(client, "updateWorkerPilotStatus", request).data == b"StatusCode=0"
    worker = engine.harvester.workers.get("h1:77")
    assert worker["pilotStatus"] == "started" and worker["nodeID"] == "wn042"
    bad = urllib_post(client, "updateWorkerPilotStatus", {**request, "status": "running"})
    assert bad.data == b"Invalid worker state. The worker state has to be in ('started', 'finished')"


def test_resource_types(client, engine):
    answer = json_reply(curl_post(client, "getResourceTypes", {}))
    assert answer["StatusCode"] == 0 and answer["Returns"] == 0
    assert {item["resource_name"] for item in answer["ResourceTypes"]} == set(engine.world.resource_types.records)
    as_form = form_reply(urllib_post(client, "getResourceTypes", {}))
    assert ast.literal_eval(as_form["ResourceTypes"]) == answer["ResourceTypes"]  # a Python repr, as the pilot reads it


def test_credentials(client, engine):
    proxy = client.post("/server/panda/getProxy", data=gzip.compress(b'{"role": "production"}'), headers=URLLIB_HEADERS)
    answer = json_reply(proxy)  # always JSON, even without Accept
    assert answer["StatusCode"] == 0 and answer["errorDialog"] == "" and "BEGIN CERTIFICATE" in answer["userProxy"]
    missing = json_reply(client.post("/server/panda/getProxy", data={"role": "nosuchrole"}))
    assert missing["StatusCode"] == 90 and missing["errorDialog"].startswith("proxy not found for /DC=ch/DC=cern")

    token = client.get("/server/panda/get_access_token?client_name=atlas_pilot")
    parsed = ast.literal_eval(token.data.decode())  # the pilot's reading
    assert parsed["StatusCode"] == 0 and parsed["userProxy"].count(".") == 2
    keyed = client.get("/server/panda/get_access_token?client_name=panda_harvester&token_key=wrong")
    assert json_reply(keyed) == {
        "StatusCode": 50,
        "errorDialog": "failed since token key is invalid for panda_harvester",
    }
    denied = client.get(
        "/server/panda/get_access_token?client_name=atlas_pilot", headers={"X-Pandamock-Identity": "jdoe"}
    )
    assert json_reply(denied)["StatusCode"] == 70

    pair = json_reply(
        curl_post(
            client, "getKeyPair", {"publicKeyName": "harvester_public_key", "privateKeyName": "harvester_private_key"}
        )
    )
    assert pair["StatusCode"] == 0 and "PUBLIC KEY" in pair["publicKey"] and "PRIVATE KEY" in pair["privateKey"]
    absent = json_reply(
        curl_post(client, "getKeyPair", {"publicKeyName": "nope", "privateKeyName": "harvester_private_key"})
    )
    assert absent["StatusCode"] == 80 and absent["errorDialog"].endswith("since nope is missing on localhost")
    key = json_reply(curl_post(client, "get_token_key", {"client_name": "panda_harvester"}))
    assert (
        key["StatusCode"] == 0
        and key["tokenKey"] == engine.credentials.clients.get("panda_harvester")["token_keys"][-1]
    )


# --------------------------------------------------------------------------------------------------
# the dispatcher itself: refusals, errors, journal, faults
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "function",
    [
        "getJobStatus",
        "relay_idds_command",
        "execute_idds_workflow_command",
        "putEventPickingRequest",
        "put_checkpoint",
        "delete_checkpoint",
        "put_file_recovery_request",
        "put_workflow_request",
        "isAlive",
        "submitJobs",
        "ackCommands",
    ],
)
def test_other_functions_are_forbidden(client, function):
    response = client.post(f"/server/panda/{function}", data={"x": "1"})
    assert response.status_code == 403
    assert response.headers["Content-Type"] == "text/plain"
    assert response.data == f"ERROR : method {function} is forbidden".encode()


def test_the_function_is_the_last_path_segment(client):
    assert client.post("/server/panda/", data={}).status_code == 404  # Apache: no function at all
    response = client.post("/server/panda/x/getJob", data=get_job_request(), headers=JSON)
    assert json_reply(response)["StatusCode"] == 0
    assert client.post("/server/panda/getJob/", data={}).data == b"ERROR : method  is forbidden"


def test_call_errors_are_http_500_with_the_python_text(client, engine):
    before = engine.store["jobs"].ids("dispatch", (QUEUE, "activated"))
    unexpected = urllib_post(client, "getJob", get_job_request(bogus=1))
    assert unexpected.status_code == 500
    assert unexpected.data == b"getJob() got an unexpected keyword argument 'bogus'"
    missing = curl_post(client, "updateJob", {"state": "running"})
    assert (missing.status_code, missing.data) == (500, b"updateJob() missing 1 required positional argument: 'jobId'")
    both = curl_post(client, "getEventRanges", {})
    assert both.data == b"getEventRanges() missing 2 required positional arguments: 'pandaID' and 'jobsetID'"
    bad_id = curl_post(client, "updateJob", {"jobId": "abc", "state": "running"})
    assert (bad_id.status_code, bad_id.data) == (500, b"invalid literal for int() with base 10: 'abc'")
    not_json = client.post("/server/panda/getJob", data=b"{nope", headers=URLLIB_HEADERS)
    assert not_json.status_code == 500 and not_json.data.startswith(b"Expecting property name")
    a_list = client.post("/server/panda/getJob", data=gzip.compress(b"[1]"), headers=URLLIB_HEADERS)
    assert a_list.data == b"getJob() argument after ** must be a mapping, not list"
    broken_gzip = client.post("/server/panda/getJob", data=b"\x1f\x8bnot gzip", headers=URLLIB_HEADERS)
    assert broken_gzip.status_code == 500
    assert engine.store["jobs"].ids("dispatch", (QUEUE, "activated")) == before  # nothing dispatched


def test_journal_entries_name_legacy_functions(client, emulator):
    json_reply(curl_post(client, "getJob", get_job_request()))
    urllib_post(client, "getJob", get_job_request(bogus=1))
    client.post("/server/panda/nope")
    entries = emulator.journal.entries()[-3:]
    assert [(e["endpoint"], e["status"]) for e in entries] == [
        ("legacy/getJob", 200),
        ("legacy/getJob", 500),
        (None, 403),
    ]
    assert entries[0]["success"] is True and entries[0]["params"]["siteName"] == QUEUE
    assert entries[0]["transitions"][0]["to"] == "sent"
    assert entries[1]["error"] == "getJob() got an unexpected keyword argument 'bogus'"


def test_faults_on_legacy_functions(client, emulator, engine):
    faults = emulator.faults
    waiting = engine.store["jobs"].ids("dispatch", (QUEUE, "activated"))
    faults.add({"id": "dispatcher-down", "endpoint": "legacy/getJob", "action": "error", "status": 503, "max": 1})
    assert curl_post(client, "getJob", get_job_request()).status_code == 503
    faults.add(
        {
            "id": "no-jobs",
            "endpoint": "legacy/get*",
            "action": "fail",
            "message": "none",
            "data": {"StatusCode": 20},
            "max": 1,
        }
    )
    assert json_reply(curl_post(client, "getJob", get_job_request())) == {"StatusCode": 20, "errorDialog": "none"}
    faults.add(
        {
            "id": "flaky-update",
            "endpoint": "legacy/updateJob",
            "action": "fail",
            "message": "db down",
            "panda_id": 424242,
        }
    )
    assert (
        urllib_post(client, "updateJob", {"jobId": "424242", "state": "running"}).data
        == b"StatusCode=30&errorDialog=db+down"
    )
    assert (
        urllib_post(client, "updateJob", {"jobId": "1", "state": "running"}).data == b"StatusCode=0&command=tobekilled"
    )
    assert (
        engine.store["jobs"].ids("dispatch", (QUEUE, "activated")) == waiting
    )  # faults before the call touched nothing
    assert [entry.get("fault") for entry in emulator.journal.entries()[-4:]] == [
        ["dispatcher-down"],
        ["no-jobs"],
        ["flaky-update"],
        None,
    ]


# --------------------------------------------------------------------------------------------------
# payload jobs made at run time
# --------------------------------------------------------------------------------------------------
def test_created_payload_jobs_run_after_activation(client, engine):
    created = engine.payloads.create_jobs(QUEUE, 2, sleep=600, exit_code=3, input_files=2, input_size=100)
    assert [job["jobStatus"] for job in created] == ["defined", "defined"]
    job = created[0]
    assert job["transformation"] == PAYLOAD_TRANSFORMATION
    inputs = [f["lfn"] for f in job["Files"] if f["type"] == "input"]
    assert job["jobParameters"] == (
        f"--sleep 600 --exit-code 3 --input {','.join(inputs)} --output pandamock.{QUEUE}.{job['PandaID']}.output.txt "
        "--output-size 1024"
    )
    engine.clock.advance(engine.delay("job_activation") + 1)
    engine.tick()
    assert job_of(engine, job["PandaID"])["jobStatus"] == "activated"


def test_concurrent_pilots_never_get_the_same_job(tmp_path):
    """Eight pilots on the urllib path over a real socket: every job is dispatched exactly once."""
    import threading
    import urllib.request

    from pandamock.app import create_app, emulator_of
    from pandamock.server import MockServer

    app = create_app({"scenario": "default", "data_dir": str(tmp_path / "data")})
    engine = emulator_of(app).engine
    engine.payloads.create_jobs(QUEUE, 37, sleep=0, input_size=10)
    engine.clock.advance(engine.delay("job_activation") + 1)
    engine.tick()
    waiting = set(engine.store["jobs"].ids("dispatch", (QUEUE, "activated")))
    assert len(waiting) == 40
    got: list[int] = []
    lock = threading.Lock()

    def pilot(url: str) -> None:
        body = gzip.compress(json.dumps(get_job_request()).encode())
        while True:
            request = urllib.request.Request(f"{url}/server/panda/getJob", data=body, headers=URLLIB_HEADERS)
            with urllib.request.urlopen(request, timeout=10) as response:
                reply = {k: v[0] for k, v in parse_qs(response.read().decode()).items()}
            if reply["StatusCode"] != "0":
                assert reply["StatusCode"] == "20"
                return
            with lock:
                got.append(int(reply["PandaID"]))

    with MockServer(app, port=0) as server:
        threads = [threading.Thread(target=pilot, args=(server.url,)) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert sorted(got) == sorted(waiting) and len(set(got)) == len(got)
    assert {engine.jobs.get(panda_id)["jobStatus"] for panda_id in got} == {"sent"}
