"""panda-client 2.2.0 over HTTPS against a strict emulator: with an X.509 proxy made by
``pandamock certs`` (``X509_USER_PROXY``, ``X509_CERT_DIR``, server verification on) and with a
token made by ``pandamock token`` (``PANDA_AUTH=oidc``).

panda-client reads its environment when ``pandaclient.Client`` is imported, so each run is a
subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from pandamock.app import create_app
from pandamock.cli import main
from pandamock.server import MockServer
from pandamock.tls import LocalCA, server_hosts

pytest.importorskip("pandaclient")

SCRIPT = """
import json
from pandaclient import Client
hello = Client.hello()
attributes = Client.get_cert_attributes()
print("RESULT " + json.dumps({"hello": hello, "attributes": attributes}))
"""


@pytest.fixture(scope="module")
def tls_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("panda-client-tls")


@pytest.fixture(scope="module")
def https_url(tls_dir):
    app = create_app({"scenario": "default", "auth_mode": "strict", "tls_dir": str(tls_dir)})
    adapter = LocalCA(tls_dir).ensure().ssl_adapter(server_hosts("127.0.0.1"))
    with MockServer(app, port=0, ssl_adapter=adapter) as server:
        yield server.url


def _pandamock(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output.strip()


def _run(https_url: str, tmp_path, **env: str) -> dict:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PANDA", "X509_", "OIDC_")) and key != "REQUESTS_CA_BUNDLE"
    }
    environment.update(
        PANDA_URL_SSL=f"{https_url}/server/panda",
        PANDA_URL=f"{https_url}/server/panda",
        PANDACACHE_URL=f"{https_url}/server/panda",
        PANDA_BEHIND_REAL_LB="1",
        PANDA_CONFIG_ROOT=str(tmp_path),
        HOME=str(tmp_path),
        **env,
    )
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=environment, capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, result.stdout + result.stderr
    return json.loads(lines[-1][len("RESULT ") :])


def test_panda_client_with_an_x509_proxy(https_url, tls_dir, tmp_path):
    proxy = _pandamock("certs", "proxy", "jdoe", "--tls-dir", str(tls_dir), "--out", str(tmp_path / "x509up"))
    cert_dir = _pandamock("certs", "cert-dir", "--tls-dir", str(tls_dir))
    result = _run(https_url, tmp_path, X509_USER_PROXY=proxy, X509_CERT_DIR=cert_dir)
    assert result["hello"] == [0, ""]
    status, attributes = result["attributes"]
    assert status == 0
    dn = "/DC=ch/DC=cern/OU=Organic Units/OU=Users/CN=jdoe/CN=123456/CN=Jane Doe"
    assert attributes["GRST_CRED_0"].endswith(f" 0 {dn}")
    assert attributes["GRST_CRED_1"].startswith("GSIPROXY ") and f" 1 {dn}/CN=" in attributes["GRST_CRED_1"]
    assert attributes["GRST_CRED_2"].endswith(" 1 /atlas/Role=NULL")


def test_panda_client_with_a_limited_proxy_is_refused(https_url, tls_dir, tmp_path):
    proxy = _pandamock("certs", "proxy", "jdoe", "--limited", "--tls-dir", str(tls_dir), "--out", str(tmp_path / "p"))
    cert_dir = _pandamock("certs", "cert-dir", "--tls-dir", str(tls_dir))
    result = _run(https_url, tmp_path, X509_USER_PROXY=proxy, X509_CERT_DIR=cert_dir)
    assert result["hello"] == [0, ""]  # system/is_alive is not secure
    assert result["attributes"] == [0, "Could not retrieve certificate attributes"]


def test_panda_client_with_a_signed_token(https_url, tls_dir, tmp_path):
    token = _pandamock("token", "--user", "pilot", "--role", "production", "--tls-dir", str(tls_dir))
    cert_dir = _pandamock("certs", "cert-dir", "--tls-dir", str(tls_dir))
    result = _run(
        https_url,
        tmp_path,
        PANDA_AUTH="oidc",
        PANDA_AUTH_VO="atlas:production",
        PANDA_AUTH_ID_TOKEN=token,
        X509_CERT_DIR=cert_dir,
    )
    assert result["hello"] == [0, ""]
    assert result["attributes"] == [0, {"GRST_CRED_AUTH_TOKEN_0": "VOMS /atlas/Role=production"}]


def test_panda_client_with_a_token_from_elsewhere(https_url, tls_dir, tmp_path):
    foreign = _pandamock("token", "--user", "pilot", "--tls-dir", str(tmp_path / "other-idp"))
    cert_dir = _pandamock("certs", "cert-dir", "--tls-dir", str(tls_dir))
    result = _run(
        https_url,
        tmp_path,
        PANDA_AUTH="oidc",
        PANDA_AUTH_VO="atlas",
        PANDA_AUTH_ID_TOKEN=foreign,
        X509_CERT_DIR=cert_dir,
    )
    # the token is refused before routing (403), which panda-client reports as a communication failure
    assert result["hello"][0] == 255
    assert result["attributes"][0] == 255
