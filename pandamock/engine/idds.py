"""iDDS, as far as PanDA relays to it (``idds/*``; ``engine.idds``).

PanDA's ``idds/relay_idds_command`` calls a method of the iDDS ``Client`` (or ``ClientManager``)
on behalf of the caller and returns what iDDS returns; ``idds/execute_idds_workflow_command``
runs a workflow command after checking that the caller owns the request. pandamock records every
relayed command (``idds_commands``) and keeps a small iDDS of its own: requests
(``idds_requests``) with iDDS's request statuses, so that a relay answers as the server does when
iDDS accepts the command (``submit``/``add_request`` give a request id, ``get_requests`` and
``get_status`` read the requests, ``abort``/``suspend``/``resume``/``retry``/``finish`` change
them after the ``task_command`` delay).
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .outcome import Failure
from .store import HashIndex

if TYPE_CHECKING:
    from .core import Engine

DEFAULT_HOST = "https://aipanda160.cern.ch:443/idds"
#: Methods of iDDS's Client and ClientManager that the relay accepts.
CLIENT_COMMANDS = frozenset(
    (
        "add_request",
        "update_request",
        "get_requests",
        "get_request_id_by_name",
        "abort_request",
        "suspend_request",
        "resume_request",
        "retry_request",
        "finish_request",
        "ping",
    )
)
MANAGER_COMMANDS = frozenset(
    (
        "submit",
        "submit_work",
        "abort",
        "suspend",
        "resume",
        "retry",
        "finish",
        "get_status",
        "get_requests",
        "setup_json_outputs",
        "set_original_user",
    )
)
WORKFLOW_COMMANDS = ("get_status", "abort", "suspend", "resume", "retry", "finish")
#: What a workflow command asks for, and what the request becomes once iDDS handled it.
_TARGETS = {
    "abort": ("ToCancel", "Cancelled"),
    "suspend": ("ToSuspend", "Suspended"),
    "resume": ("ToResume", "Transforming"),
    "retry": ("ToResume", "Transforming"),
    "finish": ("ToFinish", "Finished"),
}


class Idds:
    """iDDS requests and the commands PanDA relayed."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        store = engine.store
        self.requests = store.create_table(
            "idds_requests", key="request_id", indexes=[HashIndex("by_workload", ["workload_id"])]
        )
        self.commands = store.create_table("idds_commands", key="command_id")
        engine.on("idds_request_step", self._step_due)

    # -- requests ---------------------------------------------------------------------------------
    def _new_request(self, username: str | None, values: Mapping[str, Any]) -> int:
        now = self.engine.now()
        request_id = self.engine.ids.next("idds_request_id")
        metadata = values.get("request_metadata")
        record = {
            "request_id": request_id,
            "scope": values.get("scope") or "workflow",
            "name": values.get("name") or f"workflow.{request_id}",
            "requester": values.get("requester") or "panda",
            "request_type": values.get("request_type") or "Workflow",
            "username": username,
            "transform_tag": values.get("transform_tag") or "workflow",
            "workload_id": values.get("workload_id"),
            "priority": values.get("priority") or 0,
            "status": "New",
            "substatus": None,
            "created_at": now,
            "updated_at": now,
            "request_metadata": json.dumps(metadata) if metadata is not None else None,
        }
        self.requests.insert(record)
        self.engine.schedule("idds_request_step", "task_step", request_id=request_id, target="Transforming")
        return request_id

    def _step_due(self, request_id: int, target: str) -> None:
        request = self.requests.get(request_id)
        if request is None:
            return
        if target == "Transforming" and request["status"] != "New" and request.get("substatus") is None:
            return
        self.requests.update(request_id, {"status": target, "substatus": None, "updated_at": self.engine.now()})

    def _view(self, request: Mapping, json_outputs: bool) -> dict:
        data = {key: value for key, value in request.items() if key != "request_metadata"}
        if request.get("request_metadata"):
            data["request_metadata"] = json.loads(request["request_metadata"])
        if json_outputs:
            for key, value in data.items():
                if isinstance(value, _dt.datetime):
                    data[key] = value.strftime("%Y-%m-%d %H:%M:%S")
        return data

    def _select(self, request_id: Any = None, workload_id: Any = None) -> list[dict]:
        if request_id is not None:
            try:
                found = self.requests.get(int(request_id))
            except (TypeError, ValueError):
                found = None
            return [found] if found else []
        if workload_id is not None:
            return self.requests.find("by_workload", workload_id)
        return list(self.requests.values())

    def _workflow_command(self, command: str, request_id: Any, workload_id: Any = None) -> dict:
        requests = self._select(request_id, workload_id)
        if not requests:
            return {"status": -1, "message": "No matching requests could be found."}
        asked, final = _TARGETS[command]
        for request in requests:
            self.requests.update(request["request_id"], {"substatus": asked, "updated_at": self.engine.now()})
            self.engine.schedule("idds_request_step", "task_command", request_id=request["request_id"], target=final)
        return {"status": 0, "message": f"Command registered successfully: {command} for {len(requests)} requests"}

    # -- relays -----------------------------------------------------------------------------------
    def _record(
        self, command: str, client: str, host: str, args: Any, kwargs: Any, username: str | None, result: Any
    ) -> None:
        self.commands.insert(
            {
                "command_id": self.engine.ids.next("idds_command_id"),
                "command": command,
                "client": client,
                "host": host,
                "args": json.dumps(args, default=str),
                "kwargs": json.dumps(kwargs, default=str),
                "username": username,
                "time": self.engine.now(),
                "result": json.dumps(result, default=str),
            }
        )

    def _execute(
        self, command: str, args: list, kwargs: dict, username: str | None, manager: bool, json_outputs: bool
    ) -> Any:
        def arg(name: str, position: int, default: Any = None) -> Any:
            if name in kwargs:
                return kwargs[name]
            return args[position] if len(args) > position else default

        if command in ("submit", "submit_work"):
            workflow = arg("workflow" if command == "submit" else "work", 0, {})
            values = dict(workflow) if isinstance(workflow, Mapping) else {"name": str(workflow)}
            values.setdefault("request_metadata", {"workflow": workflow})
            return self._new_request(username, values)
        if command == "add_request":
            return self._new_request(username, kwargs)
        if command in ("get_requests", "get_status"):
            requests = self._select(arg("request_id", 0), arg("workload_id", 1))
            if command == "get_status":
                if len(requests) == 1 and not arg("with_detail", 2, False):
                    return requests[0]["status"]
                return [self._view(r, json_outputs) for r in requests]
            return [self._view(r, json_outputs) for r in sorted(requests, key=lambda r: r["request_id"])]
        if command == "get_request_id_by_name":
            name = arg("name", 0)
            found = [r["request_id"] for r in self.requests.values() if r["name"] == name]
            return max(found) if found else None
        if command == "update_request":
            request_id = arg("request_id", 0)
            parameters = arg("parameters", 1, {}) or {}
            requests = self._select(request_id)
            if not requests:
                raise Failure(f"failed to execute command with Request (request_id: {request_id}) cannot be found")
            changes = {key: value for key, value in parameters.items() if key in ("status", "substatus", "priority")}
            changes["updated_at"] = self.engine.now()
            self.requests.update(requests[0]["request_id"], changes)
            return None
        if command in _TARGETS or command.endswith("_request"):
            name = command.replace("_request", "")
            return self._workflow_command(name, arg("request_id", 0), arg("workload_id", 1))
        if command == "ping":
            return {"Status": "OK"}
        return None  # setup_json_outputs, set_original_user: client-side settings

    def relay(
        self,
        command_name: str,
        args: str | None,
        kwargs: str | None,
        manager: bool,
        json_outputs: bool,
        username: str | None,
    ) -> Any:
        """``relay_idds_command``: run a Client/ClientManager method; iDDS's return value."""
        command, _, host = command_name.partition("+")
        host = host or DEFAULT_HOST
        client = "ClientManager" if manager else "Client"
        known = MANAGER_COMMANDS if manager else CLIENT_COMMANDS
        if command not in known:
            raise Failure(f"{command} is not a command of iDDS {client}")
        try:
            arg_list = json.loads(args) if args else []
            kwarg_map = json.loads(kwargs) if kwargs else {}
        except (TypeError, ValueError) as exc:
            raise Failure(f"failed to execute command with {exc}") from None
        if not isinstance(arg_list, list):
            arg_list = [arg_list]
        if not isinstance(kwarg_map, dict):
            raise Failure("failed to execute command with kwargs must be a JSON object")
        with self.engine.operation():
            result = self._execute(command, arg_list, kwarg_map, username, manager, json_outputs)
            self._record(command, client, host, arg_list, kwarg_map, username, result)
            return result

    def workflow_command(
        self, command_name: str, kwargs: str | None, json_outputs: bool, username: str | None
    ) -> tuple[Any, str]:
        """``execute_idds_workflow_command``: ``(data, message)``; ownership checked for changes."""
        command, _, host = command_name.partition("+")
        host = host or DEFAULT_HOST
        if command not in WORKFLOW_COMMANDS:
            raise Failure(f"{command} is unsupported")
        try:
            kwarg_map = json.loads(kwargs) if kwargs else {}
        except (TypeError, ValueError) as exc:
            raise Failure(f"server failed with {exc}") from None
        if not isinstance(kwarg_map, dict):
            raise Failure("server failed with kwargs must be a JSON object")
        with self.engine.operation():
            if command != "get_status":
                request_id = kwarg_map.get("request_id")
                if request_id is None:
                    raise Failure("request_id is missing")
                found = self._select(request_id)
                if not found:
                    raise Failure(f"request {request_id} is not found")
                owner = found[0].get("username")
                if owner and owner != username:
                    raise Failure(f"request {request_id} is not owned by {username}")
            result = self._execute(command, [], kwarg_map, username, True, json_outputs)
            self._record(command, "ClientManager", host, [], kwarg_map, username, result)
            if isinstance(result, dict) and "message" in result:
                return result.get("status"), result["message"]
            return result, ""
