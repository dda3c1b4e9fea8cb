"""Durable state (--state-file): change log, replay, compaction, torn writes, corrupt files, kill -9."""

from __future__ import annotations

import datetime as dt
import json
import logging
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import requests
from tinydb import TinyDB

from pandamock.config import Settings
from pandamock.emulator import Emulator
from pandamock.engine import Engine, records
from pandamock.engine.persistence import StateFileError, StateStorage
from pandamock.engine.statuses import JOB, transition
from pandamock.scenario import load
from tests.helpers import serve_process

FROZEN = {"start": "2026-11-29T12:00:00", "frozen": True}


def _emulator(path, scenario: object = "default", **settings) -> Emulator:
    return Emulator(Settings.load({"state_file": str(path), **settings}, environ={}), scenario=scenario)


def _frozen_default() -> dict:
    from pandamock.scenario import load

    scenario = load("default").as_dict()
    scenario["clock"] = dict(FROZEN)
    return scenario


def _add_task(engine, task_id: int, **values) -> None:
    with engine.operation():
        engine.store["tasks"].insert(
            records.new_task(
                {"jediTaskID": task_id, "status": "registered", "modificationTime": engine.now(), **values}
            )
        )


def _send_first_activated(engine, queue: str = "CERN-PROD_UCORE") -> int:
    with engine.operation():
        panda_id = engine.store["jobs"].ids("dispatch", (queue, "activated"))[0]
        transition(engine.store["jobs"], panda_id, JOB, "sent", engine.now(), changes={"modificationHost": "wn1"})
    return panda_id


def test_changes_survive_a_crash_without_shutdown(tmp_path):
    path = tmp_path / "state.json"
    first = _emulator(path)
    engine = first.engine
    panda_id = _send_first_activated(engine)
    _add_task(engine, 7, taskName="survivor")
    with engine.operation():
        engine.store["tasks"].delete(7)
    _add_task(engine, 8, taskName="kept")
    counts = engine.counts()
    # no close(): as after a kill -9, only the document file of the start and the log exist
    assert (tmp_path / "state.json.log").exists()
    again = _emulator(path)
    assert again.state.replayed == 4
    restored = again.engine
    assert restored.counts() == counts
    assert restored.store["jobs"].get(panda_id)["jobStatus"] == "sent"
    assert restored.store["jobs"].get(panda_id)["modificationHost"] == "wn1"
    assert restored.store["tasks"].get(7) is None
    assert restored.store["tasks"].get(8)["taskName"] == "kept"
    assert isinstance(restored.store["tasks"].get(8)["modificationTime"], dt.datetime)
    # indexes are rebuilt: the sent job left the activated group
    assert panda_id not in restored.store["jobs"].ids("dispatch", ("CERN-PROD_UCORE", "activated"))
    assert restored.store["jobs"].ids("dispatch", ("CERN-PROD_UCORE", "sent")) == [panda_id]
    assert again.scenario.name == "default"
    again.close()


def test_close_compacts_into_a_tinydb_document_file(tmp_path):
    path = tmp_path / "state.json"
    emulator = _emulator(path)
    _add_task(emulator.engine, 9, taskName="in the file")
    jobs = emulator.engine.counts()["jobs"]
    emulator.close()
    assert not (tmp_path / "state.json.log").exists()
    with TinyDB(path, storage=StateStorage) as db:
        (task,) = db.table("tasks").search(lambda doc: doc["jediTaskID"] == 9)
        assert task["taskName"] == "in the file"
        assert isinstance(task["modificationTime"], dt.datetime)
        assert len(db.table("jobs")) == jobs
    with TinyDB(path) as plain:  # the stock JSON storage reads it too (datetimes as markers)
        (task,) = plain.table("tasks").search(lambda doc: doc["jediTaskID"] == 9)
        assert set(task["modificationTime"]) == {"__datetime__"}
    again = _emulator(path)
    assert again.state.replayed == 0
    assert again.engine.store["tasks"].get(9)["taskName"] == "in the file"
    again.close()


def test_the_state_file_wins_over_the_scenario(tmp_path):
    path = tmp_path / "state.json"
    _emulator(path).close()
    again = _emulator(path, scenario="empty")
    assert again.scenario.name == "default"
    assert again.engine.counts()["jobs"] > 0
    again.close()


def test_reset_after_a_restart_returns_to_the_scenario(tmp_path):
    path = tmp_path / "state.json"
    first = _emulator(path, scenario=_frozen_default())
    baseline = first.engine.counts()
    panda_id = _send_first_activated(first.engine)
    _add_task(first.engine, 11)
    again = _emulator(path)
    assert again.engine.store["tasks"].get(11) is not None
    again.reset()
    assert again.engine.store["tasks"].get(11) is None
    assert again.engine.store["jobs"].get(panda_id)["jobStatus"] == "activated"
    assert again.engine.counts() == baseline
    # the reset is durable too
    third = _emulator(path)
    assert third.engine.store["tasks"].get(11) is None
    assert third.engine.counts() == baseline
    third.close()


def test_a_fast_reset_is_logged(tmp_path):
    path = tmp_path / "state.json"
    emulator = _emulator(path)
    _add_task(emulator.engine, 12)
    emulator.reset()
    assert emulator.engine.store["tasks"].get(12) is None
    again = _emulator(path)
    assert again.engine.store["tasks"].get(12) is None
    again.close()


def test_a_frozen_clock_resumes_where_it_stood(tmp_path):
    path = tmp_path / "state.json"
    first = _emulator(path, scenario=_frozen_default())
    first.engine.clock.advance(3600)
    again = _emulator(path)
    assert again.engine.clock.frozen
    assert again.engine.now() == dt.datetime(2026, 11, 29, 13, 0, 0)
    again.close()


def test_a_torn_last_line_is_dropped_with_a_warning(tmp_path, caplog):
    path = tmp_path / "state.json"
    first = _emulator(path)
    _add_task(first.engine, 21)
    log_path = tmp_path / "state.json.log"
    complete = log_path.read_bytes()
    with open(log_path, "ab") as handle:
        handle.write(b'{"n":2,"c":[["tasks",22,{"jediTaskID":22,"sta')  # a write cut short by a crash
    with caplog.at_level(logging.WARNING, logger="pandamock.state"):
        again = _emulator(path)
    assert "dropping an incomplete last line" in caplog.text
    assert again.engine.store["tasks"].get(21) is not None
    assert again.engine.store["tasks"].get(22) is None
    assert log_path.read_bytes() == complete  # cut off, so new lines start clean
    _add_task(again.engine, 23)
    third = _emulator(path)
    assert third.engine.store["tasks"].get(23) is not None
    third.close()


def test_a_corrupt_log_line_names_the_file_and_line(tmp_path):
    path = tmp_path / "state.json"
    first = _emulator(path)
    _add_task(first.engine, 31)
    _add_task(first.engine, 32)
    log_path = tmp_path / "state.json.log"
    lines = log_path.read_bytes().split(b"\n")
    lines[0] = b"garbage" + lines[0]
    log_path.write_bytes(b"\n".join(lines))
    with pytest.raises(StateFileError, match=rf"change log {log_path}: line 1 is not valid JSON"):
        _emulator(path)


def test_missing_changes_are_an_error(tmp_path):
    path = tmp_path / "state.json"
    first = _emulator(path)
    _add_task(first.engine, 41)
    _add_task(first.engine, 42)
    log_path = tmp_path / "state.json.log"
    lines = log_path.read_bytes().split(b"\n")
    log_path.write_bytes(b"\n".join(lines[1:]))
    with pytest.raises(StateFileError, match="line 1 has change number 2, expected 1: changes are missing"):
        _emulator(path)


@pytest.mark.parametrize(
    "corrupt, message",
    [
        (lambda text: text[: len(text) // 2], "not a valid TinyDB JSON document"),
        (lambda text: text.replace('"jediTaskID": 40000001', '"jediTaskId": 40000001', 1), "table 'tasks' document 1"),
        (lambda text: text.replace('"workers": {', '"wrokers": {', 1), "unknown table 'wrokers'"),
        (lambda text: text.replace('"format":1', '"format":99', 1), "no pandamock metadata of format 1"),
        (lambda text: "", "missing or empty"),
    ],
)
def test_a_corrupt_state_file_is_refused_with_a_clear_message(tmp_path, corrupt, message):
    path = tmp_path / "state.json"
    _emulator(path).close()
    text = path.read_text()
    assert '"jediTaskID": 40000001' in text or "tasks" in text
    path.write_text(corrupt(text.replace('"jediTaskID":40000001', '"jediTaskID": 40000001', 1)))
    with pytest.raises(StateFileError) as raised:
        _emulator(path)
    assert str(path) in str(raised.value)
    assert message in str(raised.value)


def test_background_compaction_keeps_every_change(tmp_path):
    path = tmp_path / "state.json"
    emulator = _emulator(path)
    emulator.state.compact_bytes = 5000  # every few changes
    for task_id in range(100, 160):
        _add_task(emulator.engine, task_id, taskName=f"t{task_id}")
    if emulator.state._background is not None:
        emulator.state._background.join()
    assert emulator.state.seq == 60
    again = _emulator(path)  # without close: document file + whatever log is left
    assert [again.engine.store["tasks"].get(i)["taskName"] for i in range(100, 160)] == [
        f"t{i}" for i in range(100, 160)
    ]
    again.close()


def test_snapshot_to_a_file_loads_back(tmp_path):
    emulator = Emulator(Settings.load({}, environ={}), scenario=_frozen_default())
    _add_task(emulator.engine, 51, taskName="snap")
    for name in ("dump.json", "dump.yaml"):
        target = tmp_path / name
        count = emulator.save_snapshot(str(target))
        assert count == sum(emulator.engine.counts().values())
        other = Emulator(Settings.load({}, environ={}), scenario=str(target))
        assert other.engine.counts() == emulator.engine.counts()
        task = other.engine.store["tasks"].get(51)
        assert (
            task["taskName"] == "snap"
            and task["modificationTime"] == emulator.engine.store["tasks"].get(51)["modificationTime"]
        )
        jobs = emulator.engine.store["jobs"]
        assert other.engine.store["jobs"].ids("dispatch", ("CERN-PROD_UCORE", "activated")) == jobs.ids(
            "dispatch", ("CERN-PROD_UCORE", "activated")
        )
    only = tmp_path / "running.json"
    emulator.save_snapshot(str(only), tables=["tasks"], where={"status": "running"})
    data = json.loads(only.read_text())
    assert {task["status"] for task in data["records"]["tasks"]} == {"running"}


# --- kill -9 -----------------------------------------------------------------------------------
WRITER = textwrap.dedent(
    """
    import sys
    from pandamock.config import Settings
    from pandamock.emulator import Emulator
    from pandamock.engine import records
    from pandamock.engine.statuses import JOB, transition

    emulator = Emulator(Settings.load({"state_file": sys.argv[1], "scenario": "default"}, environ={}))
    emulator.state.compact_bytes = int(sys.argv[2])  # background compactions while being killed
    engine = emulator.engine
    jobs = engine.store["jobs"]
    print("ready", flush=True)
    task_id = 0
    while True:
        task_id += 1
        with engine.operation():
            engine.store["tasks"].insert(records.new_task({"jediTaskID": task_id, "status": "registered"}))
            activated = jobs.first("dispatch", ("CERN-PROD_UCORE", "activated"))
            if activated is not None:
                transition(jobs, activated["PandaID"], JOB, "sent", engine.now())
        # the operation returned: the change is acknowledged
        print(task_id, activated["PandaID"] if activated else 0, flush=True)
    """
)


def _run_writer_and_kill(path, acknowledged_target: int, compact_bytes: int = 200_000) -> list[tuple[int, int]]:
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(compact_bytes)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    acknowledged = []
    try:
        assert process.stdout.readline().strip() == "ready", process.stderr.read()
        while len(acknowledged) < acknowledged_target:
            line = process.stdout.readline()
            assert line, process.stderr.read()
            acknowledged.append(tuple(int(value) for value in line.split()))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        # acknowledged before the kill landed: whole lines only (the kill can cut the last one short,
        # and a change whose acknowledgement was not written out completely was not acknowledged)
        for line in process.stdout.read().split("\n")[:-1]:
            if line.strip():
                acknowledged.append(tuple(int(value) for value in line.split()))
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL
    return acknowledged


def test_kill_9_loses_no_acknowledged_change(tmp_path):
    path = tmp_path / "state.json"
    acknowledged = _run_writer_and_kill(path, 400)
    emulator = _emulator(path)
    tasks, jobs = emulator.engine.store["tasks"], emulator.engine.store["jobs"]
    missing_tasks = [task_id for task_id, _ in acknowledged if tasks.get(task_id) is None]
    missing_jobs = [pid for _, pid in acknowledged if pid and jobs.get(pid)["jobStatus"] != "sent"]
    assert missing_tasks == [] and missing_jobs == []
    # at most the one change in flight when the kill landed is there without its acknowledgement
    written = [task_id for task_id in tasks.records if task_id < 40_000_000]  # not the generated tasks
    assert len(acknowledged) <= len(written) <= len(acknowledged) + 1
    emulator.close()


def _serve(path, *extra: str) -> tuple[subprocess.Popen, str]:
    return serve_process("--state-file", str(path), *extra)


def _counts(url: str) -> dict:
    return requests.get(f"{url}/_pandamock/health", timeout=5).json()["counts"]


def test_serve_with_a_state_file_survives_kill_9(tmp_path):
    path = tmp_path / "state.json"
    acknowledged = _run_writer_and_kill(path, 50)
    process, url = _serve(path, "--scenario", "empty")  # the state file wins over --scenario
    try:
        counts = _counts(url)
        fresh = Engine()
        fresh.load_scenario(load("default"))
        generated = len(fresh.store["tasks"])  # the default world's tasks
        assert len(acknowledged) <= counts["tasks"] - generated <= len(acknowledged) + 1
        assert counts["jobs"] > 0  # the default world of the state file, not the empty scenario
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    process, url = _serve(path)
    try:
        assert _counts(url) == counts
        process.send_signal(signal.SIGTERM)  # clean stop: final compaction, no log left
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert not (tmp_path / "state.json.log").exists()
    with TinyDB(path, storage=StateStorage) as db:
        assert len(db.table("tasks")) == counts["tasks"]


def test_serve_refuses_a_corrupt_state_file(tmp_path):
    path = tmp_path / "state.json"
    path.write_text('{"_pandamock": {"1": {"format": 1}}, "jobs": {"1": {"jobStatus": "running"}}}')
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "pandamock", "serve", "--port", "0", "--state-file", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert (
        f"state file {path}: table 'jobs' document 1: expected a record with its key field 'PandaID'" in result.stderr
    )
    assert time.monotonic() - started < 30


def test_an_update_logs_only_the_changed_fields(tmp_path):
    path = tmp_path / "state.json"
    emulator = _emulator(path)
    panda_id = _send_first_activated(emulator.engine)
    (line,) = (tmp_path / "state.json.log").read_text().splitlines()
    entry = json.loads(line)
    assert entry["n"] == 1 and len(entry["k"]) == 3
    (op, table, rid, fields), history = entry["c"]
    assert (op, table, rid) == ("u", "jobs", panda_id)
    assert history[:2] == ["p", "status_history"] and history[3]["to"] == "sent"
    assert set(fields) == {"jobStatus", "modificationHost", "modificationTime", "stateChangeTime"}
    assert fields["jobStatus"] == "sent" and set(fields["modificationTime"]) == {"__datetime__"}
    emulator.close()
