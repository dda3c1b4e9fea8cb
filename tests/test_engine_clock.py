"""The injectable clock."""

from __future__ import annotations

import datetime as dt

import pytest

from pandamock.engine.clock import Clock, parse_time


class FakeTime:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_real_time_follows_the_source():
    source = FakeTime()
    clock = Clock(time_source=source)
    source.now += 5
    assert clock.time() == pytest.approx(1005.0)


def test_start_speed_freeze_advance():
    source = FakeTime(0.0)
    clock = Clock(start="2026-11-29T12:00:00Z", speed=60, time_source=source)
    source.now += 10
    assert clock.now() == dt.datetime(2026, 11, 29, 12, 10)
    clock.freeze()
    source.now += 100
    assert clock.now() == dt.datetime(2026, 11, 29, 12, 10)
    clock.advance(300)
    assert clock.now() == dt.datetime(2026, 11, 29, 12, 15)
    clock.set_speed(1)
    clock.unfreeze()
    source.now += 2
    assert clock.now() == dt.datetime(2026, 11, 29, 12, 15, 2)


def test_clock_never_goes_back():
    with pytest.raises(ValueError):
        Clock().advance(-1)
    with pytest.raises(ValueError):
        Clock().set_speed(-2)


def test_parse_time_forms():
    assert parse_time("2026-01-02T03:04:05+01:00") == dt.datetime(2026, 1, 2, 2, 4, 5)
    assert parse_time(0) == dt.datetime(1970, 1, 1)
