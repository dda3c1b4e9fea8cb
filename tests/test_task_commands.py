# ruff: noqa: F811 - the fixtures are imported from tests.tasks_support
"""The command table of reference §7.2, cell by cell: every task command in every task status is
accepted (registered now, applied by JEDI after the task_command delay: its re-check, then the
"doing" status) or refused with data=4 and PanDA's exact message."""

from __future__ import annotations

import pytest

from pandamock.engine import jedi
from pandamock.engine.statuses import TASK_STATUSES
from tests.tasks_support import (
    AS_JDOE,
    DELAYS,
    add_task,
    app,  # noqa: F401 - fixture
    call,
    client,  # noqa: F401 - fixture
    engine,  # noqa: F401 - fixture
    tasks_app,  # noqa: F401 - fixture
)

#: endpoint -> (JEDI command, extra parameters)
ENDPOINTS = {
    "kill": ("kill", {}),
    "finish": ("finish", {}),
    "retry": ("retry", {}),
    "reload_input": ("incexec", {}),
    "reassign": ("reassign", {"cloud": "US"}),
    "pause": ("pause", {}),
    "resume": ("resume", {}),
    "avalanche": ("avalanche", {}),
    "release": ("release", {}),
}
#: the first status JEDI sets when it applies the command (None: no status change)
DOING = {
    "kill": "aborting",
    "finish": "finishing",
    "retry": "toretry",
    "incexec": "toincexec",
    "reassign": "toreassign",
    "pause": "paused",
    "avalanche": "running",
    "release": None,
}


def cells():
    for endpoint in ENDPOINTS:
        for status in TASK_STATUSES:
            yield pytest.param(endpoint, status, id=f"{endpoint}-{status}")


def _expected_reply(command: str, status: str, task_id: int) -> dict:
    if status in jedi.COMMANDS[command].accepted:
        return {"success": True, "message": jedi.registered_message(command, task_id), "data": 0}
    message = f"Command rejected: the {command} command is not accepted if the task is in {status} status"
    return {"success": command == "retry", "message": message, "data": 4}


@pytest.mark.parametrize("endpoint, status", list(cells()))
def test_command_table(client, engine, endpoint, status):
    command, extra = ENDPOINTS[endpoint]
    # a production task (retry of a running *user* task has its own answer, tested below)
    task_id = add_task(engine, status, prodSourceLabel="managed", taskType="prod", oldStatus="running")
    reply = call(client, "POST", f"task/{endpoint}", task_id=task_id, **extra)
    assert reply == _expected_reply(command, status, task_id)
    record = engine.tasks.commands.get(task_id)
    if reply["data"] != 0:
        assert record is None and engine.tasks.get(task_id)["status"] == status
        return
    assert record["command"] == command and record["status"] == "new"
    assert engine.tasks.get(task_id)["status"] == status  # nothing happens before JEDI picks it up
    with engine.observe() as changes:
        engine.clock.advance(DELAYS["task_command"])
        engine.tick()
    moves = [c["to"] for c in changes if c["table"] == "tasks" and c["id"] == task_id]
    record = engine.tasks.commands.get(task_id)
    if status not in jedi.COMMANDS[command].rechecked:
        assert (record["status"], record["message"]) == ("failed", f"{command} failed")
        assert moves == []
        return
    assert record["status"] == "done"
    if command == "resume":
        expected = {"paused": "running", "throttled": "running", "staging": "staged"}[status]
        assert moves[0] == expected
    elif DOING[command] is None:
        assert moves == []
    elif status == DOING[command]:
        assert not moves or moves[0] != status
    else:
        assert moves[0] == DOING[command]
        if command in ("kill", "pause", "finish", "reassign", "retry", "incexec"):
            assert engine.tasks.get(task_id)["oldStatus"] in (
                status,
                None,
                "running",
            )


@pytest.mark.parametrize("status", TASK_STATUSES)
def test_reassign_to_a_site_is_accepted_in_every_status(client, engine, status):
    task_id = add_task(engine, status)
    reply = call(client, "POST", "task/reassign", task_id=task_id, site="CERN-PROD_UCORE")
    assert reply == {"success": True, "message": jedi.registered_message("reassign", task_id), "data": 0}
    assert engine.tasks.commands.get(task_id)["comment"] == "site:CERN-PROD_UCORE:y"


@pytest.mark.parametrize("status", ["running", "scouting", "pending"])
def test_retry_of_a_running_user_task_retries_its_failed_jobs(client, engine, status):
    task_id = add_task(engine, status)
    reply = call(client, "POST", "task/retry", headers=AS_JDOE, task_id=task_id)
    assert reply == {
        "success": True,
        "message": f"retry has been triggered for failed jobs while the task is still {status}",
        "data": 0,
    }
    assert engine.tasks.commands.get(task_id) is None


def test_retry_of_an_exhausted_task_needs_the_production_role(client, engine):
    task_id = add_task(engine, "exhausted")
    reply = call(client, "POST", "task/retry", headers=AS_JDOE, task_id=task_id)
    assert reply == {
        "success": True,  # task/retry answers success=true whatever the code (PanDA)
        "message": "Command rejected: the retry command is not accepted if the task is in exhausted status "
        "and production role is missing",
        "data": 4,
    }


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_unknown_task(client, endpoint):
    command, extra = ENDPOINTS[endpoint]
    reply = call(client, "POST", f"task/{endpoint}", task_id=99999999, **extra)
    assert reply == {"success": endpoint == "retry", "message": "jediTaskID=99999999 not found", "data": 2}


@pytest.mark.parametrize("endpoint", ["kill", "finish", "retry"])
def test_owner_check(client, engine, endpoint):
    task_id = add_task(engine, "running", userName="Somebody Else")
    reply = call(client, "POST", f"task/{endpoint}", headers=AS_JDOE, task_id=task_id)
    assert reply == {"success": False, "message": "not the task owner or no production role", "data": None}
    assert engine.tasks.commands.get(task_id) is None


@pytest.mark.parametrize("endpoint", ["pause", "resume", "avalanche", "release", "reactivate"])
def test_production_role_commands(client, engine, endpoint):
    task_id = add_task(engine, "running")
    reply = call(client, "POST", f"task/{endpoint}", headers=AS_JDOE, task_id=task_id)
    assert reply == {"success": False, "message": "production or pilot role required", "data": None}


def test_a_new_command_replaces_the_registered_one(client, engine):
    task_id = add_task(engine, "running")
    call(client, "POST", "task/pause", task_id=task_id)
    call(client, "POST", "task/kill", task_id=task_id)
    assert engine.tasks.commands.get(task_id)["command"] == "kill"
