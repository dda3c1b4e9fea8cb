"""``/api/v1/idds/*``: commands relayed to iDDS (``engine.idds``: recorded, answered by a small iDDS).

``decode_idds_enum`` is a JSON helper of the real module that its router exposes by accident: the
real server answers every call with HTTP 500, and so does pandamock.
"""

from __future__ import annotations

from typing import Any

from ..engine.outcome import Reply
from .params import ServerCrash
from .registry import ApiModule
from .request import ApiRequest

module = ApiModule("idds")


@module.endpoint(None, secure=False)
def decode_idds_enum(req: ApiRequest) -> Any:
    """Not an endpoint: PanDA's JSON object hook for iDDS constants, routed by accident. Always
    HTTP 500 (the helper is called with the request object). Changes nothing."""
    raise ServerCrash("argument of type 'PandaRequest' is not iterable")


@module.endpoint("POST")
def relay_idds_command(
    req: ApiRequest,
    command_name: str,
    args: str = None,
    kwargs: str = None,
    manager: bool = False,
    json_outputs: bool = False,
) -> Any:
    """Run an iDDS Client (or, with ``manager``, ClientManager) method as the caller
    (``<command>[+<host>]``, ``args``/``kwargs`` as JSON); records the command and returns iDDS's answer."""
    return req.engine.idds.relay(command_name, args, kwargs, manager, json_outputs, req.identity.compact_name)


@module.endpoint("POST")
def execute_idds_workflow_command(
    req: ApiRequest, command_name: str, kwargs: str = None, json_outputs: bool = False
) -> Reply:
    """Run an iDDS workflow command (get_status, abort, suspend, resume, retry, finish); changing a
    request needs its owner. A ``{status, message}`` answer becomes data and message."""
    data, message = req.engine.idds.workflow_command(command_name, kwargs, json_outputs, req.identity.compact_name)
    return Reply(data, message)
