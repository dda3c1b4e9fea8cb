"""``/api/v1/file_server/*`` and ``/cache/<name>``: state before/after, exact replies, file-system safety."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import os
import struct
import zlib
from pathlib import Path

import pytest

from pandamock.app import create_app, emulator_of
from pandamock.engine import records
from pandamock.engine.files import safe_name
from pandamock.engine.outcome import Failure
from tests.helpers import JSON, envelope

START = dt.datetime(2026, 11, 29, 12, 0, 0)
PILOT = "atlpilo1"
JDOE = {**JSON, "X-Pandamock-Identity": "jdoe"}
NO_BUILD_HINT = " Please submit the job without --noBuild/--libDS since those options impose a tighter size limit"


@pytest.fixture
def frozen(engine):
    engine.clock.freeze()
    engine.clock.set(START)
    return engine


@pytest.fixture
def small_app(tmp_path):
    """An emulator with its data directory under tmp_path and a 1 MB upload cap."""
    app = create_app({"scenario": "default", "data_dir": str(tmp_path / "data"), "max_upload_mb": 1})
    yield app
    emulator_of(app).engine.files.close()


def upload(client, endpoint, content, name, headers=JSON):
    data = {"file": (io.BytesIO(content), name)}
    return envelope(client.post(f"/api/v1/file_server/{endpoint}", data=data, headers=headers))


def post(client, endpoint, headers=JSON, **body):
    return envelope(client.post(f"/api/v1/file_server/{endpoint}", json=body, headers=headers))


def crc(content: bytes) -> int:
    return struct.unpack("<II", content[-8:])[0]


def cache_files(engine):
    return engine.store.table("cache_files")


def sandboxes(engine):
    return engine.store.table("sandbox_files")


def disk(engine, path):
    return engine.files.cache_dir / path


SANDBOX = gzip.compress(b"sandbox content " * 100, mtime=0)
OK = {"success": True, "message": "", "data": None}


# --- upload_cache_file ---------------------------------------------------------------------------
def test_upload_cache_file_stores_the_base_name_and_registers_it(client, frozen):
    assert upload(client, "upload_cache_file", SANDBOX, "/home/jdoe/work/jobO.1234.tar.gz") == OK
    assert cache_files(frozen).get("jobO.1234.tar.gz") == {
        "path": "jobO.1234.tar.gz",
        "name": "jobO.1234.tar.gz",
        "kind": "cache",
        "size": len(SANDBOX),
        "owner": PILOT,
        "creationTime": START,
        "modificationTime": START,
        "checksum": str(crc(SANDBOX)),
    }
    assert disk(frozen, "jobO.1234.tar.gz").read_bytes() == SANDBOX
    assert sandboxes(frozen).get("localhost|jobO.1234.tar.gz") == {
        "sandbox_key": "localhost|jobO.1234.tar.gz",
        "userName": PILOT,
        "hostName": "localhost",
        "fileName": "jobO.1234.tar.gz",
        "fileSize": len(SANDBOX),
        "checkSum": str(crc(SANDBOX)),
        "creationTime": START,
        "modificationTime": START,
    }
    assert list(frozen.files.staging_dir.iterdir()) == []
    download = client.get("/cache/jobO.1234.tar.gz")
    assert (download.status_code, download.data) == (200, SANDBOX)


def test_upload_cache_file_does_not_overwrite_but_touches(client, frozen):
    upload(client, "upload_cache_file", SANDBOX, "jobO.1.tar.gz")
    frozen.clock.advance(60)
    assert upload(client, "upload_cache_file", b"other bytes", "jobO.1.tar.gz") == {
        "success": False,
        "message": "ERROR: cannot overwrite file",
        "data": None,
    }
    record = cache_files(frozen).get("jobO.1.tar.gz")
    assert (record["size"], record["modificationTime"]) == (len(SANDBOX), START + dt.timedelta(seconds=60))
    assert disk(frozen, "jobO.1.tar.gz").read_bytes() == SANDBOX


def test_upload_cache_file_overwrite_suffix_replaces_but_registration_fails(client, frozen):
    upload(client, "upload_cache_file", SANDBOX, "jobO.2.tar.gz.__ow__")
    assert upload(client, "upload_cache_file", b"new content", "jobO.2.tar.gz.__ow__") == {
        "success": False,
        "message": "ERROR : failed to register sandbox to DB with WARNING: file exist",
        "data": None,
    }
    assert disk(frozen, "jobO.2.tar.gz.__ow__").read_bytes() == b"new content"
    assert cache_files(frozen).get("jobO.2.tar.gz.__ow__")["size"] == len(b"new content")


def test_upload_cache_file_out_files_are_not_registered(client, engine):
    assert upload(client, "upload_cache_file", b"stdout text", "job.out") == OK
    assert cache_files(engine).get("job.out")["size"] == 11
    assert len(sandboxes(engine)) == 0


def test_upload_of_an_empty_file_is_stored_without_checksum(client, engine):
    assert upload(client, "upload_cache_file", b"", "jobO.empty.tar.gz") == OK
    assert cache_files(engine).get("jobO.empty.tar.gz")["size"] == 0
    assert sandboxes(engine).get("localhost|jobO.empty.tar.gz")["checkSum"] is None


def test_upload_without_a_file_part(client, engine):
    reply = envelope(client.post("/api/v1/file_server/upload_cache_file", data={"other": "x"}, headers=JSON))
    assert reply == {"success": False, "message": "Argument error: missing a required argument: 'file'", "data": None}
    reply = envelope(client.post("/api/v1/file_server/upload_cache_file", data={"file": "text"}, headers=JSON))
    assert reply["message"] == "Type error: 'file' must be of type FileStorage, got str."
    assert len(cache_files(engine)) == 0


@pytest.mark.parametrize(
    ("size", "name", "message"),
    [
        (2, "jobO.big.tar.gz", "ERROR: upload failure. Exceeded size limit 2 MB > 1 MB." + NO_BUILD_HINT),
        (
            2,
            "sources.big.tar.gz",
            "ERROR: upload failure. Exceeded size limit 2 MB > 1 MB. Please remove redundant files from your work area",
        ),
    ],
)
def test_oversized_upload_is_refused_and_nothing_is_written(small_app, size, name, message):
    client = small_app.test_client()
    engine = emulator_of(small_app).engine
    assert upload(client, "upload_cache_file", b"x" * (size * 1024 * 1024), name) == {
        "success": False,
        "message": message,
        "data": None,
    }
    assert len(cache_files(engine)) == 0 and len(sandboxes(engine)) == 0
    assert [p for p in engine.files.data_dir.rglob("*") if p.is_file()] == []
    assert upload(client, "upload_cache_file", b"small", "jobO.ok.tar.gz") == OK  # still serving


def test_the_real_no_build_limit_applies_below_the_cap(client, engine):
    content = b"x" * (10 * 1024 * 1024 + 1)
    reply = upload(client, "upload_cache_file", content, "jobO.11mb.tar.gz")
    assert reply["message"] == "ERROR: upload failure. Exceeded size limit 10 MB > 10 MB." + NO_BUILD_HINT
    assert len(cache_files(engine)) == 0


# --- names: nothing is ever written outside the data directory ---------------------------------
TRAVERSALS = [
    ("../../escape_a", "ERROR: invalid file name '../../escape_a': '..' path components are not allowed"),
    # the multipart parser unescapes backslashes in quoted file names: the server sees '....escape_b'
    ("..\\..\\escape_b", "ERROR: invalid file name '....escape_b': hidden names (starting with '.') are not allowed"),
    ("sub/../../escape_c", "ERROR: invalid file name 'sub/../../escape_c': '..' path components are not allowed"),
    ("..", "ERROR: invalid file name '..': '..' path components are not allowed"),
    (".hidden", "ERROR: invalid file name '.hidden': hidden names (starting with '.') are not allowed"),
    ("/tmp/", "ERROR: invalid file name '/tmp/': the name is empty"),
    ("", "ERROR: invalid file name '': the name is empty"),
    ("%2e%2e%2fescape_d", "ERROR: invalid file name '%2e%2e%2fescape_d': character '%' is not allowed"),
    ("bad\x01name", "ERROR: invalid file name 'bad\\x01name': character '\\x01' is not allowed"),
]


@pytest.mark.parametrize(("name", "message"), TRAVERSALS)
@pytest.mark.parametrize("endpoint", ["upload_cache_file", "upload_jedi_log"])
def test_traversal_and_hidden_names_are_refused(small_app, tmp_path, endpoint, name, message):
    client = small_app.test_client()
    engine = emulator_of(small_app).engine
    before = {p for p in tmp_path.rglob("*")}
    assert upload(client, endpoint, b"payload", name) == {"success": False, "message": message, "data": None}
    assert {p for p in tmp_path.rglob("*")} == before
    assert len(cache_files(engine)) == 0


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/home/jdoe/jobO.1.tar.gz", "jobO.1.tar.gz"),
        ("jobO.1.tar.gz", "jobO.1.tar.gz"),
        ("..\\..\\x", None),
        ("a\\b", None),
        ("dir\\..\\x", None),
        ("/", None),
        (None, None),
    ],
)
def test_safe_name(raw, expected):
    if expected is None:
        with pytest.raises(Failure):
            safe_name(raw)
    else:
        assert safe_name(raw) == expected


def test_absolute_paths_and_encoded_separators_stay_inside_the_data_directory(small_app, tmp_path):
    client = small_app.test_client()
    engine = emulator_of(small_app).engine
    victim = tmp_path / "outside" / "victim.txt"
    assert upload(client, "upload_cache_file", b"payload", str(victim)) == OK
    assert not victim.exists() and not victim.parent.exists()
    assert (engine.files.cache_dir / "victim.txt").read_bytes() == b"payload"
    # RFC 2231 filename*: werkzeug decodes %2F into "/" before the server sees the name
    boundary = "pandamockboundary"
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename*=UTF-8''..%2F..%2Fescape_e\r\n"
        f"Content-Type: application/octet-stream\r\n\r\npayload\r\n--{boundary}--\r\n"
    ).encode()
    reply = envelope(
        client.post(
            "/api/v1/file_server/upload_cache_file",
            data=body,
            content_type=f"multipart/form-data; boundary={boundary}",
            headers=JSON,
        )
    )
    assert reply["message"] == "ERROR: invalid file name '../../escape_e': '..' path components are not allowed"
    outside = [p for p in tmp_path.rglob("*") if p.is_file() and engine.files.data_dir not in p.parents]
    assert outside == []
    assert not list(Path("/tmp").glob("escape_*")) and not Path(os.getcwd(), "escape_e").exists()


def test_cache_download_refuses_traversal_and_unknown_files(client, engine):
    upload(client, "upload_cache_file", b"abc", "jobO.dl.tar.gz")
    for path in ("/cache/../pyproject.toml", "/cache/..%2f..%2fetc%2fpasswd", "/cache/nothing.tar.gz", "/cache/a/b/c"):
        response = client.get(path)
        assert response.status_code == 404, path
    # a file written to the data directory behind the state's back is not served
    disk(engine, "stray.txt").write_bytes(b"stray")
    assert client.get("/cache/stray.txt").status_code == 404
    assert client.post("/cache/jobO.dl.tar.gz").data == b"abc"  # Harvester POSTs for HPO checkpoints
    assert client.head("/cache/jobO.dl.tar.gz").status_code == 200


# --- touch, delete, expiry ---------------------------------------------------------------------
def test_touch_cache_file_and_expiry(client, frozen):
    lifetime = frozen.delay("cache_file_lifetime")
    upload(client, "upload_cache_file", SANDBOX, "jobO.t.tar.gz")
    frozen.clock.advance(lifetime - 10)
    assert post(client, "touch_cache_file", file_name="/some/dir/jobO.t.tar.gz") == OK
    assert cache_files(frozen).get("jobO.t.tar.gz")["modificationTime"] == START + dt.timedelta(seconds=lifetime - 10)
    frozen.clock.advance(20)  # past the first upload's lifetime, within the touch's
    frozen.tick()
    assert cache_files(frozen).get("jobO.t.tar.gz") is not None
    frozen.clock.advance(lifetime)
    frozen.tick()
    assert cache_files(frozen).get("jobO.t.tar.gz") is None
    assert len(sandboxes(frozen)) == 0  # the registry forgets expired sandboxes
    assert client.get("/cache/jobO.t.tar.gz").status_code == 404


def test_touch_of_a_missing_file(client, engine):
    path = f"{engine.files.cache_dir}/nothing.tar.gz"
    assert post(client, "touch_cache_file", file_name="nothing.tar.gz") == {
        "success": False,
        "message": "Failed to touch file with: <class 'FileNotFoundError'> "
        f"[Errno 2] No such file or directory: '{path}'",
        "data": None,
    }


def test_delete_cache_file_is_a_placeholder(client, engine):
    upload(client, "upload_cache_file", SANDBOX, "jobO.d.tar.gz")
    assert post(client, "delete_cache_file", file_name="jobO.d.tar.gz") == OK
    assert cache_files(engine).get("jobO.d.tar.gz") is not None


# --- registry: register and validate -----------------------------------------------------------
def test_register_cache_file(client, frozen):
    body = {"user_name": "Jane Doe", "file_name": "sources.x.tar.gz", "file_size": 10, "checksum": "123"}
    assert post(client, "register_cache_file", **body) == OK
    assert sandboxes(frozen).get("localhost|sources.x.tar.gz")["userName"] == "Jane Doe"
    assert post(client, "register_cache_file", **body) == {
        "success": False,
        "message": "WARNING: file exist",
        "data": None,
    }
    assert post(client, "register_cache_file", headers=JDOE, **body)["message"] == "production or pilot role required"


def test_validate_cache_file_finds_only_the_callers_matching_cached_file(client, frozen):
    upload(client, "upload_cache_file", SANDBOX, "jobO.v.tar.gz")
    found = {"success": True, "message": "FOUND:localhost:jobO.v.tar.gz", "data": None}
    notfound = {"success": False, "message": "NOTFOUND", "data": None}
    assert post(client, "validate_cache_file", file_size=len(SANDBOX), checksum=crc(SANDBOX)) == found
    assert post(client, "validate_cache_file", file_size=len(SANDBOX), checksum=str(crc(SANDBOX))) == found
    assert post(client, "validate_cache_file", file_size=len(SANDBOX), checksum=crc(SANDBOX) + 1) == notfound
    assert post(client, "validate_cache_file", file_size=len(SANDBOX) + 1, checksum=crc(SANDBOX)) == notfound
    assert post(client, "validate_cache_file", headers=JDOE, file_size=len(SANDBOX), checksum=crc(SANDBOX)) == notfound
    frozen.clock.advance(3 * 86400)  # registrations older than 3 days are not reused
    assert post(client, "validate_cache_file", file_size=len(SANDBOX), checksum=crc(SANDBOX)) == notfound


def test_validate_needs_the_file_in_the_cache_and_a_real_host(client, engine):
    # registered but never uploaded
    post(client, "register_cache_file", user_name=PILOT, file_name="ghost.tar.gz", file_size=5, checksum="9")
    assert post(client, "validate_cache_file", file_size=5, checksum=9)["message"] == "NOTFOUND"
    upload(client, "upload_cache_file", SANDBOX, "jobO.h.tar.gz", headers={**JSON, "Host": "localhost.localdomain"})
    assert post(client, "validate_cache_file", file_size=len(SANDBOX), checksum=crc(SANDBOX))["message"] == "NOTFOUND"


# --- JEDI logs ---------------------------------------------------------------------------------
def test_upload_jedi_log_writes_jedilog_and_answers_its_url(client, engine):
    content = zlib.compress(b"log line 1\n")
    assert upload(client, "upload_jedi_log", content, "/var/log/task_123.log") == {
        "success": True,
        "message": "",
        "data": "http://localhost/cache/jedilog/task_123.log",
    }
    assert client.get("/cache/jedilog/task_123.log").data == content
    assert upload(client, "upload_jedi_log", b"again", "task_123.log")["success"] is True  # overwrites
    assert disk(engine, "jedilog/task_123.log").read_bytes() == b"again"
    assert upload(client, "upload_jedi_log", b"x", "task.log", headers=JDOE)["message"] == (
        "production or pilot role required"
    )


def test_upload_jedi_log_size_limit(small_app):
    client = small_app.test_client()
    assert upload(client, "upload_jedi_log", b"x" * (2 * 1024 * 1024), "big.log") == {
        "success": False,
        "message": "ERROR: upload failure. Exceeded size limit",
        "data": None,
    }
    assert len(cache_files(emulator_of(small_app).engine)) == 0


def download(client, headers=JSON, **query):
    return client.get("/api/v1/file_server/download_jedi_log", query_string=query, headers=headers)


def test_update_and_download_jedi_log(client, engine):
    assert upload(client, "update_jedi_log", zlib.compress(b"first\n"), "pilot_7.log") == OK
    assert upload(client, "update_jedi_log", zlib.compress(b"second\n"), "pilot_7.log") == OK
    assert disk(engine, "pilot_7.log").read_bytes() == b"first\nsecond\n"
    response = download(client, log_name="pilot_7.log")
    assert (response.status_code, response.headers["Content-Type"]) == (200, "text/plain")
    assert json.loads(response.data) == " first\nsecond\n"  # a bare string, not an envelope
    assert json.loads(download(client, log_name="pilot_7.log", offset=6).data) == " second\n"
    assert download(client, headers={}, log_name="pilot_7.log", offset=6).data == b" second\n"
    assert json.loads(download(client, log_name="missing.log").data) == " "
    assert json.loads(download(client, log_name="pilot_7.log", offset=-1).data) == " "
    assert json.loads(download(client, log_name="../../etc/passwd").data) == " "
    # validation failures still answer the envelope
    assert envelope(download(client))["message"] == "Argument error: missing a required argument: 'log_name'"


def test_download_finds_uploaded_jedi_logs_and_update_appends_to_them(client, engine):
    upload(client, "upload_jedi_log", b"uploaded\n", "task_9.log")
    assert json.loads(download(client, log_name="task_9.log").data) == " uploaded\n"
    upload(client, "update_jedi_log", zlib.compress(b"more\n"), "task_9.log")
    assert disk(engine, "jedilog/task_9.log").read_bytes() == b"uploaded\nmore\n"
    assert cache_files(engine).get("task_9.log") is None


def test_update_jedi_log_refuses_non_zlib_content(client, engine):
    assert upload(client, "update_jedi_log", b"plain text", "x.log") == {
        "success": False,
        "message": "ERROR: cannot update file with <class 'zlib.error'> "
        "Error -3 while decompressing data: incorrect header check",
        "data": None,
    }
    assert upload(client, "update_jedi_log", b"", "x.log")["message"] == (
        "ERROR: cannot update file with <class 'zlib.error'> "
        "Error -5 while decompressing data: incomplete or truncated stream"
    )
    assert len(cache_files(engine)) == 0


# --- HPO checkpoints ---------------------------------------------------------------------------
def test_hpo_checkpoint_upload_download_delete(client, engine):
    path = f"{engine.files.cache_dir}/hpo_cp_4001_7"
    assert upload(client, "upload_hpo_checkpoint", b"weights", "/work/4001_7") == {
        "success": True,
        "message": f"Successfully placed at {path}",
        "data": path,
    }
    record = cache_files(engine).get("hpo_cp_4001_7")
    assert (record["kind"], record["task_id"], record["sub_id"], record["size"]) == ("hpo_checkpoint", "4001", "7", 7)
    assert client.post("/cache/hpo_cp_4001_7", json={}).data == b"weights"
    assert post(client, "delete_hpo_checkpoint", task_id="4001", sub_id="7") == OK
    assert cache_files(engine).get("hpo_cp_4001_7") is None and not Path(path).exists()
    assert post(client, "delete_hpo_checkpoint", task_id="4001", sub_id="7") == {
        "success": False,
        "message": f"Failed to delete file due to [Errno 2] No such file or directory: '{path}'",
        "data": None,
    }


@pytest.mark.parametrize("name", ["4001", "4001_7_1", "a/b_c/d"])
def test_hpo_checkpoint_needs_task_and_sub_ids(client, engine, name):
    assert upload(client, "upload_hpo_checkpoint", b"w", name) == {
        "success": False,
        "message": "Failed to extract task and sub IDs",
        "data": None,
    }
    assert len(cache_files(engine)) == 0


def test_hpo_checkpoint_size_limit_and_traversal(small_app, tmp_path):
    client = small_app.test_client()
    reply = upload(client, "upload_hpo_checkpoint", b"x" * (2 * 1024 * 1024), "1_2")
    assert reply["success"] is False and reply["message"].startswith("Exceeded size limit ")
    assert reply["message"].endswith(f">{1024 * 1024}")
    reply = post(client, "delete_hpo_checkpoint", task_id="../../../victim", sub_id="1")
    assert reply == {
        "success": False,
        "message": "Failed to delete file due to ERROR: invalid file name 'hpo_cp_../../../victim_1': "
        "'..' path components are not allowed",
        "data": None,
    }


# --- spooled requests --------------------------------------------------------------------------
def requests_of(engine, kind):
    return [dict(r) for r in engine.store.table("file_server_requests").values() if r["kind"] == kind]


def test_file_recovery_request_is_recorded_with_an_empty_log(client, frozen):
    reply = post(client, "upload_file_recovery_request", dataset="mc23.EVNT.x", files=["f1", "f2"], dry_run=True)
    (request,) = requests_of(frozen, "file_recovery")
    log = request["parameters"]["logFilename"]
    assert reply == {
        "success": True,
        "message": "The request was accepted and will be processed in a few minutes",
        "data": {"logFileURL": f"http://localhost/cache/{log}"},
    }
    assert log.startswith("jedilog/lost_file_recovery.") and log.endswith(".log")
    assert request["owner"] == PILOT and request["status"] == "queued"
    assert request["parameters"] == {
        "userName": "/DC=ch/DC=cern/OU=Organic Units/OU=Users/CN=atlpilo1/CN=614260/CN=Robot: ATLAS Pilot1",
        "creationTime": "2026-11-29 12:00:00",
        "logFilename": log,
        "isProductionManager": True,
        "dryRun": True,
        "ds": "mc23.EVNT.x",
        "files": "f1,f2",
        "noChildRetry": True,
    }
    assert client.get(f"/cache/{log}").data == b""


def test_file_recovery_request_refusals(client, engine):
    assert post(client, "upload_file_recovery_request") == {
        "success": False,
        "message": "Either task_id or dataset must be provided",
        "data": None,
    }
    with engine.operation():
        engine.store.table("tasks").put(records.new_task({"jediTaskID": 4242, "userName": PILOT, "status": "done"}))
    assert post(client, "upload_file_recovery_request", headers=JDOE, task_id=4242)["message"] == (
        "not the task owner or no production role"
    )
    assert requests_of(engine, "file_recovery") == []
    assert post(client, "upload_file_recovery_request", task_id=4242)["success"] is True


def test_workflow_request(client, engine):
    assert post(client, "upload_workflow_request", data="{not json") == {
        "success": False,
        "message": "Cannot upload the workflow request: Expecting property name enclosed in double quotes: "
        "line 1 column 2 (char 1) ",
        "data": None,
    }
    workflow = {
        "taskParams": {"cwl": {}},
        "outDS": "user.atlpilo1.wf",
        "sourceURL": "http://localhost",
        "sandbox": "jobO.wf.tar.gz",
        "language": "cwl",
    }
    assert post(client, "upload_workflow_request", data=json.dumps(workflow)) == {
        "success": True,
        "message": "The request was accepted and will be processed in a few minutes",
        "data": None,
    }
    checked = post(client, "upload_workflow_request", data=json.dumps(workflow), dry_run=True)["data"]
    assert (checked["status"], checked["request_id"]) == (False, None)
    assert "bad HTTP response 404" in checked["log"]
    upload(client, "upload_cache_file", SANDBOX, "jobO.wf.tar.gz")
    checked = post(client, "upload_workflow_request", data=json.dumps(workflow), dry_run=True)["data"]
    assert (checked["status"], checked["request_id"]) == (True, None)
    submitted = post(client, "upload_workflow_request", data=json.dumps(workflow), sync=True)["data"]
    assert (submitted["status"], submitted["request_id"]) == (True, 1)
    assert [r["status"] for r in requests_of(engine, "workflow")] == ["queued", "checked", "checked", "submitted"]


def test_event_picking_request(client, engine):
    run_events = "358031 1234\n358031 5678\nmalformed\n358096 42 extra"
    assert (
        post(client, "upload_event_picking_request", run_event_list=run_events, data_type="AOD", ami_tag="r1234") == OK
    )
    (request,) = requests_of(engine, "event_picking")
    assert request["parameters"]["runEvent"] == [["358031", "1234"], ["358031", "5678"]]
    assert request["parameters"]["eventPickAmiTag"] == "r1234"
    assert request["parameters"]["runEvtGuidMap"] == {}
    post(client, "upload_event_picking_request", run_event_list="1 2 guid-a\n3 4", include_guids=True)
    assert requests_of(engine, "event_picking")[1]["parameters"]["runEvtGuidMap"] == {"1,2": ["guid-a"]}


def test_event_picking_size_limit(small_app):
    client = small_app.test_client()
    body = {"run_event_list": "1 2\n" * 300_000}
    size = len(json.dumps(body))
    assert post(client, "upload_event_picking_request", **body) == {
        "success": False,
        "message": f"ERROR: Run/event list is too large. Exceeded size limit {size}>{1024 * 1024}.",
        "data": None,
    }
