"""``/cache/<name>``: the file server's files over plain HTTP, as the real server's Apache serves its
cache directory (panda-client's ``getFile``, the URLs ``upload_jedi_log`` and the recovery request
answer, Harvester's HPO checkpoint download, which POSTs to ``/cache/hpo_cp_<task>_<point>``).
Only files the state knows are served; anything else is ``404``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Flask, send_file

if TYPE_CHECKING:
    from .emulator import Emulator


def register_cache_routes(app: Flask, emulator: Emulator) -> None:
    """Add the ``/cache/<name>`` and ``/cache/jedilog/<name>`` downloads to the app."""

    @app.route("/cache/<path:name>", methods=["GET", "HEAD", "POST"])
    def cache_file(name: str) -> Any:
        found = emulator.engine.files.cache_file(name)
        if found is None:
            return "Not Found\n", 404, {"Content-Type": "text/plain"}
        disk, _record = found
        return send_file(disk, mimetype="application/octet-stream", conditional=False, etag=False)
