"""Every registered endpoint against the reference catalogue of the real server (tests/data)."""

from __future__ import annotations

import inspect
import json
import typing
from pathlib import Path
from types import UnionType

import pytest

from pandamock.api.registry import discover

REFERENCE = json.loads((Path(__file__).parent / "data" / "panda_api_v1.json").read_text())
BY_KEY = {f"{entry['module']}/{entry['function']}": entry for entry in REFERENCE}
REGISTRY = discover()
REGISTERED = list(REGISTRY)

#: Conscious differences from the real server's declarations, each with its reason (also in the
#: README's fidelity notes). Key: (endpoint, parameter) -> (reference type, our type).
DEVIATIONS: dict[tuple[str, str], tuple[str, str]] = {
    # the builtin ``id`` as annotation makes every non-null value an HTTP 500; the intended int is checked
    ("event/update_single_event_range", "object_store_id"): ("id", "int"),
    # panda-client sends one Python-repr dict per repeated query key; a list of them is accepted too
    ("event/get_event_range_statuses", "job_task_ids"): ("str", "str | List[str]"),
    # panda-client's update_events sends the list itself, not its JSON string
    ("event/update_event_ranges", "event_ranges"): ("str", "str | List"),
}

#: Endpoints of a started module that another branch of work provides (empty once merged).
PENDING: set[str] = set()

#: Endpoints pandamock serves that the reference server snapshot lacks, each with its reason (also in
#: the README's fidelity notes). They are checked against the declaration written here instead.
EXTENSIONS: dict[str, dict] = {
    # panda-client 2.2.0 calls it (Client.get_workflow_details, pbook show_native_workflow): clients.md §2.6b
    "workflow/get_workflow_details": {
        "method": "GET",
        "secure": True,
        "production_role": False,
        "task_owner_check": False,
        "params": [{"name": "workflow_id", "type": "int", "required": True, "default": None}],
    },
}


def annotation_name(annotation: object) -> str:
    """The reference catalogue's spelling of an annotation."""
    if annotation is inspect.Parameter.empty:
        return "any"
    if annotation is type(None):
        return "None"
    origin = typing.get_origin(annotation)
    if isinstance(annotation, UnionType) or origin is typing.Union:
        return " | ".join(annotation_name(arg) for arg in typing.get_args(annotation))
    alias_name = getattr(annotation, "_name", None)
    if alias_name:
        args = typing.get_args(annotation)
        return f"{alias_name}[{', '.join(annotation_name(a) for a in args)}]" if args else alias_name
    return getattr(annotation, "__name__", str(annotation))


def test_extensions_are_not_in_the_reference():
    """An extension that the reference gains must be checked against it instead."""
    assert not set(EXTENSIONS) & set(BY_KEY)


def test_registry_is_not_empty():
    assert len(REGISTRY) >= 7


@pytest.mark.parametrize("spec", REGISTERED, ids=lambda spec: spec.key)
def test_endpoint_matches_reference(spec):
    reference = BY_KEY.get(spec.key)
    if reference is None and spec.key in EXTENSIONS:
        reference = {"path": spec.path, **EXTENSIONS[spec.key]}
    assert reference is not None, f"{spec.key} is not an endpoint of the real server"
    assert spec.path == reference["path"]
    assert (spec.method or "ANY") == reference["method"]
    assert spec.secure == reference["secure"]
    assert spec.production == reference["production_role"]
    assert spec.task_owner == reference["task_owner_check"]
    expected = [p for p in reference["params"] if p["name"] != "*any*"]
    assert spec.accepts_any == any(p["name"] == "*any*" for p in reference["params"])
    assert [p.name for p in spec.params] == [p["name"] for p in expected]
    for ours, theirs in zip(spec.params, expected, strict=True):
        assert ours.required == theirs["required"], f"{spec.key}.{ours.name}: required"
        if not ours.required:
            assert ours.default == theirs["default"], f"{spec.key}.{ours.name}: default"
        our_type = annotation_name(ours.annotation)
        their_type = theirs["type"]
        if their_type.startswith("any"):
            their_type = "any"
        deviation = DEVIATIONS.get((spec.key, ours.name))
        if deviation:
            assert (their_type, our_type) == deviation
        else:
            assert our_type == their_type, f"{spec.key}.{ours.name}: type"


@pytest.mark.parametrize("module", sorted(REGISTRY.modules), ids=str)
def test_started_modules_are_complete(module):
    """A URL module that serves any endpoint serves all of the real server's endpoints."""
    expected = {entry["function"] for entry in REFERENCE if entry["module"] == module}
    expected -= {key.split("/")[1] for key in PENDING if key.startswith(f"{module}/")}
    expected |= {key.split("/")[1] for key in EXTENSIONS if key.startswith(f"{module}/")}
    assert set(REGISTRY.modules[module].endpoints) == expected


@pytest.mark.parametrize("spec", REGISTERED, ids=lambda spec: spec.key)
def test_endpoint_has_a_docstring_saying_what_it_does(spec):
    assert spec.summary, f"{spec.key} needs a docstring saying what state it reads or changes"
