"""Helpers shared by pandamock's own tests."""

from __future__ import annotations

import base64
import json
import os
from typing import Any

JSON = {"Accept": "application/json"}


def fake_token(claims: dict[str, Any]) -> str:
    """An unsigned JWT-shaped token (header.claims.signature), as panda-client accepts."""

    def b64(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}.c2ln"


def signed_token(claims: dict[str, Any], tls_dir: str | None = None) -> str:
    """A JWT signed by the emulator's key (the session's PANDAMOCK_TLS_DIR unless given), with the
    emulator's issuer and audience unless ``claims`` set them: what strict mode accepts."""
    from pandamock.tokens import CLIENT_ID, ISSUER, TokenAuthority

    authority = TokenAuthority(tls_dir or os.environ["PANDAMOCK_TLS_DIR"])
    return authority.sign({"iss": ISSUER, "aud": CLIENT_ID, **claims})


def envelope(response) -> dict:
    """The JSON envelope of a response (asserts HTTP 200 text/plain)."""
    assert response.status_code == 200, response.data
    assert response.headers["Content-Type"] == "text/plain"
    return json.loads(response.data)


def panda_client_env(url: str, tmp_path: Any) -> dict[str, str]:
    """The environment that points panda-client 2.2.0 at a pandamock at ``url`` over plain http
    (read by panda-client when it is imported: run the client in a subprocess with it)."""
    import os

    base = f"{url}/server/panda"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PANDA_", "OIDC_"))}
    env.update(
        {
            "PANDA_URL_SSL": base,
            "PANDA_URL": base,
            "PANDACACHE_URL": base,
            "PANDA_BEHIND_REAL_LB": "1",
            "PANDA_CONFIG_ROOT": str(tmp_path / "config"),
            "PANDA_VERIFY_HOST": "off",
            "X509_USER_PROXY": str(tmp_path / "no-proxy"),
            "X509_CERT_DIR": str(tmp_path),
        }
    )
    return env


def live_server(app: Any) -> Any:
    """A context manager: ``app`` served on 127.0.0.1 (port 0), with ``server.emulator`` set; the
    emulator's file-server directory is removed afterwards."""
    from contextlib import contextmanager

    from pandamock.app import emulator_of
    from pandamock.server import MockServer

    @contextmanager
    def serving():
        with MockServer(app, port=0) as server:
            server.emulator = emulator_of(app)
            yield server
        server.emulator.engine.files.close()

    return serving()


def serve_process(*arguments: str) -> tuple[Any, str]:
    """``pandamock serve --port 0 --log-level warning <arguments>`` in its own process; returns the
    process and the URL it printed (the process is killed and its stderr shown when it did not start)."""
    import os
    import subprocess
    import sys

    process = subprocess.Popen(
        [sys.executable, "-m", "pandamock", "serve", "--port", "0", "--log-level", "warning", *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    line = process.stdout.readline()
    if "serving http://127.0.0.1:" not in line:
        process.kill()
        raise AssertionError(line + process.stderr.read())
    return process, line.split("serving ")[1].split()[0]
