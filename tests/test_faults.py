"""Fault rules: validation, matching, gates, actions, order, schedules (in-process; the live
behaviour over a real socket is in tests/test_faults_live.py)."""

from __future__ import annotations

import json

import pytest

from pandamock.app import emulator_of
from pandamock.faults import (
    APACHE_503,
    ConnectionDropped,
    FaultEngine,
    RuleError,
    faults_problems,
    parse_duration,
    rule_problems,
)
from pandamock.scenario import ScenarioError, load
from tests.faultprobe import make_app
from tests.helpers import JSON, envelope

START = "2026-11-29T12:00:00"


@pytest.fixture(scope="module")
def fapp():
    return make_app()


@pytest.fixture
def emu(fapp):
    emulator = emulator_of(fapp)
    emulator.reset()
    emulator.faults.clear()
    emulator.faults.sleeper = None
    emulator.engine.clock.freeze()
    emulator.engine.clock.set(START)
    return emulator


@pytest.fixture
def fc(fapp, emu):
    return fapp.test_client()


def add(emu, **rule):
    rule = {{"from_": "from", "for_": "for", "continue_": "continue"}.get(k, k): v for k, v in rule.items()}
    return emu.faults.add(rule)


def update_job(fc, job_id, status=None, **extra):
    payload = {"job_id": job_id, **extra}
    if status:
        payload["job_status"] = status
    return fc.post("/api/v1/jobprobe/update_job", json=payload, headers=JSON)


def job_status(emu, job_id):
    job = emu.engine.store.table("jobs").get(job_id)
    return job["jobStatus"] if job else None


def is_alive(fc, **headers):
    return fc.get("/api/v1/system/is_alive", headers={**JSON, **headers})


# --- validation ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "rule, problem",
    [
        ({"action": "explode"}, "action: expected one of error, fail, delay, drop, truncate, malformed, got 'explode'"),
        ({"status": 503, "probability": 1.5}, "probability: must be at most 1, got 1.5"),
        ({"status": 503, "probability": -0.1}, "probability: must be at least 0, got -0.1"),
        ({"status": 503, "endpoint": "pilot/[update"}, "endpoint: malformed glob 'pilot/[update': unclosed '['"),
        ({"status": 503, "endpoint": "pilot/up]date"}, "endpoint: malformed glob 'pilot/up]date': ']' without '['"),
        ({"status": 503, "endpoint": "pilot/[]x"}, "endpoint: malformed glob 'pilot/[]x': empty [...] set"),
        ({"status": 503, "endpoint": "pilot update"}, "endpoint: malformed glob 'pilot update'"),
        ({"status": 503, "endpoint": "a/b/c"}, "endpoint: malformed glob 'a/b/c'"),
        ({"status": 503, "endpoint": "pilot"}, "endpoint: expected a glob over module/function such as 'pilot/*'"),
        ({"status": 503, "endpoint": ["pilot/*", "x/[y"]}, "endpoint[1]: malformed glob 'x/[y': unclosed '['"),
        ({"status": 503, "probabilty": 0.5}, "probabilty: unknown key (did you mean 'probability'?)"),
        ({"status": 404}, "status: expected one of 403, 500, 503, got 404"),
        ({"endpoint": "pilot/*"}, "rule: missing 'action' (one of error, fail, delay, drop, truncate, malformed)"),
        ({"action": "error"}, "status: an 'error' needs a status: one of 403, 500, 503"),
        ({"status": 500, "retry_after": 5}, "retry_after: only for status 503"),
        ({"status": 503, "message": "x"}, "message: a 503 is Apache's page, it has no message"),
        ({"status": 403, "reason": "banned", "message": "x"}, "message: the 'banned' 403 body has no message"),
        ({"action": "fail", "status": 500}, "status: only for action 'error'"),
        ({"action": "drop", "body": "x"}, "body: only for action 'malformed'"),
        ({"action": "delay"}, "delay: a 'delay' action needs a delay in seconds or [min, max]"),
        ({"delay": [3, 1]}, "delay: expected [min, max] with min <= max, got [3, 1]"),
        ({"delay": -1}, "delay: must be at least 0, got -1"),
        ({"action": "truncate", "when": "before"}, "when: truncate cuts the real answer, so it acts after the call"),
        ({"action": "malformed", "when": "before"}, "when: a malformed answer before the call needs a 'body'"),
        ({"action": "truncate", "bytes": 3, "fraction": 0.5}, "fraction: give bytes or fraction, not both"),
        ({"status": 503, "method": "FETCH"}, "method: expected one of GET, POST, PUT, DELETE, HEAD, PATCH, OPTIONS"),
        ({"status": 503, "when": "during"}, "when: expected one of before, after, got 'during'"),
        ({"status": 503, "id": "has space"}, "id: use 1-100 letters, digits"),
        ({"status": 503, "from": "soon"}, "from: expected seconds after installation (60, '90s', '2m'), or an ISO"),
        ({"status": 503, "for": "2 fortnights"}, "for: expected seconds or a duration such as '90s'"),
        ({"status": 503, "until": 60, "for": 30}, "until: give until or for, not both"),
        ({"status": 503, "from": 60, "until": 30}, "until: must be after 'from'"),
        ({"status": 503, "period": 60}, "period: a period needs 'for'"),
        ({"status": 503, "period": 60, "for": 60}, "for: must be shorter than the period"),
        ({"status": 503, "first": 0}, "first: must be at least 1, got 0"),
        ({"status": 503, "panda_id": []}, "panda_id: an empty list matches nothing"),
        ({"status": 503, "production": "yes"}, "production: expected a boolean (true/false), got 'yes'"),
        ("503", "rule: expected a mapping, got '503'"),
    ],
)
def test_invalid_rules_are_refused_with_a_precise_message(rule, problem):
    problems = rule_problems(rule)
    assert any(p.startswith(problem) for p in problems), problems


def test_valid_rules_have_no_problems():
    for rule in (
        {"status": 503},
        {"endpoint": "*", "delay": [0.5, 2]},
        {"endpoint": ["pilot/*", "*/update_[a-z]*"], "action": "drop", "when": "after"},
        {"action": "fail", "data": {"x": 1}, "panda_id": [1, "2"], "site": "CERN-*", "probability": 0.25},
        {"status": 403, "reason": "token", "message": "Invalid token. Signature has expired"},
        {"status": 503, "from": "1m", "for": "30s", "period": "5m", "retry_after": 30},
        {"status": 500, "from": "2026-11-29T12:00:00", "until": "2026-11-29T13:00:00Z"},
        {"action": "malformed", "when": "before", "body": "<html>"},
    ):
        assert rule_problems(rule) == [], rule


@pytest.mark.parametrize(
    "text, seconds",
    [(60, 60.0), ("90", 90.0), ("90s", 90.0), ("2m", 120.0), ("1h30m", 5400.0), ("500ms", 0.5), ("1d", 86400.0)],
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


def test_scenario_faults_are_validated_with_paths():
    with pytest.raises(ScenarioError) as raised:
        load(
            {
                "name": "x",
                "faults": [
                    {"endpoint": "pilot/update_job", "status": 418},
                    {"phase": "p", "from": 60, "rules": [{"status": 503, "until": 90}]},
                    {"id": "a", "status": 503},
                    {"id": "a", "status": 500},
                ],
            }
        )
    assert raised.value.problems == [
        "faults[0].status: expected one of 403, 500, 503, got 418",
        "faults[1].rules[0].until: a rule inside a phase takes the phase's window",
    ]
    assert faults_problems([{"id": "a", "status": 503}, {"id": "a", "status": 500}]) == [
        "faults[1].id: 'a' is used already by faults[0]"
    ]


# --- matching -------------------------------------------------------------------------------------
def test_endpoint_globs(emu, fc):
    add(emu, endpoint="jobprobe/update_*", status=500)
    assert update_job(fc, 1).status_code == 500
    assert fc.get("/api/v1/jobprobe/get_job?job_id=1", headers=JSON).status_code == 200
    emu.faults.clear()
    add(emu, endpoint=["system/*", "jobprobe/get_[js]*"], status=500)
    assert is_alive(fc).status_code == 500
    assert fc.get("/api/v1/jobprobe/get_job?job_id=1", headers=JSON).status_code == 500
    assert update_job(fc, 1).status_code == 200


def test_method(emu, fc):
    add(emu, endpoint="jobprobe/acquire", method="get", status=500)
    assert fc.get("/api/v1/jobprobe/acquire?site_name=X", headers=JSON).status_code == 500
    assert fc.post("/api/v1/jobprobe/acquire", json={"site_name": "X"}, headers=JSON).status_code == 200


@pytest.mark.parametrize(
    "identity, hits",
    [
        ("jdoe", {"jdoe"}),  # scenario name
        ("Hugo Boson", {"higgs"}),  # compact name
        ("*CN=Robot: ATLAS Pilot1", {"pilot"}),  # DN glob
        (["jdoe", "higgs"], {"jdoe", "higgs"}),
    ],
)
def test_identity(emu, fc, identity, hits):
    add(emu, endpoint="system/is_alive", identity=identity, status=500)
    statuses = {}
    for name in ("pilot", "jdoe", "higgs"):
        headers = {"X-Pandamock-Identity": name} if name != "pilot" else {}
        statuses[name] = is_alive(fc, **headers).status_code
    assert {name for name, status in statuses.items() if status == 500} == hits


def test_production_role(emu, fc):
    add(emu, endpoint="system/is_alive", production=False, status=403)
    assert is_alive(fc).status_code == 200  # the default identity has the production role
    assert is_alive(fc, **{"X-Pandamock-Identity": "jdoe"}).status_code == 403
    assert is_alive(fc, **{"X-Pandamock-Identity": "higgs"}).status_code == 403  # working-group role only


def test_identity_rules_do_not_change_refusals(emu, fc):
    add(emu, endpoint="system/is_alive", identity="jdoe", status=500)
    response = is_alive(fc, **{"X-Pandamock-Identity": "mallory"})
    assert (response.status_code, response.data) == (403, b"ERROR : Mallory Banned is banned")
    response = is_alive(fc, **{"X-Pandamock-Identity": "nobody"})
    assert response.status_code == 403 and b"unknown pandamock identity" in response.data


def test_value_rules_do_not_change_decoding_errors(emu, fc):
    add(emu, endpoint="*", panda_id=1, status=500)
    response = fc.post("/api/v1/jobprobe/update_job", data=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 500
    assert response.data.startswith(b"ERROR : received invalid JSON : ")
    assert response.data != b"ERROR : internal server error"


@pytest.mark.parametrize(
    "rule, hit, miss",
    [
        ({"panda_id": 42}, {"job_id": 42}, {"job_id": 43}),
        ({"panda_id": [41, 42]}, {"job_id": 41}, {"job_id": 40}),
        ({"task_id": 7}, {"job_id": 1, "task_id": 7}, {"job_id": 1, "task_id": 8}),
        ({"site": "CERN-*"}, {"job_id": 1, "site_name": "CERN-PROD_UCORE"}, {"job_id": 1, "site_name": "BNL_PROD"}),
        ({"harvester_id": "harv-0?"}, {"job_id": 1, "harvester_id": "harv-01"}, {"job_id": 1, "harvester_id": "h-1"}),
        ({"worker_id": 99}, {"job_id": 1, "worker_id": 99}, {"job_id": 1, "worker_id": 98}),
        ({"params": {"job_status": "fail*"}}, {"job_id": 1, "job_status": "failed"}, {"job_id": 1}),
        ({"panda_id": 42, "site": "BNL*"}, {"job_id": 42, "site_name": "BNL_PROD"}, {"job_id": 42}),
    ],
)
def test_request_values(emu, fc, rule, hit, miss):
    add(emu, endpoint="jobprobe/update_job", status=500, **rule)
    assert fc.post("/api/v1/jobprobe/update_job", json=miss, headers=JSON).status_code == 200
    assert fc.post("/api/v1/jobprobe/update_job", json=hit, headers=JSON).status_code == 500


def test_request_values_from_query_strings_lists_and_records(emu, fc):
    add(emu, endpoint="jobprobe/*", panda_id=42, status=500)
    assert fc.get("/api/v1/jobprobe/get_job?job_id=42", headers=JSON).status_code == 500  # '42' from GET
    assert fc.get("/api/v1/jobprobe/get_status?job_ids=1&job_ids=42", headers=JSON).status_code == 500
    assert fc.get("/api/v1/jobprobe/get_status?job_ids=1&job_ids=2", headers=JSON).status_code == 200
    bulk = {"job_list": [{"job_id": 1}, {"job_id": 42}]}
    assert fc.post("/api/v1/jobprobe/bulk", json=bulk, headers=JSON).status_code == 500
    bulk = {"job_list": [{"job_id": 1}], "harvester_id": "h"}
    assert fc.post("/api/v1/jobprobe/bulk", json=bulk, headers=JSON).status_code == 200


# --- gates ------------------------------------------------------------------------------------------
def _pattern(fc, n):
    return "".join("x" if is_alive(fc).status_code == 500 else "." for _ in range(n))


@pytest.mark.parametrize(
    "gates, pattern",
    [
        ({"first": 2}, "xx......"),
        ({"after": 5}, ".....xxx"),
        ({"every": 3}, "..x..x.."),
        ({"max": 3}, "xxx....."),
        ({"after": 1, "every": 2, "max": 2}, ".x.x...."),
    ],
)
def test_count_gates(emu, fc, gates, pattern):
    rule = add(emu, endpoint="system/is_alive", status=500, **gates)
    assert _pattern(fc, 8) == pattern
    assert (rule.matched, rule.fired) == (8, pattern.count("x"))


def test_probability_is_seeded_and_deterministic(emu, fc):
    add(emu, id="flaky", endpoint="system/is_alive", status=500, probability=0.3)
    first = _pattern(fc, 200)
    emu.reset()
    emu.faults.clear()
    add(emu, id="flaky", endpoint="system/is_alive", status=500, probability=0.3)
    assert _pattern(fc, 200) == first
    assert 30 < first.count("x") < 90
    emu.faults.clear()
    add(emu, id="other", endpoint="system/is_alive", status=500, probability=0.3)
    assert _pattern(fc, 200) != first  # another rule id: another sequence


def test_same_seed_same_failures_across_emulators():
    runs = []
    for _ in range(2):
        app = make_app(seed=7)
        emulator_of(app).faults.add({"id": "p", "endpoint": "*", "status": 500, "probability": 0.5})
        client = app.test_client()
        runs.append(_pattern(client, 64))
    assert runs[0] == runs[1]
    app = make_app(seed=8)
    emulator_of(app).faults.add({"id": "p", "endpoint": "*", "status": 500, "probability": 0.5})
    assert _pattern(app.test_client(), 64) != runs[0]
    assert 10 < runs[0].count("x") < 54


def test_faults_do_not_perturb_generated_data(emu, fc):
    state = emu.engine.random.getstate()
    add(emu, endpoint="system/is_alive", status=500, probability=0.5, delay=[0, 0.001])
    _pattern(fc, 20)
    assert emu.engine.random.getstate() == state


def test_time_window_relative_to_installation(emu, fc):
    rule = add(emu, endpoint="system/is_alive", status=503, from_="60s", for_="2m")
    clock = emu.engine.clock
    assert is_alive(fc).status_code == 200 and rule.state(clock.time()) == "waiting"
    clock.advance(60)
    assert is_alive(fc).status_code == 503 and rule.state(clock.time()) == "active"
    clock.advance(119)
    assert is_alive(fc).status_code == 503
    clock.advance(1)
    assert is_alive(fc).status_code == 200 and rule.state(clock.time()) == "expired"
    assert rule.matched == 2  # requests outside the window are not matches


def test_time_window_absolute_and_periodic(emu, fc):
    clock = emu.engine.clock
    add(emu, endpoint="system/is_alive", status=500, from_="2026-11-29T12:10:00", until="2026-11-29T12:20:00Z")
    add(emu, endpoint="system/is_alive", status=503, period="5m", for_="1m", from_="1h")
    seen = []
    for minute in range(0, 70, 1):
        clock.set(f"2026-11-29T{12 + minute // 60}:{minute % 60:02d}:30")
        seen.append(is_alive(fc).status_code)
    assert [m for m, s in enumerate(seen) if s == 500] == list(range(10, 20))
    assert [m for m, s in enumerate(seen) if s == 503] == [60, 65]


# --- order ---------------------------------------------------------------------------------------------
def test_first_firing_rule_wins_and_continue(emu, fc):
    first = add(emu, id="a", endpoint="system/*", status=500, every=2)
    second = add(emu, id="b", endpoint="system/is_alive", status=503)
    assert [is_alive(fc).status_code for _ in range(4)] == [503, 500, 503, 500]
    assert (first.matched, first.fired, second.matched, second.fired) == (4, 2, 2, 2)
    emu.faults.clear()
    recorded = []
    emu.faults.sleeper = recorded.append
    add(emu, id="slow", endpoint="system/*", delay=1.5, continue_=True)
    add(emu, id="down", endpoint="system/*", status=503)
    response = is_alive(fc)
    assert response.status_code == 503 and recorded == [1.5]
    assert emu.journal.entries()[-1]["fault"] == ["slow", "down"]


def test_position_puts_a_rule_first(emu, fc):
    add(emu, id="late", endpoint="*", status=500)
    emu.faults.add({"id": "early", "endpoint": "*", "status": 503}, position=0)
    assert is_alive(fc).status_code == 503


# --- actions --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "rule, body",
    [
        ({"status": 403}, b"ERROR : method is_alive is forbidden"),
        ({"status": 403, "reason": "banned"}, b"ERROR : atlpilo1 is banned"),
        ({"status": 403, "reason": "token"}, b"ERROR : Token authentication failed. Invalid token. "),
        ({"status": 403, "message": "no entry"}, b"ERROR : no entry"),
        ({"status": 500}, b"ERROR : internal server error"),
        ({"status": 500, "message": "ORA-03113: end-of-file"}, b"ERROR : ORA-03113: end-of-file"),
        ({"status": 500, "message": "ERROR : exact text"}, b"ERROR : exact text"),
    ],
)
def test_error_bodies(emu, fc, rule, body):
    add(emu, endpoint="system/is_alive", **rule)
    response = is_alive(fc)
    assert response.status_code == rule["status"]
    assert response.headers["Content-Type"] == "text/plain"
    assert response.data.startswith(body)


def test_503_is_apaches_page(emu, fc):
    add(emu, endpoint="system/is_alive", status=503, retry_after=120)
    response = is_alive(fc)
    assert response.status_code == 503
    assert response.headers["Content-Type"] == "text/html; charset=iso-8859-1"
    assert response.headers["Retry-After"] == "120"
    assert response.data == APACHE_503
    assert b"<title>503 Service Unavailable</title>" in response.data


def test_fail_before_does_not_reach_state(emu, fc):
    update_job(fc, 7)
    add(emu, endpoint="jobprobe/update_job", action="fail")
    assert envelope(update_job(fc, 7, "sent")) == {
        "success": False,
        "message": "database error in the PanDA server",
        "data": None,
    }
    assert job_status(emu, 7) == "activated"
    entry = emu.journal.entries()[-1]
    assert (entry["success"], entry["fault"], entry.get("transitions")) == (False, ["rule-1"], None)
    response = fc.post("/api/v1/jobprobe/update_job", data={"job_id": "7"})  # a form post: repr answer
    assert response.data == b"{'success': False, 'message': 'database error in the PanDA server', 'data': None}"


def test_fail_after_applies_the_call(emu, fc):
    update_job(fc, 7)
    add(emu, endpoint="jobprobe/update_job", action="fail", when="after", message="lost", data={"code": 1})
    assert envelope(update_job(fc, 7, "sent")) == {"success": False, "message": "lost", "data": {"code": 1}}
    assert job_status(emu, 7) == "sent"
    assert emu.journal.entries()[-1]["transitions"][0]["to"] == "sent"


@pytest.mark.parametrize("when, status_after", [("before", "activated"), ("after", "sent")])
def test_error_and_drop_before_and_after(emu, fc, when, status_after):
    update_job(fc, 7)
    add(emu, id="e", endpoint="jobprobe/update_job", status=500, when=when, first=1)
    assert update_job(fc, 7, "sent").status_code == 500
    assert job_status(emu, 7) == status_after
    add(emu, id="d", endpoint="jobprobe/update_job", action="drop", when=when)
    with pytest.raises(ConnectionDropped):
        update_job(fc, 7, "starting")
    assert job_status(emu, 7) == ("starting" if when == "after" else status_after)
    entry = emu.journal.entries()[-1]
    assert (entry["status"], entry["fault"], entry["message"]) == (0, ["d"], "connection dropped")


def test_delay_before_and_after(emu, fc):
    recorded = []
    emu.faults.sleeper = recorded.append
    add(emu, endpoint="system/is_alive", delay=0.25)
    add(emu, endpoint="jobprobe/update_job", delay=[1, 2], when="after")
    assert is_alive(fc).status_code == 200
    assert update_job(fc, 3).status_code == 200
    assert recorded[0] == 0.25 and 1 <= recorded[1] <= 2


def test_delay_added_to_an_error(emu, fc):
    recorded = []
    emu.faults.sleeper = recorded.append
    add(emu, endpoint="system/is_alive", status=503, delay=0.5)
    assert is_alive(fc).status_code == 503 and recorded == [0.5]


def test_clearing_rules_wakes_delayed_requests(emu, fc):
    import threading
    import time

    add(emu, endpoint="system/is_alive", delay=30)
    done = []
    thread = threading.Thread(target=lambda: done.append(is_alive(emu_client(emu)).status_code))
    started = time.monotonic()
    thread.start()
    time.sleep(0.1)
    emu.faults.clear()
    thread.join(5)
    assert done == [200] and time.monotonic() - started < 5


def emu_client(emu):
    from pandamock.app import create_app

    return create_app(emulator=emu).test_client()


def test_malformed_and_truncated_bodies(emu, fc):
    add(emu, id="m", endpoint="system/is_alive", action="malformed", bytes=12, first=1)
    add(emu, id="b", endpoint="system/is_alive", action="malformed", body="<html>oops", when="before", first=1)
    response = is_alive(fc)
    assert (response.status_code, response.data) == (200, b'{"success": ')
    with pytest.raises(ValueError):
        json.loads(response.data)
    assert is_alive(fc).data == b"<html>oops"
    add(emu, id="t", endpoint="system/is_alive", action="truncate", fraction=0.5)
    with pytest.raises(ConnectionDropped):
        is_alive(fc).data  # noqa: B018 - the body is read lazily
    entry = emu.journal.entries()[-1]
    assert entry["fault"] == ["t"] and entry["message"] == "body truncated after 23 of 46 bytes"


def test_refused_paths_are_never_faulted(emu, fc):
    add(emu, endpoint="*", status=503)
    response = fc.get("/api/v1/system/no_such_thing")
    assert (response.status_code, response.data) == (403, b"ERROR : method no_such_thing is forbidden")


# --- installation, reset, schedules -------------------------------------------------------------------
def test_update_keeps_counters_and_delete(emu, fc):
    add(emu, id="r", endpoint="system/is_alive", status=500)
    is_alive(fc)
    emu.faults.update("r", {"status": 503, "retry_after": 5})
    assert is_alive(fc).status_code == 503
    assert (emu.faults.get("r").matched, emu.faults.get("r").fired) == (2, 2)
    emu.faults.update("r", {"retry_after": None, "status": 500})
    assert "retry_after" not in emu.faults.get("r").definition
    with pytest.raises(RuleError, match="the id of a rule cannot change"):
        emu.faults.update("r", {"id": "s"})
    with pytest.raises(RuleError, match="exists already"):
        add(emu, id="r", status=500)
    emu.faults.delete("r")
    assert is_alive(fc).status_code == 200


def test_disabled_rule_keeps_its_counters_and_never_matches(emu, fc):
    add(emu, id="r", endpoint="system/is_alive", status=500)
    add(emu, id="later", endpoint="system/is_alive", status=503)
    assert is_alive(fc).status_code == 500
    emu.faults.update("r", {"disabled": True})
    assert emu.faults.get("r").describe(emu.faults.now())["state"] == "disabled"
    assert is_alive(fc).status_code == 503  # the next rule fires instead
    assert (emu.faults.get("r").matched, emu.faults.get("r").fired) == (1, 1)
    emu.faults.update("r", {"disabled": None})
    assert "disabled" not in emu.faults.get("r").definition
    assert is_alive(fc).status_code == 500
    assert emu.faults.get("r").describe(emu.faults.now())["state"] == "active"
    assert rule_problems({"status": 500, "disabled": "yes"}) == ["disabled: expected a boolean (true/false), got 'yes'"]


def test_scenario_rules_come_back_on_reset(fapp):
    emulator = emulator_of(fapp)
    scenario = load("default").as_dict()
    scenario["faults"] = [{"id": "always", "endpoint": "system/is_alive", "status": 500, "max": 1}]
    try:
        emulator.load_scenario(scenario)
        client = fapp.test_client()
        emulator.faults.add({"id": "extra", "endpoint": "*", "status": 503, "after": 10})
        assert [is_alive(client).status_code for _ in range(2)] == [500, 200]
        emulator.reset()
        assert [rule.id for rule in emulator.faults.rules] == ["always"]
        assert emulator.faults.get("always").fired == 0
        assert is_alive(client).status_code == 500
    finally:
        emulator.load_scenario("default")


def test_chaos_schedule_follows_the_clock(fapp):
    emulator = emulator_of(fapp)
    schedule = {
        **load("default").as_dict(),
        "clock": {"start": START, "frozen": True},
        "faults": [
            {
                "phase": "outage",
                "from": "60s",
                "until": "180s",
                "rules": [{"endpoint": "jobprobe/update_job", "status": 503}],
            },
            {
                "phase": "flaky",
                "from": "180s",
                "rules": [{"endpoint": "jobprobe/acquire", "status": 500, "probability": 0.5}],
            },
        ],
    }
    try:
        emulator.load_scenario(schedule)
        client = fapp.test_client()
        clock = emulator.engine.clock

        def acquire_pattern():
            return "".join(
                "x" if client.get("/api/v1/jobprobe/acquire?site_name=Q", headers=JSON).status_code == 500 else "."
                for _ in range(40)
            )

        assert update_job(client, 1).status_code == 200 and acquire_pattern() == "." * 40
        clock.advance(60)
        assert update_job(client, 1, "sent").status_code == 503
        assert job_status(emulator, 1) == "activated"
        assert acquire_pattern() == "." * 40
        clock.advance(120)
        assert update_job(client, 1, "sent").status_code == 200
        flaky = acquire_pattern()
        assert 5 < flaky.count("x") < 35
        states = {rule["id"]: rule["state"] for rule in emulator.faults.describe()}
        assert states == {"outage-1": "expired", "flaky-1": "active"}
        emulator.reset()  # the schedule starts again from the reset
        assert clock.now().isoformat().startswith(START)
        assert update_job(client, 1).status_code == 200
        clock.advance(60)
        assert update_job(client, 1, "sent").status_code == 503
        clock.advance(120)
        assert acquire_pattern() == flaky  # same seed, same requests: same failures
    finally:
        emulator.load_scenario("default")


@pytest.mark.parametrize(
    "name, at, status",
    [
        ("drill-server-outage", 0, 200),
        ("drill-server-outage", 61, 503),
        ("drill-server-outage", 241, 200),
        ("drill-auth-outage", 61, 403),
        ("drill-auth-outage", 361, 200),
        ("drill-database-trouble", 181, 200),
        ("drill-database-trouble", 301, 200),
    ],
)
def test_drills_follow_their_schedule(name, at, status):
    app = make_app(scenario=name)
    emulator = emulator_of(app)
    emulator.engine.clock.freeze()
    emulator.engine.clock.advance(at)
    response = is_alive(app.test_client())
    assert response.status_code == status
    if status == 403:
        assert response.data == b"ERROR : Token authentication failed. Invalid token. Signature verification failed"
    if name == "drill-database-trouble" and 180 < at < 300:
        body = envelope(response)
        assert body["success"] is False and body["message"] == "database error in the PanDA server"


def test_drills_without_existing_endpoints_schedule_their_rules():
    engine = FaultEngine(clock=None)
    for name in ("drill-flaky-dispatcher", "drill-slow-server"):
        engine.load(load(name).faults)
        assert engine.rules and all(rule.state(engine.now()) in ("waiting", "active") for rule in engine.rules)


def test_rule_order_holds_with_indexed_value_rules(emu, fc):
    add(emu, id="glob", endpoint="jobprobe/*", site="BNL*", status=403)
    add(emu, id="exact", endpoint="jobprobe/*", panda_id=[42, 43], status=500)
    add(emu, id="task", endpoint="jobprobe/*", task_id=7, panda_id=42, status=403, reason="banned")
    add(emu, id="rest", endpoint="jobprobe/*", status=503)
    assert update_job(fc, 42).status_code == 500
    assert update_job(fc, 43, site_name="BNL_PROD").status_code == 403
    assert update_job(fc, 44).status_code == 503
    emu.faults.delete("exact")
    assert update_job(fc, 42, task_id=7).data == b"ERROR : atlpilo1 is banned"
    assert update_job(fc, 42, task_id=8).status_code == 503
    assert [emu.faults.get(i).matched for i in ("glob", "task", "rest")] == [1, 1, 2]
