"""The engine: PanDA's state and rules, without any HTTP.

An :class:`Engine` owns the store, the clock, the seeded randomness, the id counters and the
domain services (``world`` for users/queues/resource types; jobs, tasks, event ranges,
harvester, files and credentials are added by their modules). Every public engine operation
runs inside :meth:`Engine.operation`: it takes the store lock, applies the progression steps
that have come due on the emulator clock (what PanDA does asynchronously: the adder finishing
jobs, JEDI applying task commands), and runs the operation as one atomic transaction.
"""

from __future__ import annotations

import datetime as _dt
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from .clock import Clock, to_epoch
from .credentials import Credentials
from .files import FileServer
from .harvester import Harvester
from .ids import Ids
from .outcome import StateError
from .rng import Randomness
from .store import SortedIndex, Store, Transaction
from .tables import create_tables
from .world import World

#: Delays (emulated seconds) of what PanDA does asynchronously; a scenario's ``progression``
#: section overrides them.
DEFAULT_PROGRESSION: dict[str, float] = {
    "job_activation": 1.0,  # job/submit: defined -> activated
    "job_adder": 5.0,  # holding (final report) -> finished / failed
    "task_step": 2.0,  # JEDI: registered -> defined -> ready -> scouting -> running
    "task_command": 10.0,  # a registered task command is applied by JEDI
    "task_completion": 2.0,  # all jobs final -> task done / finished / failed
    "data_carousel_staging": 60.0,  # data carousel: a queued staging request starts staging
    "data_carousel_done": 600.0,  # data carousel: a staging request is done
    "async_request": 1.0,  # async_process: each step of a request on a machine
    "harvester_command": 0.0,  # new sweep commands become visible
    "cache_file_lifetime": 7 * 24 * 3600.0,  # an untouched cache file leaves the file server
}

ActionHandler = Callable[..., None]


class Engine:
    """The emulated PanDA world and the operations on it."""

    def __init__(
        self,
        clock: Clock | None = None,
        seed: int = 0,
        production_dns: tuple[str, ...] = (),
        data_dir: str | None = None,
        max_upload_mb: int = 768,
    ) -> None:
        self.clock = clock or Clock()
        self.store = Store()
        self.randomness = Randomness(seed)
        self.ids = Ids(self.store)
        self.production_dns = tuple(production_dns)
        self.progression: dict[str, float] = dict(DEFAULT_PROGRESSION)
        self.actions: dict[str, ActionHandler] = {}
        self.scenario_hooks: list[Callable[[Engine, Any], None]] = []
        # called after the whole state was replaced at once (scenario load, full restore), e.g. so
        # that persistence writes a full checkpoint
        self.reload_listeners: list[Callable[[], None]] = []
        self.scenario: Any = None
        self._baseline: dict[str, dict] | None = None
        self._baseline_clock: dict | None = None
        self._observers = threading.local()
        self.pending = self.store.create_table(
            "progressions",
            key="id",
            indexes=[SortedIndex("due", [], order=lambda record: (record["due"], record["id"]))],
        )
        self.store.listeners.append(self._notify_observer)
        create_tables(self.store)
        self.world = World(self)
        self.services: list[Any] = [self.world]
        self.data_dir = data_dir  # file server: None = a temporary directory
        self.max_upload_mb = max_upload_mb
        self._register_services()

    def _register_services(self) -> None:
        """Create the domain services (each creates its tables and registers its actions)."""
        from .generate import Generator

        self.generator = Generator(self)  # scenario hook: the `generate` section's world
        self.services.append(self.generator)
        from .events import Events
        from .jobs import Jobs
        from .statistics import Statistics

        self.jobs = Jobs(self)
        self.events = Events(self)
        self.statistics = Statistics(self)
        self.services.extend([self.jobs, self.events, self.statistics])
        self.harvester = Harvester(self)
        self.services.append(self.harvester)
        self.files = FileServer(self, data_dir=self.data_dir, max_upload_mb=self.max_upload_mb)
        self.services.append(self.files)
        self.credentials = Credentials(self)
        self.services.append(self.credentials)
        from .async_requests import AsyncRequests
        from .carousel import DataCarousel
        from .idds import Idds
        from .tasks import Tasks
        from .workflows import Workflows

        self.tasks = Tasks(self)  # JEDI in miniature (needs self.jobs)
        self.carousel = DataCarousel(self)
        self.workflows = Workflows(self)  # needs self.tasks
        self.idds = Idds(self)
        self.async_requests = AsyncRequests(self)
        self.services.extend([self.tasks, self.carousel, self.workflows, self.idds, self.async_requests])
        from .payloads import Payloads

        self.payloads = Payloads(self)  # payload scripts, local storage, info-system documents
        self.services.append(self.payloads)

    # -- randomness ------------------------------------------------------------------------
    @property
    def random(self):
        """The engine's seeded :class:`random.Random`."""
        return self.randomness.random

    @property
    def faker(self) -> Any:
        """The engine's seeded Faker."""
        return self.randomness.faker

    def now(self) -> _dt.datetime:
        return self.clock.now()

    # -- operations ------------------------------------------------------------------------
    @contextmanager
    def operation(self) -> Iterator[Transaction]:
        """Lock, apply due progression steps, then run the block atomically.

        The due steps commit in a transaction of their own before the block: what PanDA did
        asynchronously meanwhile stays done when the block is refused (a :class:`Failure` such as
        "No jobs in PanDA" rolls back the block only)."""
        with self.store.lock:
            if not self.store.in_transaction and self._has_due():
                with self.store.transaction():
                    self._run_due()
            with self.store.transaction() as tx:
                yield tx

    def _has_due(self) -> bool:
        bucket = self.pending.index("due").buckets.get(())
        return bool(bucket) and bucket[0][0][0] <= self.clock.time()

    def tick(self) -> None:
        """Apply whatever progression steps have come due (e.g. after the clock moved)."""
        with self.operation():
            pass

    @contextmanager
    def observe(self) -> Iterator[list[dict]]:
        """Collect the status transitions committed by this thread inside the block."""
        collected: list[dict] = []
        previous = getattr(self._observers, "transitions", None)
        self._observers.transitions = collected
        try:
            yield collected
        finally:
            self._observers.transitions = previous

    def _notify_observer(self, tx: Transaction) -> None:
        observer = getattr(self._observers, "transitions", None)
        if observer is not None:
            observer.extend(tx.transitions)

    # -- progression ------------------------------------------------------------------------
    def on(self, action: str, handler: ActionHandler) -> None:
        """Register the handler of a scheduled action (``handler(**args)``)."""
        if action in self.actions:
            raise ValueError(f"action {action!r} is registered already")
        self.actions[action] = handler

    def delay(self, name: str) -> float:
        """The configured delay of a progression step, in emulated seconds."""
        return float(self.progression.get(name, 0.0))

    def schedule(self, action: str, after: float | str, **args: Any) -> int:
        """Run ``action(**args)`` once ``after`` seconds (or the named delay) have passed on the clock.

        Must be called inside an operation; the step is stored (and persisted) with the state.
        """
        if action not in self.actions:
            raise KeyError(f"no action {action!r}; known: {', '.join(sorted(self.actions))}")
        seconds = self.delay(after) if isinstance(after, str) else float(after)
        step_id = self.ids.next("progression")
        self.pending.insert({"id": step_id, "due": self.clock.time() + seconds, "action": action, "args": args})
        return step_id

    def _run_due(self) -> None:
        index = self.pending.index("due")
        now = self.clock.time()
        while True:
            bucket = index.buckets.get(())
            if not bucket:
                return
            (due, step_id) = bucket[0][0]
            if due > now:
                return
            step = self.pending.delete(step_id)
            handler = self.actions.get(step["action"])
            if handler is None:
                raise StateError(f"scheduled action {step['action']!r} has no handler")
            handler(**step["args"])

    def pending_steps(self) -> list[dict]:
        """Scheduled steps, soonest first."""
        with self.store.lock:
            return [dict(self.pending.get(rid)) for rid in self.pending.ids("due", ())]

    # -- scenario, reset, snapshots --------------------------------------------------------
    def load_scenario(self, scenario: Any) -> None:
        """Replace the whole state by the scenario's world and make it the reset baseline."""
        from .loader import apply_scenario

        with self.store.lock:
            self.store.clear()
            apply_scenario(self, scenario)
            self.scenario = scenario
            self.mark_baseline()
            self._reloaded()

    def mark_baseline(self) -> None:
        """Remember the current state as the one :meth:`reset` returns to."""
        with self.store.lock:
            self._baseline = self.store.checkpoint()
            self._baseline_clock = {"epoch": self.clock.time(), "seed": self.randomness.seed}

    def reset(self) -> None:
        """Return to the state of the last scenario load.

        Undoes the changes made since (milliseconds, whatever the size of the world); falls back
        to putting back the whole baseline when a table was replaced wholesale, and to loading the
        scenario again when there is no baseline (state restored from a state file).
        """
        with self.store.lock:
            if self._baseline is None:
                if self.scenario is not None:
                    self.load_scenario(self.scenario)
                else:
                    self.store.clear()
                    self._reloaded()
                return
            if self.store.revert() is None:
                self.store.restore(self._baseline)
                self._baseline = self.store.checkpoint()
                self._reloaded()
            self.randomness.reseed(self._baseline_clock["seed"])
            if self.scenario is not None:
                from .loader import apply_clock

                apply_clock(self, self.scenario)
                self.configure_progression(self.scenario.progression or {})

    def _reloaded(self) -> None:
        for listener in self.reload_listeners:
            listener()

    def is_task_owner(self, task_id: object, compact_name: str | None) -> bool:
        """Whether the task's ``userName`` is this compact user name (the API's task-owner check)."""
        try:
            key = int(task_id)  # type: ignore[call-overload]
        except (TypeError, ValueError):
            return False
        with self.store.lock:
            task = self.store.table("tasks").get(key)
        return task is not None and task.get("userName") == compact_name

    def counts(self) -> dict[str, int]:
        """Number of records per table."""
        with self.store.lock:
            return {name: len(table) for name, table in self.store.tables.items()}

    def configure_progression(self, delays: Mapping[str, float]) -> None:
        self.progression = dict(DEFAULT_PROGRESSION)
        self.progression.update(delays)

    def epoch(self, moment: _dt.datetime) -> float:
        return to_epoch(moment)
