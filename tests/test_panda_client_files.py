"""panda-client 2.2.0 against a live emulator: sandbox upload (with and without reuse), download,
user secrets and the lost-file recovery request.

panda-client reads its environment once, at import (reference clients.md §2.3), so each client
session runs in its own interpreter with ``PANDA_URL_SSL``/``PANDACACHE_URL`` pointing at the server.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import textwrap

import pytest

from pandamock.app import create_app
from tests.helpers import live_server, panda_client_env


@pytest.fixture(scope="module")
def live():
    app = create_app({"scenario": "default"})
    with live_server(app) as server:
        yield server


@pytest.fixture
def server(live):
    live.emulator.reset()
    return live


def run_client(server, tmp_path, body: str) -> dict:
    """Run ``body`` (which fills the dict ``out``) with pandaclient.Client imported as ``Client``."""
    env = panda_client_env(server.url, tmp_path)
    script = (
        "import json\nfrom pandaclient import Client\nout = {}\n" + textwrap.dedent(body) + "\nprint(json.dumps(out))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def sandbox(tmp_path, name: str, content: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(gzip.compress(content, mtime=0))
    return str(path)


def test_put_file_then_reuse_then_get_file(server, tmp_path):
    engine = server.emulator.engine
    path = sandbox(tmp_path, "jobO.0c9e.tar.gz", b"user analysis code\n" * 50)
    other = sandbox(tmp_path, "jobO.77aa.tar.gz", b"different code\n")
    out = run_client(
        server,
        tmp_path,
        f"""
        out["put"] = Client.putFile({path!r})
        out["reuse"] = Client.putFile({path!r}, reuseSandbox=True)
        out["new"] = Client.putFile({other!r}, reuseSandbox=True)
        out["again"] = Client.putFile({path!r})
        out["get"] = Client.getFile("jobO.0c9e.tar.gz", output_path="downloaded.tar.gz")
        """,
    )
    assert out["put"] == [0, "True"]
    assert out["reuse"] == [0, "NewFileName:jobO.0c9e.tar.gz"]  # found: the upload is skipped
    assert out["new"] == [0, "True"]  # not found: uploaded
    assert out["again"] == [0, "ERROR: cannot overwrite file"]
    assert out["get"][0] == 0
    assert (tmp_path / "downloaded.tar.gz").read_bytes() == open(path, "rb").read()
    files = engine.store.table("cache_files")
    assert sorted(files.records) == ["jobO.0c9e.tar.gz", "jobO.77aa.tar.gz"]  # base names, not client paths
    registry = engine.store.table("sandbox_files")
    assert sorted(row["fileName"] for row in registry.values()) == ["jobO.0c9e.tar.gz", "jobO.77aa.tar.gz"]
    assert {row["hostName"] for row in registry.values()} == {"127.0.0.1"}


def test_get_file_of_a_missing_file_fails(server, tmp_path):
    out = run_client(server, tmp_path, 'out["get"] = Client.getFile("missing.tar.gz", output_path="x")')
    assert out["get"] == [404, "Not Found\n"]
    assert not (tmp_path / "x").exists()


def test_user_secrets(server, tmp_path):
    out = run_client(
        server,
        tmp_path,
        """
        out["set"] = Client.set_user_secret("rucio_token", "abc123")
        out["set2"] = Client.set_user_secret("other", "x")
        out["get"] = Client.get_user_secrets()
        out["delete"] = Client.set_user_secret("other", None)
        out["after_delete"] = Client.get_user_secrets()
        out["wipe"] = Client.set_user_secret(None, None)
        out["after_wipe"] = Client.get_user_secrets()
        """,
    )
    assert out["set"] == [0, [True, None]]
    assert out["get"] == [0, [True, {"rucio_token": "abc123", "other": "x"}]]
    assert out["after_delete"] == [0, [True, {"rucio_token": "abc123"}]]
    assert out["after_wipe"] == [0, [True, {}]]


def test_send_file_recovery_request(server, tmp_path):
    engine = server.emulator.engine
    out = run_client(server, tmp_path, 'out["recovery"] = Client.send_file_recovery_request(40000123, dry_run=True)')
    status, (accepted, data) = out["recovery"]
    assert (status, accepted) == (0, True)
    assert data["logFileURL"].startswith(f"{server.url}/cache/jedilog/lost_file_recovery.")
    (request,) = engine.store.table("file_server_requests").values()
    assert (request["kind"], request["parameters"]["jediTaskID"], request["parameters"]["dryRun"]) == (
        "file_recovery",
        40000123,
        True,
    )
