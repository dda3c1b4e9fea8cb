"""Applying a scenario to an engine: seed, clock, ids, progression delays, world, fixtures.

Generation of tasks, jobs and event ranges is done by the hooks in ``engine.scenario_hooks``
(each ``hook(engine, scenario)`` runs inside the same bulk load).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .clock import parse_time

if TYPE_CHECKING:
    from .core import Engine


def apply_clock(engine: Engine, scenario: Any) -> None:
    """Set the engine clock from the scenario's ``clock`` section (start, speed, frozen)."""
    settings = scenario.clock or {}
    engine.clock.set_speed(float(settings.get("speed", 1.0)))
    if settings.get("frozen"):
        engine.clock.freeze()
    else:
        engine.clock.unfreeze()
    start = settings.get("start")  # set last: a frozen clock then stands exactly at the start
    if start not in (None, "", "now"):
        engine.clock.set(parse_time(start))
    else:
        engine.clock.set(engine.clock._time_source())


def apply_settings(engine: Engine, scenario: Any) -> None:
    """The scenario's settings that live outside the store: seed, id starts, progression delays, VOs."""
    engine.randomness.reseed(int(scenario.seed))
    engine.ids.configure(scenario.ids or {})
    engine.configure_progression(scenario.progression or {})
    engine.world.vos = tuple(scenario.vos or ()) or ("atlas",)


def apply_scenario(engine: Engine, scenario: Any) -> None:
    """Load the scenario's world into an empty engine store."""
    apply_settings(engine, scenario)
    apply_clock(engine, scenario)
    with engine.store.bulk():
        engine.world.load(scenario.identities, scenario.sites, scenario.vos)
        for table_name, records in scenario.fixture_records():
            table = engine.store.table(table_name)
            for record in records:
                table.put(record)
        for hook in engine.scenario_hooks:
            hook(engine, scenario)
        for table_name, records in (getattr(scenario, "records", None) or {}).items():
            table = engine.store.table(table_name)
            for record in records:
                table.put(record)
