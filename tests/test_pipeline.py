"""The request pipeline: routing, decoding, checks in the real order, encoding, identity."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from typing import Any, Dict, List

import pytest
from werkzeug.datastructures import FileStorage

from pandamock.api.registry import ApiModule, Registry, discover
from pandamock.app import create_app, emulator_of
from pandamock.config import Settings
from pandamock.emulator import Emulator
from pandamock.engine import records
from pandamock.engine.outcome import Failure, Reply
from tests.helpers import JSON, envelope, fake_token, signed_token

# --- a probe module exercising every annotation kind and answer kind ------------------------
probe = ApiModule("probe")


@probe.endpoint("GET")
def echo_get(
    req,
    number: int = 0,
    flag: bool = False,
    text: str = "",
    ids: List[int] = None,
    names: List[str] = None,
    flags: List[bool] = None,
    mapping: Dict = None,
    plain_list: list = None,
    metric: int | float = None,
    ratio: float = None,
    maybe: int | None = None,
    free: Any = None,
) -> dict:
    """Echo of the cast values with their type names."""
    values = dict(
        number=number,
        flag=flag,
        text=text,
        ids=ids,
        names=names,
        flags=flags,
        mapping=mapping,
        plain_list=plain_list,
        metric=metric,
        ratio=ratio,
        maybe=maybe,
        free=free,
    )
    return {key: [value, type(value).__name__] for key, value in values.items()}


@probe.endpoint("POST")
def echo_post(req, number: int, ratio: float = None, metric: int | float = None, ids: List[int] = None) -> dict:
    """Echo of the JSON values."""
    return {"number": number, "ratio": ratio, "metric": metric, "ids": ids}


@probe.endpoint(None)
def echo_any(req, ids: List[int]) -> list:
    """Any method."""
    return ids


@probe.endpoint("POST", production=True)
def production_only(req) -> str:
    """Needs the production role."""
    return "ok"


@probe.endpoint("POST", task_owner=True)
def owned(req, task_id: int) -> int:
    """Needs task ownership."""
    return task_id


@probe.endpoint("GET")
def crash(req) -> None:
    """Raises."""
    raise RuntimeError("boom")


@probe.endpoint("GET")
def refuse(req) -> None:
    """Fails with data."""
    raise Failure("Command rejected", data=4)


@probe.endpoint("GET")
def with_message(req) -> Reply:
    """A reply with a message."""
    return Reply([1, 2], message="hello")


@probe.endpoint("GET")
def unencodable(req) -> set:
    """A set: JSON cannot encode it."""
    return {1}


@probe.endpoint("GET")
def timestamp(req) -> dt.datetime:
    """A datetime."""
    return dt.datetime(2026, 11, 29, 12, 30, 1, 5)


@probe.endpoint("GET", raw=True)
def bare(req) -> str:
    """A bare string."""
    return "line one\nline two"


@probe.endpoint("POST")
def upload(req, file: FileStorage) -> dict:
    """A multipart upload."""
    return {"name": file.filename, "size": len(file.read())}


@probe.endpoint("GET")
def what_id(req) -> dict:
    """The identity."""
    return req.identity.describe()


@pytest.fixture(scope="module")
def probe_app():
    registry = Registry([probe, *discover().modules.values()])
    emulator = Emulator(Settings.load({"scenario": "default"}), registry=registry)
    return create_app(emulator=emulator)


@pytest.fixture
def pc(probe_app):
    emulator_of(probe_app).reset()
    return probe_app.test_client()


# --- routing ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path, function",
    [
        ("/api/v1/system/no_such_function", "no_such_function"),
        ("/api/v1/nosuchmodule/is_alive", "is_alive"),
        ("/api/v2/system/is_alive", "is_alive"),
        ("/api/latest/system/is_alive", "is_alive"),
        ("/api/v1/system/is_alive/", ""),
        ("/api/v1/system/is_alive/extra", ""),
        ("/api/v1/system", ""),
        ("/api/v1/system/_private", "_private"),
    ],
)
@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE"])
def test_unknown_paths_are_forbidden_without_redirect(client, path, function, method):
    response = client.open(path, method=method)
    assert response.status_code == 403
    assert response.headers["Content-Type"] == "text/plain"
    assert response.data == f"ERROR : method {function} is forbidden".encode()
    assert "Location" not in response.headers


# --- method, binding ------------------------------------------------------------------------
ENDPOINTS = list(discover())
WITH_METHOD = [spec for spec in ENDPOINTS if spec.method]


@pytest.mark.parametrize("spec", WITH_METHOD, ids=lambda s: s.key)
def test_wrong_method_is_refused(client, spec):
    wrong = "POST" if spec.method == "GET" else "GET"
    response = client.open(spec.path, method=wrong, headers=JSON)
    body = envelope(response)  # the default identity passes the secure and production checks
    assert body == {"success": False, "message": f"expecting {spec.method}, received {wrong}", "data": None}


@pytest.mark.parametrize("spec", WITH_METHOD, ids=lambda s: s.key)
def test_put_is_refused_for_every_endpoint(client, spec):
    body = envelope(client.put(spec.path, json={}, headers=JSON))
    assert body["message"] == f"expecting {spec.method}, received PUT"


def _call(client, spec, params: dict):
    if (spec.method or "POST") == "GET":
        return client.get(spec.path, query_string=params, headers=JSON)
    return client.post(spec.path, json=params, headers=JSON)


@pytest.mark.parametrize("spec", [s for s in ENDPOINTS if any(p.required for p in s.params)], ids=lambda s: s.key)
def test_missing_required_argument(client, spec):
    first = next(p for p in spec.params if p.required)
    body = envelope(_call(client, spec, {}))
    assert body == {
        "success": False,
        "message": f"Argument error: missing a required argument: '{first.name}'",
        "data": None,
    }


@pytest.mark.parametrize("spec", [s for s in ENDPOINTS if not s.accepts_any], ids=lambda s: s.key)
def test_unexpected_argument(client, spec):
    params = {p.name: 1 for p in spec.params if p.required}
    params["surely_not_a_parameter"] = "x"
    body = envelope(_call(client, spec, params))
    assert body["message"] == "Argument error: got an unexpected keyword argument 'surely_not_a_parameter'"
    assert body["success"] is False


def test_parameter_named_req_crashes_like_the_real_server(pc):
    response = pc.get("/api/v1/probe/echo_get?req=1")
    assert response.status_code == 500
    assert response.data.endswith(b"got multiple values for argument 'req'")


# --- GET casting and type checks ---------------------------------------------------------------
@pytest.mark.parametrize(
    "query, key, expected",
    [
        ("number=3.7", "number", [3, "int"]),
        ("number=1e3", "number", [1000, "int"]),
        ("flag=True", "flag", [True, "bool"]),
        ("flag=1", "flag", [True, "bool"]),
        ("flag=False", "flag", [False, "bool"]),
        ("flag=yes", "flag", [False, "bool"]),
        ("ids=5", "ids", [[5], "list"]),
        ("ids=5&ids=6.2", "ids", [[5, 6], "list"]),
        ("names=a&names=b", "names", [["a", "b"], "list"]),
        ("flags=true&flags=0", "flags", [[True, False], "list"]),
        ("mapping={'a': 1}", "mapping", [{"a": 1}, "dict"]),
        ("plain_list=[1, 2]", "plain_list", [[1, 2], "list"]),
        ("maybe=None", "maybe", [None, "NoneType"]),
        ("maybe=7", "maybe", [7, "int"]),
        ("free=anything", "free", ["anything", "str"]),
        ("free=a&free=b", "free", [["a", "b"], "list"]),
        ("text=", "text", ["", "str"]),
    ],
)
def test_get_values_are_cast_like_panda(pc, query, key, expected):
    body = envelope(pc.get(f"/api/v1/probe/echo_get?{query}", headers=JSON))
    assert body["success"] is True, body
    assert body["data"][key] == expected


@pytest.mark.parametrize(
    "query, message",
    [
        ("number=abc", "Type error: 'number' with value 'abc' could not be casted to type int from str."),
        (
            "number=1&number=2",
            "Type error: 'number' with value '['1', '2']' could not be casted to type int from list.",
        ),
        ("ids=x", "Type error: 'ids' with value '['x']' could not be casted to type List from list."),
        ("text=a&text=b", "Type error: 'text' must be of type str, got list."),
        ("mapping=[1]", "Type error: 'mapping' with value '[1]' could not be casted to type dict from list."),
        ("mapping=nonsense", "Type error: 'mapping' with value 'nonsense' could not be casted to type dict from str."),
        ("ratio=abc", "Type error: 'ratio' with value 'abc' could not be casted to type float from str."),
        ("metric=abc", "Type error: 'metric' with value 'abc' could not be casted to type int | float from str."),
        ("flag=a&flag=b", "Type error: 'flag' with value '['a', 'b']' could not be casted to type bool from list."),
    ],
)
def test_get_cast_failures(pc, query, message):
    assert envelope(pc.get(f"/api/v1/probe/echo_get?{query}", headers=JSON)) == {
        "success": False,
        "message": message,
        "data": None,
    }


def test_value_equal_to_default_is_neither_cast_nor_checked(pc):
    body = envelope(pc.get("/api/v1/probe/echo_get?text=", headers=JSON))
    assert body["success"] is True


@pytest.mark.parametrize(
    "payload, message",
    [
        ({"number": "3"}, "Type error: 'number' must be of type int, got str."),
        ({"number": 1, "ratio": 1}, "Type error: 'ratio' must be of type float, got int."),
        ({"number": 1, "ids": "1"}, "Type error: 'ids' must be of type list, got str."),
        ({"number": 1, "ids": [1, "2"]}, "Type error: All elements in 'ids' must be int."),
        ({"number": 1, "metric": "big"}, "Type error: 'metric' must be of type int | float, got str."),
    ],
)
def test_json_values_are_type_checked_not_cast(pc, payload, message):
    body = envelope(pc.post("/api/v1/probe/echo_post", json=payload, headers=JSON))
    assert body == {"success": False, "message": message, "data": None}


def test_json_true_is_a_valid_int_and_values_keep_their_types(pc):
    body = envelope(pc.post("/api/v1/probe/echo_post", json={"number": True, "ratio": 0.5, "metric": 2}, headers=JSON))
    assert body["data"] == {"number": True, "ratio": 0.5, "metric": 2, "ids": None}


def test_any_method_endpoint_casts_on_get_and_checks_on_post(pc):
    assert envelope(pc.get("/api/v1/probe/echo_any?ids=1&ids=2", headers=JSON))["data"] == [1, 2]
    assert envelope(pc.post("/api/v1/probe/echo_any", json={"ids": [3]}, headers=JSON))["data"] == [3]
    assert envelope(pc.post("/api/v1/probe/echo_any", json={"ids": 3}, headers=JSON))["message"] == (
        "Type error: 'ids' must be of type list, got int."
    )


# --- decoding --------------------------------------------------------------------------------
def test_gzip_json_body(pc):
    body = gzip.compress(json.dumps({"number": 5}).encode())
    response = pc.post(
        "/api/v1/probe/echo_post",
        data=body,
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert json.loads(response.data)["data"]["number"] == 5


def test_gzip_header_with_plain_body_is_a_500(pc):
    response = pc.post(
        "/api/v1/probe/echo_post",
        data=b'{"number": 5}',
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert response.status_code == 500
    assert response.headers["Content-Type"] == "text/plain"
    assert b"Not a gzipped file" in response.data


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "Expecting value: line 1 column 1 (char 0)"),
        (b"{bad", "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
    ],
)
def test_invalid_json_is_a_500_with_the_reason(pc, data, reason):
    response = pc.post("/api/v1/probe/echo_post", data=data, headers={"Content-Type": "application/json"})
    assert response.status_code == 500
    assert response.headers["Content-Type"] == "text/plain"
    assert response.data.decode() == f"ERROR : received invalid JSON : {reason}"


def test_json_body_that_is_not_an_object_is_a_500(pc):
    response = pc.post("/api/v1/probe/echo_post", json=[1, 2], headers=JSON)
    assert response.status_code == 500
    assert b"must be a mapping, not list" in response.data


def test_get_with_json_content_type_and_empty_or_braces_body(pc):
    for data in (b"", b"{}"):
        response = pc.get(
            "/api/v1/probe/echo_get?number=4", data=data, headers={"Content-Type": "application/json", **JSON}
        )
        assert envelope(response)["data"]["number"] == [4, "int"]


def test_charset_in_content_type_is_not_json(pc):
    response = pc.post(
        "/api/v1/probe/echo_post", data=b'{"number": 5}', headers={"Content-Type": "application/json; charset=utf-8"}
    )
    assert (
        response.data
        == b"{'success': False, 'message': \"Argument error: missing a required argument: 'number'\", 'data': None}"
    )


def test_form_body_values_are_strings_and_repeated_keys_collapse(pc):
    response = pc.post("/api/v1/probe/echo_post", data={"number": ["5", "6"]}, headers=JSON)
    assert envelope(response)["message"] == "Type error: 'number' must be of type int, got str."


def test_multipart_upload(pc):
    import io

    response = pc.post(
        "/api/v1/probe/upload",
        data={"file": (io.BytesIO(b"abcdef"), "/abs/path/sandbox.tgz")},
        content_type="multipart/form-data",
        headers=JSON,
    )
    assert envelope(response)["data"] == {"name": "/abs/path/sandbox.tgz", "size": 6}


# --- encoding --------------------------------------------------------------------------------
def test_repr_without_json_headers_and_json_with_either(pc):
    assert pc.get("/api/v1/system/is_alive").data == b"{'success': True, 'message': '', 'data': None}"
    assert pc.get("/api/v1/system/is_alive", headers={"Accept": "application/json"}).data == (
        b'{"success": true, "message": "", "data": null}'
    )
    assert pc.get("/api/v1/system/is_alive", headers={"Content-Type": "application/json"}).data == (
        b'{"success": true, "message": "", "data": null}'
    )
    assert pc.get("/api/v1/system/is_alive", headers={"Accept": "application/json, text/plain"}).data.startswith(b"{'")


def test_failure_and_reply_messages(pc):
    assert envelope(pc.get("/api/v1/probe/refuse", headers=JSON)) == {
        "success": False,
        "message": "Command rejected",
        "data": 4,
    }
    assert envelope(pc.get("/api/v1/probe/with_message", headers=JSON)) == {
        "success": True,
        "message": "hello",
        "data": [1, 2],
    }


def test_datetimes_are_marked_in_json_and_repr_otherwise(pc):
    assert envelope(pc.get("/api/v1/probe/timestamp", headers=JSON))["data"] == {
        "__datetime__": "2026-11-29T12:30:01.000005"
    }
    assert b"datetime.datetime(2026, 11, 29, 12, 30, 1, 5)" in pc.get("/api/v1/probe/timestamp").data


def test_unencodable_result_is_a_500_and_repr_works(pc):
    response = pc.get("/api/v1/probe/unencodable", headers=JSON)
    assert response.status_code == 500
    assert response.data == b"Object of type set is not JSON serializable"
    assert pc.get("/api/v1/probe/unencodable").data == b"{'success': True, 'message': '', 'data': {1}}"


def test_handler_exception_is_a_500_with_the_reason_and_server_keeps_serving(pc):
    response = pc.get("/api/v1/probe/crash")
    assert response.status_code == 500
    assert response.headers["Content-Type"] == "text/plain"
    assert response.data == b"boom"
    assert pc.get("/api/v1/system/is_alive").status_code == 200


def test_raw_answers_are_bare_strings(pc):
    assert pc.get("/api/v1/probe/bare").data == b"line one\nline two"
    assert pc.get("/api/v1/probe/bare", headers=JSON).data == b'"line one\\nline two"'


# --- identity, roles, ownership ----------------------------------------------------------------
def test_open_mode_acts_as_the_default_production_identity(pc):
    data = envelope(pc.get("/api/v1/probe/what_id", headers=JSON))["data"]
    assert data["source"] == "default"
    assert data["production"] is True
    assert data["name"] == "atlpilo1"


def test_identity_header_selects_a_scenario_identity(pc):
    data = envelope(pc.get("/api/v1/probe/what_id", headers={**JSON, "X-Pandamock-Identity": "jdoe"}))["data"]
    assert data == {
        "source": "header",
        "dn": "/DC=ch/DC=cern/OU=Organic Units/OU=Users/CN=jdoe/CN=123456/CN=Jane Doe",
        "name": "Jane Doe",
        "fqans": ["/atlas/Role=NULL"],
        "production": False,
    }


def test_unknown_identity_header_is_refused(pc):
    response = pc.get("/api/v1/system/is_alive", headers={"X-Pandamock-Identity": "nobody"})
    assert response.status_code == 403
    assert b"unknown pandamock identity 'nobody'" in response.data


def test_production_role_required(pc):
    body = envelope(pc.post("/api/v1/probe/production_only", json={}, headers={**JSON, "X-Pandamock-Identity": "jdoe"}))
    assert body == {"success": False, "message": "production or pilot role required", "data": None}
    assert envelope(pc.post("/api/v1/probe/production_only", json={}, headers=JSON))["data"] == "ok"


def test_working_group_production_is_not_production_role(pc):
    body = envelope(
        pc.post("/api/v1/probe/production_only", json={}, headers={**JSON, "X-Pandamock-Identity": "higgs"})
    )
    assert body["message"] == "production or pilot role required"


def test_banned_user_gets_403(pc):
    response = pc.get("/api/v1/system/is_alive", headers={"X-Pandamock-Identity": "mallory"})
    assert response.status_code == 403
    assert response.headers["Content-Type"] == "text/plain"
    assert response.data == b"ERROR : Mallory Banned is banned"


def test_checks_run_in_the_real_order(strict_client):
    # strict mode, no credentials: secure fails first even with a wrong method and missing arguments
    body = envelope(strict_client.get("/api/v1/metaconfig/get_resource_types", headers=JSON))
    assert body == {"success": False, "message": "SSL secure connection is required", "data": None}
    body = envelope(strict_client.post("/api/v1/system/get_attributes", headers=JSON))
    assert body["message"] == "SSL secure connection is required"
    # endpoints that are not secure answer anonymous callers
    assert envelope(strict_client.get("/api/v1/system/is_alive", headers=JSON))["success"] is True
    assert envelope(strict_client.get("/api/v1/metaconfig/get_site_specs", headers=JSON))["success"] is True


def _seed_task(engine, task_id: int, owner: str) -> None:
    with engine.operation():
        engine.store.table("tasks").insert(
            records.new_task({"jediTaskID": task_id, "userName": owner, "status": "running"})
        )


def test_task_owner_check(pc, probe_app):
    _seed_task(emulator_of(probe_app).engine, 41000001, "Jane Doe")
    as_jdoe = {**JSON, "X-Pandamock-Identity": "jdoe"}
    as_higgs = {**JSON, "X-Pandamock-Identity": "higgs"}
    assert envelope(pc.post("/api/v1/probe/owned", json={"task_id": 41000001}, headers=as_jdoe))["data"] == 41000001
    assert envelope(pc.post("/api/v1/probe/owned", json={"task_id": 41000001}, headers=as_higgs)) == {
        "success": False,
        "message": "not the task owner or no production role",
        "data": None,
    }
    assert envelope(pc.post("/api/v1/probe/owned", json={"task_id": 41000001}, headers=JSON))["success"] is True
    # a falsy task id skips the check (as in the real server)
    assert envelope(pc.post("/api/v1/probe/owned", json={"task_id": 0}, headers=as_higgs))["success"] is True


# --- tokens ------------------------------------------------------------------------------------
CLAIMS = {
    "iss": "https://auth.example.org/",
    "sub": "a1b2",
    "name": "jane DOE",
    "preferred_username": "jdoe",
    "groups": ["atlas", "atlas/production"],
}


@pytest.mark.parametrize("client_name", ["pc", "strict"])
def test_token_identity(pc, strict_client, client_name):
    client = pc if client_name == "pc" else strict_client
    # open mode decodes any token; strict mode verifies it was signed by the emulator
    token = fake_token(CLAIMS) if client_name == "pc" else signed_token({k: v for k, v in CLAIMS.items() if k != "iss"})
    headers = {**JSON, "Authorization": f"Bearer {token}", "Origin": "atlas"}
    data = envelope(client.get("/api/v1/system/get_user_attributes", headers=headers))["data"]
    assert data["user_dn_raw"] == "Jane Doe/CN=nickname:jdoe"
    assert data["user_dn_clean"] == "Jane Doe"
    assert data["fqans"] == []
    assert data["is_production_user"] is False
    data = envelope(
        client.get("/api/v1/system/get_user_attributes", headers={**headers, "Origin": "atlas:production"})
    )["data"]
    assert data["fqans"] == ["/atlas/Role=production"]
    assert data["is_production_user"] is True


@pytest.mark.parametrize(
    "origin, claims, message",
    [
        (None, CLAIMS, "Token decode failure. 'NoneType' object has no attribute 'replace'"),
        ("cms", CLAIMS, "Unknown vo : cms"),
        ("atlas.pilot", CLAIMS, "Not a member of the atlas/pilot group"),
        ("atlas", {**CLAIMS, "groups": ["cms"]}, "Not a member of the atlas group"),
        ("atlas", {k: v for k, v in CLAIMS.items() if k != "iss"}, "Issuer is undefined in the token"),
    ],
)
def test_rejected_tokens_get_403(pc, origin, claims, message):
    headers = {"Authorization": f"Bearer {fake_token(claims)}"}
    if origin:
        headers["Origin"] = origin
    response = pc.get("/api/v1/system/is_alive", headers=headers)
    assert response.status_code == 403
    assert response.headers["Content-Type"] == "text/plain"
    assert response.data.decode() == f"ERROR : Token authentication failed. {message}"


def test_garbage_token_is_invalid(pc):
    response = pc.get("/api/v1/system/is_alive", headers={"Authorization": "Bearer garbage", "Origin": "atlas"})
    assert response.status_code == 403
    assert response.data == b"ERROR : Token authentication failed. Invalid token. Not enough segments"


def test_malformed_authorization_header_is_ignored(pc):
    response = pc.get("/api/v1/probe/what_id", headers={**JSON, "Authorization": "garbage"})
    assert envelope(response)["data"]["source"] == "default"


# --- the journal sees every request ------------------------------------------------------------
def test_journal_records_requests(pc, probe_app):
    journal = emulator_of(probe_app).journal
    journal.clear()
    pc.get("/api/v1/system/is_alive")
    pc.get("/api/v1/nope/nope")
    pc.post("/api/v1/probe/echo_post", json={"number": "x"}, headers=JSON)
    entries = journal.entries()
    assert [(e["endpoint"], e["status"]) for e in entries] == [
        ("system/is_alive", 200),
        (None, 403),
        ("probe/echo_post", 200),
    ]
    assert entries[2]["success"] is False
    assert entries[2]["message"] == "Type error: 'number' must be of type int, got str."
    assert entries[2]["identity"] == "atlpilo1"
    assert entries[2]["params"] == {"number": "x"}
