"""Asynchronous requests run on PanDA's own machines (``async_process/*``; ``engine.async_requests``).

A request (a grep of a PanDA log file on every alive machine of a service or on one machine, or a
test "sleep and echo" on any one machine) is stored with one result row per expected machine.
Each row goes ``pending`` → ``running`` → ``done`` | ``failed`` on the emulator clock (the
``async_request`` delay per step; a sleep-echo also sleeps its seconds), the ``ASYNC_REQUEST``
machine of §7.5. ``get_result`` reports ``complete`` once every expected machine has a final row.

The emulated services and their machines are those of the generated world (``server``: the PanDA
server hosts, ``jedi``: the JEDI hosts). What a grep searches is given when the request is made
(the API layer hands over the emulator's own log: the request journal for ``server`` machines,
the task status changes for ``jedi`` machines); matching follows ripgrep (a regular expression,
return code 0 with matches, 1 without, 2 for a bad pattern).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .generate import _JEDI_HOSTS, _SERVER_HOSTS
from .outcome import Failure
from .statuses import ASYNC_REQUEST, created, transition
from .store import HashIndex

if TYPE_CHECKING:
    from .core import Engine

#: Alive machines per service.
SERVICES: dict[str, tuple[str, ...]] = {"server": _SERVER_HOSTS, "jedi": _JEDI_HOSTS}
#: A grep result is cut after this many characters (``truncated`` = 1).
MAX_RESULT = 100_000
RESULT_KEYS = (
    "machine_name",
    "status",
    "result",
    "truncated",
    "error_msg",
    "attempts",
    "started_at",
    "finished_at",
    "stderr",
    "return_code",
)


class AsyncRequests:
    """Requests and their per-machine results."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        store = engine.store
        self.requests = store.create_table("async_requests", key="request_id")
        self.results = store.create_table(
            "async_results", key="result_key", indexes=[HashIndex("by_request", ["request_id"])]
        )
        engine.on("async_request_step", self._step_due)

    def machines(self, service: str | None) -> list[str]:
        return list(SERVICES.get(service or "", ()))

    def service_of(self, machine: str) -> str | None:
        for service, machines in SERVICES.items():
            if machine in machines:
                return service
        return None

    def _new_id(self) -> str:
        return str(uuid.UUID(int=self.engine.random.getrandbits(128), version=4))

    def _store(
        self,
        kind: str,
        parameters: Mapping[str, Any],
        service: str | None,
        machine: str | None,
        expected: Sequence[str],
        access: str,
        requester: str | None,
        outputs: Mapping[str, tuple[str, int, int, str]],
        hold: float = 0.0,
    ) -> str:
        now = self.engine.now()
        request_id = self._new_id()
        self.requests.insert(
            {
                "request_id": request_id,
                "request_type": kind,
                "parameters": json.dumps(parameters),
                "service_name": service,
                "machine_name": machine,
                "expected_machines": json.dumps(list(expected)),
                "access": access,
                "requester": requester,
                "creation_time": now,
            }
        )
        for name in expected:
            result, truncated, code, stderr = outputs[name]
            created(
                self.results,
                {
                    "result_key": f"{request_id}:{name}",
                    "request_id": request_id,
                    "machine_name": name,
                    "status": "pending",
                    "result": None,
                    "truncated": 0,
                    "error_msg": None,
                    "attempts": 0,
                    "started_at": None,
                    "finished_at": None,
                    "stderr": None,
                    "return_code": None,
                    "output": [result, truncated, code, stderr],
                    "hold": hold,
                    "modification_time": None,
                },
                ASYNC_REQUEST,
                now,
            )
            self.engine.schedule("async_request_step", "async_request", result_key=f"{request_id}:{name}")
        return request_id

    # -- grep -------------------------------------------------------------------------------------
    def submit_grep(
        self,
        requester: str | None,
        pattern: str,
        log_filename: str,
        service_name: str | None,
        machine_name: str | None,
        logs: Mapping[str, Sequence[str]],
    ) -> str:
        """A grep of ``log_filename`` on the service's machines or on one machine; ``logs``: the log
        lines of each service (``server``, ``jedi``). Returns the request id."""
        with self.engine.operation():
            if service_name:
                expected = self.machines(service_name)
                if not expected:
                    raise Failure(f"no alive machines found for service '{service_name}'")
            else:
                expected = [str(machine_name)]
            outputs = {}
            for name in expected:
                lines = list(logs.get(self.service_of(name) or "", ()))
                machines = self.machines(self.service_of(name))
                if machines:
                    # each machine logs its own share of the requests
                    lines = [line for i, line in enumerate(lines) if i % len(machines) == machines.index(name)]
                outputs[name] = grep(pattern, lines)
            parameters = {"pattern": pattern, "log_filename": log_filename, "requester": requester}
            return self._store("grep", parameters, service_name, machine_name, expected, "owner", requester, outputs)

    def submit_sleep_echo(self, requester: str | None, service_name: str, message: str, seconds: int) -> str:
        with self.engine.operation():
            if not self.machines(service_name):
                raise Failure(f"no alive machines found for service '{service_name}'")
            parameters = {"message": message, "seconds": seconds, "requester": requester}
            outputs = {"any": (message, 0, 0, "")}
            return self._store(
                "sleep_echo", parameters, service_name, None, ["any"], "production", requester, outputs, hold=seconds
            )

    # -- progression ------------------------------------------------------------------------------
    def _step_due(self, result_key: str) -> None:
        row = self.results.get(result_key)
        if row is None:
            return
        now = self.engine.now()
        if row["status"] == "pending":
            transition(
                self.results,
                result_key,
                ASYNC_REQUEST,
                "running",
                now,
                changes={"attempts": (row.get("attempts") or 0) + 1, "started_at": now},
            )
            delay = self.engine.delay("async_request") + float(row.get("hold") or 0)
            self.engine.schedule("async_request_step", delay, result_key=result_key)
        elif row["status"] == "running":
            result, truncated, code, stderr = row["output"]
            target = "failed" if code not in (0, 1) else "done"
            changes = {
                "result": result,
                "truncated": truncated,
                "return_code": code,
                "stderr": stderr,
                "finished_at": now,
                "error_msg": f"command exited with return code {code}" if target == "failed" else None,
            }
            transition(self.results, result_key, ASYNC_REQUEST, target, now, changes=changes)

    # -- reading ----------------------------------------------------------------------------------
    def result(self, request_id: str, caller: str | None, production: bool) -> dict:
        with self.engine.operation():
            request = self.requests.get(request_id)
            if request is None:
                raise Failure(f"request_id '{request_id}' not found")
            access = request.get("access")
            requester = request.get("requester")
            allowed = (
                (access == "owner" and caller == requester)
                or (access == "production" and (caller == requester or production))
                or access == "anyone"
            )
            if not allowed:
                raise Failure(
                    f"'{caller}' is not authorized to read results (access='{access}', requester='{requester}')"
                )
            expected = json.loads(request["expected_machines"] or "[]")
            rows = sorted(self.results.find("by_request", request_id), key=lambda r: r["machine_name"])
            responded = {row["machine_name"] for row in rows if row["status"] in ("done", "failed")}
            overall = "complete" if expected and set(expected) <= responded else "pending"
            results = []
            for row in rows:
                item = {key: row.get(key) for key in RESULT_KEYS}
                for key in ("started_at", "finished_at"):
                    if item[key] is not None:
                        item[key] = str(item[key])
                results.append(item)
            return {"overall_status": overall, "expected_machines": expected, "results": results}


def grep(pattern: str, lines: Sequence[str]) -> tuple[str, int, int, str]:
    """ripgrep-like: ``(matching lines, truncated, return code, stderr)``."""
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        return "", 0, 2, f"regex parse error: {exc}"
    matched = [line for line in lines if regex.search(line)]
    text = "\n".join(matched)
    truncated = 0
    if len(text) > MAX_RESULT:
        text = text[:MAX_RESULT]
        truncated = 1
    return text, truncated, 0 if matched else 1, ""
