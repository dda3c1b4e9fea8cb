"""The control plane: reset, scenarios, state dumps, faults, clock and journal of an emulator.

:class:`ControlPlane` is the in-process API (plain data in, plain data out, :class:`ControlError`
for refusals); :func:`blueprint` serves the same calls as plain JSON under ``/_pandamock/``
(never the PanDA envelope; the API pipeline never sees these paths), and
:class:`pandamock.client.Control` calls them over HTTP with the same method names. The CLI and
the pytest plugin use one or the other. Routes and payloads: ``docs/faults-and-control.md``.
"""

from __future__ import annotations

import difflib
import fnmatch
import hmac
import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .faults import RuleError, UnknownRule, normalise_fields
from .journal import json_default

if TYPE_CHECKING:
    from flask import Blueprint, Response

    from .emulator import Emulator

PREFIX = "/_pandamock"
TOKEN_HEADER = "X-Pandamock-Control-Token"
#: Routes that stay open without the token (and when the control plane is disabled).
OPEN_ROUTES = ("health", "openapi")
JOURNAL_FILTERS = (
    "endpoint",
    "identity",
    "status",
    "success",
    "fault",
    "method",
    "since",
    "until",
    "after_seq",
    "failed",
    "limit",
)


class ControlError(Exception):
    """A refused control call: ``status`` is the HTTP status the control plane answers with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ControlPlane:
    """Every control call on an in-process emulator (the functions behind ``/_pandamock/``)."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    # -- emulator ------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        from . import __version__

        emulator = self.emulator
        return {
            "status": "ok",
            "version": __version__,
            "scenario": emulator.scenario.name if emulator.scenario else None,
            "clock": emulator.engine.clock.describe(),
            "counts": emulator.engine.counts(),
            "endpoints": len(emulator.registry),
            "faults": len(emulator.faults),
            "journal": {"entries": len(emulator.journal), "dropped": emulator.journal.dropped},
        }

    def reset(self) -> dict[str, Any]:
        """Back to the loaded scenario: state, clock, fault rules (counters zeroed); journal emptied."""
        self.emulator.reset()
        return self.health()

    def load_scenario(self, scenario: Any) -> dict[str, Any]:
        """Replace the state by a scenario: a shipped name, a path on the server, or a mapping."""
        from .scenario import ScenarioError

        if not isinstance(scenario, (str, Mapping)):
            raise ControlError(400, f"scenario: expected a shipped name, a path or a mapping, got {scenario!r}")
        try:
            self.emulator.load_scenario(scenario)
        except ScenarioError as exc:
            raise ControlError(400, str(exc)) from None
        except RuleError as exc:
            raise ControlError(400, str(exc)) from None
        return self.health()

    def state(self, tables: str | Iterable[str] | None = None, where: Mapping[str, Any] | None = None) -> dict:
        """A state dump in scenario form (whole, or some tables; ``where``: field == value filters)."""
        from .engine.snapshot import dump

        if isinstance(tables, str):
            tables = [tables]
        try:
            return dump(self.emulator.engine, tables=list(tables) if tables else None, where=where or None)
        except KeyError as exc:
            raise ControlError(404, str(exc.args[0])) from None

    # -- faults ------------------------------------------------------------------------------------
    def faults(self) -> list[dict[str, Any]]:
        """Every rule, in order, with its counters (matched, fired) and state."""
        return self.emulator.faults.describe()

    def fault(self, rule_id: str) -> dict[str, Any]:
        faults = self.emulator.faults
        try:
            return faults.get(rule_id).describe(faults.now())
        except UnknownRule as exc:
            raise ControlError(404, str(exc)) from None

    def add_fault(self, rule: Mapping[str, Any] | None = None, position: int | None = None, **fields: Any) -> dict:
        """Install a rule (``rule`` mapping and/or keyword fields: ``from_``, ``for_``, ``continue_``
        stand for ``from``, ``for``, ``continue``); ``position``: its index in the order (default last)."""
        faults = self.emulator.faults
        try:
            definition = normalise_fields(rule, fields)
            self._check_endpoints(definition)
            added = faults.add(definition, position=position)
        except RuleError as exc:
            raise ControlError(400, str(exc)) from None
        return added.describe(faults.now())

    def update_fault(self, rule_id: str, rule: Mapping[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
        """Change fields of a rule (a None value removes a field); its counters are kept."""
        faults = self.emulator.faults
        try:
            changes = normalise_fields(rule, fields, keep_none=True)
            self._check_endpoints(changes)
            updated = faults.update(rule_id, changes)
        except UnknownRule as exc:
            raise ControlError(404, str(exc)) from None
        except RuleError as exc:
            raise ControlError(400, str(exc)) from None
        return updated.describe(faults.now())

    def delete_fault(self, rule_id: str) -> dict[str, Any]:
        faults = self.emulator.faults
        try:
            return faults.delete(rule_id).describe(faults.now())
        except UnknownRule as exc:
            raise ControlError(404, str(exc)) from None

    def clear_faults(self) -> dict[str, Any]:
        """Remove every rule (the scenario's come back with the next reset)."""
        return {"cleared": self.emulator.faults.clear()}

    def _check_endpoints(self, definition: Mapping[str, Any]) -> None:
        """A glob that matches no endpoint is almost always a typo: refuse it with a suggestion."""
        globs = definition.get("endpoint")
        if not globs:
            return
        keys = [spec.key for spec in self.emulator.registry]
        for pattern in globs if isinstance(globs, list) else [globs]:
            if not isinstance(pattern, str) or any(fnmatch.fnmatchcase(key, pattern) for key in keys):
                continue
            from .faults import glob_problem

            if glob_problem(pattern):
                continue  # the rule validation names the syntax problem
            hint = difflib.get_close_matches(pattern, keys, n=1)
            suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise ControlError(400, f"endpoint: {pattern!r} matches no endpoint of this server{suggestion}")

    # -- clock ---------------------------------------------------------------------------------------
    def clock(self) -> dict[str, Any]:
        return self.emulator.engine.clock.describe()

    def freeze(self) -> dict[str, Any]:
        self.emulator.engine.clock.freeze()
        return self.clock()

    def unfreeze(self) -> dict[str, Any]:
        self.emulator.engine.clock.unfreeze()
        return self.clock()

    def advance(self, seconds: float | str) -> dict[str, Any]:
        """Move the clock forward by seconds (or a duration such as '5m'); due progression applies."""
        from .faults import parse_duration

        try:
            amount = parse_duration(seconds)
            self.emulator.engine.clock.advance(amount)
        except ValueError as exc:
            raise ControlError(400, f"seconds: {exc}") from None
        return self.clock()

    def set_time(self, moment: Any) -> dict[str, Any]:
        """Set the emulated time (ISO time or epoch seconds)."""
        try:
            self.emulator.engine.clock.set(moment)
        except (ValueError, TypeError) as exc:
            raise ControlError(400, f"time: expected an ISO time or epoch seconds, got {moment!r} ({exc})") from None
        return self.clock()

    def set_speed(self, speed: float) -> dict[str, Any]:
        """Emulated seconds per real second (0 stops time like freeze)."""
        try:
            self.emulator.engine.clock.set_speed(float(speed))
        except (ValueError, TypeError) as exc:
            raise ControlError(400, f"speed: expected a number >= 0, got {speed!r} ({exc})") from None
        return self.clock()

    # -- journal ---------------------------------------------------------------------------------------
    def journal(self, **filters: Any) -> dict[str, Any]:
        """Journal entries matching the filters (see :meth:`pandamock.journal.Journal.query`)."""
        unknown = [name for name in filters if name not in JOURNAL_FILTERS]
        if unknown:
            hint = difflib.get_close_matches(unknown[0], JOURNAL_FILTERS, n=1)
            suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise ControlError(
                400, f"unknown journal filter {unknown[0]!r}{suggestion}; filters: {', '.join(JOURNAL_FILTERS)}"
            )
        journal = self.emulator.journal
        try:
            entries = journal.query(**{key: value for key, value in filters.items() if value is not None})
        except (ValueError, TypeError) as exc:
            raise ControlError(400, f"journal filter: {exc}") from None
        return {"entries": entries, "dropped": journal.dropped, "size": journal.size, "kept": len(journal)}

    def journal_summary(self) -> dict[str, Any]:
        return self.emulator.journal.summary()

    def clear_journal(self) -> dict[str, Any]:
        cleared = len(self.emulator.journal)
        self.emulator.journal.clear()
        return {"cleared": cleared}


# --- HTTP ---------------------------------------------------------------------------------------------
def _json(data: Any, status: int = 200) -> Response:
    from flask import Response

    return Response(json.dumps(data, default=json_default) + "\n", status=status, mimetype="application/json")


def _error(status: int, message: str, headers: dict | None = None) -> Response:
    response = _json({"error": message, "status": status}, status)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _body() -> dict[str, Any]:
    from flask import request

    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ControlError(400, f"request body: not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ControlError(400, f"request body: expected a JSON object, got {type(data).__name__}")
    return data


def _bool(name: str, text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ControlError(400, f"{name}: expected true or false, got {text!r}")


def _int(name: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ControlError(400, f"{name}: expected an integer, got {text!r}") from None


def journal_filters_from_query(args: Any) -> dict[str, Any]:
    """Journal filters from a query string (``status`` may repeat)."""
    filters: dict[str, Any] = {}
    for name in args:
        values = args.getlist(name)
        if name not in JOURNAL_FILTERS:
            filters[name] = values[-1]  # ControlPlane.journal names the unknown filter
        elif name == "status":
            filters["status"] = [_int("status", value) for value in values]
        elif name in ("success", "failed"):
            filters[name] = _bool(name, values[-1])
        elif name == "fault":
            value = values[-1]
            filters["fault"] = _bool("fault", value) if value.lower() in ("true", "false") else value
        elif name in ("after_seq", "limit"):
            filters[name] = _int(name, values[-1])
        else:
            filters[name] = values[-1]
    return filters


def _where(values: list[str]) -> dict[str, str]:
    where = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ControlError(400, f"where: expected field=value, got {item!r}")
        where[key] = value
    return where


def blueprint(emulator: Emulator, enabled: bool = True, token: str | None = None) -> Blueprint:
    """The ``/_pandamock/`` routes of an emulator. ``enabled=False`` keeps only health;
    ``token``: every route but health and the OpenAPI document needs it (``Authorization: Bearer
    <token>`` or ``X-Pandamock-Control-Token``)."""
    from flask import Blueprint, request

    plane = ControlPlane(emulator)
    bp = Blueprint("pandamock_control", __name__, url_prefix=PREFIX)

    @bp.errorhandler(ControlError)
    def refused(exc: ControlError) -> Response:
        return _error(exc.status, exc.message)

    @bp.get("/health")
    def health() -> Response:
        return _json(plane.health())

    if not enabled:
        return bp

    @bp.before_request
    def refuse_cross_site() -> Response | None:
        # browsers name the page that sends a request in Origin; a page elsewhere must not be able
        # to steer the emulator (a form can POST text/plain JSON without a CORS preflight)
        origin = request.headers.get("Origin")
        if request.method not in ("GET", "HEAD", "OPTIONS") and origin and origin != "null":
            if urlsplit(origin).netloc != request.host:
                return _error(403, f"cross-site request from {origin} refused")
        return None

    if token:

        @bp.before_request
        def check_token() -> Response | None:
            if request.endpoint and request.endpoint.rsplit(".", 1)[-1] in OPEN_ROUTES:
                return None
            given = request.headers.get(TOKEN_HEADER, "")
            authorization = request.headers.get("Authorization", "")
            if authorization[:7].lower() == "bearer ":
                given = authorization[7:].strip()
            if given and hmac.compare_digest(given.encode(), token.encode()):
                return None
            message = "the control plane needs its token" if not given else "wrong control-plane token"
            return _error(401, message, {"WWW-Authenticate": 'Bearer realm="pandamock control"'})

    @bp.post("/reset")
    def reset() -> Response:
        return _json(plane.reset())

    @bp.post("/scenario")
    def load_scenario() -> Response:
        body = _body()
        if "scenario" not in body:
            raise ControlError(400, 'request body: expected {"scenario": <shipped name, path or mapping>}')
        return _json(plane.load_scenario(body["scenario"]))

    @bp.get("/state")
    @bp.get("/state/<table>")
    def state(table: str | None = None) -> Response:
        tables = [table] if table else request.args.getlist("table") or None
        unknown = [name for name in request.args if name not in ("table", "where")]
        if unknown:
            raise ControlError(400, f"unknown parameter {unknown[0]!r}; use table=<name> and where=<field>=<value>")
        return _json(plane.state(tables, _where(request.args.getlist("where"))))

    @bp.get("/faults")
    def list_faults() -> Response:
        return _json({"rules": plane.faults()})

    @bp.post("/faults")
    def add_fault() -> Response:
        position = request.args.get("position")
        body = _body()
        added = plane.add_fault(body, position=_int("position", position) if position is not None else None)
        return _json(added, 201)

    @bp.delete("/faults")
    def clear_faults() -> Response:
        return _json(plane.clear_faults())

    @bp.get("/faults/<rule_id>")
    def get_fault(rule_id: str) -> Response:
        return _json(plane.fault(rule_id))

    @bp.route("/faults/<rule_id>", methods=["PATCH", "PUT"])
    def update_fault(rule_id: str) -> Response:
        return _json(plane.update_fault(rule_id, _body()))

    @bp.delete("/faults/<rule_id>")
    def delete_fault(rule_id: str) -> Response:
        return _json(plane.delete_fault(rule_id))

    @bp.get("/clock")
    def clock() -> Response:
        return _json(plane.clock())

    @bp.post("/clock/<operation>")
    def steer_clock(operation: str) -> Response:
        body = _body()

        def need(key: str) -> Any:
            if key not in body:
                raise ControlError(400, f'request body: clock/{operation} needs {{"{key}": ...}}')
            return body[key]

        if operation == "freeze":
            return _json(plane.freeze())
        if operation == "unfreeze":
            return _json(plane.unfreeze())
        if operation == "advance":
            return _json(plane.advance(need("seconds")))
        if operation == "set":
            return _json(plane.set_time(need("time")))
        if operation == "speed":
            return _json(plane.set_speed(need("speed")))
        raise ControlError(404, f"no clock operation {operation!r}; operations: freeze, unfreeze, advance, set, speed")

    @bp.get("/journal")
    def journal() -> Response:
        return _json(plane.journal(**journal_filters_from_query(request.args)))

    @bp.get("/journal/summary")
    def journal_summary() -> Response:
        return _json(plane.journal_summary())

    @bp.delete("/journal")
    def clear_journal() -> Response:
        return _json(plane.clear_journal())

    return bp


def register(app: Any, emulator: Emulator, enabled: bool = True, token: str | None = None) -> None:
    """Add the control plane to a Flask app, with JSON answers for unknown ``/_pandamock/`` paths."""
    from flask import request
    from werkzeug.exceptions import HTTPException

    app.register_blueprint(blueprint(emulator, enabled=enabled, token=token))

    def json_http_error(exc: HTTPException) -> Any:
        if request.path.startswith(PREFIX + "/") or request.path == PREFIX:
            return _error(exc.code or 500, f"{exc.name}: {request.method} {request.path}")
        return exc

    app.register_error_handler(404, json_http_error)
    app.register_error_handler(405, json_http_error)
