"""Every transition table: allowed moves succeed and stamp times, refused moves change nothing."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from pandamock.engine.outcome import TransitionError
from pandamock.engine.statuses import MACHINES, created, transition
from pandamock.engine.store import Store

NOW = dt.datetime(2026, 11, 29, 12, 0, 0)
TABLED = [machine for machine in MACHINES.values() if not machine.free]


def _cases(allowed: bool):
    for machine in TABLED:
        for source, target in itertools.product(machine.statuses, machine.statuses):
            if (target in machine.moves.get(source, ())) == allowed:
                yield pytest.param(machine, source, target, id=f"{machine.name}:{source}->{target}")


def _store_with(machine, status):
    store = Store()
    table = store.create_table("records", key="id")
    with store.bulk():
        table.insert({"id": 1, machine.field: status})
    return store, table


@pytest.mark.parametrize("machine, source, target", list(_cases(True)))
def test_allowed_moves(machine, source, target):
    store, table = _store_with(machine, source)
    with store.transaction() as tx:
        change = transition(table, 1, machine, target, NOW, changes={"note": "x"})
    record = table.get(1)
    assert record[machine.field] == target
    assert record["note"] == "x"
    for stamp in machine.stamps:
        assert record[stamp] == NOW
    assert change == {
        "table": "records",
        "id": 1,
        "field": machine.field,
        "from": source,
        "to": target,
        "time": NOW.isoformat(),
    }
    assert tx.transitions == [change]


@pytest.mark.parametrize("machine, source, target", list(_cases(False)))
def test_refused_moves(machine, source, target):
    store, table = _store_with(machine, source)
    before = table.get(1)
    with pytest.raises(TransitionError, match=f"cannot go from {source} to {target}"):
        with store.transaction():
            transition(table, 1, machine, target, NOW)
    assert table.get(1) is before


def test_final_job_statuses_have_no_way_out():
    job = MACHINES["job"]
    for status in job.final:
        assert not job.moves.get(status)


def test_unknown_status_is_refused():
    store, table = _store_with(MACHINES["job"], "running")
    with pytest.raises(TransitionError, match="unknown job status 'jogging'"):
        with store.transaction():
            transition(table, 1, MACHINES["job"], "jogging", NOW)


@pytest.mark.parametrize(
    "source, target, seconds, allowed",
    [
        ("submitted", "running", 0, True),
        ("running", "finished", 0, True),
        ("finished", "running", 60, False),
        ("failed", "cancelled", 3 * 3600 - 1, False),
        ("finished", "running", 3 * 3600, True),
        ("missed", "missed", 0, True),
    ],
)
def test_worker_final_statuses_are_sticky_for_three_hours(source, target, seconds, allowed):
    machine = MACHINES["worker"]
    store = Store()
    table = store.create_table("workers", key="id")
    with store.bulk():
        table.insert({"id": 1, "status": source, "lastUpdate": NOW})
    later = NOW + dt.timedelta(seconds=seconds)
    if allowed:
        with store.transaction():
            transition(table, 1, machine, target, later)
        assert table.get(1)["status"] == target
    else:
        with pytest.raises(TransitionError):
            with store.transaction():
                transition(table, 1, machine, target, later)
        assert table.get(1)["status"] == source


def test_created_only_in_initial_statuses():
    store = Store()
    table = store.create_table("jobs", key="PandaID")
    with store.transaction() as tx:
        created(table, {"PandaID": 1, "jobStatus": "defined"}, MACHINES["job"], NOW)
        with pytest.raises(TransitionError):
            created(table, {"PandaID": 2, "jobStatus": "running"}, MACHINES["job"], NOW)
    assert table.get(1)["stateChangeTime"] == NOW
    assert tx.transitions[0]["from"] is None


def test_created_stamps_times_left_empty_by_the_record_factories():
    from pandamock.engine.records import new_job

    store = Store()
    table = store.create_table("jobs", key="PandaID")
    with store.transaction():
        created(table, new_job({"PandaID": 1, "jobStatus": "activated"}), MACHINES["job"], NOW)
    assert table.get(1)["stateChangeTime"] == NOW
    assert table.get(1)["modificationTime"] == NOW
