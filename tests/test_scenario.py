"""Scenario files: validation with paths, shipped scenarios, loading into an engine."""

from __future__ import annotations

import pytest

from pandamock.engine import Engine
from pandamock.scenario import SCHEMA, ScenarioError, load, shipped_scenarios, validate


@pytest.mark.parametrize("name", sorted(shipped_scenarios()))
def test_every_shipped_scenario_validates_and_loads(name):
    scenario = load(name)
    engine = Engine()
    engine.load_scenario(scenario)
    assert engine.counts()["users"] >= 1
    assert engine.counts()["resource_types"] == 4


@pytest.mark.parametrize(
    "data, problem",
    [
        (
            {"name": "x", "sites": [{"name": "Q", "corecount": "eight"}]},
            "sites[0].corecount: expected an integer, got 'eight'",
        ),
        (
            {"name": "x", "sites": [{"name": "Q", "corecont": 8}]},
            "sites[0].corecont: unknown key (did you mean 'corecount'?)",
        ),
        (
            {"name": "x", "sites": [{"name": "Q", "status": "up"}]},
            "sites[0].status: expected one of online, offline, test, brokeroff, got 'up'",
        ),
        ({"name": "x", "seeed": 1}, "seeed: unknown key (did you mean 'seed'?)"),
        ({"name": "x", "identities": [{"name": "a"}]}, "identities[0]: missing required key 'dn'"),
        ({"name": "x", "progression": {"job_adder": -1}}, "progression.job_adder: must be at least 0, got -1"),
        ({"name": "x", "clock": {"speed": "fast"}}, "clock.speed: expected a number, got 'fast'"),
        ({"sites": []}, "scenario: missing required key 'name'"),
        (["not", "a", "mapping"], "scenario: expected a mapping"),
    ],
)
def test_validation_names_the_path(data, problem):
    problems = validate(data, SCHEMA)
    assert any(p.startswith(problem) for p in problems), problems


def test_duplicate_names_and_missing_fixtures(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("name: s\nidentities:\n  - {name: a, dn: /CN=a}\n  - {name: a, dn: /CN=b}\nfixtures: [nope.json]\n")
    with pytest.raises(ScenarioError) as raised:
        load(str(path))
    assert "identities[1].name: 'a' is used already by identities[0]" in raised.value.problems
    assert "fixtures[0]: no fixture file 'nope.json'" in raised.value.problems


def test_unknown_shipped_name_suggests():
    with pytest.raises(ScenarioError, match="did you mean 'default'"):
        load("defualt")


def test_a_dump_loads_back_as_a_scenario():
    import json

    from pandamock.api.envelope import encode
    from pandamock.engine import records, snapshot

    engine = Engine()
    engine.load_scenario(load("default"))
    with engine.operation():
        engine.store.table("tasks").insert(
            records.new_task({"jediTaskID": 1, "status": "running", "modificationTime": engine.now()})
        )
    dumped = json.loads(encode(snapshot.dump(engine), as_json=True))
    again = Engine()
    again.load_scenario(load(dumped))
    assert (
        again.store.table("tasks").get(1)["modificationTime"] == engine.store.table("tasks").get(1)["modificationTime"]
    )
    assert again.counts() == engine.counts()
    only_running = snapshot.dump(engine, tables=["tasks"], where={"status": "running", "jediTaskID": "1"})
    assert [task["jediTaskID"] for task in only_running["records"]["tasks"]] == [1]


def test_reset_restores_progression_delays_and_clock():
    engine = Engine()
    engine.load_scenario(load({"name": "p", "progression": {"job_adder": 7}, "clock": {"frozen": True}}))
    start = engine.clock.time()
    engine.progression["job_adder"] = 0
    engine.clock.advance(100)
    engine.reset()
    assert engine.delay("job_adder") == 7
    assert engine.clock.time() < start + 100


def test_a_frozen_clock_stands_exactly_on_the_scenario_start():
    import datetime as dt

    engine = Engine()
    engine.load_scenario(load({"name": "f", "clock": {"start": "2026-11-29T12:00:00", "frozen": True}}))
    assert engine.now() == dt.datetime(2026, 11, 29, 12, 0, 0)
