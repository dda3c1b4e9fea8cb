"""The request journal: a bounded record of every request the emulator answered."""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Iterable
from typing import Any

#: Parameter names whose values never reach the journal.
SECRET_PARAMETERS = frozenset(("value", "token_key", "private_key_name", "password", "secret", "secrets"))
REDACTED = "<redacted>"


def redact(params: dict[str, Any]) -> dict[str, Any]:
    """A journal-safe copy of request parameters (secrets replaced, uploads summarised)."""
    safe: dict[str, Any] = {}
    for key, value in params.items():
        if key in SECRET_PARAMETERS:
            safe[key] = REDACTED
        elif hasattr(value, "filename") and hasattr(value, "stream"):
            safe[key] = f"<file {value.filename!r}>"
        else:
            safe[key] = value
    return safe


class Journal:
    """Bounded, thread-safe list of request entries (plain dicts), oldest dropped first."""

    def __init__(self, size: int = 10000) -> None:
        self.size = size
        self._entries: deque[dict] = deque(maxlen=size)
        self._sequence = itertools.count(1)
        self._lock = threading.Lock()
        self.dropped = 0

    def open(self, **fields: Any) -> dict:
        """Start an entry; it is recorded (visible) once :meth:`close` is called."""
        entry = {"seq": next(self._sequence)}
        entry.update(fields)
        return entry

    def close(self, entry: dict) -> None:
        with self._lock:
            if len(self._entries) == self.size:
                self.dropped += 1
            self._entries.append(entry)

    def entries(self) -> list[dict]:
        with self._lock:
            return list(self._entries)

    def extend(self, entries: Iterable[dict]) -> None:
        for entry in entries:
            self.close(entry)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.dropped = 0

    def __len__(self) -> int:
        return len(self._entries)
