"""Scenario files: validation with paths, shipped scenarios, loading into an engine."""

from __future__ import annotations

import pytest

from pandamock.engine import Engine
from pandamock.scenario import SCHEMA, ScenarioError, load, shipped_scenarios, validate

#: Largest generated world a unit test loads; bigger shipped worlds (``big``) are loaded scaled down
#: here, and at full size by ``bench/bench_state.py``.
TEST_JOB_LIMIT = 5000


@pytest.mark.parametrize("name", sorted(shipped_scenarios()))
def test_every_shipped_scenario_validates_and_loads(name):
    scenario = load(name)
    generate = dict(scenario.generate)
    jobs = (generate.get("tasks", 0) + generate.get("event_service_tasks", 0)) * generate.get("jobs_per_task", 0)
    if jobs > TEST_JOB_LIMIT:
        for key in ("tasks", "event_service_tasks"):
            generate[key] = -(-generate.get(key, 0) * TEST_JOB_LIMIT // jobs)  # scaled, at least 1 if any
        scenario.generate = generate
    engine = Engine()
    engine.load_scenario(scenario)
    counts = engine.counts()
    assert counts["users"] >= 1
    assert counts["resource_types"] == 4
    if generate.get("tasks") or generate.get("event_service_tasks"):
        assert counts["tasks"] >= generate.get("tasks", 0) + generate.get("event_service_tasks", 0)
        assert counts["jobs"] >= (generate.get("tasks", 0) + generate.get("event_service_tasks", 0)) * generate.get(
            "jobs_per_task", 0
        )
    if generate.get("event_service_tasks") and generate.get("events_per_job"):
        assert counts["event_ranges"] > 0


def test_shipped_schema_file_is_in_sync():
    """scenarios/scenario.schema.json is SCHEMA.

    Regenerate it with: pandamock scenario schema -o scenarios/scenario.schema.json
    """
    from pandamock.commands.scenario import schema_text
    from pandamock.paths import scenarios_dir

    assert (scenarios_dir() / "scenario.schema.json").read_text() == schema_text()


def test_default_world_stays_small():
    """Not a timing test: the default world stays small (tests reset to it before each test)."""
    engine = Engine()
    engine.load_scenario(load("default"))
    counts = engine.counts()
    assert counts["jobs"] < 200 and counts["event_ranges"] < 1000


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


def test_cli_generate_writes_a_loadable_scenario(tmp_path):
    import yaml
    from click.testing import CliRunner

    from pandamock.cli import main

    base = load("default")
    base.clock = {"start": "2026-11-29T12:00:00", "frozen": True}
    base_file = tmp_path / "base.yaml"
    base_file.write_text(yaml.safe_dump(base.as_dict()))
    output = tmp_path / "world.json"
    args = ["scenario", "generate", "--tasks", "3", "--jobs-per-task", "5", "--event-service-tasks", "1"]
    args += ["--events-per-job", "7", "--activated-jobs", "0", "--users", "0", "--seed", "5", "-o", str(output)]
    args += ["--base", str(base_file)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert f"{output}: " in result.output
    scenario = load(str(output))
    assert scenario.name == "world" and scenario.seed == 5
    engine = Engine()
    engine.load_scenario(scenario)
    counts = engine.counts()
    assert counts["tasks"] == 4 and counts["jobs"] == 20
    assert counts["event_ranges"] == 7 * sum(1 for j in engine.store["jobs"].values() if j["eventService"] == 1)
    # the same world as generating in memory with those counts
    expected = load(str(base_file))
    expected.seed = 5
    expected.generate = {**expected.generate, "tasks": 3, "jobs_per_task": 5, "event_service_tasks": 1}
    expected.generate.update({"events_per_job": 7, "activated_jobs": 0, "users": 0})
    direct = Engine()
    direct.load_scenario(expected)
    assert engine.store["jobs"].records == direct.store["jobs"].records


def test_cli_generate_refuses_a_bad_base(tmp_path):
    from click.testing import CliRunner

    from pandamock.cli import main

    result = CliRunner().invoke(main, ["scenario", "generate", "--base", "defualt", "-o", str(tmp_path / "x.json")])
    assert result.exit_code == 2
    assert "did you mean 'default'" in result.output


def test_cli_schema_prints_the_schema():
    import json

    from click.testing import CliRunner

    from pandamock.cli import main

    result = CliRunner().invoke(main, ["scenario", "schema"])
    assert result.exit_code == 0
    assert json.loads(result.output) == SCHEMA
