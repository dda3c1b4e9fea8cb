"""Example: panda-client 2.2.0 against the live `pandamock` fixture.

panda-client reads its configuration (``PANDA_URL_SSL``, ``PANDACACHE_URL``, ...) once, when
``pandaclient.Client`` is imported, so each client session runs in a subprocess whose environment
is ``pandamock.env``. The "tool" here is what a user's submission script does before it submits
a task: check the server, upload its sandbox (reusing one the server already has) and store a
secret for its jobs.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("pandaclient")

TOOL = textwrap.dedent(
    """
    import json, sys
    from pandaclient import Client

    sandbox = sys.argv[1]
    out = {
        "hello": Client.hello(),
        "upload": Client.putFile(sandbox, reuseSandbox=True),
        "again": Client.putFile(sandbox, reuseSandbox=True),
        "secret": Client.set_user_secret("rucio_token", "s3cr3t"),
        "secrets": Client.get_user_secrets(),
    }
    print(json.dumps(out))
    """
)


def run_tool(pandamock, tmp_path, *args: str) -> dict:
    env = {**os.environ, **pandamock.env}
    env.pop("PANDA_AUTH", None)  # plain http, no grid proxy, no token: the library calls need none
    script = tmp_path / "tool.py"
    script.write_text(TOOL)
    done = subprocess.run(
        [sys.executable, str(script), *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_submission_preparation(pandamock, tmp_path):
    sandbox = tmp_path / "jobO.6d3c1a.tar.gz"
    sandbox.write_bytes(gzip.compress(b"user analysis code\n" * 100, mtime=0))

    out = run_tool(pandamock, tmp_path, str(sandbox))

    assert out["hello"][0] == 0
    assert out["upload"] == [0, "True"]  # not on the server yet: uploaded
    assert out["again"] == [0, "NewFileName:jobO.6d3c1a.tar.gz"]  # found: the upload is skipped
    assert out["secret"] == [0, [True, None]]
    assert out["secrets"] == [0, [True, {"rucio_token": "s3cr3t"}]]

    # what the server saw and kept
    pandamock.journal.assert_called("file_server/upload_cache_file", times=1)
    pandamock.journal.assert_called("file_server/validate_cache_file", times=2)
    pandamock.journal.assert_no_unexpected_failures(allow=["file_server/validate_cache_file"])  # NOTFOUND
    (cached,) = pandamock.records("cache_files", path="jobO.6d3c1a.tar.gz")
    assert (cached["size"], cached["owner"]) == (sandbox.stat().st_size, "atlpilo1")  # the default identity
    (secret,) = pandamock.records("secrets", owner="atlpilo1")
    assert secret["data"] == '{"rucio_token": "s3cr3t"}'


@pytest.mark.pandamock(identity="jdoe")
def test_secrets_belong_to_the_caller(pandamock, tmp_path):
    sandbox = tmp_path / "jobO.1.tar.gz"
    sandbox.write_bytes(gzip.compress(b"x", mtime=0))
    run_tool(pandamock, tmp_path, str(sandbox))
    assert pandamock.records("secrets", owner="Jane Doe")
    assert pandamock.records("secrets", owner="atlpilo1") == []
