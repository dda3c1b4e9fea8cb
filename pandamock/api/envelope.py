"""The PanDA envelope and its two encodings (JSON and Python repr), as the real server sends them."""

from __future__ import annotations

import datetime as _dt
import decimal
import json
from typing import Any

TEXT_PLAIN = [("Content-Type", "text/plain")]


def envelope(success: Any, message: str = "", data: Any = None) -> dict:
    """``generate_response``: keys in PanDA's order."""
    return {"success": success, "message": message, "data": data}


def _json_default(value: Any) -> Any:
    if isinstance(value, _dt.datetime):
        return {"__datetime__": value.isoformat()}
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def encode(result: Any, as_json: bool) -> bytes:
    """Body of a 200 answer: ``json.dumps`` (datetimes as ``{"__datetime__": iso}``) or ``str()``.

    A value JSON cannot encode raises TypeError, which the pipeline turns into an HTTP 500 like
    the real server.
    """
    if as_json:
        return json.dumps(result, default=_json_default).encode()
    return str(result).encode()


def error_body(message: str) -> bytes:
    """Body of the real server's 403/500 answers."""
    return message.encode()


def forbidden(function: str) -> bytes:
    return error_body(f"ERROR : method {function} is forbidden")
