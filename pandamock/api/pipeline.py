"""The one WSGI view of ``/api/v1/<module>/<function>``: the real server's request pipeline.

Order (it mirrors ``pandaserver/server/panda.py`` and ``request_validation``):

1. resolve ``<module>/<function>``; anything else → 403 ``ERROR : method <f> is forbidden``;
2. open a journal entry;
3. faults before the call: the fault engine decides which rules fire (rules on identity or
   request values make steps 4-5 run early, cached on the :class:`Call`, so answers and their
   order do not change) and a rule acting "before" answers now (403/500/503, ``success:
   false``, delay, dropped connection) without touching the state;
4. identity (token, certificate, open-mode default); rejected token / banned user → 403;
5. decode parameters (JSON body, gzip, query string, form); invalid JSON → 500;
6. checks, first failure wins, each an HTTP 200 ``success: false`` envelope: secure →
   production role → HTTP method → binding → casting and types → task owner;
7. the handler; :class:`Failure` → ``success: false``; any other exception → 500 with its text;
8. encode (JSON or Python repr) with ``Content-Type: text/plain``;
9. faults after the call: a rule acting "after" replaces the answer of a call that changed
   the state (error, dropped connection, truncated or malformed body, delay);
10. close the journal entry (status, success, message, fault, transitions, duration).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ..engine.outcome import Failure, Reply
from ..faults import ConnectionDropped, FaultResponse
from ..journal import redact, scrub, secret_values
from . import envelope as env
from .identity import AuthRejected
from .params import CheckFailed, InvalidJson, ServerCrash, bind, cast_and_check, decode_parameters, wants_json
from .request import ApiRequest

if TYPE_CHECKING:
    from ..emulator import Emulator

log = logging.getLogger("pandamock.api")

MESSAGE_SSL = "SSL secure connection is required"
MESSAGE_PROD_ROLE = "production or pilot role required"
MESSAGE_TASK_OWNER = "not the task owner or no production role"

StartResponse = Callable[..., Any]
_UNSET = object()

_STATUS_LINES = {200: "200 OK", 403: "403 Forbidden", 500: "500 Internal Server Error"}
_TRUNCATED = "pandamock fault: connection dropped after a truncated body"


class Call:
    """One request travelling through the pipeline (what faults and the journal look at).

    Identity and parameters are resolved once: :meth:`resolve_identity` and
    :meth:`decoded_params` cache their result (or the refusal), so a fault rule that looks at
    them before the pipeline's own steps 4 and 5 changes neither the order of the checks nor
    the answers.
    """

    __slots__ = ("environ", "spec", "entry", "identity", "params", "request", "started", "fault_plan", "response")
    __slots__ += ("secrets", "_resolve", "_identity", "_identity_error", "_params", "_params_error")

    def __init__(self, environ: dict, spec: Any, entry: dict, resolve: Callable[[dict], Any] | None = None) -> None:
        self.environ = environ
        self.spec = spec
        self.entry = entry
        self.identity: Any = None
        self.params: dict[str, Any] = {}
        self.request: ApiRequest | None = None
        self.started = time.perf_counter()
        self.fault_plan: Any = None
        self.response: tuple[int, bytes, list] | None = None
        self.secrets: list[str] = []
        self._resolve = resolve
        self._identity: Any = _UNSET
        self._identity_error: AuthRejected | None = None
        self._params: Any = _UNSET
        self._params_error: Exception | None = None

    def _identity_or_raise(self) -> Any:
        if self._identity is _UNSET:
            try:
                self._identity = self._resolve(self.environ)
            except AuthRejected as rejected:
                self._identity = None
                self._identity_error = rejected
        if self._identity_error is not None:
            raise self._identity_error
        return self._identity

    def resolve_identity(self) -> Any:
        """The caller's identity, or None when it is refused (the pipeline answers the 403 later)."""
        try:
            return self._identity_or_raise()
        except AuthRejected:
            return None

    def _params_or_raise(self) -> dict[str, Any]:
        if self._params is _UNSET:
            try:
                self._params = decode_parameters(self.environ)
            except (InvalidJson, ServerCrash) as exc:
                self._params = None
                self._params_error = exc
        if self._params_error is not None:
            raise self._params_error
        return self._params

    def decoded_params(self) -> dict[str, Any] | None:
        """The decoded request parameters, or None when they do not decode."""
        try:
            return self._params_or_raise()
        except (InvalidJson, ServerCrash):
            return None


class ApiPipeline:
    """WSGI application answering every ``/api/...`` path."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    #: the class of the per-request object (the legacy dispatcher uses its own)
    call_class: type = Call

    def route(self, path: str) -> tuple[Any, str]:
        """The endpoint a path names (None when unknown) and the function name of the 403 text."""
        parts = path.split("/")
        function = parts[4] if len(parts) == 5 else ""
        spec = None
        if len(parts) == 5 and parts[1] == "api" and parts[2] == "v1":
            spec = self.emulator.registry.lookup(parts[3], parts[4])
        return spec, function

    def adapt_fault(self, call: Call, fault: Any) -> Any:
        """The response a fired fault gives on this path (the v1 one as it is)."""
        return fault

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        emulator = self.emulator
        path = environ.get("PATH_INFO", "")
        spec, function = self.route(path)
        clock = emulator.engine.clock
        entry = emulator.journal.open(
            time=clock.now().isoformat(),
            epoch=clock.time(),
            method=environ.get("REQUEST_METHOD"),
            path=path,
            endpoint=spec.key if spec else None,
            remote_addr=environ.get("REMOTE_ADDR"),
        )
        call = self.call_class(environ, spec, entry, emulator.identities.resolve)
        if spec is None:
            return self._finish(call, start_response, 403, env.forbidden(function), message="forbidden")
        faults = emulator.faults
        fault = faults.before_call(call) if faults.rules else None
        if fault is not None:
            return self._fault(call, start_response, self.adapt_fault(call, fault))
        status, body, headers = call.response = self._serve(call)
        if call.fault_plan is not None:
            fault = faults.after_call(call)
            if fault is not None:
                return self._fault(call, start_response, self.adapt_fault(call, fault))
        return self._finish(call, start_response, status, body, headers=headers)

    # -- the steps -------------------------------------------------------------------------
    def _serve(self, call: Call) -> tuple[int, bytes, list | None]:
        environ = call.environ
        spec = call.spec
        try:
            identity = call.identity = call._identity_or_raise()
        except AuthRejected as rejected:
            return 403, env.error_body(rejected.message), None
        call.entry["identity"] = identity.compact_name
        as_json = wants_json(environ)
        try:
            params = call.params = call._params_or_raise()
        except InvalidJson as exc:
            return 500, env.error_body(f"ERROR : received invalid JSON : {exc}"), None
        except ServerCrash as exc:
            return 500, env.error_body(str(exc)), None
        call.entry["params"] = redact(params)
        call.secrets = secret_values(params)
        try:
            data, message, success = self._check_and_call(call, identity, params, as_json)
        except CheckFailed as failed:
            data, message, success = None, str(failed), False
        except Failure as failure:
            data, message, success = failure.data, failure.message, failure.success
        except ServerCrash as exc:
            return 500, env.error_body(str(exc)), None
        except Exception as exc:  # noqa: BLE001 - the real server answers 500 with the text
            log.exception("%s failed", spec.key)
            call.entry["error"] = f"{type(exc).__name__}: {exc}"
            return 500, env.error_body(str(exc)), None
        call.entry["success"] = success
        call.entry["message"] = message
        if spec.raw and success is True:
            result: Any = data
            if not as_json:
                return 200, str(result).encode(), None
        else:
            result = env.envelope(success, message, data)
        try:
            return 200, env.encode(result, as_json), None
        except (TypeError, ValueError) as exc:
            call.entry["error"] = f"encoding: {exc}"
            return 500, env.error_body(str(exc)), None

    def _check_and_call(self, call: Call, identity: Any, params: dict, as_json: bool) -> tuple[Any, str, Any]:
        spec = call.spec
        environ = call.environ
        if spec.secure and not identity.secure:
            return None, MESSAGE_SSL, False
        if spec.production and not identity.production:
            return None, MESSAGE_PROD_ROLE, False
        method = environ.get("REQUEST_METHOD")
        if spec.method and spec.method != method:
            return None, f"expecting {spec.method}, received {method}", False
        bound = bind(spec, params)
        cast_and_check(spec, bound, method)
        engine = self.emulator.engine
        if spec.task_owner:
            task_id = bound.get(spec.task_id_param)
            if task_id and not identity.production and not engine.is_task_owner(task_id, identity.compact_name):
                return None, MESSAGE_TASK_OWNER, False
        request = call.request = ApiRequest(self.emulator, identity, environ, spec, as_json)
        with engine.observe() as transitions:
            outcome = spec.handler(request, **bound)
        if transitions:
            call.entry["transitions"] = transitions
        if isinstance(outcome, Reply):
            return outcome.data, outcome.message, outcome.success
        return outcome, "", True

    # -- answering -------------------------------------------------------------------------
    def _finish(
        self,
        call: Call,
        start_response: StartResponse,
        status: int,
        body: bytes,
        headers: list | None = None,
        message: str | None = None,
    ) -> list[bytes]:
        entry = call.entry
        entry["status"] = status
        if message is not None:
            entry["message"] = message
        elif status != 200:
            entry.setdefault("message", body.decode(errors="replace"))
        entry["duration_ms"] = round((time.perf_counter() - call.started) * 1000, 3)
        if call.secrets and isinstance(entry.get("message"), str):
            entry["message"] = scrub(entry["message"], call.secrets)
        self.emulator.journal.close(entry)
        response_headers = list(headers or env.TEXT_PLAIN)
        response_headers.append(("Content-Length", str(len(body))))
        start_response(_STATUS_LINES.get(status, f"{status} Error"), response_headers)
        return [body]

    def _fault(self, call: Call, start_response: StartResponse, fault: FaultResponse) -> Iterable[bytes]:
        entry = call.entry
        entry["status"] = fault.code
        if fault.success is not None:
            entry["success"] = fault.success
            entry["message"] = fault.message
        elif fault.drop:
            entry["message"] = "connection dropped"
        elif fault.truncate_at is not None:
            entry["message"] = f"body truncated after {fault.truncate_at} of {len(fault.body)} bytes"
        elif fault.code == 503:
            entry["message"] = "503 Service Unavailable (Apache page)"
        elif fault.code != 200:
            entry["message"] = fault.body.decode(errors="replace")[:500]
        entry["duration_ms"] = round((time.perf_counter() - call.started) * 1000, 3)
        if call.secrets and isinstance(entry.get("message"), str):
            entry["message"] = scrub(entry["message"], call.secrets)
        self.emulator.journal.close(entry)
        if fault.drop:
            raise ConnectionDropped()
        headers = [header for header in fault.headers if header[0].lower() != "content-length"]
        headers.append(("Content-Length", str(len(fault.body))))
        start_response(fault.status, headers)
        if fault.truncate_at is not None:
            return _truncated(fault.body[: fault.truncate_at])
        return [fault.body]


def _truncated(part: bytes) -> Iterator[bytes]:
    """Yield the first part of a body, then drop the connection (the client sees a short read)."""
    if part:
        yield part
    raise ConnectionDropped(_TRUNCATED, abort=False)
