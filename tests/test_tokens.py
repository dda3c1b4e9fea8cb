"""Signed tokens: issuing, and strict-mode verification with the real server's messages and order."""

from __future__ import annotations

import base64
import json
import os
import time

import jwt
import pytest
from click.testing import CliRunner

from pandamock.app import emulator_of
from pandamock.cli import main
from pandamock.engine.world import user_record
from pandamock.scenario import load
from pandamock.tokens import CLIENT_ID, ISSUER, TokenAuthority, token_verifier
from tests.helpers import JSON, envelope, fake_token, signed_token

IDENTITIES = {identity["name"]: user_record(identity) for identity in load("default").identities}


@pytest.fixture(scope="module")
def authority():
    return TokenAuthority(os.environ["PANDAMOCK_TLS_DIR"])


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _attributes(client, token: str, origin: str = "atlas") -> dict:
    headers = {**JSON, "Authorization": f"Bearer {token}", "Origin": origin}
    return envelope(client.get("/api/v1/system/get_user_attributes", headers=headers))["data"]


def _refusal(client, token: str, origin: str = "atlas") -> tuple[int, str]:
    response = client.get("/api/v1/system/is_alive", headers={"Authorization": f"Bearer {token}", "Origin": origin})
    assert response.headers["Content-Type"] == "text/plain"
    return response.status_code, response.data.decode()


# --- issuing -----------------------------------------------------------------------------------
def test_claims_for_an_identity(authority):
    claims = authority.claims_for(IDENTITIES["higgs"], now=1_800_000_000, lifetime=600)
    assert claims["iss"] == ISSUER
    assert claims["aud"] == CLIENT_ID
    assert claims["name"] == "Hugo Boson"
    assert claims["preferred_username"] == "higgs"
    assert claims["email"] == "hugo.boson@example.org"
    assert claims["groups"] == ["atlas", "atlas/phys-higgs/production"]
    assert (claims["iat"], claims["exp"]) == (1_800_000_000, 1_800_000_600)
    # the subject is stable per DN, the token id is not
    again = authority.claims_for(IDENTITIES["higgs"])
    assert again["sub"] == claims["sub"] and again["jti"] != claims["jti"]


def test_claims_for_a_role_the_identity_lacks(authority):
    with pytest.raises(ValueError, match="identity 'jdoe' has no atlas/production group"):
        authority.claims_for(IDENTITIES["jdoe"], role="production")
    claims = authority.claims_for(IDENTITIES["jdoe"], role="production", extra_groups=["atlas/production"])
    assert claims["groups"] == ["atlas", "atlas/production"]


def test_signed_token_header_and_key(authority):
    token = authority.issue(IDENTITIES["pilot"], role="production")
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "RS256", "kid": authority.kid, "typ": "JWT"}
    (key,) = authority.jwks()["keys"]
    assert key["kid"] == authority.kid and key["kty"] == "RSA" and key["alg"] == "RS256"
    public = jwt.PyJWK(key).key
    assert jwt.decode(token, public, algorithms=["RS256"], audience=CLIENT_ID)["preferred_username"] == "pilot"
    # the key is kept: another authority on the same directory signs with it
    assert TokenAuthority(authority.directory).kid == authority.kid


def test_token_verifier_only_in_strict_mode(emulator):
    assert token_verifier(emulator.settings) is None
    strict = emulator.settings.with_overrides({"auth_mode": "strict"})
    assert token_verifier(strict).__self__.directory == TokenAuthority(os.environ["PANDAMOCK_TLS_DIR"]).directory


# --- strict mode accepts the emulator's tokens -------------------------------------------------
def test_strict_mode_accepts_a_signed_token(strict_client, authority):
    token = authority.issue(IDENTITIES["pilot"], role="production")
    data = _attributes(strict_client, token, "atlas:production")
    assert data["user_dn_raw"] == "Atlpilo1/CN=nickname:pilot"
    assert data["fqans"] == ["/atlas/Role=production"]
    assert data["is_production_user"] is True
    data = _attributes(strict_client, token, "atlas")
    assert data["fqans"] == [] and data["is_production_user"] is False
    # Origin roles are still checked against the groups
    assert _refusal(strict_client, authority.issue(IDENTITIES["jdoe"]), "atlas:production") == (
        403,
        "ERROR : Token authentication failed. Not a member of the atlas/production group",
    )


def test_token_identity_maps_to_the_scenario_identity(strict_client, authority):
    data = envelope(
        strict_client.get(
            "/api/v1/system/get_user_attributes",
            headers={**JSON, "Authorization": f"Bearer {authority.issue(IDENTITIES['pilot'])}", "Origin": "atlas"},
        )
    )
    assert "Email address: atlas-adc-pilot@example.org" in data["message"]
    assert envelope(
        strict_client.get(
            "/api/v1/system/get_voms_attributes",
            headers={**JSON, "Authorization": f"Bearer {authority.issue(IDENTITIES['jdoe'])}", "Origin": "atlas"},
        )
    ) == {"success": True, "message": "", "data": {}}


def test_strict_mode_banned_token_user(strict_client, authority):
    assert _refusal(strict_client, authority.issue(IDENTITIES["mallory"])) == (403, "ERROR : Mallory Banned is banned")


def test_issuer_missing_its_last_slash_is_accepted(strict_client, authority):
    claims = {**authority.claims_for(IDENTITIES["jdoe"]), "iss": ISSUER.rstrip("/")}
    assert _attributes(strict_client, authority.sign(claims))["user_dn_clean"] == "Jane Doe"


def test_client_id_from_the_client_id_or_sub_claim(strict_client, authority):
    base = authority.claims_for(IDENTITIES["jdoe"])
    del base["aud"]
    assert _attributes(strict_client, authority.sign({**base, "client_id": CLIENT_ID}))["user_dn_clean"] == "Jane Doe"
    robot = {**base, "sub": CLIENT_ID}
    del robot["name"]
    assert _attributes(strict_client, authority.sign(robot))["user_dn_raw"] == CLIENT_ID


# --- strict mode refuses everything else, with the real reasons ---------------------------------
def _tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["groups"] = [*claims["groups"], "atlas/production"]
    return f"{header}.{_b64(claims)}.{signature}"


def _cases(authority: TokenAuthority) -> list[tuple[str, str, str]]:
    """(case, token, reason strict mode gives) for every way a token can be wrong."""
    now = int(time.time())
    good = authority.claims_for(IDENTITIES["jdoe"], now=now)
    other = TokenAuthority(authority.directory / "elsewhere")
    kid = {"alg": "none", "typ": "JWT", "kid": authority.kid}

    def without(*names: str) -> dict:
        return {key: value for key, value in good.items() if key not in names}

    invalid, failure = "Invalid token. ", "Token decode failure. "
    return [
        ("garbage", "garbage", invalid + "Not enough segments"),
        (
            "unsigned, no audience",
            fake_token({"iss": ISSUER, "sub": "x"}),
            invalid + "cannot extract client_id from token",
        ),
        ("unsigned", fake_token(good), invalid + "cannot extract kid from headers"),
        ("alg none", f"{_b64(kid)}.{_b64(good)}.", invalid + "The specified alg value is not allowed"),
        ("tampered", _tampered(authority.sign(good)), invalid + "Signature verification failed"),
        ("expired", authority.sign({**good, "exp": now - 5}), invalid + "Signature has expired"),
        ("not yet valid", authority.sign({**good, "nbf": now + 600}), invalid + "The token is not yet valid (nbf)"),
        (
            "issued in the future",
            authority.sign({**good, "iat": now + 600}),
            invalid + "The token is not yet valid (iat)",
        ),
        (
            "other issuer",
            authority.sign({**good, "iss": "https://idp.example.org/"}),
            invalid + "failed to decode: Invalid issuer",
        ),
        (
            "other audience",
            authority.sign({**good, "aud": "elsewhere"}),
            invalid + "cannot extract client_id from token",
        ),
        ("other key", other.sign(good), invalid + f"JWK not found for kid={other.kid}"),
        ("no issuer", authority.sign(without("iss")), failure + "'iss'"),
        ("audience list", authority.sign({**good, "aud": [CLIENT_ID]}), failure + "unhashable type: 'list'"),
        ("no subject", authority.sign(without("aud", "sub")), failure + "'sub'"),
    ]


def test_strict_mode_refusals(strict_client, authority):
    for case, token, reason in _cases(authority):
        assert _refusal(strict_client, token) == (403, f"ERROR : Token authentication failed. {reason}"), case


def test_open_mode_decodes_without_verifying(client, authority):
    # everything strict mode refuses for its signature, key, time or client id, open mode accepts
    accepted = {"unsigned", "alg none", "tampered", "expired", "not yet valid", "issued in the future"}
    accepted |= {"other issuer", "other audience", "other key", "audience list", "no subject"}
    for case, token, _reason in _cases(authority):
        if case in accepted:
            assert envelope(client.get("/api/v1/system/get_user_attributes", headers={
                **JSON, "Authorization": f"Bearer {token}", "Origin": "atlas"}))["success"] is True, case  # fmt: skip
    assert _refusal(client, "garbage") == (
        403,
        "ERROR : Token authentication failed. Invalid token. Not enough segments",
    )
    no_issuer = fake_token({"name": "x", "groups": ["atlas"]})
    assert _refusal(client, no_issuer) == (403, "ERROR : Token authentication failed. Issuer is undefined in the token")


def test_strict_refusal_happens_before_anything_else(strict_app, authority):
    token = _tampered(authority.sign(authority.claims_for(IDENTITIES["pilot"])))
    journal = emulator_of(strict_app).journal
    journal.clear()
    response = strict_app.test_client().post(
        "/api/v1/system/get_attributes",
        data="{not json",
        headers={"Authorization": f"Bearer {token}", "Origin": "atlas"},
    )
    assert response.status_code == 403
    assert journal.entries()[-1]["status"] == 403


def test_helper_signed_token_is_accepted(strict_client):
    data = _attributes(strict_client, signed_token({"name": "jane doe", "sub": "s", "groups": ["atlas"]}))
    assert data["user_dn_raw"] == "Jane Doe"


# --- the command -------------------------------------------------------------------------------
def test_token_command(strict_client, tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["token", "--user", "pilot", "--role", "production"])
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    assert _attributes(strict_client, token, "atlas:production")["is_production_user"] is True
    result = runner.invoke(main, ["token", "--user", "higgs", "--format", "json", "--lifetime", "60"])
    document = json.loads(result.output)
    assert document["origin"] == "atlas"
    assert document["claims"]["exp"] - document["claims"]["iat"] == 60
    assert jwt.decode(document["token"], options={"verify_signature": False}) == document["claims"]
    result = runner.invoke(main, ["token", "--user", "pilot", "--role", "pilot", "--format", "env"])
    lines = result.output.splitlines()
    assert lines[:2] == ["export PANDA_AUTH=oidc", "export PANDA_AUTH_VO=atlas:pilot"]
    assert lines[2].startswith("export PANDA_AUTH_ID_TOKEN=ey")
    expired = runner.invoke(main, ["token", "--user", "jdoe", "--lifetime", "-10"]).output.strip()
    assert _refusal(strict_client, expired) == (
        403,
        "ERROR : Token authentication failed. Invalid token. Signature has expired",
    )


def test_token_command_refusals():
    runner = CliRunner()
    result = runner.invoke(main, ["token", "--user", "jdoe", "--role", "production"])
    assert result.exit_code == 2
    assert "identity 'jdoe' has no atlas/production group" in result.output
    result = runner.invoke(main, ["token", "--user", "nobody"])
    assert result.exit_code == 2
    assert "no identity 'nobody' in scenario 'default' (identities: pilot, jdoe, higgs, mallory)" in result.output
    result = runner.invoke(main, ["token"])
    assert result.exit_code == 2 and "--user is required" in result.output
    result = runner.invoke(main, ["token", "--jwks"])
    assert json.loads(result.output)["keys"][0]["kid"] == TokenAuthority(os.environ["PANDAMOCK_TLS_DIR"]).kid
