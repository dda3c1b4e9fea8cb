"""The control plane under /_pandamock/: every route, its refusals, auth, and the Python client
(over HTTP against a live server, and in-process) giving the same answers."""

from __future__ import annotations

import pytest
import requests

from pandamock import Control, ControlPlane
from pandamock.app import emulator_of
from pandamock.client import ControlUnreachable
from pandamock.control import ControlError
from pandamock.server import MockServer
from tests.faultprobe import default_without_generation, make_app
from tests.helpers import JSON

START = "2026-11-29T12:00:00"
KNOWN_KEYS = ", ".join(__import__("pandamock.faults").faults.RULE_SCHEMA["properties"])


@pytest.fixture(scope="module")
def capp():
    return make_app()


@pytest.fixture
def emu(capp):
    emulator = emulator_of(capp)
    emulator.reset()
    emulator.faults.clear()
    emulator.engine.clock.freeze()
    emulator.engine.clock.set(START)
    return emulator


@pytest.fixture
def cc(capp, emu):
    return capp.test_client()


def ok(response, status=200):
    assert response.status_code == status, response.data
    assert response.headers["Content-Type"] == "application/json"
    return response.get_json()


def refused(response, status, message):
    assert response.status_code == status, response.data
    assert response.get_json() == {"error": message, "status": status}


# --- emulator -------------------------------------------------------------------------------------
def test_health(cc):
    health = ok(cc.get("/_pandamock/health"))
    assert health["status"] == "ok" and health["scenario"] == "default"
    assert health["clock"]["now"] == START and health["clock"]["frozen"] is True
    assert health["counts"]["users"] == 4 and health["faults"] == 0
    assert health["journal"] == {"entries": 0, "dropped": 0}


def test_reset_returns_to_the_scenario(emu, cc):
    cc.post("/api/v1/jobprobe/update_job", json={"job_id": 1}, headers=JSON)
    cc.post("/_pandamock/faults", json={"status": 503, "endpoint": "system/*"})
    health = ok(cc.post("/_pandamock/reset"))
    assert health["counts"]["jobs"] == 0 and health["faults"] == 0 and health["journal"]["entries"] == 0


def test_load_scenario(emu, cc):
    try:
        health = ok(cc.post("/_pandamock/scenario", json={"scenario": "empty"}))
        assert health["scenario"] == "empty" and health["counts"]["users"] == 1
        health = ok(
            cc.post(
                "/_pandamock/scenario",
                json={"scenario": {"name": "inline", "faults": [{"endpoint": "system/*", "status": 503}]}},
            )
        )
        assert health["scenario"] == "inline" and health["faults"] == 1
        refused(
            cc.post("/_pandamock/scenario", json={"scenario": {"name": "x", "sites": [{"name": "Q", "corecount": 0}]}}),
            400,
            "<scenario>: sites[0].corecount: must be at least 1, got 0",
        )
        refused(
            cc.post("/_pandamock/scenario", json={"scenario": "defualt"}),
            400,
            "defualt: no shipped scenario of that name (did you mean 'default'?); shipped: "
            + ", ".join(sorted(__import__("pandamock.scenario").scenario.shipped_scenarios())),
        )
        refused(
            cc.post("/_pandamock/scenario", json={}),
            400,
            'request body: expected {"scenario": <shipped name, path or mapping>}',
        )
        refused(
            cc.post("/_pandamock/scenario", data="{oops"),
            400,
            "request body: not valid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        )
    finally:
        emu.load_scenario(default_without_generation())


def test_state_dump(emu, cc):
    for job_id in (1, 2):
        cc.post("/api/v1/jobprobe/update_job", json={"job_id": job_id}, headers=JSON)
    cc.post("/api/v1/jobprobe/update_job", json={"job_id": 2, "job_status": "sent"}, headers=JSON)
    whole = ok(cc.get("/_pandamock/state"))
    assert whole["name"] == "default-dump" and set(whole["records"]) >= {"jobs", "users", "tasks"}
    jobs = ok(cc.get("/_pandamock/state?table=jobs"))["records"]
    assert list(jobs) == ["jobs"] and [job["PandaID"] for job in jobs["jobs"]] == [1, 2]
    assert jobs["jobs"][0]["stateChangeTime"] == {"__datetime__": START}
    sent = ok(cc.get("/_pandamock/state/jobs?where=jobStatus=sent"))["records"]["jobs"]
    assert [job["PandaID"] for job in sent] == [2]
    one = ok(cc.get("/_pandamock/state?table=jobs&table=users&where=PandaID=1"))["records"]
    assert [job["PandaID"] for job in one["jobs"]] == [1] and one["users"] == []
    refused(
        cc.get("/_pandamock/state/nope"), 404, "no table 'nope'; tables: " + ", ".join(sorted(emu.engine.store.tables))
    )
    refused(cc.get("/_pandamock/state?where=jobStatus"), 400, "where: expected field=value, got 'jobStatus'")
    refused(
        cc.get("/_pandamock/state?tabel=jobs"),
        400,
        "unknown parameter 'tabel'; use table=<name> and where=<field>=<value>",
    )


def test_a_dump_loads_back(emu, cc):
    cc.post("/api/v1/jobprobe/update_job", json={"job_id": 9}, headers=JSON)
    dump = ok(cc.get("/_pandamock/state"))
    try:
        emu.load_scenario("empty")
        assert emu.engine.store.table("jobs").get(9) is None
        ok(cc.post("/_pandamock/scenario", json={"scenario": dump}))
        assert emu.engine.store.table("jobs").get(9)["jobStatus"] == "activated"
    finally:
        emu.load_scenario(default_without_generation())


# --- faults ---------------------------------------------------------------------------------------------
def test_faults_crud(emu, cc):
    added = ok(cc.post("/_pandamock/faults", json={"endpoint": "system/is_alive", "status": 503, "for": "2m"}), 201)
    assert added["id"] == "rule-1" and added["state"] == "active" and (added["matched"], added["fired"]) == (0, 0)
    assert added["window"] == {"from": None, "until": "2026-11-29T12:02:00"}
    assert cc.get("/api/v1/system/is_alive").status_code == 503
    first = ok(cc.post("/_pandamock/faults?position=0", json={"id": "early", "endpoint": "*", "status": 500}), 201)
    assert [rule["id"] for rule in ok(cc.get("/_pandamock/faults"))["rules"]] == ["early", "rule-1"]
    assert first["source"] == "control"
    assert cc.get("/api/v1/system/is_alive").status_code == 500
    updated = ok(cc.patch("/_pandamock/faults/early", json={"endpoint": "jobprobe/*"}))
    assert updated["endpoint"] == "jobprobe/*" and updated["matched"] == 1
    assert ok(cc.get("/_pandamock/faults/rule-1"))["fired"] == 1
    assert cc.get("/api/v1/system/is_alive").status_code == 503
    assert ok(cc.delete("/_pandamock/faults/rule-1"))["id"] == "rule-1"
    assert cc.get("/api/v1/system/is_alive").status_code == 200
    refused(cc.get("/_pandamock/faults/rule-1"), 404, "no fault rule 'rule-1'; rules: early")
    refused(cc.delete("/_pandamock/faults/erly"), 404, "no fault rule 'erly' (did you mean 'early'?); rules: early")
    assert ok(cc.delete("/_pandamock/faults")) == {"cleared": 1}
    assert ok(cc.get("/_pandamock/faults")) == {"rules": []}


@pytest.mark.parametrize(
    "rule, message",
    [
        (
            {"endpoint": "system/*", "action": "explode"},
            "action: expected one of error, fail, delay, drop, truncate, malformed, got 'explode'",
        ),
        ({"endpoint": "system/*", "status": 503, "probability": 1.2}, "probability: must be at most 1, got 1.2"),
        ({"endpoint": "system/[is", "status": 503}, "endpoint: malformed glob 'system/[is': unclosed '['"),
        (
            {"endpoint": "system/*", "status": 503, "colour": "red"},
            "colour: unknown key; known keys: " + KNOWN_KEYS,
        ),
        (
            {"endpoint": "system/is_alvie", "status": 503},
            "endpoint: 'system/is_alvie' matches no endpoint of this server (did you mean 'system/is_alive'?)",
        ),
        (
            {"endpoint": "system/*"},
            "rule: missing 'action' (one of error, fail, delay, drop, truncate, malformed) or 'status'",
        ),
        (
            {"endpoint": "system/*", "status": 503, "until": "2026-11-29T11:00:00"},
            "until: must be after 'from' (the window 'now' .. '2026-11-29T11:00:00' is empty)",
        ),
    ],
)
def test_invalid_rules_are_400_with_the_reason(cc, rule, message):
    refused(cc.post("/_pandamock/faults", json=rule), 400, message)
    assert ok(cc.get("/_pandamock/faults")) == {"rules": []}


def test_invalid_update_keeps_the_rule(cc):
    ok(cc.post("/_pandamock/faults", json={"id": "r", "endpoint": "system/*", "status": 503}), 201)
    refused(cc.patch("/_pandamock/faults/r", json={"probability": 2}), 400, "probability: must be at most 1, got 2")
    refused(cc.patch("/_pandamock/faults/r", json=[1]), 400, "request body: expected a JSON object, got list")
    refused(
        cc.post("/_pandamock/faults?position=first", json={"status": 503}),
        400,
        "position: expected an integer, got 'first'",
    )
    assert ok(cc.get("/_pandamock/faults/r"))["status"] == 503


# --- clock --------------------------------------------------------------------------------------------
def test_clock(cc):
    assert ok(cc.get("/_pandamock/clock"))["now"] == START
    assert ok(cc.post("/_pandamock/clock/advance", json={"seconds": 90}))["now"] == "2026-11-29T12:01:30"
    assert ok(cc.post("/_pandamock/clock/advance", json={"seconds": "1h"}))["now"] == "2026-11-29T13:01:30"
    assert ok(cc.post("/_pandamock/clock/set", json={"time": "2026-12-01T00:00:00Z"}))["now"] == "2026-12-01T00:00:00"
    running = ok(cc.post("/_pandamock/clock/unfreeze"))
    assert running["frozen"] is False
    assert ok(cc.post("/_pandamock/clock/speed", json={"speed": 60}))["speed"] == 60
    assert ok(cc.post("/_pandamock/clock/freeze"))["frozen"] is True
    refused(
        cc.post("/_pandamock/clock/advance", json={"seconds": -5}),
        400,
        "seconds: the clock only moves forward; got a negative number of seconds",
    )
    refused(
        cc.post("/_pandamock/clock/advance", json={"seconds": "soon"}),
        400,
        "seconds: expected seconds or a duration such as '90s', '2m', '1h30m', got 'soon'",
    )
    refused(cc.post("/_pandamock/clock/advance", json={}), 400, 'request body: clock/advance needs {"seconds": ...}')
    refused(
        cc.post("/_pandamock/clock/speed", json={"speed": -1}),
        400,
        "speed: expected a number >= 0, got -1 (clock speed must not be negative)",
    )
    refused(
        cc.post("/_pandamock/clock/rewind", json={}),
        404,
        "no clock operation 'rewind'; operations: freeze, unfreeze, advance, set, speed",
    )
    response = cc.post("/_pandamock/clock/set", json={"time": "tomorrow"})
    assert response.status_code == 400 and response.get_json()["error"].startswith(
        "time: expected an ISO time or epoch seconds, got 'tomorrow'"
    )


# --- journal ----------------------------------------------------------------------------------------
def test_journal_routes(emu, cc):
    cc.get("/api/v1/system/is_alive")
    cc.post("/api/v1/jobprobe/update_job", json={"job_id": "x"}, headers=JSON)
    cc.get("/api/v1/system/is_alive", headers={"X-Pandamock-Identity": "jdoe"})
    everything = ok(cc.get("/_pandamock/journal"))
    assert [entry["endpoint"] for entry in everything["entries"]] == [
        "system/is_alive",
        "jobprobe/update_job",
        "system/is_alive",
    ]
    assert (everything["dropped"], everything["kept"], everything["size"]) == (0, 3, 10000)
    failed = ok(cc.get("/_pandamock/journal?failed=true"))["entries"]
    assert [entry["endpoint"] for entry in failed] == ["jobprobe/update_job"]
    assert [e["identity"] for e in ok(cc.get("/_pandamock/journal?identity=Jane*&status=200&limit=5"))["entries"]] == [
        "Jane Doe"
    ]
    summary = ok(cc.get("/_pandamock/journal/summary"))
    assert summary["endpoints"]["system/is_alive"]["requests"] == 2 and summary["failures"] == 1
    refused(
        cc.get("/_pandamock/journal?endpont=x"),
        400,
        "unknown journal filter 'endpont' (did you mean 'endpoint'?); filters: "
        + ", ".join(__import__("pandamock.control").control.JOURNAL_FILTERS),
    )
    refused(cc.get("/_pandamock/journal?status=ok"), 400, "status: expected an integer, got 'ok'")
    refused(cc.get("/_pandamock/journal?success=maybe"), 400, "success: expected true or false, got 'maybe'")
    refused(cc.get("/_pandamock/journal?since=yesterday"), 400, "journal filter: Invalid isoformat string: 'yesterday'")
    assert ok(cc.delete("/_pandamock/journal")) == {"cleared": 3}
    assert ok(cc.get("/_pandamock/journal"))["entries"] == []


# --- the control plane is never the API, and vice versa -----------------------------------------------
def test_paths_do_not_mix(cc):
    response = cc.get("/api/v1/_pandamock/health")
    assert (response.status_code, response.data) == (403, b"ERROR : method health is forbidden")
    refused(cc.get("/_pandamock/nothing"), 404, "Not Found: GET /_pandamock/nothing")
    refused(cc.put("/_pandamock/reset"), 405, "Method Not Allowed: PUT /_pandamock/reset")
    assert cc.get("/_pandamock/openapi.json").status_code == 200


# --- auth and disabling --------------------------------------------------------------------------------
def test_token_protects_everything_but_health():
    client = make_app(control_token="s3cret").test_client()
    assert client.get("/_pandamock/health").status_code == 200
    assert client.get("/_pandamock/openapi.json").status_code == 200
    response = client.get("/_pandamock/faults")
    refused(response, 401, "the control plane needs its token")
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="pandamock control"'
    refused(
        client.post("/_pandamock/reset", headers={"Authorization": "Bearer wrong"}), 401, "wrong control-plane token"
    )
    assert client.get("/_pandamock/faults", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert client.get("/_pandamock/faults", headers={"X-Pandamock-Control-Token": "s3cret"}).status_code == 200
    assert client.get("/api/v1/system/is_alive").status_code == 200  # the API does not need it


def test_disabled_control_plane_keeps_health_only():
    client = make_app(control=False).test_client()
    assert client.get("/_pandamock/health").status_code == 200
    refused(client.get("/_pandamock/faults"), 404, "Not Found: GET /_pandamock/faults")
    refused(client.post("/_pandamock/reset"), 404, "Not Found: POST /_pandamock/reset")


def test_control_settings_from_the_environment():
    from pandamock.config import Settings

    settings = Settings.load(
        environ={"PANDAMOCK_CONTROL": "false", "PANDAMOCK_CONTROL_TOKEN": "t", "PANDAMOCK_URL": "http://h:1"}
    )
    assert (settings.control, settings.control_token, settings.url) == (False, "t", "http://h:1")


# --- the Python client ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server():
    with MockServer(make_app(control_token="tok"), port=0) as live:
        yield live


def _drive(control):
    """The same calls, through either client; returns what they answered (times made comparable)."""
    control.reset()
    control.freeze()
    control.set_time(START)
    answers = {"health": control.health()["counts"]}
    answers["added"] = control.add_fault(id="r", endpoint="system/is_alive", status=503, from_="30s", for_="1m")
    answers["faults"] = control.faults()
    answers["advance"] = control.advance(45)
    answers["updated"] = control.update_fault("r", retry_after=5)
    answers["fault"] = control.fault("r")
    answers["speed"] = control.set_speed(0)
    answers["unfreeze"] = control.unfreeze()["frozen"]
    answers["refreeze"] = control.freeze()["frozen"]
    answers["state"] = control.state("users", where={"name": "jdoe"})["records"]
    answers["journal"] = control.journal(endpoint="*")["entries"]
    answers["summary"] = control.journal_summary()
    answers["deleted"] = control.delete_fault("r")["id"]
    answers["cleared"] = control.clear_faults()
    answers["journal cleared"] = control.clear_journal()
    for call in (
        lambda: control.add_fault(endpoint="system/*", action="explode"),
        lambda: control.fault("nope"),
        lambda: control.advance(-1),
        lambda: control.journal(colour="red"),
        lambda: control.state("nope"),
    ):
        with pytest.raises(ControlError) as raised:
            call()
        answers.setdefault("errors", []).append((raised.value.status, raised.value.message))
    answers["loaded"] = control.load_scenario("empty")["scenario"]
    control.load_scenario(default_without_generation().as_dict())
    return answers


def test_http_client_and_in_process_plane_answer_the_same(server):
    remote = _drive(Control(server.url, token="tok"))
    local = _drive(Control.local(server.app))
    assert isinstance(Control.local(emulator_of(server.app)), ControlPlane)
    assert remote == local
    assert remote["added"]["window"] == {"from": "2026-11-29T12:00:30", "until": "2026-11-29T12:01:30"}
    assert remote["errors"][0] == (
        400,
        "action: expected one of error, fail, delay, drop, truncate, malformed, got 'explode'",
    )
    assert remote["state"] == {"users": [local["state"]["users"][0]]} and remote["state"]["users"][0]["name"] == "jdoe"


def test_http_client_refusals(server):
    with pytest.raises(ControlError) as raised:
        Control(server.url, token="bad").faults()
    assert (raised.value.status, raised.value.message) == (401, "wrong control-plane token")
    with pytest.raises(ControlUnreachable, match="cannot reach pandamock at http://127.0.0.1:9"):
        Control("http://127.0.0.1:9", timeout=2).health()
    with pytest.raises(ControlError, match="did not answer like a pandamock control plane"):
        Control(server.url + "/api/v1", token="tok").health()


def test_http_client_datetimes_round_trip(server):
    control = Control(server.url, token="tok")
    control.reset()
    requests.post(f"{server.url}/api/v1/jobprobe/update_job", json={"job_id": 3}, headers=JSON, timeout=5)
    job = control.state("jobs")["records"]["jobs"][0]
    assert job["PandaID"] == 3 and hasattr(job["stateChangeTime"], "isoformat")
    control.reset()


def test_cross_site_requests_are_refused(cc, emu):
    refused(
        cc.post("/_pandamock/reset", headers={"Origin": "https://evil.example"}),
        403,
        "cross-site request from https://evil.example refused",
    )
    ok(cc.post("/_pandamock/reset", headers={"Origin": "http://localhost"}))
    ok(cc.get("/_pandamock/faults", headers={"Origin": "https://evil.example"}))
