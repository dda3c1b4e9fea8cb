"""One declaration per legacy function of ``/server/panda/<function>``.

The old dispatcher called a plain Python function per URL, ``function(req, **parameters)``: its
signature (legacy names such as ``siteName``, ``jobId``, ``pandaID``, their defaults) was the whole
wire contract, with no type checks; a parameter the function does not take, or a missing one, made
the call raise ``TypeError`` and the server answer HTTP 500 with the exception text. The functions
here are declared the same way::

    functions = LegacyFunctions()

    @functions.function(reply="auto")
    def getJob(req: LegacyRequest, siteName, timeout=60, ...) -> Response:
        '''What it reads and changes.'''

``reply`` says how a :class:`Response` is encoded: ``auto`` (JSON when the request's ``Accept``
contains ``application/json``, URL-encoded otherwise, like ``Protocol.Response.encode``),
``json`` (always JSON: getProxy, get_access_token, checkEventsAvailability) or ``form`` (always
URL-encoded: getStatus, updateEventRange). A handler may also return a plain string (answered as
text, e.g. setDebugMode's ``Succeeded``) or :class:`Raw` text.

Faults and the journal name these functions ``legacy/<function>`` (module ``legacy``).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

#: Module name of the legacy functions in fault globs and journal entries (``legacy/getJob``).
MODULE = "legacy"
REPLY_MODES = ("auto", "json", "form")

# Status codes of the old dispatcher (``pandaserver/jobdispatcher/Protocol.py``)
SC_SUCCESS = 0
SC_TIMEOUT = 10
SC_NO_JOBS = 20
SC_FAILED = 30
SC_INVALID = 50
SC_ROLE = 60
SC_PERMISSION = 70
SC_MISSING_KEY = 80
SC_PROXY_ERROR = 90


class Response:
    """``Protocol.Response``: ``StatusCode`` first, an optional ``errorDialog``, then appended nodes."""

    def __init__(self, status_code: int, error_dialog: str | None = None) -> None:
        self.data: dict[str, Any] = {"StatusCode": status_code}
        if error_dialog is not None:
            self.data["errorDialog"] = error_dialog

    def append(self, name: str, value: Any) -> Response:
        """``appendNode``; returns self."""
        self.data[name] = value
        return self

    def update(self, values: dict[str, Any]) -> Response:
        self.data.update(values)
        return self

    @property
    def status_code(self) -> Any:
        return self.data.get("StatusCode")

    def encode(self, as_json: bool) -> tuple[bytes, str]:
        """The body and content type: ``json.dumps`` (no trailing newline) or ``urlencode``."""
        if as_json:
            return json.dumps(self.data, default=str).encode(), "application/json"
        return urlencode(self.data).encode(), "text/plain"

    def legacy_value(self, as_json: bool) -> Any:
        """What the old ``encode(acceptJson)`` returned to a calling function (updateJobsInBulk
        puts it in its answer list): the URL-encoded string, or ``{"type": "json", "content": ...}``."""
        if as_json:
            return {"type": "json", "content": json.dumps(self.data, default=str)}
        return urlencode(self.data)


@dataclass(frozen=True)
class Raw:
    """A text answer that is not a :class:`Response` (``text/plain`` unless ``content_type`` says)."""

    text: str
    content_type: str = "text/plain"


@dataclass(frozen=True)
class LegacySpec:
    """One legacy function."""

    name: str
    handler: Callable[..., Any]
    params: tuple[str, ...]
    required: tuple[str, ...]
    reply: str = "auto"
    summary: str = ""
    doc: str = ""
    by_name: frozenset[str] = field(default_factory=frozenset, compare=False, repr=False)

    @property
    def module(self) -> str:
        return MODULE

    @property
    def key(self) -> str:
        return f"{MODULE}/{self.name}"

    @property
    def path(self) -> str:
        return f"/server/panda/{self.name}"

    def bind(self, params: dict[str, Any]) -> dict[str, Any]:
        """The keyword arguments of the call, or :class:`BindError` with Python's own call message."""
        for key in params:
            if key not in self.by_name:
                raise BindError(f"{self.name}() got an unexpected keyword argument '{key}'")
        missing = [name for name in self.required if name not in params]
        if missing:
            quoted = [f"'{name}'" for name in missing]
            listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + f" and {quoted[-1]}"
            plural = "argument" if len(missing) == 1 else "arguments"
            raise BindError(f"{self.name}() missing {len(missing)} required positional {plural}: {listed}")
        return dict(params)


class BindError(TypeError):
    """The call does not fit the function's signature (the old server answered HTTP 500 with this text)."""


class LegacyFunctions:
    """The registry of legacy functions, looked up by URL name."""

    def __init__(self) -> None:
        self.functions: dict[str, LegacySpec] = {}

    def function(self, reply: str = "auto") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Declare the decorated function as ``/server/panda/<function name>``."""
        if reply not in REPLY_MODES:
            raise ValueError(f"reply must be one of {', '.join(REPLY_MODES)}, got {reply!r}")

        def declare(handler: Callable[..., Any]) -> Callable[..., Any]:
            spec = _build_spec(handler, reply)
            if spec.name in self.functions:
                raise ValueError(f"legacy function {spec.name} is declared twice")
            self.functions[spec.name] = spec
            return handler

        return declare

    def lookup(self, name: str) -> LegacySpec | None:
        return self.functions.get(name)

    def __iter__(self) -> Iterator[LegacySpec]:
        for name in sorted(self.functions):
            yield self.functions[name]

    def __len__(self) -> int:
        return len(self.functions)

    def __contains__(self, name: object) -> bool:
        return name in self.functions


def _build_spec(handler: Callable[..., Any], reply: str) -> LegacySpec:
    parameters = list(inspect.signature(handler).parameters.values())
    if not parameters or parameters[0].name != "req":
        raise TypeError(f"legacy/{handler.__name__}: the first parameter must be 'req'")
    names = []
    required = []
    for parameter in parameters[1:]:
        if parameter.kind is not inspect.Parameter.POSITIONAL_OR_KEYWORD:
            raise TypeError(f"legacy/{handler.__name__}: parameter {parameter.name!r} must be a plain parameter")
        names.append(parameter.name)
        if parameter.default is inspect.Parameter.empty:
            required.append(parameter.name)
    doc = inspect.getdoc(handler) or ""
    summary = " ".join(doc.strip().split("\n\n")[0].split()) if doc.strip() else ""
    return LegacySpec(
        name=handler.__name__,
        handler=handler,
        params=tuple(names),
        required=tuple(required),
        reply=reply,
        summary=summary,
        doc=doc,
        by_name=frozenset(names),
    )
