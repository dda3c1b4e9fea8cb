"""The emulator over a real socket (cheroot on 127.0.0.1, port 0) and the command line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import requests

from pandamock.app import create_app
from pandamock.server import MockServer
from tests.helpers import serve_process


@pytest.fixture(scope="module")
def live():
    with MockServer(create_app({"scenario": "default"}), port=0) as server:
        yield server


def test_is_alive_over_http(live):
    response = requests.get(f"{live.url}/api/v1/system/is_alive", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain"
    assert response.text == "{'success': True, 'message': '', 'data': None}"
    response = requests.get(f"{live.url}/api/v1/system/is_alive", headers={"Accept": "application/json"}, timeout=5)
    assert response.json() == {"success": True, "message": "", "data": None}


def test_keep_alive_and_no_redirects(live):
    with requests.Session() as session:
        first = session.get(f"{live.url}/api/v1/system/is_alive", timeout=5)
        second = session.get(f"{live.url}/api/v1/system/is_alive/", allow_redirects=False, timeout=5)
    assert first.headers.get("Connection", "").lower() != "close"
    assert second.status_code == 403
    assert second.text == "ERROR : method  is forbidden"


def test_panda_client_style_get(live):
    response = requests.get(
        f"{live.url}/api/v1/metaconfig/get_site_specs",
        params={"type": "production"},
        data="{}",
        headers={"Content-Type": "application/json", "Accept": "application/json"},
        timeout=5,
    )
    data = response.json()["data"]
    assert "BNL_PROD_MCORE" in data and "ANALY_MWT2_UCORE" not in data


def test_concurrent_clients(live):
    from concurrent.futures import ThreadPoolExecutor

    def hit(_):
        return requests.get(f"{live.url}/api/v1/system/is_alive", timeout=10).status_code

    with ThreadPoolExecutor(16) as pool:
        assert set(pool.map(hit, range(200))) == {200}


def test_openapi_document(live):
    document = requests.get(f"{live.url}/_pandamock/openapi.json", timeout=5).json()
    assert document["openapi"].startswith("3.")
    operation = document["paths"]["/api/v1/metaconfig/get_site_specs"]["get"]
    assert operation["parameters"] == [
        {"name": "type", "in": "query", "required": False, "schema": {"type": "string", "default": "analysis"}}
    ]


def _pandamock(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pandamock", *args], capture_output=True, text=True, timeout=60, **kwargs
    )


def test_cli_routes_and_version():
    routes = {route["path"]: route for route in json.loads(_pandamock("routes", "--json").stdout)}
    assert routes["/api/v1/system/is_alive"]["method"] == "GET"
    assert routes["/api/v1/system/is_alive"]["secure"] is False
    assert routes["/api/v1/system/get_attributes"]["secure"] is True
    assert _pandamock("--version").stdout.strip() == "pandamock, version 0.1.0"
    assert "--scenario" in _pandamock("serve", "--help").stdout


def test_cli_serve_port_zero_prints_url_and_stops_on_sigterm():
    process, url = serve_process()
    try:
        assert requests.get(f"{url}/api/v1/system/is_alive", timeout=5).status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()


def test_cli_serve_refuses_a_bad_setting():
    result = _pandamock("serve", "--port", "0", env={**os.environ, "PANDAMOCK_THREADS": "many"})
    assert result.returncode == 2
    assert "PANDAMOCK_THREADS: expected an integer, got 'many'" in result.stderr


def test_cli_serve_refuses_a_broken_scenario(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nsites:\n  - name: Q\n    corecount: eight\n")
    started = time.monotonic()
    result = _pandamock("serve", "--port", "0", "--scenario", str(bad))
    assert result.returncode == 2
    assert "sites[0].corecount: expected an integer, got 'eight'" in result.stderr
    assert time.monotonic() - started < 30
