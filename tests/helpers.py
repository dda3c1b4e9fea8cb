"""Helpers shared by pandamock's own tests."""

from __future__ import annotations

import base64
import json
from typing import Any

JSON = {"Accept": "application/json"}


def fake_token(claims: dict[str, Any]) -> str:
    """An unsigned JWT-shaped token (header.claims.signature), as panda-client accepts."""

    def b64(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}.c2ln"


def envelope(response) -> dict:
    """The JSON envelope of a response (asserts HTTP 200 text/plain)."""
    assert response.status_code == 200, response.data
    assert response.headers["Content-Type"] == "text/plain"
    return json.loads(response.data)
