"""Scenario files: a world and its behaviour, in YAML.

A scenario names its ``seed``, ``clock``, ``identities`` (DN, VO roles, production role,
banned), ``sites`` (PanDA queues and their specs), ``fixtures`` (JSON files of records),
``generate`` (counts of Faker-made tasks, jobs, event ranges, files), ``progression`` (delays of
what PanDA does asynchronously), ``faults`` and ``credentials`` (key pairs, proxies, tokens).
:data:`SCHEMA` is its JSON Schema; the validator here reports every problem with its path
(``sites[3].corecount: expected an integer, got 'eight'``) and suggests the closest key for an unknown one.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .paths import fixtures_dir, scenarios_dir

_QUEUE_STATUSES = ["online", "offline", "test", "brokeroff"]
_QUEUE_TYPES = ["production", "analysis", "unified"]

IDENTITY_SCHEMA: dict = {
    "type": "object",
    "description": "A user or robot the emulator knows: who a request acts as.",
    "additionalProperties": False,
    "required": ["name", "dn"],
    "properties": {
        "name": {"type": "string", "description": "Short name used to refer to the identity."},
        "dn": {"type": "string", "description": "Certificate DN in PanDA's slash form."},
        "vo": {"type": "string", "description": "Virtual organisation (default atlas)."},
        "fqans": {
            "type": "array",
            "items": {"type": "string"},
            "description": "VOMS FQANs, e.g. /atlas/Role=production (gives the production role).",
        },
        "groups": {"type": "array", "items": {"type": "string"}, "description": "Token groups (derived by default)."},
        "email": {"type": "string"},
        "banned": {"type": "boolean", "description": "A banned user gets 403 on every call."},
        "default": {"type": "boolean", "description": "Credential-less requests act as this identity (open mode)."},
        "permissions": {
            "type": "array",
            "items": {"enum": ["proxy", "key_pair", "token_key", "async_request"]},
            "description": "Special dispatch permissions (get_proxy, get_key_pair, get_token_key, async requests).",
        },
    },
}

QUEUE_SCHEMA: dict = {
    "type": "object",
    "description": "A PanDA queue (CRIC PanDA resource) and its SiteSpec values.",
    "additionalProperties": False,
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "description": "PanDA queue name (siteid), e.g. CERN-PROD_UCORE."},
        "site": {"type": "string", "description": "PanDA site (pandasite) the queue belongs to."},
        "cloud": {"type": "string"},
        "type": {"enum": _QUEUE_TYPES},
        "status": {"enum": _QUEUE_STATUSES},
        "corecount": {"type": "integer", "minimum": 1},
        "capability": {"enum": ["score", "mcore", "ucore"]},
        "maxrss": {"type": "integer", "minimum": 0},
        "minrss": {"type": "integer", "minimum": 0},
        "maxtime": {"type": "integer", "minimum": 0},
        "mintime": {"type": "integer", "minimum": 0},
        "maxwdir": {"type": "integer", "minimum": 0},
        "maxinputsize": {"type": "integer", "minimum": 0},
        "tier": {"type": "string"},
        "country": {"type": "string"},
        "ddm": {"type": "string", "description": "Main DDM endpoint (RSE) of the queue."},
        "gatekeeper": {"type": "string"},
        "jobseed": {"enum": ["std", "es", "all", "eshigh"]},
        "corepower": {"type": "number", "minimum": 0},
        "wnconnectivity": {"type": "string"},
        "catchall": {"type": "string"},
        "objectstores": {"type": "array"},
        "payload": {
            "type": ["boolean", "object"],
            "description": "A pilot queue: its jobs run pandamock's payload script with small files that exist "
            "in the local storage, so a real pilot can run them (see docs/pilot-legacy.md).",
            "additionalProperties": False,
            "properties": {
                "sleep": {"type": "number", "minimum": 0, "description": "Seconds the payload runs (default 5)."},
                "exit_code": {
                    "type": "integer",
                    "minimum": 0,
                    "maximum": 255,
                    "description": "Exit code of the payload (default 0; non-zero: the job fails).",
                },
                "output_size": {"type": "integer", "minimum": 0, "description": "Bytes of each output file."},
                "input_size": {
                    "type": ["integer", "array"],
                    "minimum": 0,
                    "items": {"type": "integer", "minimum": 0},
                    "description": "Bytes of each generated input file, or [min, max] (default [1000, 64000]).",
                },
                "jobs": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "Activated payload jobs generated on the queue (default: generate.activated_jobs).",
                },
                "message": {"type": "string", "description": "A line the payload prints."},
            },
        },
        "specs": {"type": "object", "description": "Any other SiteSpec attribute, written as given."},
    },
}

GENERATE_SCHEMA: dict = {
    "type": "object",
    "description": "Counts of records made with the seeded random generator and Faker when the scenario loads.",
    "additionalProperties": False,
    "properties": {
        "tasks": {
            "type": "integer",
            "minimum": 0,
            "description": "Ordinary tasks (production simul/recon/deriv and user analysis, in turn), with statuses "
            "running, done, finished, failed in turn.",
        },
        "jobs_per_task": {
            "type": "integer",
            "minimum": 0,
            "description": "Jobs of each task, their statuses spread to fit the task's (activated, sent, starting, "
            "running, holding, transferring, finished, failed, cancelled, closed).",
        },
        "files_per_dataset": {
            "type": "integer",
            "minimum": 0,
            "description": "Input files of each task's input dataset (0: one per job); jobs read them in turn.",
        },
        "events_per_job": {
            "type": "integer",
            "minimum": 0,
            "description": "Event ranges of each event-service job (one event each).",
        },
        "event_service_tasks": {
            "type": "integer",
            "minimum": 0,
            "description": "Running event-service simulation tasks on queues with jobseed es/all/eshigh.",
        },
        "activated_jobs": {
            "type": "integer",
            "minimum": 0,
            "description": "Extra activated jobs waiting for pilots on each online queue.",
        },
        "users": {
            "type": "integer",
            "minimum": 0,
            "description": "Extra user identities with Faker-made names and DNs (they own analysis tasks).",
        },
        "harvester_instances": {"type": "integer", "minimum": 0},
    },
}

PROGRESSION_SCHEMA: dict = {
    "type": "object",
    "description": "Delays, in emulated seconds, of what PanDA does asynchronously.",
    "additionalProperties": False,
    "properties": {
        "job_activation": {"type": "number", "minimum": 0, "description": "job/submit: defined -> activated."},
        "job_adder": {
            "type": "number",
            "minimum": 0,
            "description": "holding -> finished/failed after a final report.",
        },
        "task_step": {"type": "number", "minimum": 0, "description": "Each JEDI step of a new task."},
        "task_command": {"type": "number", "minimum": 0, "description": "A registered task command is applied."},
        "task_completion": {"type": "number", "minimum": 0, "description": "All jobs final -> task final."},
        "data_carousel_staging": {
            "type": "number",
            "minimum": 0,
            "description": "A queued data-carousel request starts staging.",
        },
        "data_carousel_done": {"type": "number", "minimum": 0, "description": "A staging request is done."},
        "async_request": {"type": "number", "minimum": 0, "description": "Each step of an async request."},
        "harvester_command": {"type": "number", "minimum": 0},
        "cache_file_lifetime": {
            "type": "number",
            "minimum": 0,
            "description": "An untouched file-server cache file expires after this long.",
        },
    },
}

CREDENTIALS_SCHEMA: dict = {
    "type": "object",
    "description": "What creds/get_key_pair, get_proxy, get_access_token and get_token_key hand out "
    "(to identities with the matching permission); values left out are generated.",
    "additionalProperties": False,
    "properties": {
        "key_pairs": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["public", "private"],
                "properties": {
                    "public": {"type": "string", "description": "Name of the public key."},
                    "private": {"type": "string", "description": "Name of the private key."},
                    "public_key": {"type": "string", "description": "PEM text (generated by default)."},
                    "private_key": {"type": "string", "description": "PEM text (generated by default)."},
                },
            },
        },
        "proxies": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["dn"],
                "properties": {
                    "dn": {"type": "string", "description": "A DN, or the name of an identity."},
                    "roles": {
                        "type": "array",
                        "items": {"type": ["string", "null"]},
                        "description": "VOMS roles with a cached proxy (null: the plain proxy; default [null]).",
                    },
                    "proxy": {"type": "string", "description": "PEM text (generated by default)."},
                },
            },
        },
        "token_clients": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name"],
                "properties": {
                    "name": {"type": "string", "description": "Client name (token cache configuration)."},
                    "use_token_key": {"type": "boolean", "description": "get_access_token needs a valid key."},
                    "token_keys": {
                        "type": ["integer", "array"],
                        "minimum": 0,
                        "items": {"type": "string"},
                        "description": "The client's keys (the last is the latest), or how many to generate.",
                    },
                    "access_token": {
                        "type": ["string", "boolean"],
                        "description": "The cached access token; true (default) generates one, false: none.",
                    },
                },
            },
        },
    },
}

SCHEMA: dict = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://pandamock.invalid/scenario.schema.json",
    "title": "pandamock scenario",
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "properties": {
        "name": {"type": "string"},
        "description": {"type": "string"},
        "seed": {"type": "integer"},
        "clock": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "start": {"type": ["string", "null"], "description": "ISO time, or null/'now' for real time."},
                "speed": {"type": "number", "minimum": 0, "description": "Emulated seconds per real second."},
                "frozen": {"type": "boolean"},
            },
        },
        "ids": {
            "type": "object",
            "description": "First value of each id counter (PandaID, jediTaskID, ...).",
            "additionalProperties": {"type": "integer", "minimum": 1},
        },
        "vos": {"type": "array", "items": {"type": "string"}, "description": "VOs that tokens may name in Origin."},
        "identities": {"type": "array", "items": IDENTITY_SCHEMA},
        "sites": {"type": "array", "items": QUEUE_SCHEMA},
        "fixtures": {
            "type": "array",
            "items": {"type": "string"},
            "description": "JSON files ({table: [records]}) relative to the scenario or the shipped fixtures/.",
        },
        "generate": GENERATE_SCHEMA,
        "progression": PROGRESSION_SCHEMA,
        "faults": {
            "type": "array",
            "description": "Fault rules and chaos-schedule phases, active from the scenario load "
            "(checked by pandamock.faults.faults_problems; see docs/faults-and-control.md).",
        },
        "credentials": CREDENTIALS_SCHEMA,
        "records": {
            "type": "object",
            "description": "Records to put in tables after fixtures and generation ({table: [records]}); "
            "a state dump carries the whole state here.",
            "additionalProperties": {"type": "array", "items": {"type": "object"}},
        },
    },
}


class ScenarioError(ValueError):
    """A scenario that cannot be used; ``problems`` lists each one with its path."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems) if len(problems) == 1 else _listing(source, problems))


def _listing(source: str, problems: list[str]) -> str:
    return f"{source}: {len(problems)} problems\n" + "\n".join(f"  - {problem}" for problem in problems)


@dataclass
class Scenario:
    """A validated scenario."""

    name: str
    description: str = ""
    seed: int = 0
    clock: dict = field(default_factory=dict)
    ids: dict = field(default_factory=dict)
    vos: list = field(default_factory=lambda: ["atlas"])
    identities: list = field(default_factory=list)
    sites: list = field(default_factory=list)
    fixtures: list = field(default_factory=list)
    generate: dict = field(default_factory=dict)
    progression: dict = field(default_factory=dict)
    faults: list = field(default_factory=list)
    credentials: dict = field(default_factory=dict)
    records: dict = field(default_factory=dict)
    source: str | None = None

    @classmethod
    def from_dict(cls, data: Any, source: str = "<scenario>", check_references: bool = True) -> Scenario:
        """Validate ``data`` (the parsed YAML) and build a scenario; raises :class:`ScenarioError`.

        ``check_references=False`` skips the checks of names against each other and of fixture files
        (a scenario kept inside a state file, whose fixtures were loaded long ago)."""
        problems = validate(data)
        if isinstance(data, dict) and isinstance(data.get("faults"), list):
            from .faults import faults_problems

            problems.extend(faults_problems(data["faults"]))
        if problems:
            raise ScenarioError(source, problems)
        values = {key: value for key, value in data.items() if value is not None}
        if "records" in values:
            values["records"] = {table: [_decode_record(r) for r in rows] for table, rows in values["records"].items()}
        scenario = cls(**values, source=source)
        if check_references:
            scenario._check_references()
        return scenario

    def _check_references(self) -> None:
        problems = []
        seen: dict[str, int] = {}
        for i, identity in enumerate(self.identities):
            name = identity["name"]
            if name in seen:
                problems.append(f"identities[{i}].name: {name!r} is used already by identities[{seen[name]}]")
            seen.setdefault(identity["name"], i)
        if sum(1 for identity in self.identities if identity.get("default")) > 1:
            problems.append("identities: more than one identity is marked default")
        queues: dict[str, int] = {}
        for i, queue in enumerate(self.sites):
            if queue["name"] in queues:
                problems.append(f"sites[{i}].name: {queue['name']!r} is used already by sites[{queues[queue['name']]}]")
            queues.setdefault(queue["name"], i)
        for i, name in enumerate(self.fixtures):
            if self.fixture_path(name) is None:
                problems.append(f"fixtures[{i}]: no fixture file {name!r}")
        if problems:
            raise ScenarioError(self.source or "<scenario>", problems)

    def fixture_path(self, name: str) -> Path | None:
        """The file of a fixture named in the scenario (next to the scenario first, then shipped)."""
        candidates = []
        if self.source and not self.source.startswith("<"):
            candidates.append(Path(self.source).parent / name)
        candidates.append(fixtures_dir() / name)
        candidates.append(Path(name))
        return next((path for path in candidates if path.is_file()), None)

    def fixture_records(self) -> list[tuple[str, list[dict]]]:
        """(table, records) of every fixture file, in order; datetimes decoded."""
        loaded = []
        for name in self.fixtures:
            path = self.fixture_path(name)
            try:
                content = json.loads(path.read_text(), object_hook=decode_marker)
            except (OSError, ValueError) as exc:
                raise ScenarioError(str(path), [f"cannot read fixture: {exc}"]) from None
            if not isinstance(content, dict) or not all(isinstance(v, list) for v in content.values()):
                raise ScenarioError(str(path), ["a fixture file must be an object of table name -> list of records"])
            loaded.extend(content.items())
        return loaded

    def as_dict(self) -> dict:
        """The scenario in file form (what :func:`load` reads back)."""
        data = {
            "name": self.name,
            "description": self.description,
            "seed": self.seed,
            "clock": self.clock,
            "ids": self.ids,
            "vos": self.vos,
            "identities": self.identities,
            "sites": self.sites,
            "fixtures": self.fixtures,
            "generate": self.generate,
            "progression": self.progression,
            "faults": self.faults,
            "credentials": self.credentials,
            "records": self.records,
        }
        return {key: value for key, value in data.items() if value not in (None, {}, [])}


def _decode_record(record: dict) -> dict:
    return {key: _decode_value(value) for key, value in record.items()}


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict):
        decoded = decode_marker(value)
        if decoded is not value:
            return decoded
        return {key: _decode_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decode_value(item) for item in value]
    return value


def decode_marker(obj: dict) -> Any:
    """JSON object hook: ``{"__datetime__": iso}`` → naive UTC datetime."""
    if len(obj) == 1 and "__datetime__" in obj:
        from .engine.clock import parse_time

        return parse_time(obj["__datetime__"])
    return obj


def shipped_scenarios() -> dict[str, Path]:
    """Name → file of every scenario shipped with pandamock."""
    return {path.stem: path for path in sorted(scenarios_dir().glob("*.yaml"))}


def resolve(name_or_path: str) -> Path:
    """The file of a shipped scenario name or a path; raises :class:`ScenarioError` when neither."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml", ".json") or "/" in name_or_path:
        if path.is_file():
            return path
        raise ScenarioError(name_or_path, ["no such file"])
    shipped = shipped_scenarios()
    if name_or_path in shipped:
        return shipped[name_or_path]
    hint = difflib.get_close_matches(name_or_path, list(shipped), n=1)
    suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
    raise ScenarioError(
        name_or_path, [f"no shipped scenario of that name{suggestion}; shipped: {', '.join(shipped) or 'none'}"]
    )


def load(name_or_path: str | Path | Mapping) -> Scenario:
    """Load and validate a scenario given by shipped name, path, or already-parsed mapping."""
    if isinstance(name_or_path, Scenario):
        return name_or_path
    if isinstance(name_or_path, Mapping):
        return Scenario.from_dict(dict(name_or_path))
    path = resolve(str(name_or_path))
    try:
        text = path.read_text()
    except OSError as exc:
        raise ScenarioError(str(path), [f"cannot read: {exc.strerror or exc}"]) from None
    try:
        data = yaml.safe_load(text) if path.suffix != ".json" else json.loads(text)
    except (yaml.YAMLError, ValueError) as exc:
        raise ScenarioError(str(path), [f"not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {exc}"]) from None
    return Scenario.from_dict(data, source=str(path))


# --- validation ------------------------------------------------------------------------------
_TYPE_WORDS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean (true/false)",
    "array": "a list",
    "object": "a mapping",
    "null": "null",
}


def _is_type(value: Any, kind: str) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "array":
        return isinstance(value, list)
    if kind == "object":
        return isinstance(value, dict)
    if kind == "null":
        return value is None
    raise ValueError(f"unknown schema type {kind!r}")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def validate(data: Any, schema: Mapping = SCHEMA, path: str = "") -> list[str]:
    """Every problem of ``data`` against ``schema`` (a JSON Schema subset), with its path."""
    where = path or "scenario"
    if "enum" in schema:
        if data not in schema["enum"]:
            choices = ", ".join(str(choice) for choice in schema["enum"])
            return [f"{where}: expected one of {choices}, got {data!r}"]
        return []
    kinds = schema.get("type")
    if kinds is not None:
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if not any(_is_type(data, kind) for kind in kinds):
            expected = " or ".join(_TYPE_WORDS[kind] for kind in kinds)
            return [f"{where}: expected {expected}, got {data!r}"]
    problems: list[str] = []
    if isinstance(data, (int, float)) and not isinstance(data, bool):
        if "minimum" in schema and data < schema["minimum"]:
            problems.append(f"{where}: must be at least {schema['minimum']}, got {data!r}")
        if "maximum" in schema and data > schema["maximum"]:
            problems.append(f"{where}: must be at most {schema['maximum']}, got {data!r}")
    if isinstance(data, dict):
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key in schema.get("required", ()):
            if key not in data:
                problems.append(f"{where}: missing required key {key!r}")
        for key, value in data.items():
            if not isinstance(key, str):
                problems.append(f"{where}: keys must be strings, got {key!r}")
            elif key in properties:
                problems.extend(validate(value, properties[key], _join(path, key)))
            elif extra is False:
                hint = difflib.get_close_matches(key, list(properties), n=1)
                suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
                known = ", ".join(properties)
                problems.append(f"{_join(path, key)}: unknown key{suggestion}; known keys: {known}")
            elif isinstance(extra, dict):
                problems.extend(validate(value, extra, _join(path, key)))
    if isinstance(data, list) and "items" in schema:
        for i, item in enumerate(data):
            problems.extend(validate(item, schema["items"], f"{path}[{i}]" if path else f"[{i}]"))
    return problems
