"""The emulator's clock: real time, frozen, advanced by hand, or scaled.

Every timestamp the engine writes and every delay it waits for (the adder finishing a job,
JEDI applying a task command) is read from one :class:`Clock`, so tests advance the clock
instead of sleeping and drills can run a day of PanDA in minutes.

Emulated time is ``base + (real_now - real_base) * speed`` while running, and ``base`` while
frozen. Times are naive UTC datetimes, as PanDA stores them.
"""

from __future__ import annotations

import datetime as _dt
import threading
import time
from collections.abc import Callable

EPOCH = _dt.datetime(1970, 1, 1)


def to_epoch(moment: _dt.datetime) -> float:
    """Seconds since the epoch of a naive UTC datetime."""
    return (moment - EPOCH).total_seconds()


def from_epoch(seconds: float) -> _dt.datetime:
    """Naive UTC datetime of an epoch time."""
    return EPOCH + _dt.timedelta(seconds=seconds)


def parse_time(value: str | _dt.datetime | float | int) -> _dt.datetime:
    """Read an ISO time (``2026-11-29T12:00:00``, ``Z`` suffix allowed) or epoch seconds as naive UTC."""
    if isinstance(value, _dt.datetime):
        moment = value
    elif isinstance(value, (int, float)):
        return from_epoch(float(value))
    else:
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        moment = _dt.datetime.fromisoformat(text)
    if moment.tzinfo is not None:
        moment = moment.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    return moment


class Clock:
    """An injectable clock. Thread-safe; cheap to read."""

    def __init__(
        self,
        start: _dt.datetime | str | float | None = None,
        speed: float = 1.0,
        frozen: bool = False,
        time_source: Callable[[], float] = time.time,
    ) -> None:
        self._time_source = time_source
        self._lock = threading.Lock()
        real_now = time_source()
        self._real_base = real_now
        self._base = to_epoch(parse_time(start)) if start is not None else real_now
        self._speed = float(speed)
        self._frozen = bool(frozen)
        if self._speed < 0:
            raise ValueError("clock speed must not be negative")
        #: called (without arguments) after every change of the clock's course (persistence)
        self.listeners: list[Callable[[], None]] = []

    # -- reading ---------------------------------------------------------------------------
    def time(self) -> float:
        """Emulated epoch seconds."""
        if self._frozen:
            return self._base
        return self._base + (self._time_source() - self._real_base) * self._speed

    def now(self) -> _dt.datetime:
        """Emulated time as a naive UTC datetime (microseconds kept)."""
        return from_epoch(self.time())

    @property
    def frozen(self) -> bool:
        return self._frozen

    @property
    def speed(self) -> float:
        return self._speed

    def describe(self) -> dict:
        """The clock's state as plain data (for the control plane and state dumps)."""
        return {
            "now": self.now().isoformat(),
            "epoch": self.time(),
            "frozen": self._frozen,
            "speed": self._speed,
        }

    # -- steering --------------------------------------------------------------------------
    def _rebase(self) -> None:
        current = self.time()
        self._real_base = self._time_source()
        self._base = current

    def freeze(self) -> None:
        """Stop time where it is."""
        with self._lock:
            self._rebase()
            self._frozen = True
        self._changed()

    def unfreeze(self) -> None:
        """Let time run again from where it stands."""
        with self._lock:
            self._rebase()
            self._frozen = False
        self._changed()

    def advance(self, seconds: float) -> None:
        """Jump forward (never backward) by ``seconds``."""
        if seconds < 0:
            raise ValueError("the clock only moves forward; got a negative number of seconds")
        with self._lock:
            self._rebase()
            self._base += seconds
        self._changed()

    def set(self, moment: _dt.datetime | str | float) -> None:
        """Set the current emulated time."""
        with self._lock:
            self._real_base = self._time_source()
            self._base = to_epoch(parse_time(moment))
        self._changed()

    def set_speed(self, speed: float) -> None:
        """Run ``speed`` emulated seconds per real second (0 behaves like frozen)."""
        if speed < 0:
            raise ValueError("clock speed must not be negative")
        with self._lock:
            self._rebase()
            self._speed = float(speed)
        self._changed()

    def _changed(self) -> None:
        for listener in self.listeners:
            listener()
