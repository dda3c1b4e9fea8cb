"""Fault injection: rules that make requests fail the way the real service fails.

A rule **matches** a request (endpoint glob over ``module/function``, HTTP method, identity,
production role, request values such as PandaID, jediTaskID, queue, harvester or worker id),
is **gated** (time window on the emulator clock, first-N / after-N / every-Nth match, seeded
probability, maximum number of firings) and **acts**: HTTP 403/500 with the real text/plain
bodies, HTTP 503 with Apache's page, ``success: false`` with a message, a delay, a dropped
connection, a truncated or malformed body. See ``docs/faults-and-control.md``.

The pipeline asks :meth:`FaultEngine.before_call` before identity and decoding, and
:meth:`FaultEngine.after_call` once the handler has answered. ``before_call`` decides, in one
pass over the rules in order, which rules fire for the request (first firing rule wins unless
it says ``continue``): a rule acting ``before`` answers instead of the call (state untouched),
one acting ``after`` lets the call change the state and then replaces its answer. Rules that
look at the identity or the parameters make the pipeline resolve/decode them early (cached on
the call, so nothing is done twice and nothing touches the state).

Probabilities and random delays come from one :class:`random.Random` per rule, seeded from the
scenario seed and the rule id, never from ``engine.random``: faults do not perturb generated
data, and the same seed with the same request sequence fails the same requests.
"""

from __future__ import annotations

import difflib
import errno
import fnmatch
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: What a rule can do.
ACTIONS = ("error", "fail", "delay", "drop", "truncate", "malformed")
#: HTTP statuses of the ``error`` action (the ones the real service answers with).
STATUSES = (403, 500, 503)
METHODS = ("GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS")
#: Presets of the 403 body.
REASONS = ("forbidden", "banned", "token")
STATUS_LINES = {200: "200 OK", 403: "403 Forbidden", 500: "500 Internal Server Error", 503: "503 Service Unavailable"}

DEFAULT_FAIL_MESSAGE = "database error in the PanDA server"
DEFAULT_500_MESSAGE = "ERROR : internal server error"
DEFAULT_TOKEN_REASON = "Invalid token. Signature verification failed"

#: The page Apache httpd 2.4 sends for a 503 (``ServerSignature Off``, its default).
APACHE_503 = (
    b'<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n'
    b"<html><head>\n"
    b"<title>503 Service Unavailable</title>\n"
    b"</head><body>\n"
    b"<h1>Service Unavailable</h1>\n"
    b"<p>The server is temporarily unable to service your\n"
    b"request due to maintenance downtime or capacity\n"
    b"problems. Please try again later.</p>\n"
    b"</body></html>\n"
)
APACHE_HTML = [("Content-Type", "text/html; charset=iso-8859-1")]
TEXT_PLAIN = [("Content-Type", "text/plain")]

#: Request values a rule can match, and the parameter names that carry them (PanDA's v1
#: names first). Lists (``job_ids``) and lists of records (``job_list``, ``workers``) are
#: searched too.
VALUE_PARAMETERS: dict[str, tuple[str, ...]] = {
    "panda_id": ("job_id", "job_ids", "panda_id", "PandaID", "pandaID", "jobId"),
    "task_id": ("task_id", "jedi_task_id", "task_id_list", "jediTaskID", "taskID"),
    "site": ("site_name", "site", "panda_queue", "computingSite", "queue", "siteName"),
    "harvester_id": ("harvester_id", "harvesterID"),
    "worker_id": ("worker_id", "workerID", "worker_ids"),
}
#: Parameters holding lists of records whose keys are searched for the values above.
RECORD_LISTS = ("job_list", "workers", "jobs", "data")

_GLOB_CHARS = re.compile(r"[*?\[]")
_NO_PARAMS = object()
_ENDPOINT_GLOB = re.compile(r"^[A-Za-z0-9_*?\[\]!-]+/[A-Za-z0-9_*?\[\]!-]+$")
_RULE_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)", re.I)
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}

_SCALARS = {"type": ["string", "integer"]}
_SCALAR_OR_LIST = {"type": ["string", "integer", "array"], "items": _SCALARS}
_STRING_OR_LIST = {"type": ["string", "array"], "items": {"type": "string"}}
_TIME = {"type": ["number", "string"]}

WINDOW_PROPERTIES: dict = {
    "from": {
        **_TIME,
        "description": "Start: seconds after the rule was installed (scenario load, or when added), "
        "a duration ('90s', '2m') or an ISO time.",
    },
    "until": {**_TIME, "description": "End, like 'from' (relative to installation, or an ISO time)."},
    "for": {**_TIME, "description": "Duration from 'from' (or of each active slice with 'period')."},
    "period": {**_TIME, "description": "Repeat: active 'for' seconds every 'period' seconds from 'from'."},
}

RULE_SCHEMA: dict = {
    "type": "object",
    "description": "A fault rule: what it matches, when it fires and what it does.",
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "description": "Unique name (default: fault-<n> / <phase>-<n> / rule-<n>)."},
        "description": {"type": "string"},
        # -- matching ---------------------------------------------------------------
        "endpoint": {**_STRING_OR_LIST, "description": "Glob(s) over module/function, e.g. 'pilot/*' (default '*')."},
        "method": {**_STRING_OR_LIST, "description": "HTTP method(s)."},
        "identity": {**_STRING_OR_LIST, "description": "Glob(s) over the scenario name, compact name or DN."},
        "production": {"type": "boolean", "description": "Caller has (true) or lacks (false) the production role."},
        "panda_id": {**_SCALAR_OR_LIST, "description": "PandaID(s) in job_id, job_ids, job_list, ..."},
        "task_id": {**_SCALAR_OR_LIST, "description": "jediTaskID(s) in task_id, jedi_task_id, ..."},
        "site": {**_SCALAR_OR_LIST, "description": "Queue/site name glob(s) in site_name, site, panda_queue, ..."},
        "harvester_id": {**_SCALAR_OR_LIST, "description": "Harvester instance id glob(s)."},
        "worker_id": {**_SCALAR_OR_LIST, "description": "Harvester worker id(s) in worker_id, workers, ..."},
        "params": {
            "type": "object",
            "description": "Any decoded request parameter: name -> value (or list of values, globs allowed).",
            "additionalProperties": {"type": ["string", "integer", "number", "boolean", "array"], "items": _SCALARS},
        },
        # -- gates ------------------------------------------------------------------
        "probability": {"type": "number", "minimum": 0, "maximum": 1, "description": "Seeded chance of firing."},
        "first": {"type": "integer", "minimum": 1, "description": "Fire on the first N matches only."},
        "after": {"type": "integer", "minimum": 0, "description": "Fire only after the first N matches."},
        "every": {"type": "integer", "minimum": 1, "description": "Fire on every Nth match."},
        "max": {"type": "integer", "minimum": 1, "description": "Fire at most N times."},
        **WINDOW_PROPERTIES,
        # -- action -----------------------------------------------------------------
        "action": {"enum": list(ACTIONS), "description": "Default: 'error' with a status, 'delay' with a delay."},
        "status": {"enum": list(STATUSES), "description": "HTTP status of an 'error'."},
        "message": {"type": "string", "description": "403/500 body text, or the 'fail' envelope's message."},
        "reason": {"enum": list(REASONS), "description": "403 body preset (default forbidden)."},
        "retry_after": {"type": ["integer", "string"], "description": "Retry-After header of a 503."},
        "delay": {
            "type": ["number", "array"],
            "items": {"type": "number", "minimum": 0},
            "minimum": 0,
            "description": "Seconds (real time) before the answer, or [min, max] drawn from the rule's seeded RNG.",
        },
        "when": {"enum": ["before", "after"], "description": "Act before the call (default) or after it ran."},
        "bytes": {"type": "integer", "minimum": 0, "description": "truncate/malformed: keep this many bytes."},
        "fraction": {"type": "number", "minimum": 0, "maximum": 1, "description": "Or this fraction (0.5)."},
        "body": {"type": "string", "description": "malformed: the body to send instead."},
        "data": {"description": "fail: the envelope's data (default null)."},
        "continue": {"type": "boolean", "description": "After firing, let later rules fire too."},
        "disabled": {"type": "boolean", "description": "Keep the rule (and its counters) but never match."},
    },
}

PHASE_SCHEMA: dict = {
    "type": "object",
    "description": "A phase of a chaos schedule: rules active during one window of the emulator clock.",
    "additionalProperties": False,
    "required": ["rules"],
    "properties": {
        "phase": {"type": "string", "description": "Name of the phase (rule ids default to <phase>-<n>)."},
        "description": {"type": "string"},
        **WINDOW_PROPERTIES,
        "rules": {"type": "array", "items": {"type": "object"}},
    },
}

_WINDOW_KEYS = tuple(WINDOW_PROPERTIES)
_MATCH_VALUE_KEYS = tuple(VALUE_PARAMETERS)
_ACTION_FIELDS = {
    "status": ("error",),
    "reason": ("error",),
    "retry_after": ("error",),
    "message": ("error", "fail"),
    "data": ("fail",),
    "bytes": ("truncate", "malformed"),
    "fraction": ("truncate", "malformed"),
    "body": ("malformed",),
}


class RuleError(ValueError):
    """An invalid fault rule; ``problems`` name each one with its path."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


class UnknownRule(KeyError):
    """No rule has that id."""

    def __str__(self) -> str:
        return str(self.args[0])


class ConnectionDropped(ConnectionResetError):
    """Raised by the pipeline to drop the connection without an answer.

    It is a ``ConnectionResetError`` (ECONNRESET), which cheroot treats as a client that went
    away: it closes the socket without writing anything; :mod:`pandamock.server` additionally
    makes the close an abortive reset.
    """

    def __init__(self, message: str = "pandamock fault: connection dropped", abort: bool = True) -> None:
        super().__init__(errno.ECONNRESET, message)
        #: Reset (RST) rather than close (FIN) the connection; a truncated body is closed, so
        #: the client reads what was sent and then sees the connection end early.
        self.abort = abort


@dataclass
class FaultResponse:
    """What a fired fault answers instead of (or after) the real call."""

    status: str
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=lambda: list(TEXT_PLAIN))
    rule_id: Any = None
    drop: bool = False
    #: Send the full Content-Length but only this many body bytes, then drop the connection.
    truncate_at: int | None = None
    #: ``success`` of the envelope sent (``fail``), for the journal.
    success: Any = None
    message: str | None = None

    @property
    def code(self) -> int:
        return 0 if self.drop else int(self.status.split()[0])


# --- parsing helpers -------------------------------------------------------------------------
def parse_duration(value: Any) -> float:
    """Seconds of ``60``, ``'90s'``, ``'2m'``, ``'1h30m'``, ``'500ms'``; raises ValueError."""
    if isinstance(value, bool):
        raise ValueError(f"expected seconds or a duration such as '90s', '2m', '1h30m', got {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip().replace(" ", "")
    try:
        return float(text)
    except ValueError:
        pass
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts).lower() != text.lower():
        raise ValueError(f"expected seconds or a duration such as '90s', '2m', '1h30m', got {value!r}")
    return sum(float(number) * _UNITS[unit.lower()] for number, unit in parts)


def _parse_moment(value: Any) -> tuple[str, float]:
    """('relative', seconds) or ('absolute', epoch) of a window bound; raises ValueError."""
    try:
        return "relative", parse_duration(value)
    except ValueError:
        pass
    if isinstance(value, str):
        from .engine.clock import parse_time, to_epoch

        try:
            return "absolute", to_epoch(parse_time(value))
        except ValueError:
            pass
    raise ValueError(
        f"expected seconds after installation (60, '90s', '2m'), or an ISO time such as "
        f"'2026-11-29T12:00:00', got {value!r}"
    )


def glob_problem(pattern: Any) -> str | None:
    """Why an endpoint glob is malformed, or None."""
    if not isinstance(pattern, str) or not pattern:
        return f"expected a glob over module/function such as 'pilot/*', got {pattern!r}"
    if pattern == "*":
        return None
    if not _ENDPOINT_GLOB.match(pattern):
        if "/" not in pattern and re.match(r"^[A-Za-z0-9_*?\[\]!-]+$", pattern):
            return f"expected a glob over module/function such as '{pattern}/*', got {pattern!r}"
        return (
            f"malformed glob {pattern!r}: use module/function with letters, digits, '_', '-' and the "
            "wildcards *, ?, [...]"
        )
    depth = 0
    for i, char in enumerate(pattern):
        if char == "[":
            if depth:
                return f"malformed glob {pattern!r}: '[' inside a [...] set"
            depth = 1
            if pattern[i + 1 : i + 2] == "]" or pattern[i + 1 : i + 3] == "!]":
                return f"malformed glob {pattern!r}: empty [...] set"
        elif char == "]":
            if not depth:
                return f"malformed glob {pattern!r}: ']' without '['"
            depth = 0
        elif char == "/" and depth:
            return f"malformed glob {pattern!r}: '/' inside a [...] set"
    if depth:
        return f"malformed glob {pattern!r}: unclosed '['"
    return None


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


class _ValueMatcher:
    """One or more wanted values: exact (compared as strings) or globs."""

    __slots__ = ("exact", "patterns")

    def __init__(self, wanted: Iterable[Any]) -> None:
        self.exact: set[str] = set()
        self.patterns: list[re.Pattern] = []
        for value in wanted:
            text = _text(value)
            if isinstance(value, str) and _GLOB_CHARS.search(value):
                self.patterns.append(re.compile(fnmatch.translate(value)))
            else:
                self.exact.add(text)

    def __call__(self, values: Iterable[Any]) -> bool:
        return self.texts([_text(value) for value in values])

    def texts(self, texts: list[str]) -> bool:
        """Whether any of these values (already as text) is wanted."""
        if not self.exact.isdisjoint(texts):
            return True
        return bool(self.patterns) and any(pattern.match(text) for pattern in self.patterns for text in texts)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def request_values(params: Mapping[str, Any], kind: str) -> list[Any]:
    """Every value of one kind (``panda_id``, ``task_id``, ``site``, ...) carried by the parameters."""
    names = VALUE_PARAMETERS[kind]
    found: list[Any] = []
    for name in names:
        if name in params:
            found.extend(_scalars(params[name]))
    for container in RECORD_LISTS:
        records = params.get(container)
        if isinstance(records, dict):
            records = [records]
        if isinstance(records, list):
            for record in records:
                if isinstance(record, dict):
                    for name in names:
                        if name in record:
                            found.extend(_scalars(record[name]))
    return found


def _scalars(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple, set)):
        return [item for item in value if not isinstance(item, (dict, list))]
    if isinstance(value, dict):
        return []
    return [value]


# --- validation --------------------------------------------------------------------------------
def _schema_problems(data: Any, schema: Mapping, path: str) -> list[str]:
    from .scenario import validate

    return validate(data, schema, path)


def _at(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def rule_problems(definition: Any, path: str = "", *, in_phase: bool = False) -> list[str]:
    """Every problem of one rule definition, each with its path (empty list: valid)."""
    where = path or "rule"
    if not isinstance(definition, dict):
        return [f"{where}: expected a mapping, got {definition!r}"]
    problems = _schema_problems(definition, RULE_SCHEMA, path)
    if problems:
        return problems
    rule_id = definition.get("id")
    if rule_id is not None and not _RULE_ID.match(rule_id):
        problems.append(f"{_at(path, 'id')}: use 1-100 letters, digits, '_', '-', '.', ':', got {rule_id!r}")
    for i, pattern in enumerate(_as_list(definition.get("endpoint"))):
        problem = glob_problem(pattern)
        if problem:
            suffix = f"[{i}]" if isinstance(definition.get("endpoint"), list) else ""
            problems.append(f"{_at(path, 'endpoint')}{suffix}: {problem}")
    for method in _as_list(definition.get("method")):
        if method.upper() not in METHODS:
            problems.append(f"{_at(path, 'method')}: expected one of {', '.join(METHODS)}, got {method!r}")
    for key in ("panda_id", "task_id", "worker_id", "site", "harvester_id", "endpoint", "method", "identity"):
        if isinstance(definition.get(key), list) and not definition[key]:
            problems.append(f"{_at(path, key)}: an empty list matches nothing; leave the key out instead")
    action = definition.get("action")
    if action is None:
        if "status" in definition:
            action = "error"
        elif "delay" in definition:
            action = "delay"
        else:
            problems.append(f"{where}: missing 'action' (one of {', '.join(ACTIONS)}) or 'status'")
            return problems
    for key, actions in _ACTION_FIELDS.items():
        if key in definition and action not in actions:
            problems.append(f"{_at(path, key)}: only for action {' or '.join(repr(a) for a in actions)}")
    status = definition.get("status")
    if action == "error":
        if status is None:
            problems.append(f"{_at(path, 'status')}: an 'error' needs a status: one of 403, 500, 503")
        if "reason" in definition and status != 403:
            problems.append(f"{_at(path, 'reason')}: only for status 403")
        if "retry_after" in definition and status != 503:
            problems.append(f"{_at(path, 'retry_after')}: only for status 503")
        if status == 503 and "message" in definition:
            problems.append(f"{_at(path, 'message')}: a 503 is Apache's page, it has no message")
        if definition.get("reason") in ("forbidden", "banned") and "message" in definition:
            problems.append(f"{_at(path, 'message')}: the {definition['reason']!r} 403 body has no message")
    retry_after = definition.get("retry_after")
    if isinstance(retry_after, int) and retry_after < 0:
        problems.append(f"{_at(path, 'retry_after')}: must be at least 0, got {retry_after}")
    if action == "delay" and "delay" not in definition:
        problems.append(f"{_at(path, 'delay')}: a 'delay' action needs a delay in seconds or [min, max]")
    delay = definition.get("delay")
    if isinstance(delay, list) and (len(delay) != 2 or delay[0] > delay[1]):
        problems.append(f"{_at(path, 'delay')}: expected [min, max] with min <= max, got {delay!r}")
    if "bytes" in definition and "fraction" in definition:
        problems.append(f"{_at(path, 'fraction')}: give bytes or fraction, not both")
    when = definition.get("when")
    if action == "truncate" and when == "before":
        problems.append(f"{_at(path, 'when')}: truncate cuts the real answer, so it acts after the call")
    if action == "malformed" and when == "before" and "body" not in definition:
        problems.append(f"{_at(path, 'when')}: a malformed answer before the call needs a 'body'")
    if in_phase:
        for key in _WINDOW_KEYS:
            if key in definition:
                problems.append(f"{_at(path, key)}: a rule inside a phase takes the phase's window")
    problems.extend(window_problems(definition, path))
    return problems


def window_problems(definition: Mapping, path: str) -> list[str]:
    """Problems of the window keys (from, until, for, period)."""
    problems = []
    parsed: dict[str, tuple[str, float]] = {}
    for key in _WINDOW_KEYS:
        if key in definition:
            try:
                if key in ("for", "period"):
                    parsed[key] = ("relative", parse_duration(definition[key]))
                else:
                    parsed[key] = _parse_moment(definition[key])
            except ValueError as exc:
                problems.append(f"{_at(path, key)}: {exc}")
                continue
            if parsed[key][0] == "relative" and parsed[key][1] < 0:
                problems.append(f"{_at(path, key)}: must not be negative, got {definition[key]!r}")
    if problems:
        return problems
    if "period" in parsed:
        if "for" not in parsed:
            problems.append(f"{_at(path, 'period')}: a period needs 'for' (how long each slice is active)")
        elif parsed["for"][1] >= parsed["period"][1]:
            problems.append(f"{_at(path, 'for')}: must be shorter than the period")
    elif "for" in parsed and "until" in parsed:
        problems.append(f"{_at(path, 'until')}: give until or for, not both")
    if "for" in parsed and parsed["for"][1] <= 0:
        problems.append(f"{_at(path, 'for')}: must be more than 0")
    if "from" in parsed and "until" in parsed and parsed["from"][0] == parsed["until"][0]:
        if parsed["until"][1] <= parsed["from"][1]:
            problems.append(f"{_at(path, 'until')}: must be after 'from'")
    return problems


#: Python-friendly spellings of rule keys that are keywords (``add_fault(from_=60, for_="2m")``).
KEYWORD_ALIASES = {"from_": "from", "for_": "for", "continue_": "continue", "max_": "max"}


def normalise_fields(rule: Any, fields: Mapping[str, Any], keep_none: bool = False) -> dict[str, Any]:
    """A rule definition from a mapping and/or keyword fields (``from_`` → ``from``, ...)."""
    if rule is not None and not isinstance(rule, Mapping):
        raise RuleError([f"rule: expected a mapping of rule fields, got {rule!r}"])
    definition = {KEYWORD_ALIASES.get(key, key): value for key, value in dict(rule or {}).items()}
    for key, value in fields.items():
        definition[KEYWORD_ALIASES.get(key, key)] = value
    if not keep_none:
        definition = {key: value for key, value in definition.items() if value is not None}
    return definition


def is_phase(item: Any) -> bool:
    return isinstance(item, dict) and ("phase" in item or "rules" in item)


def faults_problems(items: Any, path: str = "faults") -> list[str]:
    """Problems of a scenario's ``faults`` list (rules and chaos-schedule phases)."""
    if not isinstance(items, list):
        return [f"{path}: expected a list, got {items!r}"]
    problems: list[str] = []
    for i, item in enumerate(items):
        where = f"{path}[{i}]"
        if is_phase(item):
            phase_problems = _schema_problems(item, PHASE_SCHEMA, where)
            if not phase_problems:
                phase_problems = window_problems(item, where)
                for j, rule in enumerate(item["rules"]):
                    phase_problems.extend(rule_problems(rule, f"{where}.rules[{j}]", in_phase=True))
            problems.extend(phase_problems)
        else:
            problems.extend(rule_problems(item, where))
    if not problems:
        seen: dict[str, str] = {}
        for where, definition in _flatten(items, path):
            rule_id = definition["id"]
            if rule_id in seen:
                problems.append(f"{where}.id: {rule_id!r} is used already by {seen[rule_id]}")
            seen.setdefault(rule_id, where)
    return problems


def _flatten(items: list, path: str = "faults") -> list[tuple[str, dict]]:
    """(path, rule definition with its id and window) of every rule of a faults list."""
    flat = []
    for i, item in enumerate(items):
        if is_phase(item):
            window = {key: item[key] for key in _WINDOW_KEYS if key in item}
            name = item.get("phase") or f"phase-{i + 1}"
            for j, rule in enumerate(item["rules"]):
                definition = {"id": f"{name}-{j + 1}", **rule, **window}
                if "description" not in definition and item.get("description"):
                    definition["description"] = item["description"]
                flat.append((f"{path}[{i}].rules[{j}]", definition))
        else:
            flat.append((f"{path}[{i}]", {"id": f"fault-{i + 1}", **item}))
    return flat


def expand(items: list) -> list[dict]:
    """The rule definitions of a scenario's ``faults`` list, phases flattened (ids assigned)."""
    return [definition for _, definition in _flatten(items)]


# --- compiled rules ------------------------------------------------------------------------------
class Rule:
    """A validated rule with its matchers, gates, counters and random generator."""

    def __init__(self, definition: Mapping[str, Any], anchor: float, seed: int, source: str = "control") -> None:
        problems = rule_problems(dict(definition))
        if problems:
            raise RuleError(problems)
        self.definition = dict(definition)
        self.id: str = self.definition["id"]
        self.source = source
        self.anchor = anchor
        d = self.definition
        self.endpoints = [re.compile(fnmatch.translate(p)) for p in _as_list(d.get("endpoint", "*"))]
        self.methods = {m.upper() for m in _as_list(d.get("method"))} or None
        self.identities = _ValueMatcher(_as_list(d.get("identity"))) if "identity" in d else None
        self.production: bool | None = d.get("production")
        self.values = {key: _ValueMatcher(_as_list(d[key])) for key in _MATCH_VALUE_KEYS if key in d}
        self.params = {name: _ValueMatcher(_as_list(value)) for name, value in (d.get("params") or {}).items()}
        self.needs_identity = self.identities is not None or self.production is not None or d.get("reason") == "banned"
        self.needs_params = bool(self.values or self.params)
        self.probability = float(d.get("probability", 1.0))
        self.first = d.get("first")
        self.after = d.get("after")
        self.every = d.get("every")
        self.max = d.get("max")
        self.action = d.get("action") or ("error" if "status" in d else "delay")
        self.when = d.get("when") or (
            "after" if self.action in ("truncate", "malformed") and "body" not in d else "before"
        )
        self.continues = bool(d.get("continue", False))
        self.disabled = bool(d.get("disabled", False))
        self.start, self.end, self.slice, self.period = self._window()
        self.matched = 0
        self.fired = 0
        self.removed = False
        self.rng = random.Random(f"{seed}/{self.id}")

    def _window(self) -> tuple[float | None, float | None, float | None, float | None]:
        d = self.definition

        def moment(key: str) -> float | None:
            if key not in d:
                return None
            kind, value = _parse_moment(d[key])
            return self.anchor + value if kind == "relative" else value

        start = moment("from")
        until = moment("until")
        length = parse_duration(d["for"]) if "for" in d else None
        period = parse_duration(d["period"]) if "period" in d else None
        if period is not None:
            return (start if start is not None else self.anchor), until, length, period
        begin = start if start is not None else self.anchor
        end = until if until is not None else (begin + length if length else None)
        if end is not None and end <= begin and self.source != "scenario":
            window = f"{d.get('from', 'now')!r} .. {d.get('until')!r}"
            raise RuleError([f"until: must be after 'from' (the window {window} is empty)"])
        return start, end, None, None

    # -- matching ------------------------------------------------------------------------------
    def matches_endpoint(self, key: str, method: str) -> bool:
        if self.methods is not None and method not in self.methods:
            return False
        return any(pattern.match(key) for pattern in self.endpoints)

    def in_window(self, now: float) -> bool:
        if self.start is not None and now < self.start:
            return False
        if self.end is not None and now >= self.end:
            return False
        if self.period is not None:
            return (now - self.start) % self.period < self.slice
        return True

    def matches(self, call: Any, found: dict[str, list] | None = None, params: Any = _NO_PARAMS) -> bool:
        """Identity and value criteria (the endpoint, method and window are checked before).

        ``found``: the request values already extracted for this call, by kind (filled here);
        ``params``: the decoded parameters when the caller has them (None: they do not decode).
        """
        if self.identities is not None or self.production is not None:
            identity = call.resolve_identity()
            if identity is None:
                return False
            if self.production is not None and bool(identity.production) != self.production:
                return False
            if self.identities is not None:
                names = [identity.compact_name, identity.dn, identity.raw_dn]
                if identity.user:
                    names.append(identity.user.get("name"))
                if not self.identities(name for name in names if name):
                    return False
        if self.needs_params:
            if params is _NO_PARAMS:
                params = call.decoded_params()
            if params is None:
                return False
            found = {} if found is None else found
            for kind, matcher in self.values.items():
                if not matcher.texts(_value_texts(params, kind, found)):
                    return False
            for name, matcher in self.params.items():
                if name not in params or not matcher(_scalars(params[name])):
                    return False
        return True

    def gate(self) -> bool:
        """Count a match and decide whether the rule fires (counters updated)."""
        self.matched += 1
        n = self.matched
        if self.max is not None and self.fired >= self.max:
            return False
        if self.first is not None and n > self.first:
            return False
        if self.after is not None and n <= self.after:
            return False
        if self.every is not None and n % self.every:
            return False
        if self.probability < 1.0 and self.rng.random() >= self.probability:
            return False
        self.fired += 1
        return True

    def delay_seconds(self) -> float:
        delay = self.definition.get("delay")
        if delay is None:
            return 0.0
        if isinstance(delay, list):
            return self.rng.uniform(float(delay[0]), float(delay[1]))
        return float(delay)

    # -- describing ----------------------------------------------------------------------------
    def state(self, now: float) -> str:
        if self.disabled:
            return "disabled"
        if self.max is not None and self.fired >= self.max:
            return "exhausted"
        if self.first is not None and self.matched >= self.first:
            return "exhausted"
        if self.start is not None and now < self.start:
            return "waiting"
        if self.end is not None and now >= self.end:
            return "expired"
        if self.period is not None and not self.in_window(now):
            return "resting"
        return "active"

    def describe(self, now: float) -> dict[str, Any]:
        """The definition plus what the emulator made of it (counters, state, window)."""
        from .engine.clock import from_epoch

        def iso(value: float | None) -> str | None:
            return from_epoch(value).isoformat() if value is not None else None

        return {
            **self.definition,
            "action": self.action,
            "when": self.when,
            "source": self.source,
            "state": self.state(now),
            "window": {"from": iso(self.start), "until": iso(self.end)},
            "matched": self.matched,
            "fired": self.fired,
        }


# --- the engine -------------------------------------------------------------------------------------
def _value_texts(params: Mapping[str, Any], kind: str, found: dict[str, list]) -> list[str]:
    texts = found.get(kind)
    if texts is None:
        texts = found[kind] = [_text(value) for value in request_values(params, kind)]
    return texts


class _Candidates:
    """The rules of one endpoint and method, with an index of the rules that want exact request
    values (``panda_id: 42``), so that such rules cost nothing for the other requests."""

    __slots__ = ("rules", "always", "index")

    def __init__(self, rules: tuple[Rule, ...]) -> None:
        self.rules = rules
        self.always: list[int] = []
        self.index: dict[str, dict[str, list[int]]] = {}
        for position, rule in enumerate(rules):
            kind = next((k for k, m in rule.values.items() if m.exact and not m.patterns), None)
            if kind is None:
                self.always.append(position)
                continue
            by_text = self.index.setdefault(kind, {})
            for text in rule.values[kind].exact:
                by_text.setdefault(text, []).append(position)

    def select(self, call: Any, found: dict[str, list]) -> list[Rule]:
        """The rules, in order, that may match this call."""
        if not self.index:
            return list(self.rules)
        positions = set(self.always)
        params = call.decoded_params()
        if params is not None:
            for kind, by_text in self.index.items():
                for text in _value_texts(params, kind, found):
                    positions.update(by_text.get(text, ()))
        return [self.rules[position] for position in sorted(positions)]


class FaultPlan:
    """The rules that fired for one request, split by when they act."""

    __slots__ = ("before", "after", "ids")

    def __init__(self) -> None:
        self.before: list[Rule] = []
        self.after: list[Rule] = []
        self.ids: list[str] = []


class FaultEngine:
    """The active fault rules of an emulator, in order; thread-safe."""

    def __init__(
        self,
        clock: Any = None,
        seed: int = 0,
        sleep: Callable[[float], Any] | None = None,
    ) -> None:
        self.clock = clock
        self.seed = seed
        self.rules: list[Rule] = []
        self._scenario_definitions: list[dict] = []
        self._lock = threading.RLock()
        self._candidates: dict[tuple[str, str], tuple[Rule, ...]] = {}
        self._counter = 0
        self._wake = threading.Event()
        self.sleeper = sleep

    # -- time --------------------------------------------------------------------------------------
    def now(self) -> float:
        return self.clock.time() if self.clock is not None else time.time()

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of real time; :meth:`clear` and :meth:`reset` end every wait early."""
        if seconds <= 0:
            return
        if self.sleeper is not None:
            self.sleeper(seconds)
        else:
            self._wake.wait(seconds)

    def _wake_sleepers(self) -> None:
        self._wake.set()
        self._wake = threading.Event()

    # -- managing rules ---------------------------------------------------------------------------
    def load(self, items: list, seed: int | None = None) -> None:
        """Install a scenario's ``faults`` (rules and phases), anchored at the current clock time."""
        problems = faults_problems(items or [])
        if problems:
            raise RuleError(problems)
        with self._lock:
            if seed is not None:
                self.seed = seed
            self._scenario_definitions = expand(items or [])
            self._install_scenario_rules()

    def reset(self) -> None:
        """Back to the scenario's rules: re-anchored now, counters and random generators fresh."""
        with self._lock:
            self._install_scenario_rules()

    def _install_scenario_rules(self) -> None:
        anchor = self.now()
        old = self.rules
        self.rules = [Rule(d, anchor, self.seed, source="scenario") for d in self._scenario_definitions]
        self._counter = 0
        self._changed(old)
        self._wake_sleepers()

    def add(self, definition: Mapping[str, Any], position: int | None = None) -> Rule:
        """Install one rule (``position``: index in the order, default last); raises RuleError."""
        definition = dict(definition)
        with self._lock:
            if "id" not in definition:
                definition["id"] = self._next_id()
            elif any(rule.id == definition["id"] for rule in self.rules):
                raise RuleError([f"id: a rule {definition['id']!r} exists already (update or delete it)"])
            rule = Rule(definition, self.now(), self.seed)
            if position is None:
                self.rules.append(rule)
            else:
                self.rules.insert(max(0, position), rule)
            self._changed()
            return rule

    def _next_id(self) -> str:
        taken = {rule.id for rule in self.rules}
        while True:
            self._counter += 1
            candidate = f"rule-{self._counter}"
            if candidate not in taken:
                return candidate

    def get(self, rule_id: str) -> Rule:
        with self._lock:
            for rule in self.rules:
                if rule.id == rule_id:
                    return rule
        known = [rule.id for rule in self.rules]
        hint = difflib.get_close_matches(str(rule_id), known, n=1)
        suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise UnknownRule(f"no fault rule {rule_id!r}{suggestion}; rules: {', '.join(known) or 'none'}")

    def update(self, rule_id: str, changes: Mapping[str, Any]) -> Rule:
        """Change fields of a rule (a ``None`` value removes the field); counters are kept."""
        with self._lock:
            old = self.get(rule_id)
            if "id" in changes and changes["id"] != rule_id:
                raise RuleError(["id: the id of a rule cannot change (delete it and add a new one)"])
            definition = {**old.definition, **changes}
            definition = {key: value for key, value in definition.items() if value is not None}
            rule = Rule(definition, old.anchor, self.seed, source=old.source)
            rule.matched, rule.fired, rule.rng = old.matched, old.fired, old.rng
            self.rules[self.rules.index(old)] = rule
            self._changed([old])
            return rule

    def delete(self, rule_id: str) -> Rule:
        with self._lock:
            rule = self.get(rule_id)
            self.rules.remove(rule)
            self._changed([rule])
            self._wake_sleepers()
            return rule

    def clear(self) -> int:
        """Remove every rule (the scenario's too, until the next reset); returns how many."""
        with self._lock:
            count = len(self.rules)
            old, self.rules = self.rules, []
            self._changed(old)
            self._wake_sleepers()
            return count

    def describe(self) -> list[dict[str, Any]]:
        now = self.now()
        with self._lock:
            return [rule.describe(now) for rule in self.rules]

    def _changed(self, removed: Iterable[Rule] = ()) -> None:
        for rule in removed:
            rule.removed = True
        self._candidates = {}

    def candidates(self, key: str, method: str) -> _Candidates:
        """The rules whose endpoint and method match (cached until the rules change)."""
        cache = self._candidates
        found = cache.get((key, method))
        if found is None:
            with self._lock:
                found = _Candidates(
                    tuple(rule for rule in self.rules if not rule.disabled and rule.matches_endpoint(key, method))
                )
                if cache is self._candidates and len(cache) < 4096:  # methods come from clients
                    cache[(key, method)] = found
        return found

    def __len__(self) -> int:
        return len(self.rules)

    # -- the pipeline's hooks -----------------------------------------------------------------------
    def before_call(self, call: Any) -> FaultResponse | None:
        """Decide which rules fire for ``call``; answer now for a firing rule acting before the call."""
        if not self.rules:
            return None
        candidates = self.candidates(call.spec.key, call.environ.get("REQUEST_METHOD", ""))
        if not candidates.rules:
            return None
        found: dict[str, list] = {}
        now = self.now()
        live = [rule for rule in candidates.select(call, found) if rule.in_window(now)]
        if not live:
            return None
        # resolve lazily, outside the lock (no state is touched; the pipeline reuses the results)
        if any(rule.needs_identity for rule in live):
            call.resolve_identity()
        params = call.decoded_params() if any(rule.needs_params for rule in live) else None
        plan = FaultPlan()
        with self._lock:
            for rule in live:
                if rule.removed or not rule.matches(call, found, params) or not rule.gate():
                    continue
                plan.ids.append(rule.id)
                if rule.when == "after":
                    plan.after.append(rule)
                else:
                    plan.before.append(rule)
                    if rule.action != "delay":
                        break  # the call will not happen: later rules are moot
                if not rule.continues:
                    break
        if not plan.ids:
            return None
        call.fault_plan = plan
        call.entry["fault"] = plan.ids
        for rule in plan.before:
            self.sleep(rule.delay_seconds())
            if rule.action != "delay":
                return self._respond(rule, call, None)
        return None

    def after_call(self, call: Any) -> FaultResponse | None:
        """Replace the answer of a call that ran, for a firing rule acting after it."""
        plan = getattr(call, "fault_plan", None)
        if plan is None or not plan.after:
            return None
        for rule in plan.after:
            self.sleep(rule.delay_seconds())
            if rule.action != "delay":
                return self._respond(rule, call, call.response)
        return None

    # -- answers -------------------------------------------------------------------------------------
    def _respond(self, rule: Rule, call: Any, real: tuple[int, bytes, list] | None) -> FaultResponse:
        d = rule.definition
        action = rule.action
        if action == "drop":
            return FaultResponse("000 Dropped", b"", [], rule_id=rule.id, drop=True)
        if action == "error":
            status = d["status"]
            if status == 503:
                headers = list(APACHE_HTML)
                if "retry_after" in d:
                    headers.append(("Retry-After", str(d["retry_after"])))
                return FaultResponse(STATUS_LINES[503], APACHE_503, headers, rule_id=rule.id)
            body = self._error_text(rule, call, status)
            return FaultResponse(STATUS_LINES[status], body.encode(), list(TEXT_PLAIN), rule_id=rule.id)
        if action == "fail":
            from .api import envelope as env
            from .api.params import wants_json

            message = d.get("message", DEFAULT_FAIL_MESSAGE)
            body = env.encode(env.envelope(False, message, d.get("data")), wants_json(call.environ))
            return FaultResponse(
                STATUS_LINES[200], body, list(TEXT_PLAIN), rule_id=rule.id, success=False, message=message
            )
        # truncate / malformed: act on the real answer
        if real is None:  # malformed before the call: its body is given
            return FaultResponse(STATUS_LINES[200], d["body"].encode(), list(TEXT_PLAIN), rule_id=rule.id)
        status, body, headers = real
        headers = headers or TEXT_PLAIN
        status_line = STATUS_LINES.get(status, f"{status} Error")
        if "body" in d:
            cut_body = d["body"].encode()
        elif "bytes" in d:
            cut_body = body[: d["bytes"]]
        else:
            cut_body = body[: int(len(body) * float(d.get("fraction", 0.5)))]
        if action == "truncate":
            return FaultResponse(status_line, body, list(headers), rule_id=rule.id, truncate_at=len(cut_body))
        return FaultResponse(status_line, cut_body, list(headers), rule_id=rule.id)

    def _error_text(self, rule: Rule, call: Any, status: int) -> str:
        d = rule.definition
        if status == 500:
            message = d.get("message", DEFAULT_500_MESSAGE)
            return message if message.startswith("ERROR") else f"ERROR : {message}"
        reason = d.get("reason")
        if reason is None and "message" in d:
            message = d["message"]
            return message if message.startswith("ERROR") else f"ERROR : {message}"
        if reason == "banned":
            identity = call.resolve_identity()
            if identity is not None and identity.compact_name:
                return f"ERROR : {identity.compact_name} is banned"
        if reason == "token":
            return f"ERROR : Token authentication failed. {d.get('message', DEFAULT_TOKEN_REASON)}"
        return f"ERROR : method {call.spec.name} is forbidden"
