"""The WSGI application: ``/api/...`` goes to the request pipeline, ``/server/panda/...`` to the
legacy dispatcher (:mod:`pandamock.legacy`), everything else to Flask (control plane under
``/_pandamock/``, and the pages the real server's Apache serves)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from flask import Flask, jsonify, request

from .api.openapi import build as build_openapi
from .api.pipeline import ApiPipeline
from .cache import register_cache_routes
from .config import Settings
from .emulator import Emulator
from .legacy.files import register_pilot_routes
from .legacy.pipeline import PREFIX as LEGACY_PREFIX
from .legacy.pipeline import LegacyPipeline
from .ui import register as register_ui

EXTENSION = "pandamock"


class Dispatcher:
    """Sends ``/api/<anything>`` to the API pipeline and ``/server/panda/<anything>`` to the legacy
    pipeline before Flask routing (no redirects, no trailing-slash handling: the pipelines answer
    exactly like the real server)."""

    def __init__(
        self, flask_app: Callable[..., Iterable[bytes]], api: ApiPipeline, legacy: LegacyPipeline | None = None
    ) -> None:
        self.flask_app = flask_app
        self.api = api
        self.legacy = legacy

    def __call__(self, environ: dict, start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/api/") and len(path) > 5:
            return self.api(environ, start_response)
        if self.legacy is not None and path.startswith(LEGACY_PREFIX) and len(path) > len(LEGACY_PREFIX):
            return self.legacy(environ, start_response)
        return self.flask_app(environ, start_response)


def create_app(
    config: Settings | Mapping[str, Any] | None = None,
    scenario: Any = None,
    emulator: Emulator | None = None,
) -> Flask:
    """Build the emulator's WSGI app.

    ``config``: a :class:`Settings` or a mapping of setting names to values (applied over the
    ``PANDAMOCK_*`` environment); ``scenario``: a shipped scenario name, a path, a mapping or a
    :class:`~pandamock.scenario.Scenario` (default: the ``scenario`` setting); ``emulator``: an
    existing emulator to serve (its settings win).
    """
    if emulator is None:
        settings = config if isinstance(config, Settings) else Settings.load(config or {})
        emulator = Emulator(settings, scenario)
    app = Flask("pandamock")
    app.url_map.strict_slashes = False
    app.extensions[EXTENSION] = emulator
    app.json.sort_keys = False
    _register_control(app, emulator)
    register_ui(app, emulator)
    register_cache_routes(app, emulator)
    register_pilot_routes(app, emulator)
    app.wsgi_app = Dispatcher(app.wsgi_app, ApiPipeline(emulator), LegacyPipeline(emulator))  # type: ignore[method-assign]
    return app


def emulator_of(app: Flask) -> Emulator:
    """The emulator behind an app made by :func:`create_app`."""
    return app.extensions[EXTENSION]


def _register_control(app: Flask, emulator: Emulator) -> None:
    from . import __version__, control

    settings = emulator.settings
    control.register(app, emulator, enabled=settings.control, token=settings.control_token)

    @app.get("/_pandamock/openapi.json")
    def openapi() -> Any:
        return jsonify(build_openapi(emulator.registry))

    @app.get("/")
    def index() -> Any:
        text = (
            f"pandamock {__version__}: PanDA API v1 emulator\n"
            "  /api/v1/<module>/<function>   the PanDA API\n"
            "  /server/panda/<function>      the legacy dispatcher pilots call (getJob, updateJob, ...)\n"
            "  /_pandamock/health            emulator status\n"
            "  /_pandamock/openapi.json      OpenAPI 3 document of every endpoint\n"
            "  /_pandamock/...               control plane: reset, scenario, state, faults, clock, journal\n"
            + ("  /_pandamock/ui/               web dashboard\n" if settings.control else "")
        )
        if "text/html" in request.headers.get("Accept", ""):  # a browser: the same, with links
            from .ui import index_page

            return index_page(text), 200, {"Content-Type": "text/html; charset=utf-8"}
        return text, 200, {"Content-Type": "text/plain"}
