"""An OpenAPI 3 document generated from the endpoint registry."""

from __future__ import annotations

import inspect
from types import UnionType
from typing import Any, Union, get_args, get_origin

from .. import __version__
from .registry import EndpointSpec, Registry

_SCALARS = {str: "string", int: "integer", bool: "boolean", float: "number"}


def schema_of(annotation: Any) -> dict:
    """JSON schema of a parameter annotation."""
    if annotation is inspect.Parameter.empty or annotation is Any:
        return {}
    if annotation in _SCALARS:
        return {"type": _SCALARS[annotation]}
    if annotation is type(None):
        return {"type": "null"}
    origin = get_origin(annotation)
    if origin is Union or origin is UnionType:
        return {"anyOf": [schema_of(member) for member in get_args(annotation)]}
    if annotation is list or origin is list:
        args = get_args(annotation)
        return {"type": "array", "items": schema_of(args[0]) if args else {}}
    if annotation is dict or origin is dict:
        return {"type": "object"}
    if getattr(annotation, "__name__", "") == "FileStorage":
        return {"type": "string", "format": "binary"}
    return {}


def _envelope_responses(spec: EndpointSpec) -> dict:
    body = {"type": "string"} if spec.raw else {"$ref": "#/components/schemas/Envelope"}
    return {
        "200": {
            "description": "The PanDA envelope (JSON when Accept or Content-Type is application/json, else Python repr)"
            if not spec.raw
            else "A bare string",
            "content": {"text/plain": {"schema": body}},
        },
        "403": {
            "description": "Forbidden (unknown function, rejected token, banned user)",
            "content": {"text/plain": {}},
        },
        "500": {"description": "Server error with its reason", "content": {"text/plain": {}}},
    }


def _operation(spec: EndpointSpec, method: str) -> dict:
    operation: dict[str, Any] = {
        "operationId": f"{spec.module}_{spec.name}" + ("" if spec.method else f"_{method}"),
        "tags": [spec.module],
        "summary": spec.summary,
        "description": spec.doc,
        "responses": _envelope_responses(spec),
        "x-panda-secure": spec.secure,
        "x-panda-production-role": spec.production,
        "x-panda-task-owner": spec.task_owner,
    }
    params = [param for param in spec.params]
    if method == "get":
        operation["parameters"] = [
            {
                "name": param.name,
                "in": "query",
                "required": param.required,
                "schema": {
                    **schema_of(param.annotation),
                    **({} if param.required else {"default": _plain(param.default)}),
                },
            }
            for param in params
        ]
        if spec.accepts_any:
            operation["x-panda-any-parameters"] = True
        return operation
    files = [param for param in params if getattr(param.annotation, "__name__", "") == "FileStorage"]
    media = "multipart/form-data" if files else "application/json"
    operation["requestBody"] = {
        "required": any(param.required for param in params),
        "content": {
            media: {
                "schema": {
                    "type": "object",
                    "properties": {
                        param.name: {
                            **schema_of(param.annotation),
                            **({} if param.required else {"default": _plain(param.default)}),
                        }
                        for param in params
                    },
                    "required": [param.name for param in params if param.required],
                    "additionalProperties": spec.accepts_any,
                }
            }
        },
    }
    return operation


def _plain(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool, list, dict, type(None))) else str(value)


def build(registry: Registry) -> dict:
    """The OpenAPI 3.0 document of every registered endpoint."""
    paths: dict[str, dict] = {}
    for spec in registry:
        methods = [spec.method.lower()] if spec.method else ["get", "post"]
        paths[spec.path] = {method: _operation(spec, method) for method in methods}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "PanDA API (pandamock emulation)",
            "version": __version__,
            "description": "PanDA server HTTP API v1 as served by pandamock. Every 200 answer is "
            "Content-Type text/plain holding the envelope.",
        },
        "servers": [{"url": "http://127.0.0.1:25080"}],
        "paths": paths,
        "components": {
            "schemas": {
                "Envelope": {
                    "type": "object",
                    "properties": {
                        "success": {"type": "boolean", "nullable": True},
                        "message": {"type": "string"},
                        "data": {},
                    },
                    "required": ["success", "message", "data"],
                }
            }
        },
    }
