"""Python client of a running emulator's control plane (``/_pandamock/``), with ``requests``.

    from pandamock import Control

    control = Control("http://127.0.0.1:25080")           # or Control() for PANDAMOCK_URL
    control.add_fault(endpoint="pilot/update_job", status=503, probability=0.3, for_="2m")
    control.advance(300)
    control.journal(endpoint="pilot/*", failed=True)

:class:`Control` has the same methods, arguments and results as the in-process
:class:`pandamock.control.ControlPlane` (``Control.local(app_or_emulator)`` returns one), so code
written against one works with the other. Refusals raise :class:`ControlError` with the HTTP
status and the control plane's message.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import requests

from .control import TOKEN_HEADER, ControlError
from .faults import normalise_fields
from .scenario import decode_marker


class ControlUnreachable(ControlError):
    """No pandamock answers at the URL (status 0)."""


class Control:
    """The control plane of the pandamock at ``url`` (default: the ``url`` setting, i.e.
    ``PANDAMOCK_URL`` or http://127.0.0.1:25080); ``token``: the control-plane token (default:
    ``PANDAMOCK_CONTROL_TOKEN``)."""

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        timeout: float = 30.0,
        session: requests.Session | None = None,
    ) -> None:
        if url is None or token is None:
            from .config import Settings

            settings = Settings.load()
            url = url or settings.url
            token = token if token is not None else settings.control_token
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.session = session or requests.Session()

    @staticmethod
    def local(target: Any) -> Any:
        """The in-process control plane of a Flask app made by ``create_app`` or of an Emulator."""
        from .control import ControlPlane
        from .emulator import Emulator

        emulator = target if isinstance(target, Emulator) else target.extensions["pandamock"]
        return ControlPlane(emulator)

    def __repr__(self) -> str:
        return f"Control({self.url!r})"

    # -- transport -------------------------------------------------------------------------------
    def _call(self, method: str, path: str, body: Any = None, params: Any = None) -> Any:
        headers = {"Accept": "application/json"}
        if self.token:
            headers[TOKEN_HEADER] = self.token
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body, default=_encode_default)
        try:
            response = self.session.request(
                method, f"{self.url}/_pandamock{path}", data=data, params=params, headers=headers, timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise ControlUnreachable(0, f"cannot reach pandamock at {self.url}: {exc}") from None
        try:
            payload = json.loads(response.content, object_hook=decode_marker)
        except ValueError:
            raise ControlError(
                response.status_code,
                f"{self.url} did not answer like a pandamock control plane (HTTP {response.status_code}: "
                f"{response.text[:200]!r})",
            ) from None
        if response.status_code >= 400:
            message = payload.get("error") if isinstance(payload, dict) else None
            raise ControlError(response.status_code, message or response.text)
        return payload

    # -- emulator ---------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        return self._call("GET", "/health")

    def reset(self) -> dict[str, Any]:
        return self._call("POST", "/reset")

    def load_scenario(self, scenario: Any) -> dict[str, Any]:
        """A shipped name, a path (read by the server) or a mapping."""
        return self._call("POST", "/scenario", {"scenario": scenario})

    def state(self, tables: str | Iterable[str] | None = None, where: Mapping[str, Any] | None = None) -> dict:
        if isinstance(tables, str):
            tables = [tables]
        params: list[tuple[str, str]] = [("table", table) for table in tables or ()]
        params += [("where", f"{key}={value}") for key, value in (where or {}).items()]
        return self._call("GET", "/state", params=params)

    # -- faults ---------------------------------------------------------------------------------------
    def faults(self) -> list[dict[str, Any]]:
        return self._call("GET", "/faults")["rules"]

    def fault(self, rule_id: str) -> dict[str, Any]:
        return self._call("GET", f"/faults/{rule_id}")

    def add_fault(self, rule: Mapping[str, Any] | None = None, position: int | None = None, **fields: Any) -> dict:
        definition = normalise_fields(rule, fields)
        params = {"position": position} if position is not None else None
        return self._call("POST", "/faults", definition, params=params)

    def update_fault(self, rule_id: str, rule: Mapping[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
        return self._call("PATCH", f"/faults/{rule_id}", normalise_fields(rule, fields, keep_none=True))

    def delete_fault(self, rule_id: str) -> dict[str, Any]:
        return self._call("DELETE", f"/faults/{rule_id}")

    def clear_faults(self) -> dict[str, Any]:
        return self._call("DELETE", "/faults")

    # -- clock -----------------------------------------------------------------------------------------
    def clock(self) -> dict[str, Any]:
        return self._call("GET", "/clock")

    def freeze(self) -> dict[str, Any]:
        return self._call("POST", "/clock/freeze")

    def unfreeze(self) -> dict[str, Any]:
        return self._call("POST", "/clock/unfreeze")

    def advance(self, seconds: float | str) -> dict[str, Any]:
        return self._call("POST", "/clock/advance", {"seconds": seconds})

    def set_time(self, moment: Any) -> dict[str, Any]:
        return self._call("POST", "/clock/set", {"time": moment})

    def set_speed(self, speed: float) -> dict[str, Any]:
        return self._call("POST", "/clock/speed", {"speed": speed})

    # -- journal ---------------------------------------------------------------------------------------
    def journal(self, **filters: Any) -> dict[str, Any]:
        params: list[tuple[str, Any]] = []
        for key, value in filters.items():
            if value is None:
                continue
            values = value if isinstance(value, (list, tuple, set)) else [value]
            params += [(key, _query_value(item)) for item in values]
        return self._call("GET", "/journal", params=params)

    def journal_summary(self) -> dict[str, Any]:
        return self._call("GET", "/journal/summary")

    def clear_journal(self) -> dict[str, Any]:
        return self._call("DELETE", "/journal")


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _encode_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return {"__datetime__": value.isoformat()}
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")
