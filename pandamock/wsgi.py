"""Small readers of a WSGI environ shared by the v1 pipeline and the legacy dispatcher."""

from __future__ import annotations

from typing import Any

from werkzeug.formparser import parse_form_data


def read_body(environ: dict) -> bytes:
    """The request body (``CONTENT_LENGTH`` bytes; empty when absent or invalid)."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ.get("wsgi.input")
    if stream is None or length <= 0:
        return b""
    return stream.read(length)


def form_parameters(environ: dict) -> dict[str, Any]:
    """URL-encoded or multipart form values (repeated keys collapse to the first value, as
    werkzeug's ``parse_form_data`` gives PanDA), then file parts as ``FileStorage`` objects."""
    _stream, form, files = parse_form_data(environ)
    params: dict[str, Any] = {key: form.get(key) for key in form.keys()}
    for key in files.keys():
        params[key] = files.get(key)
    return params


def request_host(environ: dict) -> str:
    """The server's host name as the client addressed it (without port)."""
    host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "localhost")
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def request_base_url(environ: dict) -> str:
    """``scheme://host:port`` of this server as the client addressed it."""
    scheme = environ.get("wsgi.url_scheme", "http")
    host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME')}:{environ.get('SERVER_PORT')}"
    return f"{scheme}://{host}"
