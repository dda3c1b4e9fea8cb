"""The WSGI view of ``/server/panda/<function>``: the old dispatcher's request handling on the
emulator's journal, faults and identities.

Order (the old ``pandaserver/server/panda.py``, with the steps the v1 pipeline shares):

1. the function is the last path segment; a function that is not declared in
   :mod:`pandamock.legacy.dispatcher` → HTTP 403 ``ERROR : method <f> is forbidden`` (the real
   server's current answer for every deleted legacy path);
2. a journal entry (``endpoint`` ``legacy/<function>``);
3. faults before the call (rules match ``legacy/<function>`` globs and the legacy parameter names:
   ``jobId``, ``pandaID``, ``siteName``, ``workerID``, ...); a ``fail`` rule answers the legacy
   failure (``StatusCode`` 30, or the rule's ``data.StatusCode``, with ``errorDialog``);
4. identity (token, certificate, open-mode default); a refused token or a banned user → 403;
5. parameters (:mod:`pandamock.legacy.wire`): gzip JSON, form, query string; unreadable → 500;
6. the call: a parameter the function does not take, a missing one, or any exception → HTTP 500
   with the exception text, like the old server; no validation decorator, no envelope;
7. the answer: :class:`~pandamock.legacy.registry.Response` encoded as JSON (no trailing newline,
   ``Content-Type: application/json``) or URL-encoded (``text/plain``) as the function's reply
   mode and the ``Accept`` header say; plain strings as text;
8. faults after the call, journal entry closed (``success`` is ``StatusCode == 0``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ..api import envelope as env
from ..api.identity import AuthRejected
from ..api.params import InvalidJson, ServerCrash
from ..api.pipeline import _UNSET, ApiPipeline, Call
from ..faults import FaultResponse
from ..journal import redact, secret_values
from .registry import SC_FAILED, BindError, LegacyFunctions, Raw, Response
from .wire import LegacyRequest, accepts_json, decode_legacy_parameters

if TYPE_CHECKING:
    from ..emulator import Emulator

log = logging.getLogger("pandamock.legacy")

PREFIX = "/server/panda/"
JSON_HEADERS = [("Content-Type", "application/json")]


class LegacyCall(Call):
    """A legacy request: parameters decoded the old dispatcher's way."""

    __slots__ = ()

    def _params_or_raise(self) -> dict[str, Any]:
        if self._params is _UNSET:
            try:
                self._params = decode_legacy_parameters(self.environ, self.spec.name)
            except ServerCrash as exc:
                self._params = None
                self._params_error = exc
        if self._params_error is not None:
            raise self._params_error
        return self._params


class LegacyPipeline(ApiPipeline):
    """WSGI application answering every ``/server/panda/...`` path."""

    def __init__(self, emulator: Emulator, functions: LegacyFunctions | None = None) -> None:
        super().__init__(emulator)
        if functions is None:
            from .dispatcher import functions as declared

            functions = declared
        self.functions = functions

    call_class = LegacyCall

    def route(self, path: str) -> tuple[Any, str]:
        function = path.split("/")[-1]
        return self.functions.lookup(function), function

    def adapt_fault(self, call: Call, fault: Any) -> Any:
        return self._legacy_fault(call, fault)

    # -- the steps -------------------------------------------------------------------------
    def _serve(self, call: Call) -> tuple[int, bytes, list | None]:
        spec = call.spec
        try:
            identity = call.identity = call._identity_or_raise()
        except AuthRejected as rejected:
            return 403, env.error_body(rejected.message), None
        call.entry["identity"] = identity.compact_name
        try:
            params = call.params = call._params_or_raise()
        except (ServerCrash, InvalidJson) as exc:
            call.entry["error"] = str(exc)
            return 500, env.error_body(str(exc)), None
        call.entry["params"] = redact(params)
        call.secrets = secret_values(params)
        request = LegacyRequest(self.emulator, identity, call.environ, spec, self.functions)
        try:
            with self.emulator.engine.observe() as transitions:
                outcome = call_function(request, spec.name, params)
        except BindError as exc:
            call.entry["error"] = str(exc)
            return 500, env.error_body(str(exc)), None
        except Exception as exc:  # noqa: BLE001 - the old server answered 500 with the text
            log.exception("legacy %s failed", spec.name)
            call.entry["error"] = f"{type(exc).__name__}: {exc}"
            return 500, env.error_body(str(exc)), None
        if transitions:
            call.entry["transitions"] = transitions
        return self._answer(call, request, outcome)

    def _answer(self, call: Call, request: LegacyRequest, outcome: Any) -> tuple[int, bytes, list | None]:
        entry = call.entry
        if isinstance(outcome, Response):
            as_json = reply_is_json(call.spec.reply, request.accept_json)
            body, content_type = outcome.encode(as_json)
            entry["success"] = outcome.status_code == 0
            entry["message"] = outcome.data.get("errorDialog") or ""
            return 200, body, JSON_HEADERS if content_type == "application/json" else None
        if isinstance(outcome, Raw):
            entry["message"] = ""
            headers = JSON_HEADERS if outcome.content_type == "application/json" else None
            return 200, outcome.text.encode(), headers
        text = str(outcome)
        entry["message"] = text
        return 200, text.encode(), None

    def _legacy_fault(self, call: Call, fault: FaultResponse) -> FaultResponse:
        """A ``fail`` rule answers the legacy failure instead of a v1 envelope."""
        if fault.success is None:
            return fault
        rule = next((rule for rule in self.emulator.faults.rules if rule.id == fault.rule_id), None)
        data = rule.definition.get("data") if rule is not None else None
        response = Response(SC_FAILED, fault.message)
        if isinstance(data, dict):
            response.update(data)
        as_json = reply_is_json(call.spec.reply, accepts_json(call.environ))
        body, content_type = response.encode(as_json)
        headers = list(JSON_HEADERS) if content_type == "application/json" else list(env.TEXT_PLAIN)
        return FaultResponse(fault.status, body, headers, rule_id=fault.rule_id, success=False, message=fault.message)


def reply_is_json(mode: str, accept_json: bool) -> bool:
    """Whether a :class:`Response` of a function with reply ``mode`` is sent as JSON."""
    if mode == "json":
        return True
    if mode == "form":
        return False
    return accept_json


def call_function(request: LegacyRequest, name: str, params: dict[str, Any]) -> Any:
    """Call a legacy function by name with keyword parameters (also from another function, as
    updateJobsInBulk calls updateJob); :class:`BindError` when they do not fit its signature."""
    spec = request.functions.lookup(name)
    if spec is None:
        raise BindError(f"no legacy function {name}")
    bound = spec.bind(params)
    return spec.handler(request, **bound)


def encoded_value(request: LegacyRequest, name: str, outcome: Any) -> Any:
    """What a legacy function returned to a calling function in the old server (see
    :meth:`Response.legacy_value`)."""
    spec = request.functions.lookup(name)
    if isinstance(outcome, Response):
        return outcome.legacy_value(reply_is_json(spec.reply if spec else "auto", request.accept_json))
    if isinstance(outcome, Raw):
        return outcome.text
    return outcome
