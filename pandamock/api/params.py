"""Request decoding and PanDA's parameter binding, casting and type checks.

Reproduces ``pandaserver/server/panda.py`` (decoding) and ``request_validation`` in
``pandaserver/api/v1/common.py`` (binding, GET casting, type checks), with the exact
messages. Where the real server crashes with an HTTP 500 on a wrongly typed union-typed
parameter, this answers the type-error envelope instead (see the README's fidelity notes).
"""

from __future__ import annotations

import ast
import collections.abc
import gzip
import json
import typing
import zlib
from types import UnionType
from typing import Any, Union, get_args, get_origin
from urllib.parse import parse_qsl

from ..wsgi import form_parameters, read_body
from .registry import EndpointSpec

SEQUENCE_ORIGINS = (list, tuple, set, frozenset, collections.abc.Sequence)
_NORMALIZE = {typing.List: list, typing.Dict: dict, typing.Set: set, typing.Tuple: tuple}

#: The message Python gives when a request names the reserved parameter ``req``.
REQ_DUPLICATE = "request_validation.<locals>.decorator.<locals>.wrapper() got multiple values for argument 'req'"


class InvalidJson(Exception):
    """The JSON body does not parse: HTTP 500 ``ERROR : received invalid JSON : <reason>``."""


class ServerCrash(Exception):
    """What makes the real server answer HTTP 500 with ``str(exception)`` as the body."""


class CheckFailed(Exception):
    """A validation check failed: HTTP 200 envelope with ``success: false`` and this message."""


def wants_json(environ: dict) -> bool:
    """``json_app``: the response is JSON when Content-Type or Accept is exactly application/json."""
    return environ.get("CONTENT_TYPE") == "application/json" or environ.get("HTTP_ACCEPT") == "application/json"


def decode_parameters(environ: dict) -> dict[str, Any]:
    """The request's parameters the way the real server reads them (§3 of the reference)."""
    method = environ.get("REQUEST_METHOD", "GET")
    if environ.get("CONTENT_TYPE") == "application/json" and method in ("POST", "PUT"):
        body = read_body(environ)
        if environ.get("HTTP_CONTENT_ENCODING") == "gzip":
            try:
                body = gzip.decompress(body)
            except (OSError, EOFError, zlib.error) as exc:
                raise ServerCrash(str(exc)) from None
        try:
            decoded = json.loads(body)
        except ValueError as exc:
            raise InvalidJson(str(exc)) from None
        if not isinstance(decoded, dict):
            raise ServerCrash(
                "request_validation.<locals>.decorator.<locals>.wrapper() argument after ** must be a mapping, "
                f"not {type(decoded).__name__}"
            )
        return decoded
    if method in ("GET", "HEAD"):
        read_body(environ)  # panda-client sends "{}" with its GETs: read and ignore
        params: dict[str, Any] = {}
        for key, value in parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True):
            if key in params:
                existing = params[key]
                if isinstance(existing, list):
                    existing.append(value)
                else:
                    params[key] = [existing, value]
            else:
                params[key] = value
        return params
    return form_parameters(environ)


def bind(spec: EndpointSpec, params: dict[str, Any]) -> dict[str, Any]:
    """Bind parameters to the signature like ``inspect.Signature.bind`` + ``apply_defaults``."""
    if "req" in params:
        raise ServerCrash(REQ_DUPLICATE)
    remaining = dict(params)
    bound: dict[str, Any] = {}
    for param in spec.params:
        if param.name in remaining:
            bound[param.name] = remaining.pop(param.name)
        elif param.required:
            raise CheckFailed(f"Argument error: missing a required argument: '{param.name}'")
        else:
            bound[param.name] = param.default
    if remaining:
        if not spec.accepts_any:
            raise CheckFailed(f"Argument error: got an unexpected keyword argument '{next(iter(remaining))}'")
        bound.update(remaining)
    return bound


def type_name(annotation: Any) -> str:
    """Name of an annotation as PanDA's messages print it (``int``, ``List``, ``int | float``)."""
    return getattr(annotation, "__name__", None) or str(annotation)


def _isinstance_types(annotation: Any) -> tuple:
    if annotation is Any:
        return (object,)
    origin = get_origin(annotation)
    if origin is Union or origin is UnionType:
        return tuple(t for member in get_args(annotation) for t in _isinstance_types(member))
    return (origin or annotation,)


def cast_and_check(spec: EndpointSpec, bound: dict[str, Any], method: str) -> dict[str, Any]:
    """Cast GET values to the declared types and check every typed parameter (first failure wins)."""
    for param in spec.params:
        if not param.checked:
            continue
        value = bound[param.name]
        default = param.default
        if _equal(default, value):
            continue
        expected = param.annotation
        origin = get_origin(expected)
        type_args = get_args(expected)
        cast_type = expected
        if origin is Union or origin is UnionType:
            members = [member for member in type_args if member is not type(None)]
            if len(members) == 1:
                cast_type = members[0]
                origin = get_origin(cast_type)
                type_args = get_args(cast_type)
        if method == "GET":
            value = _cast(param.name, value, cast_type, origin, type_args, default)
            bound[param.name] = value
        _check(param.name, value, expected, origin, type_args, default)
    return bound


def _equal(default: Any, value: Any) -> bool:
    try:
        return bool(default == value)
    except Exception:  # noqa: BLE001 - odd objects: treat as different
        return False


def _cast(name: str, value: Any, cast_type: Any, origin: Any, type_args: tuple, default: Any) -> Any:
    shown_type = cast_type  # PanDA names the normalised type (dict, not Dict) once it got that far
    try:
        if value == "None" and default is None:
            return None
        if cast_type is str:
            return value
        if cast_type is bool:
            if not isinstance(value, str):
                raise TypeError(value)  # the real server crashes (HTTP 500) on a repeated key
            return value.lower() in ("true", "1")
        if cast_type is int:
            return int(float(value))
        if origin in SEQUENCE_ORIGINS and type_args:
            element = type_args[0]
            if isinstance(value, str):
                value = [value]
            if element is int:
                return [int(float(item)) for item in value]
            if element is float:
                return [float(item) for item in value]
            if element is bool:
                return [item.lower() in ("true", "1") for item in value]
            return value
        normalized = shown_type = _NORMALIZE.get(cast_type, cast_type)
        if not isinstance(value, _isinstance_types(normalized)):
            value = ast.literal_eval(value)
        if not isinstance(value, _isinstance_types(normalized)):
            raise TypeError(f"Expected {normalized}, received {type(value)}")
        return value
    except (ValueError, TypeError, SyntaxError, AttributeError, MemoryError, RecursionError):
        raise CheckFailed(
            f"Type error: '{name}' with value '{value}' could not be casted to type {type_name(shown_type)} "
            f"from {type(value).__name__}."
        ) from None


def _check(name: str, value: Any, expected: Any, origin: Any, type_args: tuple, default: Any) -> None:
    none_default = value is None and value == default
    if origin and origin is not Union and origin is not UnionType:
        if not isinstance(value, origin) and not none_default:
            raise CheckFailed(f"Type error: '{name}' must be of type {type_name(origin)}, got {type(value).__name__}.")
        if type_args and value is not None and origin in SEQUENCE_ORIGINS:
            allowed = _isinstance_types(type_args[0])
            if not all(isinstance(item, allowed) for item in value):
                raise CheckFailed(f"Type error: All elements in '{name}' must be {type_name(type_args[0])}.")
        return
    try:
        ok = isinstance(value, _isinstance_types(expected))
    except TypeError as exc:  # an annotation isinstance cannot use
        raise ServerCrash(str(exc)) from None
    if not ok and not none_default:
        raise CheckFailed(f"Type error: '{name}' must be of type {type_name(expected)}, got {type(value).__name__}.")
