"""The emulator: an engine plus everything around it (registry, identity, journal, faults)."""

from __future__ import annotations

import logging
from typing import Any

from . import scenario as scenarios
from .api.identity import IdentityResolver
from .api.registry import Registry, discover
from .config import Settings
from .engine import Engine
from .engine.persistence import StateFile, write_snapshot
from .faults import FaultEngine
from .journal import Journal

log = logging.getLogger("pandamock")


class Emulator:
    """One emulated PanDA server's state and machinery, independent of any HTTP server."""

    def __init__(
        self, settings: Settings | None = None, scenario: Any = None, registry: Registry | None = None
    ) -> None:
        self.settings = settings or Settings.load()
        self.engine = Engine(
            production_dns=self.settings.production_dns,
            data_dir=self.settings.data_dir,
            max_upload_mb=self.settings.max_upload_mb,
        )
        self.registry = registry or discover()
        self.journal = Journal(self.settings.journal_size, self.settings.journal_file)
        self.faults = FaultEngine(clock=self.engine.clock)
        self.identities = IdentityResolver(
            self.engine.world,
            mode=self.settings.auth_mode,
            default_identity=self.settings.identity,
            production_dns=self.settings.production_dns,
            verifier=_token_verifier(self.settings),
        )
        self.scenario: scenarios.Scenario | None = None
        #: the durable state (``state_file`` setting), or None when the state lives in memory only
        self.state: StateFile | None = None
        reference = scenario if scenario is not None else self.settings.scenario
        if self.settings.state_file:
            self.state = StateFile(self.settings.state_file)
            if self.state.exists():
                # the state file wins over the scenario: it holds the world as it was left
                self.scenario = self.state.load(self.engine)
                self.faults.load(self.scenario.faults, seed=self.scenario.seed)
                self._check_identity(self.scenario)
                log.info("state from %s (scenario %s, given scenario not loaded)", self.state.path, self.scenario.name)
            else:
                self.load_scenario(reference)
            self.state.attach(self.engine)
        else:
            self.load_scenario(reference)

    def load_scenario(self, reference: Any) -> scenarios.Scenario:
        """Replace the state by a scenario (shipped name, path, mapping or :class:`Scenario`)."""
        loaded = scenarios.load(reference)
        if self.settings.seed is not None:
            loaded.seed = self.settings.seed
        self.engine.load_scenario(loaded)
        self.faults.load(loaded.faults, seed=loaded.seed)
        self.scenario = loaded
        self._check_identity(loaded)
        log.info("scenario %s loaded: %s", loaded.name, self.engine.counts())
        return loaded

    def _check_identity(self, loaded: scenarios.Scenario) -> None:
        if self.settings.identity and self.engine.world.user(self.settings.identity) is None:
            raise scenarios.ScenarioError(
                loaded.source or loaded.name,
                [f"identity {self.settings.identity!r} (from the identity setting) is not in the scenario"],
            )

    def reset(self) -> None:
        """Back to the loaded scenario's state and fault rules (counters zeroed, schedules
        re-anchored); the journal is emptied."""
        self.engine.reset()
        self.faults.reset()
        self.journal.clear()

    def save_snapshot(self, path: str, tables: Any = None, where: Any = None) -> int:
        """Write the state (or some tables, filtered) to a file in scenario format; returns the
        number of records. ``load_scenario(path)`` (or ``serve --scenario path``) restores it."""
        return write_snapshot(self.engine, path, tables, where)

    def close(self) -> None:
        """Stop: with a state file, write a final compaction (the document file then holds everything)."""
        if self.state is not None:
            self.state.close()
            self.state = None


def _token_verifier(settings: Settings) -> Any:
    """Strict mode verifies token signatures (:mod:`pandamock.tokens`, imported only then)."""
    if settings.auth_mode != "strict":
        return None
    from .tokens import token_verifier

    return token_verifier(settings)
