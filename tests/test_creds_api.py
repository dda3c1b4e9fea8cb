"""``/api/v1/creds/*``: secrets per owner, key pairs, proxies and tokens with the real refusals."""

from __future__ import annotations

import base64
import json
import re

import pytest

from pandamock.app import create_app, emulator_of
from tests.helpers import JSON, envelope, fake_token

JDOE = {**JSON, "X-Pandamock-Identity": "jdoe"}
HIGGS = {**JSON, "X-Pandamock-Identity": "higgs"}
PILOT_DN = "/DC=ch/DC=cern/OU=Organic Units/OU=Users/CN=atlpilo1/CN=614260/CN=Robot: ATLAS Pilot1"
JDOE_DN = "/DC=ch/DC=cern/OU=Organic Units/OU=Users/CN=jdoe/CN=123456/CN=Jane Doe"
PEM = re.compile(r"^(-----BEGIN ([A-Z ]+)-----\n([A-Za-z0-9+/=]{1,64}\n)+-----END \2-----\n)+$")


def set_secret(client, headers=JSON, **body):
    return envelope(client.post("/api/v1/creds/set_user_secrets", json=body, headers=headers))


def get_secrets(client, headers=JSON, **query):
    return envelope(client.get("/api/v1/creds/get_user_secrets", query_string=query, headers=headers))


def get(client, endpoint, headers=JSON, **query):
    return envelope(client.get(f"/api/v1/creds/{endpoint}", query_string=query, headers=headers))


# --- secrets -------------------------------------------------------------------------------------
def test_secrets_set_get_delete(client, engine):
    assert get_secrets(client) == {"success": True, "message": "", "data": "{}"}
    assert set_secret(client, key="rucio", value="s3cr3t") == {"success": True, "message": "OK", "data": None}
    set_secret(client, key="token", value="abc")
    assert get_secrets(client) == {"success": True, "message": "", "data": '{"rucio": "s3cr3t", "token": "abc"}'}
    assert engine.store.table("secrets").get("atlpilo1")["data"] == '{"rucio": "s3cr3t", "token": "abc"}'
    assert get_secrets(client, keys="token")["data"] == '{"token": "abc"}'
    assert get_secrets(client, keys=["token", "rucio", "unknown"])["data"] == '{"rucio": "s3cr3t", "token": "abc"}'
    set_secret(client, key="rucio")  # value null: delete that key
    assert get_secrets(client)["data"] == '{"token": "abc"}'
    set_secret(client, key="token", value="new")
    assert get_secrets(client)["data"] == '{"token": "new"}'
    set_secret(client)  # key null: wipe everything
    assert get_secrets(client)["data"] == "{}"
    assert engine.store.table("secrets").get("atlpilo1")["data"] == "{}"


def test_deleting_a_key_also_deletes_its_file_secret(client, engine):
    with engine.operation():
        engine.store.table("secrets").put({"owner": "atlpilo1", "data": '{"___file___:cfg": "Y29uZmln"}'})
    set_secret(client, key="cfg")
    assert get_secrets(client)["data"] == "{}"


def test_one_identity_never_reads_anothers_secrets(client, engine):
    set_secret(client, headers=JDOE, key="password", value="jane's")
    assert get_secrets(client, headers=JDOE)["data"] == '{"password": "jane\'s"}'
    assert get_secrets(client)["data"] == "{}"
    assert get_secrets(client, keys="password")["data"] == "{}"
    assert get_secrets(client, headers=HIGGS)["data"] == "{}"
    set_secret(client)  # the production robot wipes its own secrets only
    assert get_secrets(client, headers=JDOE)["data"] == '{"password": "jane\'s"}'
    assert sorted(engine.store.table("secrets").records) == ["Jane Doe", "atlpilo1"]


def test_secrets_of_a_token_identity_belong_to_its_compact_name(client, engine):
    claims = {"iss": "https://auth.example.org/", "sub": "x", "name": "mock user", "preferred_username": "mock"}
    headers = {**JSON, "Authorization": f"Bearer {fake_token({**claims, 'groups': ['atlas']})}", "Origin": "atlas"}
    set_secret(client, headers=headers, key="k", value="v")
    assert get_secrets(client, headers=headers)["data"] == '{"k": "v"}'
    assert engine.store.table("secrets").get("Mock User")["data"] == '{"k": "v"}'
    assert get_secrets(client, headers=JDOE)["data"] == "{}"  # another compact name, another owner


def test_secrets_need_an_identity_in_strict_mode(strict_client):
    assert get_secrets(strict_client) == {
        "success": False,
        "message": "SSL secure connection is required",
        "data": None,
    }
    reply = envelope(
        strict_client.post("/api/v1/creds/set_user_secrets", json={"key": "k", "value": "v"}, headers=JSON)
    )
    assert reply["message"] == "SSL secure connection is required"


def test_secret_values_are_redacted_in_the_journal(client, emulator):
    set_secret(client, key="k", value="top-secret")
    assert "top-secret" not in json.dumps(list(emulator.journal.entries()), default=str)


# --- key pairs -----------------------------------------------------------------------------------
def test_get_key_pair(client, engine):
    reply = get(
        client, "get_key_pair", public_key_name="harvester_public_key", private_key_name="harvester_private_key"
    )
    assert reply["success"] is True and sorted(reply["data"]) == ["private_key", "public_key"]
    assert reply["data"]["public_key"].startswith("-----BEGIN PUBLIC KEY-----\n")
    assert reply["data"]["private_key"].startswith("-----BEGIN PRIVATE KEY-----\n")
    assert PEM.match(reply["data"]["public_key"]) and PEM.match(reply["data"]["private_key"])
    assert reply["data"]["public_key"] == engine.store.table("server_keys").get("harvester_public_key")["value"]


def test_get_key_pair_refusals(client):
    assert get(client, "get_key_pair", headers=JDOE, public_key_name="harvester_public_key", private_key_name="x") == {
        "success": False,
        "message": "Failed since 'Jane Doe' not authorized with 'k' in ATLAS_PANDAMETA.USERS.GRIDPREF",
        "data": None,
    }
    reply = get(client, "get_key_pair", public_key_name="nope", private_key_name="also_nope")
    assert reply["message"] == "Failed for 'atlpilo1' since nope is missing on localhost"
    reply = get(client, "get_key_pair", public_key_name="harvester_public_key", private_key_name="also_nope")
    assert reply["message"] == "Failed for 'atlpilo1' since also_nope is missing on localhost"


# --- proxies -------------------------------------------------------------------------------------
def test_get_proxy_of_the_caller_and_of_another_dn(client, engine):
    plain = get(client, "get_proxy")
    production = get(client, "get_proxy", role="production")
    assert plain["success"] is True and production["success"] is True
    assert PEM.match(plain["data"]["user_proxy"]) and plain["data"]["user_proxy"] != production["data"]["user_proxy"]
    assert get(client, "get_proxy", role="")["data"] == plain["data"]  # '' means no role
    jane = get(client, "get_proxy", dn=JDOE_DN)["data"]["user_proxy"]
    assert jane == engine.store.table("proxy_cache").get(f"{JDOE_DN}|None")["proxy"]
    assert get(client, "get_proxy", dn=JDOE_DN + "/CN=proxy/CN=12345")["data"]["user_proxy"] == jane


def test_get_proxy_refusals(client):
    assert get(client, "get_proxy", headers=JDOE) == {
        "success": False,
        "message": "failed: 'Jane Doe' not in authorized users with 'p' in ATLAS_PANDAMETA.USERS.GRIDPREF to get proxy",
        "data": None,
    }
    assert get(client, "get_proxy", role="lcgadmin")["message"] == f"'proxy' not found for {PILOT_DN}"
    assert get(client, "get_proxy", dn="/CN=nobody")["message"] == "'proxy' not found for /CN=nobody"


# --- tokens --------------------------------------------------------------------------------------
def test_get_token_key_and_access_token(client, engine):
    client_record = engine.store.table("token_clients").get("panda_harvester")
    reply = get(client, "get_token_key", client_name="panda_harvester")
    assert reply == {"success": True, "message": "", "data": {"tokenKey": client_record["token_keys"][-1]}}
    for key in client_record["token_keys"]:  # any known key, not only the latest
        token = get(client, "get_access_token", client_name="panda_harvester", token_key=key)
        assert token == {"success": True, "message": "", "data": {"user_proxy": client_record["access_token"]}}
    header, claims, signature = client_record["access_token"].split(".")
    assert json.loads(base64.urlsafe_b64decode(header + "=="))["typ"] == "JWT"
    assert json.loads(base64.urlsafe_b64decode(claims + "=="))["sub"] == "panda_harvester"
    assert get(client, "get_access_token", client_name="atlas_pilot")["success"] is True  # no key needed


def test_token_refusals(client):
    assert get(client, "get_token_key", headers=JDOE, client_name="panda_harvester") == {
        "success": False,
        "message": "Denied since 'Jane Doe' not authorized with 't' in ATLAS_PANDAMETA.USERS.GRIDPREF",
        "data": None,
    }
    assert get(client, "get_token_key", client_name="unknown")["message"] == "Token key is missing for 'unknown'"
    assert get(client, "get_access_token", headers=JDOE, client_name="atlas_pilot")["message"] == (
        "failed: 'Jane Doe' not in authorized users with 'p' in ATLAS_PANDAMETA.USERS.GRIDPREF to get access token"
    )
    assert get(client, "get_access_token", client_name="panda_harvester", token_key="wrong")["message"] == (
        "failed since token key is invalid for panda_harvester"
    )
    assert get(client, "get_access_token", client_name="panda_harvester")["message"] == (
        "failed since token key is invalid for panda_harvester"
    )
    assert get(client, "get_access_token", client_name="unknown")["message"] == "'token' not found for unknown"


# --- scenario credentials --------------------------------------------------------------------------
def test_scenario_credentials_are_used_verbatim_and_deterministic():
    scenario = {
        "name": "creds",
        "seed": 7,
        "identities": [
            {
                "name": "robot",
                "dn": "/CN=robot",
                "fqans": ["/atlas/Role=production"],
                "default": True,
                "permissions": ["proxy", "key_pair", "token_key"],
            },
        ],
        "credentials": {
            "key_pairs": [{"public": "pub", "private": "priv", "public_key": "PUBLIC TEXT"}],
            "proxies": [{"dn": "robot", "roles": [None], "proxy": "PROXY TEXT"}],
            "token_clients": [{"name": "c", "token_keys": ["k1", "k2"], "access_token": False}],
        },
    }
    first, second = create_app(scenario=scenario), create_app(scenario=scenario)
    client = first.test_client()
    pair = get(client, "get_key_pair", public_key_name="pub", private_key_name="priv")["data"]
    assert pair["public_key"] == "PUBLIC TEXT" and pair["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    other = get(second.test_client(), "get_key_pair", public_key_name="pub", private_key_name="priv")["data"]
    assert other == pair  # same seed, same generated key
    assert get(client, "get_proxy")["data"] == {"user_proxy": "PROXY TEXT"}
    assert get(client, "get_token_key", client_name="c")["data"] == {"tokenKey": "k2"}
    assert get(client, "get_access_token", client_name="c")["message"] == "'token' not found for c"
    for app in (first, second):
        emulator_of(app).engine.files.close()


def test_scenario_credentials_must_name_known_identities():
    from pandamock.scenario import ScenarioError

    with pytest.raises(ScenarioError, match="no identity named 'ghost'"):
        create_app(scenario={"name": "bad", "credentials": {"proxies": [{"dn": "ghost"}]}})
