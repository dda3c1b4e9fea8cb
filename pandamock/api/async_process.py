"""``/api/v1/async_process/*``: greps and test requests run on PanDA's machines (``engine.async_requests``)."""

from __future__ import annotations

import os

from ..engine.outcome import Failure
from .registry import ApiModule
from .request import ApiRequest

module = ApiModule("async_process")


def _logs(req: ApiRequest) -> dict[str, list[str]]:
    """The emulator's own logs: requests (server machines) and task status changes (JEDI machines)."""
    server: list[str] = []
    jedi: list[str] = []
    for entry in req.emulator.journal.entries():
        time = str(entry.get("time", "")).replace("T", " ")[:23]
        message = str(entry.get("message") or "")[:200]
        server.append(
            f"{time} panda.log.{(entry.get('endpoint') or '').split('/')[0] or 'server'}: INFO "
            f"{entry.get('method')} {entry.get('path')} identity={entry.get('identity')} "
            f"status={entry.get('status')} success={entry.get('success')} message={message}"
        )
        for change in entry.get("transitions") or ():
            if change.get("table") == "tasks":
                jedi.append(
                    f"{str(change.get('time', '')).replace('T', ' ')[:23]} panda.log.JediTaskSpec: INFO "
                    f"<jediTaskID={change.get('id')}> status {change.get('from')} -> {change.get('to')}"
                )
    return {"server": server, "jedi": jedi}


@module.endpoint("POST")
def submit_grep_request(
    req: ApiRequest, pattern: str, log_filename: str, service_name: str = None, machine_name: str = None
) -> dict:
    """Queue a grep of a PanDA log file on every alive machine of a service, or on one machine
    (callers in the allowAsyncRequest list); each machine's result comes on the emulator clock."""
    identity = req.identity
    engine = req.engine
    if not engine.world.has_permission(identity.compact_name or "", "async_request"):
        raise Failure(f"'{identity.compact_name}' is not authorized")
    if bool(service_name) == bool(machine_name):
        raise Failure("exactly one of service_name or machine_name must be provided")
    if os.sep in log_filename or ".." in log_filename:
        raise Failure("invalid log_filename: must not contain path separators")
    if not (log_filename.startswith("panda-") and (log_filename.endswith(".log") or log_filename.endswith(".gz"))):
        raise Failure("invalid log_filename: must start with 'panda-' and end with '.log' or '.gz'")
    request_id = engine.async_requests.submit_grep(
        identity.compact_name, pattern, log_filename, service_name, machine_name, _logs(req)
    )
    return {"request_id": request_id}


@module.endpoint("POST", production=True)
def submit_sleep_echo_request(req: ApiRequest, service_name: str, message: str, seconds: int = 10) -> dict:
    """Queue a test request: any one alive machine of the service sleeps ``seconds`` and echoes ``message``."""
    if not 0 <= seconds <= 60:
        raise Failure("invalid seconds: must be between 0 and 60")
    if len(message) > 100:
        raise Failure("invalid message: must be at most 100 characters")
    if not service_name:
        raise Failure("service_name must be provided")
    request_id = req.engine.async_requests.submit_sleep_echo(req.identity.compact_name, service_name, message, seconds)
    return {"request_id": request_id}


@module.endpoint("GET")
def get_result(req: ApiRequest, request_id: str) -> dict:
    """The per-machine results of a request and whether every expected machine answered. Changes nothing."""
    identity = req.identity
    return req.engine.async_requests.result(request_id, identity.compact_name, identity.production)
