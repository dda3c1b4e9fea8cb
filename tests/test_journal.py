"""The journal: bounds, queries, summary, redaction, JSON-lines sink, assertion helpers."""

from __future__ import annotations

import json

import pytest

from pandamock.app import emulator_of
from pandamock.journal import REDACTED, Journal, JournalAssertionError, redact
from tests.faultprobe import make_app
from tests.helpers import JSON, fake_token

START = "2026-11-29T12:00:00"


@pytest.fixture(scope="module")
def japp():
    return make_app()


@pytest.fixture
def emu(japp):
    emulator = emulator_of(japp)
    emulator.reset()
    emulator.engine.clock.freeze()
    emulator.engine.clock.set(START)
    return emulator


@pytest.fixture
def jc(japp, emu):
    return japp.test_client()


def update_job(jc, job_id, status=None):
    payload = {"job_id": job_id, **({"job_status": status} if status else {})}
    return jc.post("/api/v1/jobprobe/update_job", json=payload, headers=JSON)


def test_bounded_oldest_dropped_and_counted():
    journal = Journal(size=3)
    for i in range(5):
        journal.close(journal.open(endpoint=f"e/{i}", status=200))
    assert [entry["seq"] for entry in journal.entries()] == [3, 4, 5]
    assert journal.dropped == 2
    assert journal.summary()["dropped"] == 2
    journal.clear()
    assert (len(journal), journal.dropped) == (0, 0)
    with pytest.raises(ValueError):
        Journal(size=0)


def test_journal_size_setting_bounds_the_emulators_journal():
    app = make_app(journal_size=2)
    client = app.test_client()
    for _ in range(3):
        client.get("/api/v1/system/is_alive")
    journal = emulator_of(app).journal
    assert (len(journal), journal.dropped) == (2, 1)


def test_entries_record_the_request(emu, jc):
    update_job(jc, 1)
    update_job(jc, 1, "sent")
    entry = emu.journal.entries()[-1]
    assert entry["time"] == START and entry["epoch"] == emu.engine.clock.time()
    assert {key: entry[key] for key in ("method", "endpoint", "identity", "params", "status", "success")} == {
        "method": "POST",
        "endpoint": "jobprobe/update_job",
        "identity": "atlpilo1",
        "params": {"job_id": 1, "job_status": "sent"},
        "status": 200,
        "success": True,
    }
    assert entry["transitions"] == [
        {"table": "jobs", "id": 1, "field": "jobStatus", "from": "activated", "to": "sent", "time": START}
    ]
    assert entry["duration_ms"] >= 0


def test_queries(emu, jc):
    update_job(jc, 1)
    jc.get("/api/v1/system/is_alive", headers={"X-Pandamock-Identity": "jdoe"})
    emu.engine.clock.advance(60)
    jc.post("/api/v1/jobprobe/update_job", json={"job_id": "x"}, headers=JSON)  # type error: success false
    emu.faults.add({"id": "down", "endpoint": "system/*", "status": 503})
    jc.get("/api/v1/system/is_alive")
    jc.get("/api/v1/nope/nope")
    journal = emu.journal

    def seqs(**filters):
        return [entry["seq"] - journal.entries()[0]["seq"] + 1 for entry in journal.query(**filters)]

    assert seqs() == [1, 2, 3, 4, 5]
    assert seqs(endpoint="jobprobe/*") == [1, 3]
    assert seqs(identity="Jane*") == [2]
    assert seqs(status=503) == [4]
    assert seqs(status=[403, 503]) == [4, 5]
    assert seqs(success=False) == [3]
    assert seqs(fault="down") == [4]
    assert seqs(fault=True) == [4]
    assert seqs(fault=False) == [1, 2, 3, 5]
    assert seqs(failed=True) == [3, 4, 5]
    assert seqs(method="get") == [2, 4, 5]
    assert seqs(since="2026-11-29T12:01:00") == [3, 4, 5]
    assert seqs(until="2026-11-29T12:01:00Z") == [1, 2]
    assert seqs(limit=2) == [4, 5]
    assert seqs(after_seq=journal.entries()[2]["seq"]) == [4, 5]


def test_summary_per_endpoint():
    journal = Journal()
    for i, (endpoint, status, success, fault, ms) in enumerate(
        [
            ("pilot/update_job", 200, True, None, 1.0),
            ("pilot/update_job", 200, False, None, 2.0),
            ("pilot/update_job", 503, None, ["down"], 3.0),
            ("pilot/update_job", 200, True, None, 100.0),
            ("system/is_alive", 200, True, None, 0.5),
            (None, 403, None, None, 0.1),
        ]
    ):
        journal.close(
            journal.open(endpoint=endpoint, status=status, success=success, fault=fault, duration_ms=ms, seq_hint=i)
        )
    summary = journal.summary()
    assert (summary["requests"], summary["failures"], summary["faults"]) == (6, 3, 1)
    assert summary["endpoints"]["pilot/update_job"] == {
        "requests": 4,
        "failures": 2,
        "faults": 1,
        "statuses": {"200": 3, "503": 1},
        "p50_ms": 2.0,
        "p99_ms": 100.0,
    }
    assert summary["endpoints"]["(refused)"]["failures"] == 1


def test_redaction_of_secrets_and_tokens():
    token = fake_token({"sub": "x", "name": "Jane Doe"})
    params = {
        "key": "MY_SECRET_NAME",
        "value": "hunter2",
        "token_key": "abc",
        "access_token": token,
        "Authorization": f"Bearer {token}",
        "user_secret": "s",
        "note": f"sent {token} and Bearer abc.def",
        "data": {"nested": {"refresh_token": "r", "ok": 1}, "list": [{"password": "p"}, "plain"]},
        "job_id": 5,
    }
    safe = redact(params)
    assert safe["key"] == "MY_SECRET_NAME" and safe["job_id"] == 5
    for name in ("value", "token_key", "access_token", "Authorization", "user_secret"):
        assert safe[name] == REDACTED
    assert safe["note"] == f"sent {REDACTED} and {REDACTED}"
    assert safe["data"] == {"nested": {"refresh_token": REDACTED, "ok": 1}, "list": [{"password": REDACTED}, "plain"]}
    assert params["value"] == "hunter2"  # the request's own parameters are untouched


def test_redaction_through_the_pipeline(emu, jc):
    token = fake_token({"sub": "x"})
    jc.get(
        "/api/v1/system/get_attributes",
        query_string={"value": "hunter2", "token": token, "comment": f"Bearer {token}", "harmless": "yes"},
    )
    params = emu.journal.entries()[-1]["params"]
    assert params == {"value": REDACTED, "token": REDACTED, "comment": REDACTED, "harmless": "yes"}
    assert "hunter2" not in json.dumps(emu.journal.entries())
    assert "value = <redacted>" in emu.journal.entries()[-1]["message"]  # the echo in the message too


def test_json_lines_sink(tmp_path):
    path = tmp_path / "journal.jsonl"
    app = make_app(journal_file=str(path))
    client = app.test_client()
    client.get("/api/v1/system/is_alive")
    client.get("/api/v1/system/get_attributes?value=hunter2")
    emulator = emulator_of(app)
    emulator.journal.clear()
    client.get("/api/v1/nope/nope")
    emulator.journal.shutdown()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(line["seq"], line["endpoint"], line["status"]) for line in lines] == [
        (1, "system/is_alive", 200),
        (2, "system/get_attributes", 200),
        (3, None, 403),
    ]
    assert lines[1]["params"] == {"value": REDACTED}


def test_statuses_and_assertion_helpers(emu, jc):
    for status in (None, "sent", "starting", "running"):
        update_job(jc, 42, status)
    update_job(jc, 43)
    journal = emu.journal
    assert journal.statuses(42) == ["activated", "sent", "starting", "running"]
    journal.assert_statuses(42, ["activated", "sent", "starting", "running"])
    assert len(journal.assert_called("jobprobe/update_job", 5)) == 5
    journal.assert_called("jobprobe/*")
    journal.assert_no_unexpected_failures()
    with pytest.raises(JournalAssertionError) as raised:
        journal.assert_statuses(42, ["activated", "running"])
    message = str(raised.value)
    assert message.startswith("jobs 42: expected statuses ['activated', 'running'], the journal saw ")
    assert "transitions: jobs 42 sent->starting" in message
    assert "jobs 43" not in message
    with pytest.raises(JournalAssertionError, match=r"expected system/is_alive to be called 2 times, it was called 0"):
        journal.assert_called("system/is_alive", 2)


def test_no_unexpected_failures_names_them(emu, jc):
    jc.get("/api/v1/system/is_alive")
    emu.faults.add({"id": "planned", "endpoint": "system/is_alive", "status": 503})
    jc.get("/api/v1/system/is_alive")  # failed because of a fault: expected
    emu.journal.assert_no_unexpected_failures()
    jc.post("/api/v1/jobprobe/update_job", json={"job_id": "x"}, headers=JSON)
    with pytest.raises(JournalAssertionError) as raised:
        emu.journal.assert_no_unexpected_failures()
    message = str(raised.value)
    assert message.splitlines()[0] == "1 request failed unexpectedly"
    assert "POST jobprobe/update_job atlpilo1 -> 200 success=False" in message
    assert "Type error: 'job_id' must be of type int, got str." in message
    emu.journal.assert_no_unexpected_failures(allow=["jobprobe/*"])
    with pytest.raises(JournalAssertionError):
        emu.journal.assert_no_unexpected_failures(allow=["jobprobe/*"], allow_faults=False)
