"""Generated worlds: realistic values, consistent statuses, reproducible from the seed."""

from __future__ import annotations

import json
import random
import re
from collections import Counter

import pytest

from pandamock.api.envelope import encode
from pandamock.engine import Engine, generate, snapshot
from pandamock.engine.naming import clean_user_id
from pandamock.engine.statuses import EVENT, JOB, TASK
from pandamock.scenario import ScenarioError, load

FIXED_CLOCK = {"start": "2026-11-29T12:00:00", "frozen": True}


def _world(name: str = "default", seed: int | None = None, **generate_section) -> Engine:
    scenario = load(name)
    scenario.clock = dict(FIXED_CLOCK)
    if seed is not None:
        scenario.seed = seed
    if generate_section:
        scenario.generate = {**scenario.generate, **generate_section}
    engine = Engine()
    engine.load_scenario(scenario)
    return engine


@pytest.fixture(scope="module")
def world() -> Engine:
    return _world()


def _dump_bytes(engine: Engine) -> bytes:
    return encode(snapshot.dump(engine), as_json=True)


def test_same_seed_gives_a_byte_identical_world():
    first, second = _dump_bytes(_world()), _dump_bytes(_world())
    assert first == second
    assert len(json.loads(first)["records"]["jobs"]) > 20


def test_another_seed_gives_another_world():
    one, other = _world(seed=1), _world(seed=2)
    assert one.counts() == other.counts()
    assert _dump_bytes(one) != _dump_bytes(other)


def test_default_world_has_what_the_scenario_promises(world):
    jobs = world.store["jobs"]
    tasks = world.store["tasks"]
    assert {"running", "done", "finished"} <= set(tasks.counts("by_status"))
    online = [q["sitename"] for q in world.world.sites.values() if q["status"] == "online"]
    for queue in online:
        assert jobs.count("dispatch", (queue, "activated")) >= 3, queue
    for queue in ("UKI-LT2-QMUL_TEST", "IN2P3-CC_OFFLINE"):
        assert not [job for job in jobs.values() if job["computingSite"] == queue]
    es_tasks = [task for task in tasks.values() if task["eventService"] == 1]
    assert len(es_tasks) == 1 and es_tasks[0]["status"] == "running"
    es_jobs = jobs.find("by_task", es_tasks[0]["jediTaskID"])
    assert {job["computingSite"] for job in es_jobs} == {"DESY-HH_ES"}
    activated = [job for job in es_jobs if job["jobStatus"] == "activated"]
    assert activated
    ready = world.store["event_ranges"].find("by_job_status", (activated[0]["jobsetID"], "ready"))
    assert len(ready) == 20
    assert [r["job_processID"] for r in ready] == list(range(1, 21))
    statuses = Counter(job["jobStatus"] for job in jobs.values())
    assert {"activated", "sent", "starting", "running", "holding", "finished", "failed"} <= set(statuses)


def test_statuses_are_legal_values_and_consistent(world):
    for task in world.store["tasks"].values():
        assert task["status"] in TASK.statuses
        job_statuses = {job["jobStatus"] for job in world.store["jobs"].find("by_task", task["jediTaskID"])}
        if task["status"] == "done":
            assert job_statuses == {"finished"}
        if task["status"] in ("done", "finished", "failed"):
            assert job_statuses <= {"finished", "failed", "cancelled", "closed"}
            assert task["endTime"] is not None and task["endTime"] <= world.now()
    for job in world.store["jobs"].values():
        assert job["jobStatus"] in JOB.statuses
        assert job["creationTime"] <= job["modificationTime"] <= world.now()
        started = job["jobStatus"] in ("starting", "running", "holding", "transferring", "finished", "failed")
        assert (job["startTime"] is not None) == started, job["jobStatus"]
        assert (job["endTime"] is not None) == (job["jobStatus"] in ("finished", "failed", "cancelled", "closed"))
    for event_range in world.store["event_ranges"].values():
        assert event_range["status"] in EVENT.statuses


def test_task_and_job_values_look_like_panda(world):
    users = {user["compact_name"]: user for user in world.world.users.values()}
    for task in world.store["tasks"].values():
        assert task["userName"] in users and not users[task["userName"]]["banned"]
        assert task["userName"] == clean_user_id(users[task["userName"]]["dn"])
        assert re.fullmatch(r"([A-Z]{2}=[^,]+)(,[A-Z]{2}=[^,]+)*", task["splitRule"])
        assert task["modificationTime"] <= world.now()
        if task["prodSourceLabel"] == "managed":
            assert re.fullmatch(
                r"mc23_13p6TeV\.\d{6}\.\w+\.(simul|recon|deriv|pilot)\.e\d+(_[srp]\d+)+", task["taskName"]
            )
        else:
            assert task["taskName"].startswith("user.") and task["taskName"].endswith("/")
    sites = world.world.sites
    for job in world.store["jobs"].values():
        queue = sites.get(job["computingSite"])
        assert queue["status"] == "online"
        analysis = job["prodSourceLabel"] == "user"
        assert generate.accepts(
            queue, analysis=analysis, event_service=job["eventService"] == 1, core_count=job["coreCount"]
        ), (job["computingSite"], job["prodSourceLabel"], job["coreCount"])
        assert job["resource_type"] == generate.resource_type_for(world, job["coreCount"], job["minRamCount"])
        assert job["minRamCount"] <= queue["maxrss"]
        assert job["maxWalltime"] <= queue["maxtime"]
        task = world.store["tasks"].get(job["jediTaskID"])
        assert job["prodUserName"] == task["userName"] and job["taskID"] == task["jediTaskID"]
        assert job["transformation"] and job["jobParameters"] and job["cmtConfig"] and job["AtlasRelease"]


def test_job_files_are_realistic_file_specs(world):
    jobs = world.store["jobs"]
    datasets = world.store["datasets"]
    dataset_files = world.store["dataset_files"]
    guids = set()
    for job in jobs.values():
        by_type = Counter(file["type"] for file in job["Files"])
        assert by_type == {"input": 1, "output": 1, "log": 1}
        queue = world.world.sites.get(job["computingSite"])
        for file in job["Files"]:
            assert file["PandaID"] == job["PandaID"] and file["jediTaskID"] == job["jediTaskID"]
            assert re.fullmatch(r"[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}", file["GUID"])
            assert datasets.get(file["datasetID"])["datasetName"] == file["dataset"]
            assert dataset_files.get(file["fileID"])["lfn"] == file["lfn"]
            if file["type"] == "input":
                assert file["lfn"] in job["jobParameters"]
                assert re.fullmatch(r"ad:[0-9a-f]{8}", file["checksum"]) and file["fsize"] > 0
                assert file["scope"] == "mc23_13p6TeV"
            else:
                guids.add(file["GUID"])
                assert file["destinationDBlock"].startswith(file["dataset"] + "_sub")
                assert file["destinationDBlockToken"] == f"dst:{queue['ddm_endpoints_output'][0]}"
                assert file["destinationSE"] == job["computingSite"]
                produced = job["jobStatus"] == "finished"
                assert (file["checksum"] is not None) == (produced or file["status"] == "ready")
            if job["prodSourceLabel"] == "managed" and file["type"] == "output":
                assert re.fullmatch(
                    r"(HITS|AOD|DAOD_PHYS)\.\d{8}\._\d{6}\.pool\.root\.1|TXT\.\d{8}\._\d{6}\.txt\.1", file["lfn"]
                )
            if job["prodSourceLabel"] == "managed" and file["type"] == "log":
                assert re.fullmatch(r"log\.\d{8}\._\d{6}\.job\.log\.tgz\.1", file["lfn"])
    assert len(guids) == 2 * len(jobs)  # every output GUID is new


def test_event_ranges_carry_their_input_file(world):
    jobs = world.store["jobs"]
    for event_range in world.store["event_ranges"].values():
        if event_range["status"] == "ready":
            # a ready range belongs to the jobset (PandaID = jobsetID) until a consumer takes it
            (job,) = jobs.find("by_jobset", event_range["PandaID"])
            assert event_range["event_offset"] == job["jobsetID"]
        else:
            job = jobs.get(event_range["PandaID"])
        assert job["eventService"] == 1
        (input_file,) = [file for file in job["Files"] if file["type"] == "input"]
        assert event_range["eventRangeID"] == (
            f"{job['jediTaskID']}-{event_range['PandaID']}-{input_file['fileID']}-"
            f"{event_range['job_processID']}-{event_range['attemptNr']}"
        )
        assert (event_range["LFN"], event_range["GUID"], event_range["scope"]) == (
            input_file["lfn"],
            input_file["GUID"],
            input_file["scope"],
        )
        assert event_range["def_min_eventID"] <= event_range["def_max_eventID"]
        if job["jobStatus"] in ("activated", "sent", "starting"):
            assert event_range["status"] == "ready"


def test_generated_users_have_realistic_dns(world):
    generated = [
        user for user in world.world.users.values() if user["name"] not in ("pilot", "jdoe", "higgs", "mallory")
    ]
    assert len(generated) == 2
    for user in generated:
        assert re.fullmatch(r"/DC=ch/DC=cern/OU=Organic Units/OU=Users/CN=[a-z]+/CN=\d{6}/CN=[A-Z][\w' -]+", user["dn"])
        assert not user["production"]


def test_ids_have_realistic_magnitudes(world):
    assert min(world.store["jobs"].records) >= 6_000_000_001
    assert min(world.store["tasks"].records) >= 40_000_001
    # the counters go on after the generated ids
    with world.operation():
        assert world.ids.next("PandaID") == max(world.store["jobs"].records) + 1


def test_building_blocks():
    rng = random.Random(7)
    assert re.fullmatch(r"ad:[0-9a-f]{8}", generate.make_checksum(rng))
    assert generate.make_lfn("HITS", 40123456, 123) == "HITS.40123456._000123.pool.root.1"
    assert generate.make_log_lfn(40123456, 5) == "log.40123456._000005.job.log.tgz.1"
    name = generate.make_dataset_name(
        "mc23_13p6TeV", 601229, "PhPy8EG_A14_ttbar", "simul", "HITS", "e8514_s4162", 40123456
    )
    assert name == "mc23_13p6TeV.601229.PhPy8EG_A14_ttbar.simul.HITS.e8514_s4162_tid40123456_00"
    assert generate.nickname_of("/DC=ch/DC=cern/OU=Organic Units/OU=Users/CN=jdoe/CN=123456/CN=Jane Doe") == "jdoe"
    assert generate.make_guid(random.Random(1)) == generate.make_guid(random.Random(1))


def test_reusable_for_a_task_made_at_run_time(world):
    """What JEDI-in-miniature does: plan a task, add jobs, store everything in one operation."""
    owner = world.world.user("jdoe")
    with world.operation():
        plan = generate.plan_task(world, owner=owner, step="analysis", status="running", n_input_files=2)
        queue = plan.queues[0]
        for _ in range(3):
            generate.make_job(world, plan, queue=queue, status="activated")
        for table, record in plan.records():
            world.store[table].insert(record)
    assert world.store["tasks"].get(plan.task_id)["userName"] == "Jane Doe"
    jobs = world.store["jobs"].find("by_task", plan.task_id)
    assert [job["jobStatus"] for job in jobs] == ["activated"] * 3
    assert len({job["jobsetID"] for job in jobs}) == 1  # one jobset per user task
    assert [f["lfn"] for f in jobs[2]["Files"] if f["type"] == "input"] == [plan.input_files[0]["lfn"]]


def test_event_service_world():
    engine = _world("event_service")
    es_queues = {"DESY-HH_ES", "BNL_ES_MCORE", "NERSC_Perlmutter_ES"}
    assert {job["computingSite"] for job in engine.store["jobs"].values()} == es_queues
    for queue in es_queues:
        assert engine.store["jobs"].count("dispatch", (queue, "activated")) >= 4
    ready = engine.store["event_ranges"].count("by_status", "ready")
    assert ready > engine.counts()["event_ranges"] // 2


def test_a_world_without_queues_is_a_scenario_error():
    with pytest.raises(ScenarioError, match="generate: the scenario needs at least one queue"):
        Engine().load_scenario(
            load({"name": "x", "identities": [{"name": "a", "dn": "/CN=a"}], "generate": {"tasks": 1}})
        )


def test_progress_reports_every_job():
    scenario = load("default")
    engine = Engine()
    seen = []
    engine.generator.progress = seen.append
    engine.load_scenario(scenario)
    assert sum(seen) == engine.counts()["jobs"]


def test_the_seed_setting_and_a_scenario_path_make_the_world(tmp_path):
    import yaml

    from pandamock.config import Settings
    from pandamock.emulator import Emulator

    scenario = load("default").as_dict()
    scenario["clock"] = dict(FIXED_CLOCK)
    path = tmp_path / "world.yaml"
    path.write_text(yaml.safe_dump(scenario))
    by_path = Emulator(Settings.load({"scenario": str(path)}, environ={}))
    again = Emulator(Settings.load({"scenario": str(path)}, environ={}))
    reseeded = Emulator(Settings.load({"scenario": str(path), "seed": 99}, environ={}))
    assert by_path.scenario.seed == 20261129 and reseeded.scenario.seed == 99
    assert _dump_bytes(by_path.engine) == _dump_bytes(again.engine)

    def names(emulator):
        return [task["taskName"] for task in emulator.engine.store["tasks"].values()]

    assert names(by_path) != names(reseeded)
