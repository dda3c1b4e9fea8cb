"""PanDA's status values and transition tables, as data, and the one function that moves a status.

Every status change in the engine goes through :func:`transition`: it checks the move against
the table of the record's state machine, stamps the machine's time fields from the emulator
clock, writes the record and notes the change in the running transaction (the journal shows
it as a "state transition caused" by the request).

Values and moves follow ``reference/panda_api_v1.md`` §7 (jobs §7.1, tasks §7.2, event
ranges §7.3, harvester workers and commands §7.4, data-carousel and async requests §7.5).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field

from .outcome import TransitionError
from .store import Table


@dataclass(frozen=True)
class StateMachine:
    """Statuses of one kind of record and the moves between them.

    ``moves`` maps a status to the statuses it may go to. ``free`` machines (harvester
    workers, whose status is free text) allow any move except out of a ``final`` status
    within ``sticky_seconds`` of entering it.
    """

    name: str
    field: str
    statuses: tuple[str, ...]
    moves: Mapping[str, frozenset[str]]
    initial: frozenset[str]
    final: frozenset[str]
    stamps: tuple[str, ...] = ()
    free: bool = False
    sticky_seconds: float = 0.0
    codes: Mapping[str, int] = field(default_factory=dict)

    def allows(self, current: str | None, target: str, since: float | None = None) -> bool:
        """Whether ``current -> target`` is a legal move (``since``: seconds spent in ``current``)."""
        if current is None:
            return target in self.initial
        if self.free:
            if current in self.final and current != target:
                return since is not None and since >= self.sticky_seconds
            return True
        return target in self.moves.get(current, ())

    def check_status(self, status: str) -> None:
        if not self.free and status not in self.statuses:
            raise TransitionError(f"unknown {self.name} status {status!r}")


def _moves(table: Mapping[str, str]) -> dict[str, frozenset[str]]:
    return {source: frozenset(targets.split()) for source, targets in table.items()}


# --- jobs (§7.1) ----------------------------------------------------------------------------
JOB_STATUSES = (
    "pending defined assigned waiting activated throttled sent starting running holding "
    "transferring merging finished failed cancelled closed"
).split()
JOB_ACTIVE = frozenset(JOB_STATUSES[:12])
JOB_FINAL = frozenset(("finished", "failed", "cancelled", "closed"))
JOB_KILLABLE_QUEUED = frozenset(("pending", "defined", "assigned", "waiting", "activated", "throttled"))

JOB = StateMachine(
    name="job",
    field="jobStatus",
    statuses=tuple(JOB_STATUSES),
    moves=_moves(
        {
            "pending": "defined waiting assigned activated cancelled closed failed",
            "defined": "assigned waiting activated pending cancelled closed failed",
            "assigned": "activated defined waiting cancelled closed failed",
            "waiting": "activated assigned defined cancelled closed failed",
            # starting ... holding: updateJobStatus takes a pilot's report for any job of the active
            # table, also one that was not dispatched through acquire_jobs
            "activated": (
                "sent starting running holding transferring throttled defined assigned cancelled closed failed"
            ),
            "throttled": "activated starting running holding transferring cancelled closed failed",
            "sent": "starting running holding transferring failed cancelled closed",
            "starting": "starting running holding transferring failed cancelled closed",
            "running": "running holding transferring failed cancelled closed",
            "holding": "finished failed transferring merging cancelled closed",
            # holding: the pilot's final report after it set transferring itself (updateJobStatus)
            "transferring": "holding finished failed merging cancelled closed",
            "merging": "finished failed cancelled closed",
        }
    ),
    initial=frozenset(("pending", "defined", "assigned", "waiting", "activated")),
    final=JOB_FINAL,
    stamps=("stateChangeTime", "modificationTime"),
)

# --- JEDI tasks (§7.2) ----------------------------------------------------------------------
TASK_STATUSES = (
    "registered defined assigning ready pending scouting scouted running topreprocess preprocessing "
    "merging prepared done finished failed exhausted paused throttled staging staged broken tobroken "
    "aborting toabort aborted finishing passed toretry toincexec rerefine toreassign reassigning"
).split()
TASK_FINAL = frozenset(("done", "finished", "failed", "aborted", "broken"))
_TASK_INTERRUPT = "aborting toabort finishing paused broken tobroken"

#: JEDI's own progression: refine, brokerage, scouting, post-processing, command outcomes.
_TASK_FLOW = {
    "registered": f"defined pending staging {_TASK_INTERRUPT}",
    "defined": f"assigning ready pending scouting staging toreassign {_TASK_INTERRUPT}",
    "assigning": f"ready pending toreassign {_TASK_INTERRUPT}",
    "ready": f"scouting running pending assigning throttled toreassign {_TASK_INTERRUPT}",
    "pending": f"ready defined assigning scouting running toreassign {_TASK_INTERRUPT}",
    "scouting": f"scouted running pending exhausted prepared toreassign {_TASK_INTERRUPT}",
    "scouted": f"running toreassign {_TASK_INTERRUPT}",
    "running": f"prepared merging pending exhausted throttled toreassign {_TASK_INTERRUPT}",
    "topreprocess": f"preprocessing {_TASK_INTERRUPT}",
    "preprocessing": f"ready registered {_TASK_INTERRUPT}",
    "merging": f"prepared {_TASK_INTERRUPT}",
    "prepared": "done finished failed",
    "throttled": f"running ready pending scouting toreassign {_TASK_INTERRUPT}",
    "staging": f"staged ready {_TASK_INTERRUPT}",
    "staged": f"ready defined running {_TASK_INTERRUPT}",
    "exhausted": f"toretry running scouting ready toreassign toincexec {_TASK_INTERRUPT}",
    "finished": "toretry toincexec",
    "failed": "toretry toincexec",
    "done": "toincexec",
    "aborted": "toretry toincexec",
    "tobroken": "broken",
    "aborting": "toabort aborted",
    "toabort": "aborted",
    "finishing": "passed prepared done finished failed",
    "passed": "prepared done finished failed",
    "toretry": "ready running scouting defined exhausted",
    "toincexec": "rerefine",
    "rerefine": "ready defined running",
    "reassigning": "ready running scouting pending defined",
}

#: Statuses in which JEDI applies a command (the API accepts it and JEDI's re-check passes), and
#: the status the command moves the task to ("doing"); see :mod:`pandamock.engine.jedi`.
_KILL_REFUSED = frozenset("finished done prepared broken tobroken aborted toabort aborting failed passed".split())
_TASK_COMMAND_MOVES = (
    (frozenset(TASK_STATUSES) - _KILL_REFUSED, "aborting"),  # kill
    (frozenset(TASK_STATUSES) - _KILL_REFUSED, "finishing"),  # finish
    (frozenset(TASK_STATUSES) - frozenset("finished failed done aborted broken paused".split()), "paused"),
    (frozenset(TASK_STATUSES) - frozenset("failed aborted broken".split()), "toreassign"),  # reassign
    (frozenset("finished failed aborted exhausted".split()), "toretry"),  # retry
    (frozenset("done finished failed aborted exhausted".split()), "toincexec"),  # reload_input
)


def _task_moves() -> dict[str, frozenset[str]]:
    moves = {source: set(targets.split()) for source, targets in _TASK_FLOW.items()}
    for sources, target in _TASK_COMMAND_MOVES:
        for source in sources:
            if source != target:
                moves.setdefault(source, set()).add(target)
    pausable = _TASK_COMMAND_MOVES[2][0]
    # resume: back to the status the task had when paused (oldStatus); reassign to a site: back to
    # the status before the reassignment
    moves["paused"] = set(moves.get("paused", ())) | (pausable - {"paused"})
    moves["toreassign"] = set(moves.get("toreassign", ())) | (frozenset(TASK_STATUSES) - {"toreassign"})
    # task/reactivate sets "ready" directly, whatever the status (no pre-check in PanDA)
    for source in TASK_STATUSES:
        if source != "ready":
            moves.setdefault(source, set()).add("ready")
    return {source: frozenset(targets) for source, targets in moves.items()}


TASK = StateMachine(
    name="task",
    field="status",
    statuses=tuple(TASK_STATUSES),
    moves=_task_moves(),
    initial=frozenset(("registered",)),
    final=TASK_FINAL,
    stamps=("stateChangeTime", "modificationTime"),
)

# --- event ranges (§7.3) --------------------------------------------------------------------
EVENT_CODES = {
    "ready": 0,
    "sent": 1,
    "running": 2,
    "finished": 3,
    "cancelled": 4,
    "discarded": 5,
    "done": 6,
    "failed": 7,
    "fatal": 8,
    "merged": 9,
    "corrupted": 10,
    "reserved_fail": 98,
    "reserved_get": 99,
}
EVENT_FINAL = frozenset(("cancelled", "discarded", "merged", "corrupted", "fatal"))

EVENT = StateMachine(
    name="event range",
    field="status",
    statuses=tuple(EVENT_CODES),
    moves=_moves(
        {
            "ready": "reserved_get sent finished failed cancelled discarded",
            "reserved_get": "sent ready",
            "sent": "running finished failed ready cancelled discarded reserved_fail",
            "running": "finished failed ready cancelled discarded reserved_fail",
            "finished": "done merged corrupted cancelled discarded",
            "failed": "ready cancelled discarded fatal",
            "done": "merged corrupted",
            "reserved_fail": "failed ready",
        }
    ),
    initial=frozenset(("ready",)),
    final=EVENT_FINAL,
    codes=EVENT_CODES,
)

# --- harvester workers and commands (§7.4) --------------------------------------------------
WORKER_FINAL = frozenset(("finished", "failed", "cancelled", "missed"))
WORKER = StateMachine(
    name="worker",
    field="status",
    statuses=("submitted", "running", "idle", "finished", "failed", "cancelled", "missed", "ready", "pending"),
    moves={},
    initial=frozenset(),
    final=WORKER_FINAL,
    stamps=("lastUpdate",),
    free=True,
    sticky_seconds=3 * 3600,
)

HARVESTER_COMMAND = StateMachine(
    name="harvester command",
    field="status",
    statuses=("new", "retrieved", "acknowledged"),
    moves=_moves({"new": "retrieved", "retrieved": "acknowledged"}),
    initial=frozenset(("new",)),
    final=frozenset(("acknowledged",)),
    stamps=("status_date",),
)

# --- data carousel and async requests (§7.5) ------------------------------------------------
DATA_CAROUSEL = StateMachine(
    name="data carousel request",
    field="status",
    statuses=("queued", "staging", "done", "cancelled", "retired"),
    moves=_moves({"queued": "staging cancelled", "staging": "done cancelled", "done": "retired"}),
    initial=frozenset(("queued", "staging")),
    final=frozenset(("cancelled", "retired")),
    stamps=("modification_time",),
)

ASYNC_REQUEST = StateMachine(
    name="async request",
    field="status",
    statuses=("pending", "running", "done", "failed"),
    moves=_moves({"pending": "running", "running": "done failed pending"}),
    initial=frozenset(("pending",)),
    final=frozenset(("done", "failed")),
    stamps=("modification_time",),
)

MACHINES: dict[str, StateMachine] = {
    machine.name: machine for machine in (JOB, TASK, EVENT, WORKER, HARVESTER_COMMAND, DATA_CAROUSEL, ASYNC_REQUEST)
}


def transition(
    table: Table,
    rid: Hashable,
    machine: StateMachine,
    target: str,
    now: _dt.datetime,
    changes: Mapping | None = None,
    reason: str | None = None,
) -> dict:
    """Move record ``rid`` of ``table`` to status ``target``; returns the transition record.

    Raises :class:`TransitionError` (state unchanged) when the table refuses the move.
    ``changes`` are written together with the status, in the same record version.
    """
    record = table.get(rid)
    if record is None:
        raise TransitionError(f"no {machine.name} {rid!r}")
    current = record.get(machine.field)
    machine.check_status(target)
    since = None
    if machine.free and current in machine.final:
        entered = record.get(machine.stamps[0]) if machine.stamps else None
        since = (now - entered).total_seconds() if isinstance(entered, _dt.datetime) else None
    if not machine.allows(current, target, since):
        raise TransitionError(f"{machine.name} {rid}: cannot go from {current} to {target}")
    updates = dict(changes or {})
    updates[machine.field] = target
    for stamp in machine.stamps:
        updates[stamp] = now
    table.update(rid, updates)
    change = {
        "table": table.name,
        "id": rid,
        "field": machine.field,
        "from": current,
        "to": target,
        "time": now.isoformat(),
    }
    if reason:
        change["reason"] = reason
    table.store.record_transition(change)
    return change


def created(table: Table, record: Mapping, machine: StateMachine, now: _dt.datetime) -> dict:
    """Insert a new record in one of the machine's initial statuses, stamped and noted."""
    status = record.get(machine.field)
    machine.check_status(status)
    if not machine.free and status not in machine.initial:
        raise TransitionError(f"a new {machine.name} cannot start in status {status!r}")
    values = dict(record)
    for stamp in machine.stamps:
        if values.get(stamp) is None:
            values[stamp] = now
    stored = table.insert(values)
    table.store.record_transition(
        {
            "table": table.name,
            "id": stored[table.key],
            "field": machine.field,
            "from": None,
            "to": status,
            "time": now.isoformat(),
        }
    )
    return stored
