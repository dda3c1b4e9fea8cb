# ruff: noqa: F811 - the fixtures are imported from tests.jobs_support
"""pilot/update_job and pilot/update_jobs_bulk: the job lifecycle, its guards, metrics and commands,
and the adder; pilot/update_worker_node(_gpu)."""

from __future__ import annotations

import datetime as dt

from tests.jobs_support import (  # noqa: F401 - fixtures
    ADDER_DELAY,
    START,
    create,
    japp,
    jclient,
    jengine,
    job_values,
    jobs_shared_app,
    post,
)

NOW = dt.datetime.fromisoformat(START)


def update(client, job_id, status, **params):
    return post(client, "pilot/update_job", {"job_id": job_id, "job_status": status, **params})


def sent_job(engine, **overrides):
    job = create(engine, **overrides)
    with engine.operation():
        engine.jobs.move(job["PandaID"], "sent")
    return job["PandaID"]


def ok(command="NULL"):
    return {"success": True, "message": "", "data": {"StatusCode": 0, "command": command}}


def test_full_pilot_cycle_with_the_adder(jclient, jengine):
    panda_id = create(jengine)["PandaID"]
    finals = []
    jengine.jobs.final_callbacks.append(
        lambda job, previous: finals.append((job["PandaID"], previous, job["jobStatus"]))
    )
    try:
        acquired = post(jclient, "pilot/acquire_jobs", {"site_name": "BNL_PROD_MCORE", "node": "wn042.bnl.gov"})
        assert acquired["data"]["jobs"][0]["PandaID"] == panda_id
        assert update(jclient, panda_id, "starting", attempt_nr=1, batch_id="4711.0") == ok()
        assert jengine.jobs.get(panda_id)["jobStatus"] == "starting"
        jengine.clock.advance(30)
        assert update(jclient, panda_id, "running", attempt_nr=1, node="wn042.bnl.gov", core_count=8) == ok()
        running = jengine.jobs.get(panda_id)
        assert running["jobStatus"] == "running"
        assert running["startTime"] == NOW + dt.timedelta(seconds=30)
        assert running["actualCoreCount"] == 8
        jengine.clock.advance(3600)
        reply = update(
            jclient,
            panda_id,
            "finished",
            attempt_nr=1,
            trans_exit_code=0,
            pilot_error_code=0,
            exe_error_code=0,
            cpu_consumption_time=25000,
            cpu_consumption_unit="s",
            cpu_conversion_factor=1.2,
            n_events=500,
            n_input_files=2,
            max_rss=3_500_000,
            max_vmem=4_000_000,
            max_swap=0,
            max_pss=3_400_000,
            avg_rss=3_100_000.7,
            avg_vmem=3_900_000,
            avg_swap=0,
            avg_pss=3_000_000,
            tot_rchar=2048,
            tot_wbytes=10240,
            rate_rchar=1024.0,
            job_metrics="coreCount=8 leak=12.5 chi2=0.75",
            pilot_timing="12|34|3400|56|7",
            job_output_report="<POOLFILECATALOG/>",
            cpu_architecture_level="x86-64-v3",
            start_time="2026-11-29 12:00:30",
            end_time="2026-11-29 13:00:30",
        )
        assert reply == ok()
        holding = jengine.jobs.get(panda_id)
        assert holding["jobStatus"] == "holding"
        assert holding["endTime"] == dt.datetime(2026, 11, 29, 13, 0, 30)
        assert holding["transExitCode"] == 0 and holding["cpuConsumptionTime"] == 25000
        assert holding["cpuConversion"] == 1.2 and holding["nEvents"] == 500 and holding["nInputFiles"] == 2
        assert (holding["maxRSS"], holding["maxVMEM"], holding["maxPSS"], holding["avgRSS"]) == (
            3500000,
            4000000,
            3400000,
            3100000,
        )
        assert holding["totRCHAR"] == 2.0 and holding["totWBYTES"] == 10.0 and holding["rateRCHAR"] == 1.0
        assert holding["memory_leak"] == 12 and holding["memory_leak_x2"] == 0.75
        assert holding["jobDispatcherErrorDiag"] is None
        assert holding["cpu_architecture_level"] == "x86-64-v3"
        assert holding["batchID"] == "4711.0"
        assert finals == []
        # the adder runs once its delay has passed on the emulator clock
        jengine.clock.advance(ADDER_DELAY - 1)
        jengine.tick()
        assert jengine.jobs.get(panda_id)["jobStatus"] == "holding"
        jengine.clock.advance(1)
        jengine.tick()
        finished = jengine.jobs.get(panda_id)
        assert finished["jobStatus"] == "finished"
        assert {f["type"]: f["status"] for f in finished["Files"] if f["type"] != "input"} == {
            "output": "ready",
            "log": "ready",
        }
        assert finals == [(panda_id, "holding", "finished")]
        logs = jengine.store.table("job_logs").get(panda_id)
        assert logs["jobOutputReport"] == "<POOLFILECATALOG/>"
    finally:
        jengine.jobs.final_callbacks.clear()


def test_failed_report_becomes_failed_after_the_adder(jclient, jengine):
    panda_id = sent_job(jengine)
    update(jclient, panda_id, "running")
    reply = update(
        jclient, panda_id, "failed", pilot_error_code=1305, pilot_error_diag="Failed to execute payload:" + "x" * 600
    )
    assert reply == ok()
    job = jengine.jobs.get(panda_id)
    assert job["jobStatus"] == "holding" and job["pilotErrorCode"] == 1305 and len(job["pilotErrorDiag"]) == 500
    jengine.clock.advance(ADDER_DELAY)
    jengine.tick()
    job = jengine.jobs.get(panda_id)
    assert job["jobStatus"] == "failed"
    assert {f["status"] for f in job["Files"] if f["type"] in ("output", "log")} == {"failed"}


def test_invalid_status(jclient, jengine):
    panda_id = sent_job(jengine)
    assert update(jclient, panda_id, "done") == {
        "success": False,
        "message": "Invalid job status: done",
        "data": {"StatusCode": 50},
    }
    assert jengine.jobs.get(panda_id)["jobStatus"] == "sent"


def test_unknown_job_and_attempt_mismatch_get_tobekilled(jclient, jengine):
    assert update(jclient, 6999999999, "running") == ok("tobekilled")
    panda_id = sent_job(jengine)
    before = jengine.jobs.get(panda_id)
    assert update(jclient, panda_id, "running", attempt_nr=2) == ok("tobekilled")
    assert jengine.jobs.get(panda_id) == before
    # a final report with the wrong attempt still queues an output report, which the adder ignores
    assert update(jclient, panda_id, "finished", attempt_nr=7) == ok("tobekilled")
    jengine.clock.advance(ADDER_DELAY)
    jengine.tick()
    assert jengine.jobs.get(panda_id)["jobStatus"] == "sent"


def test_archived_jobs(jclient, jengine):
    finished = create(jengine, status="activated")
    failed = create(jengine, status="activated")
    with jengine.operation():
        for job, status in ((finished, "finished"), (failed, "failed")):
            for step in ("sent", "running", "holding", status):
                jengine.jobs.move(job["PandaID"], step)
    # a finished job is in the archive: the pilot is told to kill itself
    assert update(jclient, finished["PandaID"], "running") == ok("tobekilled")
    # a failed job still in the active table: already done
    assert update(jclient, failed["PandaID"], "running") == ok("alreadydone")
    assert update(jclient, failed["PandaID"], "finished") == ok("alreadydone")
    assert jengine.jobs.get(finished["PandaID"])["jobStatus"] == "finished"
    assert jengine.jobs.get(failed["PandaID"])["jobStatus"] == "failed"


def test_second_final_report_is_alreadydone_and_queues_no_second_adder(jclient, jengine):
    panda_id = sent_job(jengine)
    update(jclient, panda_id, "running")
    assert update(jclient, panda_id, "finished") == ok()
    steps = [step for step in jengine.pending_steps() if step["action"] == "job_adder"]
    assert update(jclient, panda_id, "failed") == ok("alreadydone")
    assert [step for step in jengine.pending_steps() if step["action"] == "job_adder"] == steps
    # running/starting reports after holding are ignored
    assert update(jclient, panda_id, "running") == ok()
    assert jengine.jobs.get(panda_id)["jobStatus"] == "holding"


def test_pilot_holding_then_final_report(jclient, jengine):
    panda_id = sent_job(jengine)
    update(jclient, panda_id, "running")
    jengine.clock.advance(60)
    assert update(jclient, panda_id, "holding") == ok()
    job = jengine.jobs.get(panda_id)
    assert job["jobStatus"] == "holding"
    assert job["jobDispatcherErrorDiag"] == "set to holding by the pilot at 2026-11-29 12:01:00"
    assert job["endTime"] == NOW + dt.timedelta(seconds=60)
    # holding heartbeats of job recovery change nothing
    assert update(jclient, panda_id, "holding") == ok()
    assert jengine.jobs.get(panda_id)["modificationTime"] == NOW + dt.timedelta(seconds=60)
    # the final report is accepted (the diag was set by the pilot) and goes to the adder
    assert update(jclient, panda_id, "finished") == ok()
    assert jengine.jobs.get(panda_id)["jobDispatcherErrorDiag"] is None
    jengine.clock.advance(ADDER_DELAY)
    jengine.tick()
    assert jengine.jobs.get(panda_id)["jobStatus"] == "finished"


def test_transferring(jclient, jengine):
    panda_id = sent_job(jengine)
    update(jclient, panda_id, "running")
    assert update(jclient, panda_id, "transferring") == ok()
    job = jengine.jobs.get(panda_id)
    assert job["jobStatus"] == "transferring" and job["endTime"] == NOW
    assert job["jobDispatcherErrorDiag"] == "set to transferring by the pilot at 2026-11-29 12:00:00"
    assert update(jclient, panda_id, "finished") == ok()
    assert jengine.jobs.get(panda_id)["jobStatus"] == "holding"
    # transferring never overwrites holding
    assert update(jclient, panda_id, "transferring") == ok()
    assert jengine.jobs.get(panda_id)["jobStatus"] == "holding"


def test_starting_after_running_keeps_running(jclient, jengine):
    panda_id = sent_job(jengine)
    update(jclient, panda_id, "running")
    assert update(jclient, panda_id, "starting") == ok()
    assert jengine.jobs.get(panda_id)["jobStatus"] == "running"


def test_batch_id_mismatch_is_killed(jclient, jengine):
    panda_id = sent_job(jengine)
    update(jclient, panda_id, "running", batch_id="condor.ce01.1234")
    assert update(jclient, panda_id, "running", batch_id="slurm.ce02.9999") == ok("tobekilled")
    job = jengine.jobs.get(panda_id)
    assert job["batchID"] == "condor.ce01.1234"
    assert job["supErrorCode"] == 1
    assert job["supErrorDiag"] == "got an update request with invalid batchID=slurm.ce02.9999"


def test_commands_delivered_in_the_reply(jclient, jengine):
    panda_id = sent_job(jengine)
    update(jclient, panda_id, "running")
    assert post(jclient, "job/set_debug_mode", {"job_id": panda_id, "mode": True})["message"] == "Succeeded"
    assert update(jclient, panda_id, "running") == ok("debug")
    assert (
        post(jclient, "job/set_command", {"job_id": panda_id, "command": "debug_dump"})["message"] == "command received"
    )
    assert update(jclient, panda_id, "running") == ok("debug,debug_dump")
    assert post(jclient, "job/kill", {"job_ids": [panda_id], "code": 9})["data"] == [True]


def test_kill_of_a_running_job_is_delivered_on_the_next_update(jclient, jengine):
    panda_id = sent_job(jengine)
    update(jclient, panda_id, "running")
    assert post(jclient, "job/kill", {"job_ids": [panda_id]})["data"] == [True]
    assert jengine.jobs.get(panda_id)["jobStatus"] == "running"
    assert update(jclient, panda_id, "running") == ok("tobekilled")


def test_metadata(jclient, jengine):
    defined = create(jengine, status="defined")
    reply = update(jclient, defined["PandaID"], "running", meta_data='{"events": 10}')
    assert reply == {
        "success": True,
        "message": "Failed to add meta_data",
        "data": {"StatusCode": 30, "ErrorDiag": "Failed to add meta_data"},
    }
    assert jengine.jobs.get(defined["PandaID"])["jobStatus"] == "defined"
    panda_id = sent_job(jengine)
    assert update(jclient, panda_id, "running", meta_data='{"events": 10}') == ok()
    assert update(jclient, panda_id, "running", meta_data='{"events": 20}') == ok()
    assert jengine.jobs.get(panda_id)["metadata"] == '{"events": 10}'


def test_logs_are_kept(jclient, jengine):
    panda_id = sent_job(jengine)
    update(jclient, panda_id, "running", pilot_log="pilot log excerpt", stdout="payload stdout")
    record = jengine.store.table("job_logs").get(panda_id)
    assert record["pilotLog"] == "pilot log excerpt" and record["stdout"] == "payload stdout"


def test_wrong_metric_types_are_refused_without_change(jclient, jengine):
    panda_id = sent_job(jengine)
    before = jengine.jobs.get(panda_id)
    reply = update(jclient, panda_id, "running", max_rss="lots")
    assert reply == {
        "success": False,
        "message": "Type error: 'max_rss' must be of type int | float, got str.",
        "data": None,
    }
    reply = update(jclient, panda_id, "running", trans_exit_code="0")
    assert reply["message"] == "Type error: 'trans_exit_code' must be of type int, got str."
    assert jengine.jobs.get(panda_id) == before


def test_update_needs_production_role(jclient, jengine):
    panda_id = sent_job(jengine)
    reply = post(
        jclient, "pilot/update_job", {"job_id": panda_id, "job_status": "running"}, {"X-Pandamock-Identity": "jdoe"}
    )
    assert reply == {"success": False, "message": "production or pilot role required", "data": None}


def test_bulk_returns_one_envelope_per_job_in_order(jclient, jengine):
    first = sent_job(jengine)
    second = sent_job(jengine)
    reply = post(
        jclient,
        "pilot/update_jobs_bulk",
        {
            "harvester_id": "CERN_central_A",
            "job_list": [
                {"job_id": first, "job_status": "running", "core_count": 8, "meta_data": {"a": 1}},
                {"job_id": second, "job_status": "starting", "bogus": 1},
                {"job_id": second, "job_status": "running", "max_rss": "big"},
                {"job_id": 6999999999, "job_status": "running"},
                {"job_id": second, "job_status": "nope"},
            ],
        },
    )
    assert reply == {
        "success": True,
        "message": "",
        "data": [
            ok(),
            {"success": False, "message": "Argument error: got an unexpected keyword argument 'bogus'", "data": None},
            {"success": False, "message": "Type error: 'max_rss' must be of type int | float, got str.", "data": None},
            ok("tobekilled"),
            {"success": False, "message": "Invalid job status: nope", "data": {"StatusCode": 50}},
        ],
    }
    assert jengine.jobs.get(first)["jobStatus"] == "running"
    assert jengine.jobs.get(first)["metadata"] == "{'a': 1}"
    assert jengine.jobs.get(second)["jobStatus"] == "sent"


def test_bulk_missing_key_fails_the_call_after_the_earlier_updates(jclient, jengine):
    first = sent_job(jengine)
    second = sent_job(jengine)
    reply = post(
        jclient,
        "pilot/update_jobs_bulk",
        {
            "job_list": [
                {"job_id": first, "job_status": "running"},
                {"job_status": "running"},
                {"job_id": second, "job_status": "running"},
            ]
        },
    )
    assert reply == {"success": False, "message": "failed with KeyError 'job_id'", "data": []}
    assert jengine.jobs.get(first)["jobStatus"] == "running"
    assert jengine.jobs.get(second)["jobStatus"] == "sent"


def test_update_touches_the_worker_link(jclient, jengine):
    create(jengine)
    panda_id = post(
        jclient, "pilot/acquire_jobs", {"site_name": "BNL_PROD_MCORE", "harvester_id": "H1", "worker_id": 7}
    )["data"]["jobs"][0]["PandaID"]
    jengine.clock.advance(100)
    update(jclient, panda_id, "running")
    link = jengine.store.table("worker_jobs").get(f"H1:7:{panda_id}")
    assert link["lastUpdate"] == NOW + dt.timedelta(seconds=100)


def test_update_worker_node(jclient, jengine):
    payload = {
        "site": "BNL-ATLAS",
        "panda_queue": "BNL_PROD_MCORE",
        "host_name": "slot1@wn042.bnl.gov",
        "cpu_model": "AMD EPYC 7B12",
        "n_logical_cpus": 64,
        "n_sockets": 2,
        "cores_per_socket": 16,
        "threads_per_core": 2,
        "cpu_architecture": "x86_64",
        "cpu_architecture_level": "x86-64-v3",
        "clock_speed": 2250.0,
        "total_memory": 257000,
        "total_local_disk": 1800,
    }
    reply = post(jclient, "pilot/update_worker_node", payload)
    assert reply == {"success": True, "message": "Inserted new worker node.", "data": None}
    node = jengine.store.table("worker_nodes").get("BNL-ATLAS|wn042.bnl.gov|AMD EPYC 7B12")
    assert node["host_name"] == "wn042.bnl.gov" and node["n_logical_cpus"] == 64 and node["last_seen"] == NOW
    assert jengine.store.table("worker_node_queues").get("BNL-ATLAS|wn042.bnl.gov|BNL_PROD_MCORE")["last_seen"] == NOW
    jengine.clock.advance(60)
    assert post(jclient, "pilot/update_worker_node", payload)["message"] == "Inserted new worker node."
    node = jengine.store.table("worker_nodes").get("BNL-ATLAS|wn042.bnl.gov|AMD EPYC 7B12")
    assert node["last_seen"] == NOW + dt.timedelta(seconds=60)
    bad = post(jclient, "pilot/update_worker_node", dict(payload, clock_speed=2250))
    assert bad["message"] == "Type error: 'clock_speed' must be of type float, got int."


def test_update_worker_node_gpu(jclient, jengine):
    payload = {
        "site": "CERN-PROD",
        "host_name": "slot1@lxplus940.cern.ch",
        "vendor": "NVIDIA",
        "model": "Tesla T4",
        "architecture": "Turing",
        "vram": 15360,
        "framework": "CUDA",
        "framework_version": "12.9",
        "driver_version": "575.51.03",
        "count": 1,
    }
    assert post(jclient, "pilot/update_worker_node_gpu", payload) == {
        "success": True,
        "message": "Inserted new worker node GPU.",
        "data": None,
    }
    again = post(jclient, "pilot/update_worker_node_gpu", dict(payload, count=2))
    assert again["message"] == "Updated existing worker node GPU."
    gpu = jengine.store.table("worker_node_gpus").get("CERN-PROD|lxplus940.cern.ch|NVIDIA|Tesla T4")
    assert gpu["count"] == 2 and gpu["vram"] == 15360


def test_report_for_a_job_that_was_not_dispatched(jclient, jengine):
    activated = create(jengine)
    defined = jengine.jobs.create_jobs([job_values()], status="defined", activate_after=None)[0]
    # the active table takes any report (updateJobStatus has no guard for it) ...
    assert update(jclient, activated["PandaID"], "running") == ok()
    assert jengine.jobs.get(activated["PandaID"])["jobStatus"] == "running"
    # ... a defined job is not in the active table: the pilot is told to kill itself
    assert update(jclient, defined["PandaID"], "running") == ok("tobekilled")
    assert jengine.jobs.get(defined["PandaID"])["jobStatus"] == "defined"
