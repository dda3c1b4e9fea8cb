"""The request journal: a bounded record of every request the emulator answered.

Each entry is a plain dict: ``seq``, ``time`` (emulator clock, ISO) and ``epoch``, ``method``,
``path``, ``endpoint`` (``module/function``, None for refused paths), ``identity`` (compact
name), ``params`` (secrets and tokens redacted), ``status`` (HTTP status the client saw; 0 for a
dropped connection), ``success`` and ``message`` (of the envelope), ``fault`` (ids of the fault
rules that fired), ``transitions`` (status changes the call caused), ``duration_ms`` and
``error`` (an unexpected exception).

The journal keeps the newest ``size`` entries (the oldest are dropped and counted), can copy
every entry to a JSON-lines file, answers queries and a per-endpoint summary, and offers the
assertion helpers tests use (:meth:`Journal.assert_called`, :meth:`Journal.assert_statuses`,
:meth:`Journal.assert_no_unexpected_failures`).
"""

from __future__ import annotations

import datetime as _dt
import fnmatch
import itertools
import json
import re
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from typing import IO, Any

#: Parameter (and header) names whose values never reach the journal (compared lower-case).
SECRET_PARAMETERS = frozenset(
    (
        "value",
        "token_key",
        "private_key_name",
        "password",
        "passwd",
        "passphrase",
        "secret",
        "secrets",
        "token",
        "tokens",
        "access_token",
        "refresh_token",
        "id_token",
        "authorization",
        "proxy",
        "cookie",
        "x-pandamock-control-token",
    )
)
#: Name fragments that mark a parameter as secret wherever they appear (``user_token``, ``api_secret``).
SECRET_FRAGMENTS = ("token", "secret", "password", "passwd", "authorization")
REDACTED = "<redacted>"
#: A JWT (three base64url segments, the first a JSON header) or a bearer credential, anywhere in a value.
_TOKEN_VALUE = re.compile(
    r"(?i)(bearer\s+\S+|eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*|-----BEGIN [A-Z ]*PRIVATE KEY-----)"
)


def _is_secret_name(name: Any) -> bool:
    if not isinstance(name, str):
        return False
    lowered = name.lower()
    return lowered in SECRET_PARAMETERS or any(fragment in lowered for fragment in SECRET_FRAGMENTS)


def _redact_value(value: Any, depth: int = 0) -> Any:
    if hasattr(value, "filename") and hasattr(value, "stream"):
        return f"<file {value.filename!r}>"
    if isinstance(value, str):
        return _TOKEN_VALUE.sub(REDACTED, value) if ("ey" in value or "earer" in value or "-----" in value) else value
    if depth > 8:
        return value
    if isinstance(value, Mapping):
        return {
            key: REDACTED if _is_secret_name(key) else _redact_value(item, depth + 1) for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [_redact_value(item, depth + 1) for item in value]
    return value


def redact(params: Mapping[str, Any]) -> dict[str, Any]:
    """A journal-safe copy of request parameters: secret names (``value``, ``token_key``,
    ``*token*``, ``*secret*``, ``Authorization``, ...) replaced at any depth, tokens and private
    keys inside strings replaced, uploads summarised."""
    return _redact_value(params)  # type: ignore[return-value]


def secret_values(params: Any, depth: int = 0) -> list[str]:
    """The values :func:`redact` hides (strings of 4+ characters), to scrub them from messages."""
    found: list[str] = []
    if depth > 8:
        return found
    if isinstance(params, Mapping):
        for key, value in params.items():
            if _is_secret_name(key):
                found.extend(_strings(value))
            else:
                found.extend(secret_values(value, depth + 1))
    elif isinstance(params, (list, tuple)):
        for item in params:
            found.extend(secret_values(item, depth + 1))
    elif isinstance(params, str):
        found.extend(match.group(0) for match in _TOKEN_VALUE.finditer(params))
    return found


def _strings(value: Any) -> list[str]:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool) and len(str(value)) >= 4:
        return [str(value)]
    if isinstance(value, Mapping):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, (list, tuple)):
        return [text for item in value for text in _strings(item)]
    return []


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret value (and any token) replaced."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return _redact_value(text)


def json_default(value: Any) -> Any:
    """JSON encoding of what entries may hold (datetimes as ``{"__datetime__": iso}``)."""
    if isinstance(value, _dt.datetime):
        return {"__datetime__": value.isoformat()}
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return repr(value)


def is_failure(entry: Mapping[str, Any]) -> bool:
    """An answer that is not HTTP 200 with ``success: true`` (raw answers count as success)."""
    return entry.get("status") != 200 or entry.get("success") is False or bool(entry.get("error"))


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return None
    rank = max(1, int(-(-fraction * len(sorted_values) // 1)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


class JournalAssertionError(AssertionError):
    """A journal assertion failed; the message shows the relevant journal lines."""


class Journal:
    """Bounded, thread-safe list of request entries (plain dicts), oldest dropped first."""

    def __init__(self, size: int = 10000, path: str | None = None) -> None:
        if size < 1:
            raise ValueError("the journal size must be at least 1")
        self.size = size
        self.path = path
        self._entries: deque[dict] = deque(maxlen=size)
        self._sequence = itertools.count(1)
        self._lock = threading.Lock()
        self.dropped = 0
        self._sink: IO[str] | None = open(path, "a", encoding="utf-8", buffering=1) if path else None  # noqa: SIM115

    # -- recording -----------------------------------------------------------------------------------
    def open(self, **fields: Any) -> dict:
        """Start an entry; it is recorded (visible) once :meth:`close` is called."""
        entry = {"seq": next(self._sequence)}
        entry.update(fields)
        return entry

    def close(self, entry: dict) -> None:
        line = json.dumps(entry, default=json_default) if self._sink is not None else None
        with self._lock:
            if len(self._entries) == self.size:
                self.dropped += 1
            self._entries.append(entry)
            if line is not None and self._sink is not None:
                self._sink.write(line + "\n")

    def entries(self) -> list[dict]:
        with self._lock:
            return list(self._entries)

    def extend(self, entries: Iterable[dict]) -> None:
        for entry in entries:
            self.close(entry)

    def clear(self) -> None:
        """Forget every entry (the file sink keeps what it has written)."""
        with self._lock:
            self._entries.clear()
            self.dropped = 0

    def shutdown(self) -> None:
        """Close the file sink."""
        with self._lock:
            if self._sink is not None:
                self._sink.close()
                self._sink = None

    def __len__(self) -> int:
        return len(self._entries)

    # -- queries -------------------------------------------------------------------------------------
    def query(
        self,
        endpoint: str | None = None,
        identity: str | None = None,
        status: int | Iterable[int] | None = None,
        success: bool | None = None,
        fault: str | bool | None = None,
        method: str | None = None,
        since: Any = None,
        until: Any = None,
        after_seq: int | None = None,
        failed: bool | None = None,
        limit: int | None = None,
    ) -> list[dict]:
        """Entries matching every given filter, oldest first.

        ``endpoint`` and ``identity``: globs; ``status``: one or several; ``fault``: a rule id
        (glob), ``True`` (any fault fired) or ``False`` (none); ``since``/``until``: emulator
        times (ISO or epoch seconds); ``after_seq``: entries after this sequence number;
        ``failed``: not HTTP 200 with success; ``limit``: the newest N of the matches.
        """
        from .engine.clock import parse_time, to_epoch

        statuses = None if status is None else ({int(status)} if isinstance(status, (int, str)) else set(status))
        since_epoch = to_epoch(parse_time(since)) if since is not None else None
        until_epoch = to_epoch(parse_time(until)) if until is not None else None
        endpoint_re = re.compile(fnmatch.translate(endpoint)) if endpoint else None
        identity_re = re.compile(fnmatch.translate(identity)) if identity else None
        fault_re = re.compile(fnmatch.translate(fault)) if isinstance(fault, str) else None
        selected = []
        for entry in self.entries():
            if after_seq is not None and entry["seq"] <= after_seq:
                continue
            if endpoint_re and not endpoint_re.match(entry.get("endpoint") or ""):
                continue
            if identity_re and not identity_re.match(entry.get("identity") or ""):
                continue
            if statuses is not None and entry.get("status") not in statuses:
                continue
            if success is not None and entry.get("success") is not success:
                continue
            if method and entry.get("method") != method.upper():
                continue
            fired = entry.get("fault") or []
            if fault is True and not fired or fault is False and fired:
                continue
            if fault_re and not any(fault_re.match(rule_id) for rule_id in fired):
                continue
            if failed is not None and is_failure(entry) is not failed:
                continue
            epoch = entry.get("epoch")
            if since_epoch is not None and (epoch is None or epoch < since_epoch):
                continue
            if until_epoch is not None and (epoch is None or epoch >= until_epoch):
                continue
            selected.append(entry)
        if limit is not None:
            selected = selected[-limit:] if limit > 0 else []
        return selected

    def summary(self) -> dict[str, Any]:
        """Per endpoint: requests, failures, faults fired, p50/p99 duration (of the kept entries)."""
        per: dict[str, dict[str, Any]] = {}
        durations: dict[str, list[float]] = {}
        entries = self.entries()
        for entry in entries:
            key = entry.get("endpoint") or "(refused)"
            row = per.setdefault(key, {"requests": 0, "failures": 0, "faults": 0, "statuses": {}})
            row["requests"] += 1
            row["failures"] += is_failure(entry)
            row["faults"] += len(entry.get("fault") or [])
            status = str(entry.get("status"))
            row["statuses"][status] = row["statuses"].get(status, 0) + 1
            if entry.get("duration_ms") is not None:
                durations.setdefault(key, []).append(entry["duration_ms"])
        for key, row in per.items():
            values = sorted(durations.get(key, []))
            row["p50_ms"] = percentile(values, 0.50)
            row["p99_ms"] = percentile(values, 0.99)
        return {
            "requests": len(entries),
            "failures": sum(row["failures"] for row in per.values()),
            "faults": sum(row["faults"] for row in per.values()),
            "dropped": self.dropped,
            "size": self.size,
            "endpoints": dict(sorted(per.items())),
        }

    def statuses(self, record_id: Any, table: str = "jobs", field: str | None = None) -> list[str]:
        """The statuses a record went through, from the transitions the journal saw."""
        wanted = str(record_id)
        seen: list[str] = []
        for entry in self.entries():
            for change in entry.get("transitions") or ():
                if change.get("table") == table and str(change.get("id")) == wanted:
                    if field is None or change.get("field") == field:
                        if not seen and change.get("from") is not None:
                            seen.append(change["from"])
                        seen.append(change["to"])
        return seen

    # -- assertions ------------------------------------------------------------------------------------
    def assert_called(self, endpoint: str, times: int | None = None, **filters: Any) -> list[dict]:
        """``endpoint`` (a glob) was called ``times`` times (at least once when None); returns the calls."""
        calls = self.query(endpoint=endpoint, **filters)
        if (times is None and calls) or (times is not None and len(calls) == times):
            return calls
        expected = "at least once" if times is None else f"{times} time{'s' if times != 1 else ''}"
        where = "".join(f", {key}={value!r}" for key, value in filters.items())
        raise JournalAssertionError(
            f"expected {endpoint}{where} to be called {expected}, it was called {len(calls)} "
            f"time{'s' if len(calls) != 1 else ''}\n" + self._context(calls or self.entries())
        )

    def assert_statuses(
        self, record_id: Any, expected: list[str], table: str = "jobs", field: str | None = None
    ) -> None:
        """Record ``record_id`` of ``table`` (a job by default) went through exactly ``expected``."""
        seen = self.statuses(record_id, table, field)
        if seen == list(expected):
            return
        wanted = str(record_id)
        related = [
            entry
            for entry in self.entries()
            if any(
                change.get("table") == table and str(change.get("id")) == wanted
                for change in entry.get("transitions") or ()
            )
        ]
        raise JournalAssertionError(
            f"{table} {record_id}: expected statuses {list(expected)}, the journal saw {seen}\n"
            + self._context(related or self.entries(), transitions_of=(table, wanted))
        )

    def assert_no_unexpected_failures(self, allow: Iterable[str] = (), allow_faults: bool = True) -> None:
        """No request failed, except on endpoints matching ``allow`` (globs) or because a fault fired."""
        patterns = [re.compile(fnmatch.translate(pattern)) for pattern in allow]
        failures = [
            entry
            for entry in self.entries()
            if is_failure(entry)
            and not (allow_faults and entry.get("fault"))
            and not any(pattern.match(entry.get("endpoint") or "") for pattern in patterns)
        ]
        if failures:
            raise JournalAssertionError(
                f"{len(failures)} request{'s' if len(failures) != 1 else ''} failed unexpectedly\n"
                + self._context(failures)
            )

    def _context(self, entries: list[dict], limit: int = 20, transitions_of: tuple[str, str] | None = None) -> str:
        shown = entries[-limit:]
        lines = [format_entry(entry, transitions_of) for entry in shown]
        if len(entries) > limit:
            lines.insert(0, f"  ... {len(entries) - limit} earlier entries not shown")
        if not lines:
            lines = ["  (the journal is empty)"]
        return "journal:\n" + "\n".join(lines)


def format_entry(entry: Mapping[str, Any], transitions_of: tuple[str, str] | None = None) -> str:
    """One readable line of a journal entry (what the assertion messages and ``journal tail`` show)."""
    status = entry.get("status")
    outcome = ""
    if entry.get("success") is not None:
        outcome = " success" if entry.get("success") is True else f" success={entry.get('success')}"
    message = entry.get("message") or entry.get("error") or ""
    if message:
        message = " " + json.dumps(str(message)[:120])
    fault = f" fault={','.join(entry['fault'])}" if entry.get("fault") else ""
    time_text = str(entry.get("time", ""))[11:23]
    identity = entry.get("identity") or "-"
    duration = entry.get("duration_ms")
    took = f" {duration:.1f}ms" if isinstance(duration, (int, float)) else ""
    line = (
        f"  #{entry.get('seq')} {time_text} {entry.get('method')} {entry.get('endpoint') or entry.get('path')} "
        f"{identity} -> {status if status else 'dropped'}{outcome}{message}{fault}{took}"
    )
    changes = entry.get("transitions") or ()
    if transitions_of is not None:
        table, wanted = transitions_of
        changes = [c for c in changes if c.get("table") == table and str(c.get("id")) == wanted]
    if changes:
        moves = ", ".join(f"{c.get('table')} {c.get('id')} {c.get('from')}->{c.get('to')}" for c in changes[:6])
        more = f" (+{len(changes) - 6})" if len(changes) > 6 else ""
        line += f"\n      transitions: {moves}{more}"
    return line
