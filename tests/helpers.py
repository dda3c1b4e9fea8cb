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
