"""One declaration per endpoint.

Each ``pandamock/api/<url segment>.py`` creates ``module = ApiModule("<url segment>")`` and
declares its endpoints as plain typed functions whose name is the URL name::

    module = ApiModule("system")

    @module.endpoint("GET", secure=False)
    def is_alive(req: ApiRequest) -> None:
        '''Health check; changes nothing.'''

The signature is the wire contract: parameter names, annotations (PanDA's: ``str``, ``int``,
``bool``, ``float``, ``typing.List[int]``, ``typing.Dict``, ``int | float``, ``FileStorage``;
``typing.Any`` for PanDA's unannotated parameters, which are never cast or checked) and
defaults (no default = required). Use ``typing.List``/``typing.Dict`` rather than
``list[int]``: PanDA's messages name the type ``List``. The decorator records the HTTP method
(None = any), the flags (``secure``, ``production``, ``task_owner``, ``raw`` for a bare-string
answer) and returns the function unchanged.

Routing, parameter casting and checks, roles, ownership, faults, journal, the envelope, the
OpenAPI document and ``pandamock routes`` all come from these declarations.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

#: Infrastructure modules of this package that declare no endpoints.
_INFRASTRUCTURE = {"registry", "pipeline", "params", "envelope", "identity", "openapi", "request"}


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of an endpoint."""

    name: str
    annotation: Any  # inspect.Parameter.empty for "no cast, no check"
    default: Any
    required: bool

    @property
    def checked(self) -> bool:
        return self.annotation is not inspect.Parameter.empty


@dataclass(frozen=True)
class EndpointSpec:
    """Everything the pipeline needs to serve one endpoint."""

    module: str
    name: str
    method: str | None
    handler: Callable[..., Any]
    params: tuple[ParamSpec, ...]
    accepts_any: bool  # **kwargs: takes arbitrary parameters (system/get_attributes)
    secure: bool = True
    production: bool = False
    task_owner: bool = False
    task_id_param: str = "task_id"
    raw: bool = False
    summary: str = ""
    doc: str = ""
    by_name: dict[str, ParamSpec] = field(default_factory=dict, compare=False, repr=False)

    @property
    def path(self) -> str:
        return f"/api/v1/{self.module}/{self.name}"

    @property
    def key(self) -> str:
        return f"{self.module}/{self.name}"


class ApiModule:
    """The endpoints of one URL module (``/api/v1/<name>/...``)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.endpoints: dict[str, EndpointSpec] = {}

    def endpoint(
        self,
        method: str | None,
        *,
        secure: bool = True,
        production: bool = False,
        task_owner: bool = False,
        task_id_param: str = "task_id",
        raw: bool = False,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Declare the decorated function as endpoint ``/api/v1/<module>/<function name>``."""
        if method not in ("GET", "POST", None):
            raise ValueError(f"method must be GET, POST or None (any), got {method!r}")

        def declare(handler: Callable[..., Any]) -> Callable[..., Any]:
            spec = _build_spec(self.name, handler, method, secure, production, task_owner, task_id_param, raw)
            if spec.name in self.endpoints:
                raise ValueError(f"endpoint {spec.key} is declared twice")
            if task_owner and task_id_param not in spec.by_name:
                raise ValueError(f"{spec.key}: task_owner needs a parameter named {task_id_param!r}")
            self.endpoints[spec.name] = spec
            return handler

        return declare


def _build_spec(
    module: str,
    handler: Callable[..., Any],
    method: str | None,
    secure: bool,
    production: bool,
    task_owner: bool,
    task_id_param: str,
    raw: bool,
) -> EndpointSpec:
    signature = inspect.signature(handler)
    hints = typing.get_type_hints(handler)
    parameters = list(signature.parameters.values())
    if not parameters or parameters[0].name != "req":
        raise TypeError(f"{module}/{handler.__name__}: the first parameter must be 'req'")
    params = []
    accepts_any = False
    for parameter in parameters[1:]:
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            accepts_any = True
            continue
        if parameter.kind not in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY):
            raise TypeError(f"{module}/{handler.__name__}: parameter {parameter.name!r} must be a keyword parameter")
        annotation = hints.get(parameter.name, inspect.Parameter.empty)
        if annotation is Any:
            annotation = inspect.Parameter.empty
        required = parameter.default is inspect.Parameter.empty
        params.append(ParamSpec(parameter.name, annotation, None if required else parameter.default, required))
    doc = inspect.getdoc(handler) or ""
    summary = " ".join(doc.strip().split("\n\n")[0].split()) if doc.strip() else ""
    return EndpointSpec(
        module=module,
        name=handler.__name__,
        method=method,
        handler=handler,
        params=tuple(params),
        accepts_any=accepts_any,
        secure=secure,
        production=production,
        task_owner=task_owner,
        task_id_param=task_id_param,
        raw=raw,
        summary=summary,
        doc=doc,
        by_name={param.name: param for param in params},
    )


class Registry:
    """Every declared endpoint, looked up by ``(module, function)``."""

    def __init__(self, modules: typing.Iterable[ApiModule]) -> None:
        self.modules: dict[str, ApiModule] = {}
        for module in modules:
            if module.name in self.modules:
                raise ValueError(f"URL module {module.name!r} is declared twice")
            self.modules[module.name] = module

    def lookup(self, module: str, function: str) -> EndpointSpec | None:
        api_module = self.modules.get(module)
        return api_module.endpoints.get(function) if api_module else None

    def __iter__(self) -> Iterator[EndpointSpec]:
        for module_name in sorted(self.modules):
            module = self.modules[module_name]
            for name in sorted(module.endpoints):
                yield module.endpoints[name]

    def __len__(self) -> int:
        return sum(len(module.endpoints) for module in self.modules.values())


def discover(package: str = "pandamock.api") -> Registry:
    """Import every ``api/<url segment>.py`` of ``package`` and collect its ``module``."""
    root = importlib.import_module(package)
    modules = []
    for info in pkgutil.iter_modules(root.__path__):
        if info.name in _INFRASTRUCTURE or info.name.startswith("_"):
            continue
        loaded = importlib.import_module(f"{package}.{info.name}")
        module = getattr(loaded, "module", None)
        if not isinstance(module, ApiModule):
            continue
        if module.name != info.name:
            raise ValueError(f"{package}.{info.name} declares URL module {module.name!r}; name the file after it")
        modules.append(module)
    return Registry(modules)
