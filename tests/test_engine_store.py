"""The store: tables, indexes, transactions and rollback, capture/restore."""

from __future__ import annotations

import threading

import pytest

from pandamock.engine.store import HashIndex, SortedIndex, Store


@pytest.fixture
def store():
    store = Store()
    store.create_table(
        "jobs",
        key="PandaID",
        indexes=[
            SortedIndex("dispatch", ["site", "status"], order=lambda r: (-r["prio"], r["PandaID"])),
            HashIndex("by_status", ["status"]),
        ],
    )
    with store.transaction():
        for pid, site, status, prio in [
            (1, "A", "activated", 10),
            (2, "A", "activated", 30),
            (3, "A", "running", 5),
            (4, "B", "activated", 99),
            (5, "A", "activated", 30),
        ]:
            store["jobs"].insert({"PandaID": pid, "site": site, "status": status, "prio": prio})
    return store


def test_sorted_index_orders_groups(store):
    assert store["jobs"].ids("dispatch", ("A", "activated")) == [2, 5, 1]
    assert store["jobs"].count("dispatch", ("A", "activated")) == 3
    assert store["jobs"].first("dispatch", ("A", "activated"), accept=lambda r: r["PandaID"] != 2)["PandaID"] == 5
    assert store["jobs"].counts("by_status") == {"activated": 4, "running": 1}


def test_update_moves_the_record_between_groups_and_is_copy_on_write(store):
    table = store["jobs"]
    before = table.get(2)
    with store.transaction():
        table.update(2, {"status": "sent"})
    assert before["status"] == "activated"  # the old version is untouched
    assert table.get(2)["status"] == "sent"
    assert table.ids("dispatch", ("A", "activated")) == [5, 1]
    assert table.ids("dispatch", ("A", "sent")) == [2]
    with store.transaction():
        table.update(1, {"prio": 100})
    assert table.ids("dispatch", ("A", "activated")) == [1, 5]


def test_failed_transaction_rolls_back_records_and_indexes(store):
    table = store["jobs"]
    with pytest.raises(RuntimeError):
        with store.transaction():
            table.update(2, {"status": "sent"})
            table.delete(3)
            table.insert({"PandaID": 9, "site": "A", "status": "activated", "prio": 1})
            raise RuntimeError("bad input")
    assert table.get(2)["status"] == "activated"
    assert table.get(3) is not None
    assert table.get(9) is None
    assert table.ids("dispatch", ("A", "activated")) == [2, 5, 1]
    assert table.counts("by_status") == {"activated": 4, "running": 1}


def test_nested_failure_rolls_back_only_the_nested_block(store):
    table = store["jobs"]
    with store.transaction() as tx:
        table.update(1, {"status": "sent"})
        with pytest.raises(ValueError):
            with store.transaction():
                table.update(2, {"status": "sent"})
                raise ValueError("nested")
    assert table.get(1)["status"] == "sent"
    assert table.get(2)["status"] == "activated"
    assert [change[1] for change in tx.changes] == [1]


def test_listeners_see_committed_changes_only(store):
    seen = []
    store.listeners.append(lambda tx: seen.append(list(tx.changes)))
    with pytest.raises(RuntimeError):
        with store.transaction():
            store["jobs"].update(1, {"prio": 0})
            raise RuntimeError
    with store.transaction():
        store["jobs"].update(1, {"prio": 7})
    assert len(seen) == 1
    assert seen[0][0][:2] == ("jobs", 1)
    assert seen[0][0][2]["prio"] == 7


def test_writes_need_a_transaction(store):
    with pytest.raises(RuntimeError, match="outside a transaction"):
        store["jobs"].update(1, {"prio": 0})


def test_key_cannot_change_and_duplicates_are_refused(store):
    with store.transaction():
        with pytest.raises(ValueError):
            store["jobs"].update(1, {"PandaID": 2})
        with pytest.raises(KeyError):
            store["jobs"].insert({"PandaID": 1, "site": "A", "status": "x", "prio": 0})


def test_capture_and_restore(store):
    captured = store.capture()
    with store.transaction():
        store["jobs"].update(2, {"status": "sent"})
        store["jobs"].insert({"PandaID": 9, "site": "A", "status": "activated", "prio": 1})
    store.restore(captured)
    assert store["jobs"].get(9) is None
    assert store["jobs"].ids("dispatch", ("A", "activated")) == [2, 5, 1]


def test_concurrent_transactions_do_not_lose_updates():
    store = Store()
    store.create_table("counters", key="name")
    with store.transaction():
        store["counters"].insert({"name": "n", "value": 0})

    def bump():
        for _ in range(500):
            with store.transaction():
                current = store["counters"].get("n")["value"]
                store["counters"].update("n", {"value": current + 1})

    threads = [threading.Thread(target=bump) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store["counters"].get("n")["value"] == 4000


def _index_state(table):
    """Every index group with its members, in order (the order of groups too)."""
    return {
        name: [(key, list(bucket)) for key, bucket in index.buckets.items()] for name, index in table.indexes.items()
    }


def _state(store):
    return {name: (list(table.records.items()), _index_state(table)) for name, table in store.tables.items()}


def test_checkpoint_and_revert_undo_every_change_with_indexes(store):
    table = store["jobs"]
    records_before = dict(table.records)
    before = _state(store)
    store.checkpoint()
    with store.transaction():
        table.update(2, {"status": "sent"})
        table.update(2, {"prio": 1})
        table.delete(3)
        table.insert({"PandaID": 9, "site": "B", "status": "activated", "prio": 50})
    with pytest.raises(RuntimeError):
        with store.transaction():
            table.update(1, {"status": "sent"})
            raise RuntimeError
    seen = []
    store.listeners.append(lambda tx: seen.append(sorted(tx.changes, key=lambda c: c[1])))
    changes = store.revert()
    assert _state(store) == before
    assert all(table.get(rid) is record for rid, record in records_before.items())  # the same versions
    assert sorted(changes, key=lambda c: c[1]) == [
        ("jobs", 2, records_before[2]),
        ("jobs", 3, records_before[3]),
        ("jobs", 9, None),
    ]
    assert seen == [sorted(changes, key=lambda c: c[1])]
    # the checkpoint stays: change and revert again
    with store.transaction():
        table.delete(1)
    store.revert()
    assert _state(store) == before


def test_revert_needs_a_checkpoint_and_no_wholesale_replacement(store):
    assert store.revert() is None
    store.checkpoint()
    store["jobs"].replace_all([])
    assert store.revert() is None


def test_engine_reset_returns_to_the_loaded_world():
    from pandamock.engine import Engine
    from pandamock.engine.statuses import JOB, transition
    from pandamock.scenario import load

    engine = Engine()
    engine.load_scenario(load("default"))
    tables = _state(engine.store)
    jobs = engine.store["jobs"]
    with engine.operation():
        for panda_id in jobs.ids("by_status", "activated")[:5]:
            transition(jobs, panda_id, JOB, "sent", engine.now())
        engine.ids.next("PandaID")
        engine.store["event_ranges"].delete(next(iter(engine.store["event_ranges"].records)))
    engine.reset()
    assert _state(engine.store) == tables
    # a wholesale change falls back to restoring the baseline
    with engine.store.lock:
        engine.store["jobs"].replace_all([])
    engine.reset()
    assert _state(engine.store) == tables


@pytest.mark.parametrize("seed", range(5))
def test_revert_is_exact_after_random_changes(store, seed):
    import random

    rng = random.Random(seed)
    table = store["jobs"]
    with store.transaction():
        for pid in range(10, 60):
            table.insert({"PandaID": pid, "site": rng.choice("ABC"), "status": "activated", "prio": rng.randint(0, 9)})
    store.checkpoint()
    before = _state(store)
    for _ in range(3):  # several rounds: the checkpoint stays after a revert
        with store.transaction():
            for _ in range(200):
                action = rng.random()
                pid = rng.randrange(1, 80)
                if action < 0.5 and pid in table:
                    table.update(
                        pid, {"status": rng.choice(["activated", "sent", "running"]), "site": rng.choice("ABCD")}
                    )
                elif action < 0.7 and pid in table:
                    table.delete(pid)
                elif pid not in table:
                    table.insert(
                        {"PandaID": pid, "site": rng.choice("ABCDE"), "status": "new", "prio": rng.randint(0, 9)}
                    )
        assert _state(store) != before
        store.revert()
        assert _state(store) == before


def test_status_changes_of_jobs_are_kept_in_order_in_the_history_table():
    import datetime as dt

    from pandamock.engine import Engine
    from pandamock.engine.records import new_job
    from pandamock.engine.statuses import JOB, created, transition

    engine = Engine()
    jobs = engine.store.table("jobs")
    now = dt.datetime(2026, 11, 29, 12)
    with engine.operation():
        created(jobs, new_job({"PandaID": 7, "jobStatus": "activated"}), JOB, now)
        transition(jobs, 7, JOB, "sent", now)
    with engine.operation():
        transition(jobs, 7, JOB, "running", now)
    with pytest.raises(RuntimeError):
        with engine.operation():
            transition(jobs, 7, JOB, "holding", now)
            raise RuntimeError("rolled back: no history either")
    history = engine.store.table("status_history").find("by_record", ("jobs", 7))
    assert [(h["seq"], h["from"], h["to"]) for h in history] == [
        (1, None, "activated"),
        (2, "activated", "sent"),
        (3, "sent", "running"),
    ]
