"""The static files a pilot fetches besides the dispatcher calls (the real server's Apache served
them from its document root, not through the dispatcher):

* ``GET /trf/user/<name>``: a payload script (``runpandamock``), as the job's ``transformation``
  points at it;
* ``GET /cache/schedconfig/<queue>.all.json``: the queuedata (``--queuedata-url``);
* ``GET /cache/schedconfig/<queue>.json``: ``{<queue>: ...}``, the schedconfig
  (``LOCAL_AGIS_SCHEDCONF``);
* ``GET /cache/ddmendpoints.json``: the storage data (``--storagedata-url``).

They sit next to the file server's ``/cache/<name>`` downloads (:mod:`pandamock.cache`); these
routes are more specific, so an uploaded cache file can never be named like them.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from flask import Flask, Response

if TYPE_CHECKING:
    from ..emulator import Emulator

NOT_FOUND = ("Not Found\n", 404, {"Content-Type": "text/plain"})


def _json(document: Any) -> Response:
    return Response(json.dumps(document, default=str), mimetype="application/json")


def register_pilot_routes(app: Flask, emulator: Emulator) -> None:
    """Add the payload scripts and the info-system documents to the app."""

    @app.route("/trf/user/<path:name>", methods=["GET", "HEAD"])
    def payload_script(name: str) -> Any:
        script = emulator.engine.payloads.script(name)
        if script is None:
            return NOT_FOUND
        return Response(script, mimetype="text/plain")

    @app.route("/cache/schedconfig/<name>", methods=["GET", "HEAD"])
    def schedconfig(name: str) -> Any:
        payloads = emulator.engine.payloads
        if name.endswith(".all.json"):
            document = payloads.queuedata(name[: -len(".all.json")])
        elif name.endswith(".json"):
            document = payloads.schedconfig(name[: -len(".json")])
        else:
            document = None
        if document is None:
            return NOT_FOUND
        return _json(document)

    @app.route("/cache/ddmendpoints.json", methods=["GET", "HEAD"])
    def ddm_endpoints() -> Any:
        return _json(emulator.engine.payloads.ddm_endpoints())
