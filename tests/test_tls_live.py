"""HTTPS over real sockets: the local CA, client certificates and proxies, the TLS layer's refusals,
tokens, and the open/strict matrix (HTTP and HTTPS listeners of one emulator)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import ssl
import subprocess
import sys

import pytest
import requests

from pandamock.api.registry import ApiModule, Registry, discover
from pandamock.app import create_app, emulator_of
from pandamock.config import Settings
from pandamock.emulator import Emulator
from pandamock.scenario import load
from pandamock.server import MockServer
from pandamock.tls import LocalCA, _write, issue, make_ca, make_proxy, server_hosts
from pandamock.tokens import TokenAuthority
from tests.helpers import JSON, fake_token

DNS = {identity["name"]: identity["dn"] for identity in load("default").identities}

# a production-role endpoint (no real module has one yet): the strict matrix needs it
probe = ApiModule("tlsprobe")


@probe.endpoint("POST", production=True)
def production_only(req) -> str:
    """Needs the production role."""
    return req.identity.compact_name


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    return LocalCA(tmp_path_factory.mktemp("live-tls")).ensure()


def _servers(ca: LocalCA, mode: str):
    registry = Registry([probe, *discover().modules.values()])
    emulator = Emulator(
        Settings.load({"scenario": "default", "auth_mode": mode, "tls_dir": str(ca.directory)}), registry=registry
    )
    app = create_app(emulator=emulator)
    adapter = ca.ssl_adapter(server_hosts("127.0.0.1"))
    return MockServer(app, port=0), MockServer(app, port=0, ssl_adapter=adapter)


@pytest.fixture(scope="module")
def open_servers(ca):
    plain, secure = _servers(ca, "open")
    with plain, secure:
        yield plain, secure


@pytest.fixture(scope="module")
def strict_servers(ca):
    plain, secure = _servers(ca, "strict")
    with plain, secure:
        yield plain, secure


def _get(
    url: str, ca: LocalCA, cert=None, headers=None, path="/api/v1/system/get_user_attributes"
) -> requests.Response:
    return requests.get(url + path, verify=str(ca.ca_file), cert=cert, headers={**JSON, **(headers or {})}, timeout=10)


def _user_cert(ca: LocalCA, name: str) -> tuple[str, str]:
    cert_file, key_file = ca.user_files(name, DNS[name])
    return str(cert_file), str(key_file)


def _proxy(ca: LocalCA, name: str, tmp_path, **options) -> str:
    return str(ca.write_proxy(name, DNS[name], tmp_path / f"x509up_{name}", **options))


# --- the TLS layer -----------------------------------------------------------------------------
def test_https_with_the_local_ca(open_servers, ca):
    plain, secure = open_servers
    assert secure.url.startswith("https://127.0.0.1:")
    response = requests.get(secure.url + "/api/v1/system/is_alive", verify=str(ca.ca_file), timeout=10)
    assert response.status_code == 200
    assert response.text == "{'success': True, 'message': '', 'data': None}"
    # the server certificate also names localhost, and the hashed X509_CERT_DIR works as a CA path
    context = ssl.create_default_context(capath=str(ca.cert_dir))
    with socket.create_connection(("127.0.0.1", secure.port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            assert tls.getpeercert()["subject"][-1] == (("commonName", "localhost"),)


def test_server_certificate_is_verified_by_clients(open_servers, tmp_path):
    _, secure = open_servers
    stranger = tmp_path / "stranger.pem"
    stranger.write_bytes(make_ca("/DC=org/DC=stranger/CN=Stranger CA").cert_pem())
    with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        requests.get(secure.url + "/api/v1/system/is_alive", verify=str(stranger), timeout=10)


def test_plain_http_on_the_https_port_is_not_served(open_servers, ca):
    _, secure = open_servers
    try:  # cheroot tries a 400 answer; the connection is usually reset first
        response = requests.get(f"http://127.0.0.1:{secure.port}/api/v1/system/is_alive", timeout=10)
        assert response.status_code == 400
    except requests.exceptions.ConnectionError:
        pass
    assert requests.get(secure.url + "/api/v1/system/is_alive", verify=str(ca.ca_file), timeout=10).status_code == 200


def test_both_listeners_serve_one_emulator(open_servers, ca):
    plain, secure = open_servers
    assert plain.app is secure.app
    journal = emulator_of(plain.app).journal
    journal.clear()
    requests.get(plain.url + "/api/v1/system/get_user_attributes", timeout=10)
    _get(secure.url, ca, cert=_user_cert(ca, "jdoe"))
    assert [(entry["endpoint"], entry["identity"]) for entry in journal.entries()] == [
        ("system/get_user_attributes", "atlpilo1"),
        ("system/get_user_attributes", "Jane Doe"),
    ]


# --- certificate identities --------------------------------------------------------------------
def test_client_certificate_identity(open_servers, ca):
    _, secure = open_servers
    response = _get(secure.url, ca, cert=_user_cert(ca, "jdoe"))
    data = response.json()["data"]
    assert data == {
        "user_dn_raw": DNS["jdoe"],
        "user_dn_clean": "Jane Doe",
        "fqans": ["/atlas/Role=NULL"],
        "is_production_user": False,
        "production_working_groups": [],
        "primary_working_group": None,
    }
    assert "Email address: jane.doe@example.org" in response.json()["message"]
    voms = _get(secure.url, ca, cert=_user_cert(ca, "jdoe"), path="/api/v1/system/get_voms_attributes").json()
    certificate = ca.user("jdoe", DNS["jdoe"]).certificate
    start, end = int(certificate.not_valid_before_utc.timestamp()), int(certificate.not_valid_after_utc.timestamp())
    assert voms["data"] == {
        "GRST_CRED_0": f"X509USER {start} {end} 0 {DNS['jdoe']}",
        "GRST_CRED_1": f"VOMS {start} {end} 0 /atlas/Role=NULL",
    }
    assert voms["message"] == "\n".join(f"{key} : {value}" for key, value in sorted(voms["data"].items()))


def test_certificate_roles_come_from_the_scenario(open_servers, ca):
    _, secure = open_servers
    pilot = _get(secure.url, ca, cert=_user_cert(ca, "pilot")).json()["data"]
    assert pilot["user_dn_clean"] == "atlpilo1"
    assert pilot["fqans"] == ["/atlas/Role=production", "/atlas/Role=pilot"]
    assert pilot["is_production_user"] is True
    higgs = _get(secure.url, ca, cert=_user_cert(ca, "higgs")).json()["data"]
    assert higgs["is_production_user"] is False
    assert higgs["production_working_groups"] == ["phys-higgs", "gr_phys-higgs"]
    assert higgs["primary_working_group"] == "higgs"


def test_proxy_certificate_identity(open_servers, ca, tmp_path):
    _, secure = open_servers
    proxy = _proxy(ca, "jdoe", tmp_path)
    response = _get(secure.url, ca, cert=proxy)
    data = response.json()["data"]
    assert data["user_dn_raw"].startswith(DNS["jdoe"] + "/CN=")
    assert data["user_dn_raw"].rsplit("/CN=", 1)[1].isdigit()
    assert data["user_dn_clean"] == "Jane Doe"
    assert data["fqans"] == ["/atlas/Role=NULL"]
    # get_dn keeps the numeric proxy CN, like the real server's get_bare_dn(keep_proxy=True)
    assert f"User DN (bare): {data['user_dn_raw']}\n" in response.json()["message"]
    voms = _get(secure.url, ca, cert=proxy, path="/api/v1/system/get_voms_attributes").json()["data"]
    assert voms["GRST_CRED_0"].split(" ", 3)[3] == "0 " + DNS["jdoe"]
    assert voms["GRST_CRED_1"].startswith("GSIPROXY ") and voms["GRST_CRED_1"].endswith(" 1 " + data["user_dn_raw"])
    assert voms["GRST_CRED_2"].endswith(" 1 /atlas/Role=NULL")
    environment = _get(secure.url, ca, cert=proxy, path="/api/v1/system/get_attributes").json()["data"]["environment"]
    assert environment["SSL_CLIENT_S_DN"] == data["user_dn_raw"]
    assert environment["SSL_CLIENT_I_DN"] == DNS["jdoe"]
    assert environment["SSL_CLIENT_VERIFY"] == "SUCCESS"
    assert environment["HTTPS"] == "on"
    assert "SSL_CLIENT_CERT" not in environment and "SSL_SERVER_CERT" not in environment


def test_proxy_of_a_proxy(open_servers, ca, tmp_path):
    _, secure = open_servers
    first = make_proxy(ca.user("pilot", DNS["pilot"]))
    second = make_proxy(first, serial=424242)
    path = tmp_path / "second"
    _write(path, second.cert_pem() + second.key_pem() + first.cert_pem() + ca.user("pilot", DNS["pilot"]).cert_pem())
    data = _get(secure.url, ca, cert=str(path)).json()["data"]
    assert data["user_dn_raw"] == first.dn + "/CN=424242"
    assert data["user_dn_clean"] == "atlpilo1" and data["is_production_user"] is True


def test_limited_proxy_is_not_secure(open_servers, strict_servers, ca, tmp_path):
    proxy = _proxy(ca, "pilot", tmp_path, limited=True)
    for _, secure in (open_servers, strict_servers):
        body = _get(secure.url, ca, cert=proxy).json()
        assert body == {"success": False, "message": "SSL secure connection is required", "data": None}


def test_certificate_of_an_unknown_dn(open_servers, ca, tmp_path):
    _, secure = open_servers
    stranger = issue(ca.ca, "/DC=org/DC=pandamock/CN=Somebody Else")
    path = tmp_path / "stranger.pem"
    _write(path, stranger.cert_pem() + stranger.key_pem())
    data = _get(secure.url, ca, cert=str(path)).json()["data"]
    assert (data["user_dn_raw"], data["user_dn_clean"], data["fqans"]) == (
        "/DC=org/DC=pandamock/CN=Somebody Else",
        "Somebody Else",
        [],
    )
    voms = _get(secure.url, ca, cert=str(path), path="/api/v1/system/get_voms_attributes").json()["data"]
    assert list(voms) == ["GRST_CRED_0"]
    assert voms["GRST_CRED_0"].startswith("X509USER ") and voms["GRST_CRED_0"].endswith(
        " 0 /DC=org/DC=pandamock/CN=Somebody Else"
    )


def test_banned_certificate_user(open_servers, ca):
    _, secure = open_servers
    response = _get(secure.url, ca, cert=_user_cert(ca, "mallory"))
    assert (response.status_code, response.text) == (403, "ERROR : Mallory Banned is banned")


def _refused(url: str, ca: LocalCA, cert) -> None:
    with pytest.raises((requests.exceptions.SSLError, requests.exceptions.ConnectionError)):
        requests.get(url + "/api/v1/system/is_alive", verify=str(ca.ca_file), cert=cert, timeout=10)


def test_expired_and_untrusted_certificates_are_refused_by_tls(open_servers, ca, tmp_path):
    _, secure = open_servers
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=2)
    expired = issue(ca.ca, DNS["jdoe"], not_before=past, not_after=past + dt.timedelta(days=1))
    _write(tmp_path / "expired.pem", expired.cert_pem() + expired.key_pem())
    _refused(secure.url, ca, str(tmp_path / "expired.pem"))
    _refused(secure.url, ca, _proxy(ca, "jdoe", tmp_path, lifetime=dt.timedelta(hours=-1)))
    foreign = issue(make_ca("/DC=org/DC=elsewhere/CN=Elsewhere CA"), DNS["pilot"])
    _write(tmp_path / "foreign.pem", foreign.cert_pem() + foreign.key_pem())
    _refused(secure.url, ca, str(tmp_path / "foreign.pem"))
    # a "proxy" signed by a key that is not the user certificate's
    impostor = make_proxy(issue(ca.ca, DNS["jdoe"]))
    _write(
        tmp_path / "impostor.pem", impostor.cert_pem() + impostor.key_pem() + ca.user("jdoe", DNS["jdoe"]).cert_pem()
    )
    _refused(secure.url, ca, str(tmp_path / "impostor.pem"))
    # the listener goes on serving
    assert _get(secure.url, ca, cert=_user_cert(ca, "jdoe")).json()["data"]["user_dn_clean"] == "Jane Doe"


# --- the open / strict matrix ------------------------------------------------------------------
def _post(url: str, ca: LocalCA, cert=None, headers=None) -> dict:
    response = requests.post(
        url + "/api/v1/tlsprobe/production_only",
        json={},
        verify=str(ca.ca_file),
        cert=cert,
        headers={**JSON, **(headers or {})},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()


SSL_REQUIRED = {"success": False, "message": "SSL secure connection is required", "data": None}
ROLE_REQUIRED = {"success": False, "message": "production or pilot role required", "data": None}


def _ok(name: str) -> dict:
    return {"success": True, "message": "", "data": name}


def _bearer(token: str, origin: str) -> dict:
    return {"Authorization": f"Bearer {token}", "Origin": origin}


def test_open_and_strict_matrix(open_servers, strict_servers, ca):
    authority = TokenAuthority(ca.directory)
    users = {identity["name"]: identity for identity in load("default").identities}
    from pandamock.engine.world import user_record

    pilot_token = authority.issue(user_record(users["pilot"]), role="production")
    jdoe_token = authority.issue(user_record(users["jdoe"]))
    unsigned = fake_token(
        {"iss": "https://idp.example.org/", "name": "jane doe", "groups": ["atlas", "atlas/production"]}
    )
    pilot, jdoe, higgs = (_user_cert(ca, name) for name in ("pilot", "jdoe", "higgs"))
    (open_http, open_https), (strict_http, strict_https) = open_servers, strict_servers
    rows = [
        # (server url, client certificate, headers) -> open answer, strict answer
        ("http", None, {}, _ok("atlpilo1"), SSL_REQUIRED),
        ("https", None, {}, _ok("atlpilo1"), SSL_REQUIRED),
        ("http", None, {"X-Pandamock-Identity": "jdoe"}, ROLE_REQUIRED, SSL_REQUIRED),
        ("https", pilot, {}, _ok("atlpilo1"), _ok("atlpilo1")),
        ("https", jdoe, {}, ROLE_REQUIRED, ROLE_REQUIRED),
        ("https", higgs, {}, ROLE_REQUIRED, ROLE_REQUIRED),
        ("https", jdoe, {"X-Pandamock-Identity": "pilot"}, ROLE_REQUIRED, ROLE_REQUIRED),  # the certificate wins
        ("http", None, _bearer(pilot_token, "atlas:production"), _ok("Atlpilo1"), _ok("Atlpilo1")),
        ("https", None, _bearer(pilot_token, "atlas:production"), _ok("Atlpilo1"), _ok("Atlpilo1")),
        ("http", None, _bearer(pilot_token, "atlas"), ROLE_REQUIRED, ROLE_REQUIRED),
        ("http", None, _bearer(jdoe_token, "atlas"), ROLE_REQUIRED, ROLE_REQUIRED),
        ("http", None, _bearer(unsigned, "atlas:production"), _ok("Jane Doe"), None),
        # a certificate and a token: the certificate's DN and roles are kept, the token is still checked
        ("https", jdoe, _bearer(pilot_token, "atlas:production"), ROLE_REQUIRED, ROLE_REQUIRED),
    ]
    for scheme, cert, headers, open_answer, strict_answer in rows:
        for (http, https), expected in (
            ((open_http, open_https), open_answer),
            ((strict_http, strict_https), strict_answer),
        ):
            url = (http if scheme == "http" else https).url
            if expected is None:
                response = requests.post(url + "/api/v1/tlsprobe/production_only", json={}, headers=headers, timeout=10)
                assert response.status_code == 403
                assert response.text == "ERROR : Token authentication failed. Token decode failure. 'sub'"
                continue
            assert _post(url, ca, cert=cert, headers=headers) == expected, (scheme, cert, headers)
    # secure=False endpoints answer anonymous strict callers on both listeners
    for server in strict_servers:
        assert _get(server.url, ca, path="/api/v1/system/is_alive").json()["success"] is True
    # tokens with the real rejections over the socket
    tampered = pilot_token[:-10] + ("A" if pilot_token[-10] != "A" else "B") + pilot_token[-9:]
    response = requests.get(strict_http.url + "/api/v1/system/is_alive", headers=_bearer(tampered, "atlas"), timeout=10)
    assert response.status_code == 403
    assert response.text.startswith("ERROR : Token authentication failed. Invalid token. ")


# --- pandamock serve ---------------------------------------------------------------------------
def test_serve_prints_both_urls_and_serves_https(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "pandamock", "serve", "--port", "0", "--https-port", "0", "--tls-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = process.stdout.readline()
        assert " and https://127.0.0.1:" in line, line + process.stderr.read()
        http_url, _, https_url = line.split("serving ")[1].split()[:3]
        ca = LocalCA(tmp_path).ensure()  # made by serve on first use
        assert requests.get(http_url + "/api/v1/system/is_alive", timeout=10).status_code == 200
        proxy = ca.write_proxy("jdoe", DNS["jdoe"])
        response = requests.get(
            https_url + "/api/v1/system/get_user_attributes",
            verify=str(ca.ca_file),
            cert=str(proxy),
            headers=JSON,
            timeout=10,
        )
        assert response.json()["data"]["user_dn_clean"] == "Jane Doe"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()


def test_serve_refuses_a_busy_https_port(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pandamock",
                "serve",
                "--port",
                "0",
                "--https-port",
                str(port),
                "--tls-dir",
                str(tmp_path),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
