"""The web dashboard (/_pandamock/ui/): every page and the overview feed, filters, pagination,
the forms (state before and after), access rules; the read models over index groups."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from pandamock.app import create_app, emulator_of
from pandamock.engine.records import JOB_ATTRIBUTES
from pandamock.engine.statuses import JOB, JOB_STATUSES, TASK, TASK_STATUSES, transition
from pandamock.engine.store import HashIndex, SortedIndex, Store
from pandamock.ui import queries
from pandamock.ui.views import FormError, rule_from_form, session_value
from tests.helpers import JSON

UI = "/_pandamock/ui"
START = "2026-11-29T12:00:00"


@pytest.fixture
def world(engine):
    """The default world on a frozen clock (nothing comes due while a test looks)."""
    engine.clock.freeze()
    engine.clock.set(START)
    return engine


def text(response) -> str:
    return response.get_data(as_text=True)


def csrf_of(client) -> str:
    page = text(client.get(f"{UI}/faults"))
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def rows(page: str, table_id: str) -> list[str]:
    """The body rows of the table with this id (raw HTML of each <tr>)."""
    table = re.search(rf'<table[^>]*id="{table_id}".*?</table>', page, re.S).group(0)
    body = re.search(r"<tbody[^>]*>(.*?)</tbody>", table, re.S).group(1)
    return re.findall(r"<tr[^>]*>.*?</tr>", body, re.S)


def cells(row: str) -> list[str]:
    return [
        html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    ]


def bar_counts(page: str, bars_id: str) -> dict[str, int]:
    block = re.search(rf'<div class="bars" id="{bars_id}".*?</div>', page, re.S).group(0)
    labels = [
        html.unescape(re.sub(r"<[^>]+>", "", label)) for label in re.findall(r'<span class="label">(.*?)</span>', block)
    ]
    counts = [int(count.replace(",", "")) for count in re.findall(r'<span class="count">([\d,]+)</span>', block)]
    return dict(zip(labels, counts, strict=True))


def api(client, path: str, payload: dict) -> dict:
    response = client.post(f"/api/v1/{path}", json=payload, headers=JSON)
    assert response.status_code == 200, response.data
    return json.loads(response.data)


class NoScan(dict):
    """A table's records that refuse to be walked whole (reading by key is fine)."""

    def _refuse(self, *args, **kwargs):
        raise AssertionError("a dashboard read walked a whole table")

    __iter__ = keys = values = items = copy = _refuse


@pytest.fixture
def no_scans(world):
    """jobs, event ranges and dataset files that cannot be iterated whole during the test."""
    store = world.store
    originals = {name: store[name].records for name in ("jobs", "event_ranges", "dataset_files")}
    for name, records in originals.items():
        store[name].records = NoScan(records)
    yield
    for name, records in originals.items():
        assert len(store[name].records) == len(records), "a read wrote records"
        store[name].records = records


# --- root, static, overview -------------------------------------------------------------------------
def test_root_links_the_dashboard(client):
    plain = client.get("/")
    assert plain.headers["Content-Type"] == "text/plain"
    assert "/_pandamock/ui/               web dashboard" in text(plain)
    page = client.get("/", headers={"Accept": "text/html,application/xhtml+xml"})
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert '<a href="/_pandamock/ui/">/_pandamock/ui/</a>' in text(page)
    assert "/api/v1/&lt;module&gt;/&lt;function&gt;" in text(page)  # a pattern, not a link


def test_static_files_are_shipped(client):
    css = client.get(f"{UI}/static/ui.css")
    js = client.get(f"{UI}/static/ui.js")
    assert css.status_code == js.status_code == 200
    assert ".bars" in text(css) and "data-feed-url" in text(js)


def test_overview_shows_counts_by_status_queues_clock_and_scenario(client, world, no_scans):
    store = world.store
    page = text(client.get(f"{UI}/"))
    assert bar_counts(page, "bars-jobs") == store["jobs"].counts("by_status")
    assert bar_counts(page, "bars-tasks") == store["tasks"].counts("by_status")
    assert bar_counts(page, "bars-event_ranges") == store["event_ranges"].counts("by_status")
    # bars in lifecycle order, linking to the filtered lists
    jobs_order = list(bar_counts(page, "bars-jobs"))
    assert jobs_order == sorted(jobs_order, key=JOB_STATUSES.index)
    assert f'href="{UI}/jobs?status=activated"' in page and f'href="{UI}/tasks?status=running"' in page
    assert re.search(rf'data-total="jobs">{len(store["jobs"])}<', page)
    assert re.search(rf'data-total="event_ranges">{len(store["event_ranges"])}<', page)
    dispatch = store["jobs"].index("dispatch")
    queue_rows = {cells(row)[0]: cells(row) for row in rows(page, "queues")}
    assert set(queue_rows) == set(store["sites"].records)
    for name, row in queue_rows.items():
        assert int(row[4]) == dispatch.count((name, "activated")), name
        assert int(row[6]) == dispatch.count((name, "running")), name
    assert queue_rows["IN2P3-CC_OFFLINE"][2] == "offline"
    assert "2026-11-29 12:00:00" in page and "frozen" in page
    assert '<b data-scenario="name">default</b>' in page
    assert "no harvester has sent a heartbeat" in page
    assert f'data-feed-url="{UI}/feed/overview.json"' in page  # the script polls it; the page works without


def test_overview_feed_follows_the_state(client, world, no_scans):
    before = client.get(f"{UI}/feed/overview.json")
    assert before.headers["Content-Type"] == "application/json"
    assert before.headers["Cache-Control"] == "no-store"
    data = before.get_json()
    assert set(data) >= {"tasks", "jobs", "event_ranges", "workers", "totals", "queues", "harvesters", "clock"}
    assert data["clock"] == {"now": "2026-11-29T12:00:00", "epoch": world.clock.time(), "frozen": True, "speed": 1.0}
    assert data["scenario"]["name"] == "default"
    jobs = {row["status"]: row["count"] for row in data["jobs"]}
    assert jobs == world.store["jobs"].counts("by_status")
    assert [row["status"] for row in data["jobs"]] == sorted(jobs, key=JOB_STATUSES.index)
    assert {row["status"]: row["category"] for row in data["jobs"]}["failed"] == "bad"
    bnl = next(queue for queue in data["queues"] if queue["name"] == "BNL_PROD_MCORE")
    # a pilot takes a job: one activated job less, one sent more, and the request in the journal
    reply = api(client, "pilot/acquire_jobs", {"site_name": "BNL_PROD_MCORE"})
    assert len(reply["data"]["jobs"]) == 1
    after = client.get(f"{UI}/feed/overview.json").get_json()
    bnl_after = next(queue for queue in after["queues"] if queue["name"] == "BNL_PROD_MCORE")
    assert (bnl_after["activated"], bnl_after["starting"]) == (bnl["activated"] - 1, bnl["starting"] + 1)
    jobs_after = {row["status"]: row["count"] for row in after["jobs"]}
    assert jobs_after["sent"] == jobs.get("sent", 0) + 1
    assert after["journal"]["kept"] == 1
    assert after["journal"]["latest"][0]["endpoint"] == "pilot/acquire_jobs"
    assert after["journal"]["latest"][0]["status"] == 200


def test_overview_lists_harvesters_and_workers(client, world):
    api(client, "harvester/heartbeat", {"harvester_id": "CERN_central_A", "data": {"sw_version": "0.5.1"}})
    workers = [
        {"workerID": i, "status": status, "computingSite": "CERN-PROD_UCORE", "nJobs": 1}
        for i, status in enumerate(["running", "running", "submitted"], start=1)
    ]
    reply = api(client, "harvester/update_workers", {"harvester_id": "CERN_central_A", "workers": workers})
    assert reply["success"] is True, reply
    page = text(client.get(f"{UI}/"))
    (row,) = rows(page, "harvesters")
    assert cells(row)[0] == "CERN_central_A" and cells(row)[-1] == "3"
    assert bar_counts(page, "bars-workers") == {"submitted": 1, "running": 2}
    queue = next(cells(r) for r in rows(page, "queues") if cells(r)[0] == "CERN-PROD_UCORE")
    assert queue[-1] == "3"
    feed = client.get(f"{UI}/feed/overview.json").get_json()
    assert feed["totals"]["harvesters"] == 1 and feed["totals"]["workers"] == 3
    assert feed["harvesters"][0]["workers"] == 3


# --- tasks ------------------------------------------------------------------------------------------------
def task_ids(page: str) -> list[int]:
    return [int(cells(row)[0]) for row in rows(page, "tasks") if "no task matches" not in row]


def test_tasks_list_filters_by_status_user_and_name(client, world, no_scans):
    tasks = world.store["tasks"]
    everything = task_ids(text(client.get(f"{UI}/tasks")))
    by_time = sorted(tasks.values(), key=lambda t: (t["modificationTime"], t["jediTaskID"]), reverse=True)
    assert everything == [task["jediTaskID"] for task in by_time]
    running = task_ids(text(client.get(f"{UI}/tasks?status=running")))
    n_running = tasks.count("by_status", "running")
    assert sorted(running) == sorted(tasks.ids("by_status", "running")) and len(running) == n_running >= 3
    user = tasks.get(running[0])["userName"]
    mine = task_ids(text(client.get(f"{UI}/tasks", query_string={"user": user})))
    assert sorted(mine) == sorted(t["jediTaskID"] for t in tasks.values() if t["userName"] == user)
    both = task_ids(text(client.get(f"{UI}/tasks", query_string={"user": user, "status": "running"})))
    assert sorted(both) == sorted(t for t in running if tasks.get(t)["userName"] == user)
    name = tasks.get(running[0])["taskName"]
    fragment = name.split(".")[2]
    found = task_ids(text(client.get(f"{UI}/tasks", query_string={"name": fragment.upper()})))
    assert found == [t["jediTaskID"] for t in by_time if fragment in t["taskName"]]
    globbed = task_ids(text(client.get(f"{UI}/tasks", query_string={"name": f"*{fragment}*"})))
    assert globbed == found
    page = text(client.get(f"{UI}/tasks?status=broken"))
    assert "no task matches" in page and '<option value="broken" selected>broken (0)</option>' in page
    selected = f'<option value="running" selected>running ({n_running})</option>'
    assert selected in text(client.get(f"{UI}/tasks?status=running"))


def test_tasks_list_pagination_keeps_the_filters(client, world):
    n = world.store["tasks"].count("by_status", "running")
    assert 3 <= n <= 4
    first = text(client.get(f"{UI}/tasks?per_page=2&status=running"))
    assert len(task_ids(first)) == 2 and f"1–2 of {n}" in first
    next_link = html.unescape(re.search(r'<a rel="next" href="([^"]+)"', first).group(1))
    assert parse_qs(urlsplit(next_link).query) == {"per_page": ["2"], "status": ["running"], "page": ["2"]}
    second = text(client.get(next_link))
    assert len(task_ids(second)) == n - 2 and f"3–{n} of {n}" in second and 'rel="next"' not in second
    assert set(task_ids(first)) | set(task_ids(second)) == set(world.store["tasks"].ids("by_status", "running"))
    # out-of-range and bad values fall back
    assert task_ids(text(client.get(f"{UI}/tasks?per_page=2&status=running&page=9"))) == []
    assert len(task_ids(text(client.get(f"{UI}/tasks?page=x&per_page=y")))) == len(world.store["tasks"])


def test_task_page_parameters_jobs_datasets_files_history(client, world, no_scans):
    store = world.store
    task_id = store["tasks"].ids("by_status", "running")[0]
    task = store["tasks"].get(task_id)
    with world.operation():
        transition(store["tasks"], task_id, TASK, "paused", world.now(), reason="ops: pause")
    page = text(client.get(f"{UI}/tasks/{task_id}"))
    assert f"Task {task_id}" in page and html.escape(task["taskName"]) in page
    summary = re.search(r'id="task-summary".*?</section>', page, re.S).group(0)
    assert "<th>splitRule</th>" in summary and html.escape(task["splitRule"]) in summary
    expected = {s: n for s in JOB_STATUSES if (n := store["jobs"].count("by_task_status", (task_id, s)))}
    assert bar_counts(page, "task-jobs") == expected
    assert f'href="{UI}/jobs?task={task_id}&amp;status=' in page
    change = re.search(r'<table class="history">.*?</table>', page, re.S).group(0)
    assert "2026-11-29 12:00:00" in change and ">running<" in change and ">paused<" in change and "ops: pause" in change
    datasets = sorted(store["datasets"].find("by_task", task_id), key=lambda d: d["datasetID"])
    for dataset in datasets:
        assert html.escape(dataset["datasetName"]) in page
    with_files = next(d for d in datasets if store["dataset_files"].count("by_dataset", d["datasetID"]) > 2)
    count = store["dataset_files"].count("by_dataset", with_files["datasetID"])
    files_page = text(client.get(f"{UI}/tasks/{task_id}?files={with_files['datasetID']}&fper_page=2&fpage=2"))
    section = re.search(r'<section class="card" id="files">.*?</section>', files_page, re.S).group(0)
    listed = [int(cells(row)[0]) for row in re.findall(r"<tr>.*?</tr>", section.split("<tbody>")[1], re.S)]
    assert listed == store["dataset_files"].ids("by_dataset", with_files["datasetID"])[2:4]
    assert f"3–{min(4, count)} of {count}" in section
    assert "No command was registered for this task." in page
    assert "<th>jediTaskID</th>" in re.search(r'id="task-attributes".*?</table>', page, re.S).group(0)


def test_task_page_unknown_task_and_bad_dataset(client, world):
    missing = client.get(f"{UI}/tasks/123")
    assert missing.status_code == 404 and "There is no task 123." in text(missing)
    task_id = world.store["tasks"].ids("by_status", "running")[0]
    bad = client.get(f"{UI}/tasks/{task_id}?files=abc")
    assert "files: expected a datasetID (an integer), got &#39;abc&#39;" in text(bad)


def test_task_page_shows_the_command_registered_for_the_task():
    app = create_app({"scenario": "default"})
    engine = emulator_of(app).engine
    client = app.test_client()
    running = engine.store["tasks"].ids("by_status", "running")
    task_id, other = running[0], running[1]
    reply = client.post("/api/v1/task/pause", json={"task_id": task_id}, headers={"Accept": "application/json"})
    assert json.loads(reply.data)["data"] == 0
    page = text(client.get(f"{UI}/tasks/{task_id}"))
    section = re.search(r'<section class="card" id="commands">.*?</section>', page, re.S).group(0)
    assert "<th>command</th>" in section and ">pause<" in section and "from table task_commands" in section
    other_page = text(client.get(f"{UI}/tasks/{other}"))
    assert "No command was registered for this task." in other_page


def test_task_commands_without_an_index_and_under_another_name():
    store = Store()
    store.create_table("jedi_task_command", key="id")
    with store.transaction():
        store["jedi_task_command"].insert({"id": 1, "jediTaskID": 7, "command": "retry"})
        store["jedi_task_command"].insert({"id": 2, "jediTaskID": 8, "command": "kill"})
    name, commands = queries.task_commands(store, 7)
    assert name == "jedi_task_command" and [c["command"] for c in commands] == ["retry"]
    assert queries.task_commands(Store(), 7) == (None, [])


# --- jobs -------------------------------------------------------------------------------------------------
def job_ids(page: str) -> list[int]:
    return [int(cells(row)[0]) for row in rows(page, "jobs") if "no job matches" not in row]


def test_jobs_list_filters_through_indexes(client, world, no_scans):
    jobs = world.store["jobs"]
    everything = job_ids(text(client.get(f"{UI}/jobs?per_page=100")))
    assert everything == list(reversed(dict.keys(jobs.records)))  # newest stored first
    activated = job_ids(text(client.get(f"{UI}/jobs?status=activated&per_page=100")))
    assert sorted(activated) == sorted(jobs.ids("by_status", "activated"))
    queue = text(client.get(f"{UI}/jobs?queue=CERN-PROD_UCORE&per_page=100"))
    expected = [pid for s in JOB_STATUSES for pid in jobs.ids("dispatch", ("CERN-PROD_UCORE", s))]
    assert job_ids(queue) == expected  # by status, then dispatch order
    both = job_ids(text(client.get(f"{UI}/jobs?queue=CERN-PROD_UCORE&status=activated")))
    assert both == jobs.ids("dispatch", ("CERN-PROD_UCORE", "activated"))
    priorities = [jobs.get(pid)["currentPriority"] for pid in both]
    assert priorities == sorted(priorities, reverse=True)
    task_id = jobs.get(activated[0])["jediTaskID"]
    of_task = job_ids(text(client.get(f"{UI}/jobs?task={task_id}&per_page=100")))
    assert sorted(of_task) == sorted(jobs.ids("by_task", task_id))
    task_status = job_ids(text(client.get(f"{UI}/jobs?task={task_id}&status=activated")))
    assert sorted(task_status) == sorted(jobs.ids("by_task_status", (task_id, "activated")))
    site = jobs.get(of_task[0])["computingSite"]
    task_queue = job_ids(text(client.get(f"{UI}/jobs", query_string={"task": task_id, "queue": site})))
    assert sorted(task_queue) == sorted(pid for pid in of_task if jobs.get(pid)["computingSite"] == site)
    facet = text(client.get(f"{UI}/jobs?queue=CERN-PROD_UCORE"))
    count = jobs.count("dispatch", ("CERN-PROD_UCORE", "activated"))
    assert f'<option value="activated">activated ({count})</option>' in facet


def test_jobs_list_status_order_and_pagination(client, world):
    jobs = world.store["jobs"]
    activated = jobs.ids("by_status", "activated")
    with world.operation():
        for pid in activated[:3]:
            transition(jobs, pid, JOB, "throttled", world.now())
    page = text(client.get(f"{UI}/jobs?status=throttled"))
    assert job_ids(page) == list(reversed(activated[:3]))  # the last to enter the status first
    n = len(jobs)
    assert 41 <= n <= 60
    first = text(client.get(f"{UI}/jobs?per_page=20"))
    third = text(client.get(f"{UI}/jobs?per_page=20&page=3"))
    assert f"1–20 of {n}" in first and f"41–{n} of {n}" in third
    second = text(client.get(f"{UI}/jobs?per_page=20&page=2"))
    assert job_ids(first) + job_ids(second) + job_ids(third) == list(reversed(jobs.records))
    assert '<span class="current">3</span>' in third and 'rel="prev"' in third


def test_jobs_list_refuses_a_bad_task(client, world):
    response = client.get(f"{UI}/jobs?task=abc")
    assert response.status_code == 400
    assert "task: expected a jediTaskID (an integer), got &#39;abc&#39;" in text(response)
    assert "no job matches" in text(response)


def test_job_page_after_a_pilot_ran_it(client, world, no_scans):
    jobs = world.store["jobs"]
    acquired = api(client, "pilot/acquire_jobs", {"site_name": "BNL_PROD_MCORE", "node": "wn042.bnl.gov"})
    panda_id = acquired["data"]["jobs"][0]["PandaID"]
    api(client, "pilot/update_job", {"job_id": panda_id, "job_status": "running", "max_rss": 123456})
    final = {
        "job_id": panda_id,
        "job_status": "failed",
        "pilot_error_code": 1305,
        "pilot_error_diag": "Payload execution error: transformation exited with code 65",
        "exe_error_code": 65,
        "job_metrics": "coreCount=8 nEvents=100",
        "cpu_consumption_time": 3600,
        "pilot_log": "pilot started\n" + "x" * 5000 + "\nLAST LINE OF THE LOG",
    }
    assert api(client, "pilot/update_job", final)["success"] is True
    response = client.get(f"{UI}/jobs/{panda_id}")
    assert response.status_code == 200
    page = text(response)
    job = jobs.get(panda_id)
    assert job["jobStatus"] == "holding"
    assert f"Job {panda_id}" in page and '<span class="badge run">holding</span>' in page
    history = re.search(r'<table class="history">.*?</table>', page, re.S).group(0)
    moves = [(cells(row)[2], cells(row)[3]) for row in re.findall(r"<tr>.*?</tr>", history.split("<tbody>")[1], re.S)]
    assert moves == [("activated", "sent"), ("sent", "running"), ("running", "holding")]
    errors = {cells(row)[0]: cells(row)[1:] for row in rows(page, "job-errors")}
    assert errors["pilotErrorCode"] == ["1305", "Payload execution error: transformation exited with code 65"]
    assert errors["exeErrorCode"][0] == "65"
    metrics_block = re.search(r'<table class="kv" id="job-metrics">.*?</table>', page, re.S).group(0)
    assert (
        "coreCount=8 nEvents=100" in metrics_block
        and '<th>cpuConsumptionTime</th><td class="wrap">3600' in metrics_block
    )
    assert "LAST LINE OF THE LOG" in page and "the last 4,000 shown" in page
    attributes = re.search(r'id="job-attributes".*?</table>', page, re.S).group(0)
    for name in JOB_ATTRIBUTES:
        assert f"<th>{name}</th>" in attributes, name
    assert "wn042.bnl.gov" in attributes
    assert f'href="{UI}/tasks/{job["jediTaskID"]}"' in page


def test_job_page_event_ranges(client, world, no_scans):
    store = world.store
    ranges = store["event_ranges"]
    by_job = ranges.index("by_job_status")
    owners = {}
    for (owner, status), bucket in by_job.buckets.items():
        owners.setdefault(owner, {})[status] = len(bucket)
    panda_id = next(pid for pid, counts in owners.items() if pid in store["jobs"] and sum(counts.values()) > 2)
    page = text(client.get(f"{UI}/jobs/{panda_id}?rper_page=2"))
    assert bar_counts(page, "job-range-counts") == owners[panda_id]
    listed = [cells(row)[0] for row in rows(page, "job-ranges")]
    expected = [rid for status in queries.EVENT_STATUSES for rid in ranges.ids("by_job_status", (panda_id, status))]
    assert listed == expected[:2]
    second = text(client.get(f"{UI}/jobs/{panda_id}?rper_page=2&rpage=2"))
    assert [cells(row)[0] for row in rows(second, "job-ranges")] == expected[2:4]


def test_job_page_unknown_job(client, world):
    response = client.get(f"{UI}/jobs/42")
    assert response.status_code == 404 and "There is no job 42." in text(response)


# --- journal ------------------------------------------------------------------------------------------------
def test_journal_lists_requests_newest_first_with_filters_and_summary(client, world):
    for _ in range(3):
        client.get("/api/v1/system/is_alive", headers=JSON)
    api(client, "pilot/acquire_jobs", {"site_name": "BNL_PROD_MCORE"})
    client.get("/api/v1/system/no_such_thing")
    page = text(client.get(f"{UI}/journal"))
    listed = [cells(row) for row in rows(page, "journal")]
    assert [row[3] for row in listed] == ["/api/v1/system/no_such_thing", "pilot/acquire_jobs"] + [
        "system/is_alive"
    ] * 3
    assert [int(row[0]) for row in listed] == sorted((int(row[0]) for row in listed), reverse=True)
    assert listed[0][5] == "403" and listed[1][4] == "atlpilo1" and listed[1][6] == "true"
    assert listed[1][10] == "1"  # the acquisition moved one job
    alive = [cells(row) for row in rows(text(client.get(f"{UI}/journal?endpoint=system/*")), "journal")]
    assert len(alive) == 3 and all(row[3] == "system/is_alive" for row in alive)
    failed = [cells(row) for row in rows(text(client.get(f"{UI}/journal?failed=1")), "journal")]
    assert [row[5] for row in failed] == ["403"]
    limited = rows(text(client.get(f"{UI}/journal?limit=2")), "journal")
    assert len(limited) == 2
    summary = {cells(row)[0]: cells(row) for row in rows(page, "journal-summary")}
    assert summary["system/is_alive"][1:4] == ["3", "0", "0"] and summary["system/is_alive"][6] == "200×3"
    assert summary["(refused)"][2] == "1"
    bad = client.get(f"{UI}/journal?status=abc")
    assert bad.status_code == 400 and "status: expected HTTP statuses" in text(bad)


# --- faults, presets, clock, reset ---------------------------------------------------------------------------
def test_add_disable_enable_delete_a_rule_through_the_forms(client, emulator, world):
    token = csrf_of(client)
    assert len(emulator.faults) == 0
    added = client.post(
        f"{UI}/faults",
        data={"csrf": token, "endpoint": "system/is_alive", "action": "error", "status": "503", "id": "outage"},
    )
    assert added.status_code == 303
    assert added.headers["Location"] == f"{UI}/faults?notice=added+rule+outage"
    assert emulator.faults.get("outage").definition == {"endpoint": "system/is_alive", "status": 503, "id": "outage"}
    assert client.get("/api/v1/system/is_alive").status_code == 503
    page = text(client.get(added.headers["Location"]))
    assert "added rule outage" in page
    row = re.search(r'<tr data-rule="outage">.*?</tr>', page, re.S).group(0)
    assert cells(row)[1] == "active" and cells(row)[7:9] == ["1", "1"]
    assert client.post(f"{UI}/faults/outage/disable", data={"csrf": token}).status_code == 303
    assert emulator.faults.get("outage").disabled and client.get("/api/v1/system/is_alive").status_code == 200
    assert ">disabled<" in text(client.get(f"{UI}/faults")) and ">enable<" in text(client.get(f"{UI}/faults"))
    assert client.post(f"{UI}/faults/outage/enable", data={"csrf": token}).status_code == 303
    assert client.get("/api/v1/system/is_alive").status_code == 503
    assert (emulator.faults.get("outage").matched, emulator.faults.get("outage").fired) == (2, 2)  # not while disabled
    deleted = client.post(f"{UI}/faults/outage/delete", data={"csrf": token, "back": f"{UI}/journal?fault=outage"})
    assert deleted.headers["Location"] == f"{UI}/journal?fault=outage&notice=deleted+rule+outage"
    assert len(emulator.faults) == 0 and client.get("/api/v1/system/is_alive").status_code == 200
    unknown = client.post(f"{UI}/faults/outage/delete", data={"csrf": token})
    assert unknown.status_code == 404 and "no fault rule &#39;outage&#39;" in text(unknown)


def test_rule_form_errors_keep_the_input_and_change_nothing(client, emulator, world):
    token = csrf_of(client)
    missing = client.post(
        f"{UI}/faults", data={"csrf": token, "endpoint": "pilot/*", "action": "error", "message": "m"}
    )
    assert missing.status_code == 400
    assert "status: an &#39;error&#39; needs a status: one of 403, 500, 503" in text(missing)
    assert 'value="pilot/*"' in text(missing) and 'value="m"' in text(missing)
    typo = client.post(f"{UI}/faults", data={"csrf": token, "endpoint": "pilot/update_jbo", "status": "500"})
    assert typo.status_code == 400 and "did you mean &#39;pilot/update_job&#39;?" in text(typo)
    bad_json = client.post(f"{UI}/faults", data={"csrf": token, "status": "500", "more": "{nope"})
    assert bad_json.status_code == 400 and "more fields: not valid JSON" in text(bad_json)
    assert len(emulator.faults) == 0


def test_forms_need_the_page_token(client, emulator, world):
    stale = client.post(f"{UI}/faults", data={"endpoint": "*", "status": "503"})
    assert stale.status_code == 403 and "This form is out of date" in text(stale)
    assert client.post(f"{UI}/clock", data={"op": "advance", "seconds": "1h", "csrf": "forged"}).status_code == 403
    assert len(emulator.faults) == 0 and world.clock.now() == dt.datetime(2026, 11, 29, 12)


def test_drill_presets_install_the_drills_rules(client, emulator, world):
    page = text(client.get(f"{UI}/faults"))
    drills = re.findall(r'name="drill" value="([^"]+)"', page)
    assert drills == [
        "drill-auth-outage",
        "drill-database-trouble",
        "drill-flaky-dispatcher",
        "drill-server-outage",
        "drill-slow-server",
    ]
    token = csrf_of(client)
    installed = client.post(f"{UI}/faults/preset", data={"csrf": token, "drill": "drill-server-outage"})
    assert installed.headers["Location"].endswith("notice=installed+1+rule+of+drill-server-outage")
    (rule,) = emulator.faults.describe()
    assert rule["status"] == 503 and rule["state"] == "waiting"
    assert rule["window"] == {"from": "2026-11-29T12:01:00", "until": "2026-11-29T12:04:00"}
    assert client.get("/api/v1/system/is_alive").status_code == 200
    client.post(f"{UI}/clock", data={"csrf": token, "op": "advance", "seconds": "60"})
    assert client.get("/api/v1/system/is_alive").status_code == 503
    # installing again starts the drill again (same rules, counters from zero)
    client.post(f"{UI}/faults/preset", data={"csrf": token, "drill": "drill-server-outage"})
    (again,) = emulator.faults.describe()
    assert again["fired"] == 0 and again["window"]["from"] == "2026-11-29T12:02:00"
    client.post(f"{UI}/faults/preset", data={"csrf": token, "drill": "drill-flaky-dispatcher"})
    assert len(emulator.faults) == 5
    unknown = client.post(f"{UI}/faults/preset", data={"csrf": token, "drill": "drill-nope"})
    assert unknown.status_code == 404 and "no shipped drill" in text(unknown)
    cleared = client.post(f"{UI}/faults/clear", data={"csrf": token})
    assert cleared.headers["Location"].endswith("notice=removed+5+rules") and len(emulator.faults) == 0


def test_clock_forms(client, world):
    token = csrf_of(client)
    advanced = client.post(f"{UI}/clock", data={"csrf": token, "op": "advance", "seconds": "1m", "back": f"{UI}/"})
    assert advanced.status_code == 303 and advanced.headers["Location"] == f"{UI}/?notice=clock+advanced+by+1m"
    assert world.clock.now() == dt.datetime(2026, 11, 29, 12, 1)
    client.post(f"{UI}/clock", data={"csrf": token, "op": "advance", "seconds": "90s"})
    assert world.clock.now() == dt.datetime(2026, 11, 29, 12, 2, 30)
    client.post(f"{UI}/clock", data={"csrf": token, "op": "speed", "speed": "10"})
    assert world.clock.speed == 10.0
    client.post(f"{UI}/clock", data={"csrf": token, "op": "unfreeze"})
    assert not world.clock.frozen
    client.post(f"{UI}/clock", data={"csrf": token, "op": "freeze"})
    assert world.clock.frozen
    bad = client.post(f"{UI}/clock", data={"csrf": token, "op": "advance", "seconds": "soon"})
    assert bad.status_code == 400 and "seconds: expected seconds or a duration" in text(bad)
    assert client.post(f"{UI}/clock", data={"csrf": token, "op": "rewind"}).status_code == 400
    offsite = client.post(f"{UI}/clock", data={"csrf": token, "op": "freeze", "back": "https://example.org/"})
    assert offsite.headers["Location"] == f"{UI}/faults?notice=clock+frozen"


def test_advancing_the_clock_applies_what_came_due(client, world):
    reply = api(client, "pilot/acquire_jobs", {"site_name": "BNL_PROD_MCORE"})
    panda_id = reply["data"]["jobs"][0]["PandaID"]
    api(client, "pilot/update_job", {"job_id": panda_id, "job_status": "finished"})
    assert world.store["jobs"].get(panda_id)["jobStatus"] == "holding"
    client.post(f"{UI}/clock", data={"csrf": csrf_of(client), "op": "advance", "seconds": "1h"})
    assert world.store["jobs"].get(panda_id)["jobStatus"] == "finished"


def test_reset_form(client, emulator, world):
    api(client, "pilot/acquire_jobs", {"site_name": "BNL_PROD_MCORE"})
    before = world.store["jobs"].count("by_status", "sent")
    response = client.post(f"{UI}/reset", data={"csrf": csrf_of(client)})
    assert response.headers["Location"] == f"{UI}/?notice=emulator+reset+to+the+loaded+scenario"
    assert world.store["jobs"].count("by_status", "sent") == before - 1
    assert len(emulator.journal) == 0


# --- access: control plane off, control token -------------------------------------------------------------------
def test_no_dashboard_without_the_control_plane():
    app = create_app({"scenario": "empty", "control": False})
    client = app.test_client()
    assert client.get(f"{UI}/").status_code == 404
    assert client.get(f"{UI}/feed/overview.json").status_code == 404
    assert "/_pandamock/ui/" not in text(client.get("/"))


def test_dashboard_behind_the_control_token():
    app = create_app({"scenario": "empty", "control_token": "s3cret"})
    client = app.test_client()
    page = client.get(f"{UI}/jobs?status=running")
    assert page.status_code == 303
    assert page.headers["Location"] == f"{UI}/login?next=/_pandamock/ui/jobs?status%3Drunning"
    assert client.get(f"{UI}/feed/overview.json").status_code == 401
    assert client.post(f"{UI}/reset", data={}).status_code == 401
    assert client.get(f"{UI}/feed/overview.json", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert client.get(f"{UI}/", headers={"X-Pandamock-Control-Token": "s3cret"}).status_code == 200
    login = client.get(f"{UI}/login?next=/_pandamock/ui/jobs")
    assert login.status_code == 200 and "control token" in text(login) and "clock" not in text(login).split("<main>")[0]
    token = re.search(r'name="csrf" value="([^"]+)"', text(login)).group(1)
    wrong = client.post(f"{UI}/login", data={"csrf": token, "token": "guess", "next": f"{UI}/jobs"})
    assert wrong.status_code == 401 and "wrong control-plane token" in text(wrong)
    right = client.post(f"{UI}/login", data={"csrf": token, "token": "s3cret", "next": f"{UI}/jobs"})
    assert right.status_code == 303 and right.headers["Location"] == f"{UI}/jobs"
    cookie = right.headers["Set-Cookie"]
    assert f"pandamock_ui={session_value('s3cret')}" in cookie and "s3cret;" not in cookie
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/_pandamock/ui" in cookie
    assert client.get(f"{UI}/jobs").status_code == 200
    assert client.get(f"{UI}/feed/overview.json").status_code == 200
    assert client.post(f"{UI}/logout", data={"csrf": token}).status_code == 303
    assert client.get(f"{UI}/jobs").status_code == 303
    elsewhere = client.post(f"{UI}/login", data={"csrf": token, "token": "s3cret", "next": "https://evil.example/"})
    assert elsewhere.headers["Location"] == f"{UI}/"
    # the JSON control plane is unchanged
    assert client.get("/_pandamock/faults").status_code == 401


# --- form parsing and read models --------------------------------------------------------------------------------
def test_rule_from_form():
    rule = rule_from_form(
        {
            "endpoint": "pilot/*, harvester/*",
            "action": "delay",
            "delay": "0.5-3",
            "probability": "0.25",
            "first": "4",
            "from": "2m",
            "panda_id": "1,2",
            "production": "true",
            "continue": "on",
            "status": "",
            "more": '{"method": "POST"}',
        }
    )
    assert rule == {
        "method": "POST",
        "from": "2m",
        "action": "delay",
        "endpoint": ["pilot/*", "harvester/*"],
        "panda_id": ["1", "2"],
        "first": 4,
        "probability": 0.25,
        "delay": [0.5, 3.0],
        "production": True,
        "continue": True,
    }
    assert rule_from_form({"status": "503", "action": "error", "retry_after": "120"}) == {
        "status": 503,
        "retry_after": 120,
    }
    assert rule_from_form({"delay": "1..2"}) == {"delay": [1.0, 2.0]}
    for form, message in [
        ({"status": "x"}, "status: expected an integer, got 'x'"),
        ({"probability": "half"}, "probability: expected a number, got 'half'"),
        ({"delay": "soon"}, "delay: expected seconds or 'min-max' (or min..max), got 'soon'"),
        ({"more": "[1]"}, "more fields: expected a JSON object, got list"),
    ]:
        with pytest.raises(FormError, match=re.escape(message)):
            rule_from_form(form)


def test_page_of_groups_matches_the_concatenated_groups():
    store = Store()
    table = store.create_table(
        "things",
        key="id",
        indexes=[HashIndex("by_kind", ["kind"]), SortedIndex("by_kind_rank", ["kind"], order=lambda r: r["rank"])],
    )
    with store.transaction():
        for i in range(1, 38):
            table.insert({"id": i, "kind": "abc"[i % 3], "rank": (i * 7) % 11})
    for index_name, reverse in [("by_kind", False), ("by_kind", True), ("by_kind_rank", False), ("by_kind_rank", True)]:
        index = table.index(index_name)
        groups = [(index, kind, reverse) for kind in "cab"]
        flat = [rid for kind in "cab" for rid in (reversed(index.ids(kind)) if reverse else index.ids(kind))]
        for per_page in (1, 5, 12, 37, 50):
            for page in range(1, 40 // per_page + 3):
                ids, total = queries.page_of_groups(groups, page, per_page)
                assert total == 37
                assert ids == flat[(page - 1) * per_page : page * per_page], (index_name, reverse, per_page, page)
    ordered = {key: None for key in "abcdefghij"}
    for start in range(12):
        for stop in range(start, 13):
            assert queries.dict_slice(ordered, start, stop) == list("abcdefghij")[start:stop]
            assert queries.dict_slice(ordered, start, stop, reverse=True) == list("jihgfedcba")[start:stop]
    page = queries.Page(list(range(10)), 95, 5, 10)
    assert (page.pages, page.start, page.end) == (10, 41, 50)
    assert page.window(1) == [1, None, 4, 5, 6, None, 10]
    assert queries.clamp_page("0", "100000") == (1, queries.MAX_PER_PAGE)


def test_categories_cover_every_status():
    for status in JOB_STATUSES + TASK_STATUSES + list(queries.EVENT_STATUSES):
        assert queries.category(status) in ("good", "bad", "run", "wait")
    assert [queries.category(s) for s in ("finished", "failed", "running", "activated")] == [
        "good",
        "bad",
        "run",
        "wait",
    ]
