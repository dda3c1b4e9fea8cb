"""The legacy wire format: how ``/server/panda/<function>`` read requests and how a handler sees them.

Decoding (the old ``pandaserver/server/panda.py``, plus what pilot3 really sends):

* ``Content-Type`` exactly ``application/json`` (pilot3's urllib path): the body is JSON,
  gzip-compressed **without** a ``Content-Encoding`` header. The old server gunzipped every such
  body; here the gzip magic (``1f 8b``) decides, so a plain JSON body works too. Top-level JSON
  ``true``/``false`` become the strings ``"True"``/``"False"`` (the old server's patch), other
  types are kept (``jobId`` stays whatever the client sent). A body that is neither gzip nor JSON,
  or JSON that is not an object, is the old server's HTTP 500 with the exception text.
* any other POST: a form (``application/x-www-form-urlencoded``, pilot3's curl path, or
  multipart); every value a string, the first of repeated keys.
* GET/HEAD: the query string (the pilot GETs ``get_access_token?client_name=...``).
"""

from __future__ import annotations

import gzip
import json
import zlib
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from ..api.params import ServerCrash
from ..wsgi import form_parameters, read_body, request_base_url, request_host

if TYPE_CHECKING:
    from ..api.identity import Identity
    from ..emulator import Emulator
    from ..engine import Engine
    from .registry import LegacySpec

GZIP_MAGIC = b"\x1f\x8b"


def accepts_json(environ: dict) -> bool:
    """``req.acceptJson()``: ``application/json`` anywhere in the ``Accept`` header."""
    return "application/json" in (environ.get("HTTP_ACCEPT") or "")


def decode_legacy_parameters(environ: dict, function: str) -> dict[str, Any]:
    """The request's parameters as the old dispatcher passed them to ``function``; raises
    :class:`ServerCrash` (HTTP 500 with the text) when the body cannot be read."""
    method = environ.get("REQUEST_METHOD", "GET")
    if method in ("GET", "HEAD"):
        read_body(environ)
        params: dict[str, Any] = {}
        for key, value in parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True):
            params.setdefault(key, value)
        return params
    if environ.get("CONTENT_TYPE") == "application/json":
        body = read_body(environ)
        if body[:2] == GZIP_MAGIC:
            try:
                body = gzip.decompress(body)
            except (OSError, EOFError, zlib.error) as exc:
                raise ServerCrash(str(exc)) from None
        try:
            decoded = json.loads(body)
        except ValueError as exc:
            raise ServerCrash(str(exc)) from None
        if not isinstance(decoded, dict):
            raise ServerCrash(f"{function}() argument after ** must be a mapping, not {type(decoded).__name__}")
        for key, value in list(decoded.items()):
            if value is True:
                decoded[key] = "True"
            elif value is False:
                decoded[key] = "False"
        return decoded
    return form_parameters(environ)


class LegacyRequest:
    """The ``req`` a legacy function receives: identity, engine, and how the client wants answers."""

    __slots__ = ("emulator", "engine", "identity", "environ", "spec", "accept_json", "functions")

    def __init__(self, emulator: Emulator, identity: Identity, environ: dict, spec: LegacySpec, functions: Any) -> None:
        self.emulator = emulator
        self.engine: Engine = emulator.engine
        self.identity = identity
        self.environ = environ
        self.spec = spec
        self.accept_json = accepts_json(environ)
        self.functions = functions

    @property
    def dn(self) -> str | None:
        """``_getDN``: the caller's DN (proxy CNs kept), None without credentials."""
        return self.identity.dn or None

    @property
    def host(self) -> str:
        """The server's host name as the client addressed it (without port)."""
        return request_host(self.environ)

    @property
    def base_url(self) -> str:
        """``scheme://host:port`` of this server as the client addressed it."""
        return request_base_url(self.environ)
