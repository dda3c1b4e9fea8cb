"""State dumps in the scenario format: a dump can be loaded back as a scenario.

A dump is the scenario's settings (seed, clock, ids, vos, progression, faults, identities and
sites as loaded) plus ``records``: ``{table: [record, ...]}`` for the tables asked for. Loading it
as a scenario puts those records back (``records`` is applied after fixtures and generation).
Datetimes stay :class:`datetime.datetime` here; encoders write them as ``{"__datetime__": iso}``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Mapping

if TYPE_CHECKING:
    from .core import Engine

#: Tables that describe the world rather than its activity (a dump carries them as records too).
INTERNAL_TABLES = ("counters", "progressions")


def select(records: Iterable[Mapping], where: Mapping[str, Any] | None) -> list[dict]:
    """Records whose fields equal every value of ``where`` (values compared as strings when the
    record's value is not a string, so query-string filters work: ``jobStatus=running``, ``PandaID=6000000001``)."""
    if not where:
        return [dict(record) for record in records]
    selected = []
    for record in records:
        if all(_matches(record.get(key), wanted) for key, wanted in where.items()):
            selected.append(dict(record))
    return selected


def _matches(value: Any, wanted: Any) -> bool:
    if value == wanted:
        return True
    return not isinstance(value, str) and str(value) == str(wanted)


def dump(engine: Engine, tables: Iterable[str] | None = None, where: Mapping[str, Any] | None = None) -> dict:
    """The state in scenario form. ``tables``: which tables (default all); ``where``: field filters."""
    with engine.store.lock:
        names = list(tables) if tables is not None else list(engine.store.tables)
        unknown = [name for name in names if name not in engine.store.tables]
        if unknown:
            raise KeyError(f"no table {unknown[0]!r}; tables: {', '.join(sorted(engine.store.tables))}")
        records = {name: select(engine.store.tables[name].values(), where) for name in names}
        scenario = engine.scenario
        base = scenario.as_dict() if scenario is not None and hasattr(scenario, "as_dict") else {"name": "dump"}
    base.pop("generate", None)  # the records already hold what was generated
    base.pop("fixtures", None)
    base["name"] = f"{base.get('name', 'state')}-dump"
    base["clock"] = {**base.get("clock", {}), "start": engine.clock.now().isoformat()}
    base["records"] = records
    return base
