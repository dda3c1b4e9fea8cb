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
