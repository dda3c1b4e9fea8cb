"""The pytest plugin, tested the way users use it: test files run by ``pytester``.

Each test writes a user's test file (and sometimes a conftest or ini file), runs pytest on it and
checks the outcomes and the output. Runs are in-process unless a subprocess is needed (xdist,
parallel sessions, what gets imported).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import requests  # noqa: F401 - loaded once here: pytester's in-process runs unload what they import first

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "docs" / "examples"


def outcomes(result: pytest.RunResult) -> dict[str, int]:
    counts = result.parseoutcomes()
    return {key: counts[key] for key in ("passed", "failed", "errors", "skipped") if key in counts}


# --- fixtures and marker, passing and failing ---------------------------------------------------------
def test_each_fixture_and_the_marker(pytester):
    pytester.makepyfile(
        """
        import re

        import pytest
        import requests

        def test_live_server(pandamock):
            assert re.fullmatch(r"http://127\\.0\\.0\\.1:\\d+", pandamock.url)
            reply = requests.get(pandamock.api_url + "/system/is_alive", headers={"Accept": "application/json"})
            assert reply.json() == {"success": True, "message": "", "data": None}
            pandamock.journal.assert_called("system/is_alive", times=1)
            assert pandamock.scenario_name == "default"

        def test_env_for_real_clients(pandamock):
            base = pandamock.url + "/server/panda"
            env = pandamock.env
            assert (env["PANDA_URL"], env["PANDA_URL_SSL"], env["PANDACACHE_URL"]) == (base, base, base)
            assert env["PANDA_BEHIND_REAL_LB"] == "1"
            assert env["PANDAMOCK_URL"] == pandamock.url
            assert "pandamock-client" in env["PANDA_CONFIG_ROOT"]

        def test_remote_control_reaches_the_same_emulator(pandamock):
            remote = pandamock.remote()
            assert remote.health()["scenario"] == "default"
            remote.add_fault(endpoint="system/is_alive", status=500, message="boom")
            reply = requests.get(pandamock.api_url + "/system/is_alive")
            assert (reply.status_code, reply.text) == (500, "ERROR : boom")
            assert [rule["fired"] for rule in pandamock.faults()] == [1]

        def test_in_process_client(pandamock_client):
            assert pandamock_client.call("system/is_alive") == {"success": True, "message": "", "data": None}
            types = pandamock_client.call("metaconfig/get_resource_types")["data"]
            assert {row["resource_name"] for row in types} >= {"SCORE", "MCORE"}
            reply = pandamock_client.get("/api/v1/system/is_alive")  # a plain Flask test client too
            assert reply.status_code == 200

        def test_in_process_handle(pandamock_local):
            assert pandamock_local.url is None and not pandamock_local.live
            pandamock_local.client.call("harvester/heartbeat", harvester_id="h1")
            pandamock_local.journal.assert_called("harvester/heartbeat", times=1, identity="atlpilo1")
            with pytest.raises(RuntimeError, match="no server"):
                pandamock_local.env

        def test_engine(pandamock_engine, pandamock_client):
            assert pandamock_engine.world.queue("CERN-PROD_UCORE")["type"] == "unified"
            pandamock_client.call("harvester/heartbeat", harvester_id="h2")
            assert pandamock_engine.store.table("harvester_instances").get("h2")["owner"] == "atlpilo1"

        def test_all_fixtures_share_one_emulator(pandamock, pandamock_local, pandamock_client, pandamock_engine):
            assert pandamock.engine is pandamock_local.engine is pandamock_engine
            assert pandamock_client.application is pandamock.app

        @pytest.mark.pandamock(scenario="empty", seed=7)
        def test_marker_scenario(pandamock, pandamock_engine):
            assert pandamock.scenario_name == "empty"
            assert pandamock_engine.randomness.seed == 7
            assert sorted(pandamock_engine.store.table("sites").records) == ["MOCK_QUEUE"]
            reply = requests.get(pandamock.api_url + "/metaconfig/get_site_specs",
                                 headers={"Accept": "application/json"}, params={"type": "all"})
            assert list(reply.json()["data"]) == ["MOCK_QUEUE"]

        @pytest.mark.pandamock(identity="jdoe")
        def test_marker_identity(pandamock_client):
            reply = pandamock_client.call("harvester/acquire_commands", harvester_id="h", n_commands=1)
            assert reply == {"success": False, "message": "production or pilot role required", "data": None}

        @pytest.mark.pandamock(faults=[{"endpoint": "system/is_alive", "status": 503, "first": 1}])
        def test_marker_faults(pandamock):
            assert requests.get(pandamock.api_url + "/system/is_alive").status_code == 503
            assert requests.get(pandamock.api_url + "/system/is_alive").status_code == 200
            pandamock.journal.assert_faults_fired(times=1)

        @pytest.mark.pandamock(frozen=True)
        def test_marker_frozen_and_advance(pandamock):
            before = pandamock.now()
            assert pandamock.now() == before
            pandamock.advance("90s")
            assert (pandamock.now() - before).total_seconds() == 90

        def test_failing_journal_assertion(pandamock_client, pandamock_local):
            pandamock_client.call("harvester/heartbeat", harvester_id="h3")
            pandamock_local.journal.assert_called("harvester/update_workers")

        def test_failing_plain_assert(pandamock):
            requests.get(pandamock.api_url + "/system/is_alive")
            assert False, "the user's own assertion"
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert outcomes(result) == {"passed": 11, "failed": 2}, result.stdout.str()
    output = result.stdout.str()
    # journal assertions say what was expected and show the journal lines
    assert "expected harvester/update_workers to be called at least once, it was called 0 times" in output
    assert re.search(r"#\d+ \S+ POST harvester/heartbeat atlpilo1 -> 200 success", output)
    # a failed test gets the journal of its requests as a report section
    sections = re.findall(r"-+ pandamock journal -+\n(.*?)(?=\n[-=_]{5})", output, re.S)
    assert len(sections) == 2
    assert "GET system/is_alive atlpilo1 -> 200 success" in sections[1]


def test_journal_section_can_be_turned_off(pytester):
    pytester.makepyfile(
        """
        def test_fails(pandamock_client):
            pandamock_client.call("system/is_alive")
            assert False
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--pandamock-journal-lines", "0")
    assert outcomes(result) == {"failed": 1}
    assert "pandamock journal" not in result.stdout.str()


def test_assert_statuses_shows_the_record_history(pytester):
    pytester.makepyfile(
        """
        def test_worker(pandamock_client, pandamock_local):
            worker = {"workerID": 1, "computingSite": "CERN-PROD_UCORE", "status": "submitted"}
            pandamock_client.call("harvester/update_workers", harvester_id="h", workers=[worker])
            running = {**worker, "status": "running"}
            pandamock_client.call("harvester/update_workers", harvester_id="h", workers=[running])
            pandamock_local.journal.assert_statuses("h:1", ["submitted", "running"], table="workers")
            assert pandamock_local.journal.statuses("h:1", table="workers") == ["submitted", "running"]
            pandamock_local.journal.assert_statuses("h:1", ["submitted", "finished"], table="workers")
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert outcomes(result) == {"failed": 1}
    result.stdout.re_match_lines(
        [
            re.escape("E       pandamock.journal.JournalAssertionError: workers h:1: expected statuses ")
            + re.escape("['submitted', 'finished'], it went through ['submitted', 'running']"),
            r"E       transitions of workers h:1 during the test:",
            r"E         \S+ None -> submitted",
            r"E         \S+ submitted -> running",
            r"E       requests that touched it:",
            r"E         #\d+ \S+ POST harvester/update_workers atlpilo1 -> 200 success",
        ]
    )


# --- reset isolation -----------------------------------------------------------------------------------
def test_state_of_one_test_is_gone_in_the_next(pytester):
    pytester.makepyfile(
        """
        import time

        import requests
        from pandamock.engine import records, statuses

        BASELINE = {}

        def snapshot(engine):
            return {
                "counts": engine.counts(),
                "next_panda_id": engine.ids.peek("PandaID"),
                "instances": sorted(engine.store.table("harvester_instances").records),
            }

        def test_0_baseline(pandamock_engine):
            BASELINE.update(snapshot(pandamock_engine))

        def test_1_change_everything(pandamock):
            engine = pandamock.engine
            with engine.operation():
                job = records.new_job({"PandaID": engine.ids.next("PandaID"), "jobStatus": "activated",
                                       "computingSite": "CERN-PROD_UCORE"})
                statuses.created(engine.store.table("jobs"), job, statuses.JOB, engine.now())
            requests.post(pandamock.api_url + "/harvester/heartbeat", json={"harvester_id": "leftover"})
            pandamock.client.call("creds/set_user_secrets", key="k", value="v")
            pandamock.add_fault(endpoint="system/is_alive", status=500)
            pandamock.freeze()
            pandamock.advance("1h")
            pandamock.emulator.identities.default_identity = "jdoe"  # even this is undone
            assert len(pandamock.journal) == 2
            assert snapshot(engine) != BASELINE

        def test_2_nothing_is_left(pandamock):
            engine = pandamock.engine
            assert snapshot(engine) == BASELINE  # records of every table, id counters
            assert "leftover" not in BASELINE["instances"]
            assert pandamock.faults() == []
            assert pandamock.control.clock()["frozen"] is False
            assert abs(pandamock.engine.clock.time() - time.time()) < 60
            assert len(pandamock.journal) == 0
            assert pandamock.journal.transitions() == []
            assert requests.get(pandamock.api_url + "/system/is_alive").status_code == 200
            pandamock.journal.assert_called("system/is_alive", times=1, identity="atlpilo1")

        def test_3_in_process_too(pandamock_engine):
            assert snapshot(pandamock_engine) == BASELINE
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert outcomes(result) == {"passed": 4}, result.stdout.str()


def test_reset_in_the_middle_of_a_test_keeps_the_tests_own_setup(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.pandamock(faults=[{"id": "mine", "endpoint": "system/is_alive", "status": 500}], identity="jdoe")
        def test_reset(pandamock_local):
            pandamock_local.client.call("harvester/heartbeat", harvester_id="h")
            pandamock_local.reset()
            assert pandamock_local.records("harvester_instances", harvester_ID="h") == []
            assert [rule["id"] for rule in pandamock_local.faults()] == ["mine"]
            assert pandamock_local.identity == "jdoe"
            assert len(pandamock_local.journal) == 0
        """
    )
    assert outcomes(pytester.runpytest("-p", "no:cacheprovider")) == {"passed": 1}


# --- scenarios per test, configuration -------------------------------------------------------------------
def test_a_scenario_per_test_and_the_default_comes_back(pytester):
    pytester.makepyfile(
        test_scenarios="""
        import pytest

        SITES = {"empty": {"MOCK_QUEUE"}}
        INLINE = {"name": "inline", "identities": [{"name": "me", "dn": "/CN=me", "fqans": ["/atlas/Role=production"]}],
                  "sites": [{"name": "MY_QUEUE"}]}

        def sites(engine):
            return set(engine.store.table("sites").records)

        def test_1_default(pandamock):
            SITES["default"] = sites(pandamock.engine)
            assert {"CERN-PROD_UCORE", "BNL_PROD_MCORE"} <= SITES["default"]
            pandamock.client.call("harvester/heartbeat", harvester_id="default-1")

        @pytest.mark.pandamock("empty")
        def test_2_empty(pandamock):
            assert sites(pandamock.engine) == SITES["empty"]
            assert pandamock.client.call("harvester/heartbeat", harvester_id="empty-1")["success"]

        def test_3_default_again(pandamock):
            assert sites(pandamock.engine) == SITES["default"]
            assert pandamock.records("harvester_instances", harvester_ID="default-1") == []

        @pytest.mark.pandamock(scenario=INLINE)
        def test_4_inline(pandamock):
            assert sites(pandamock.engine) == {"MY_QUEUE"}
            assert pandamock.client.call("system/get_user_attributes")["data"]["user_dn_clean"] == "me"

        @pytest.mark.pandamock(scenario="empty")
        def test_5_a_test_that_loads_a_scenario_itself(pandamock):
            pandamock.control.load_scenario("default")
            assert sites(pandamock.engine) == SITES["default"]

        @pytest.mark.pandamock(scenario="empty")
        def test_6_empty_is_empty_again(pandamock):
            assert sites(pandamock.engine) == SITES["empty"]
            assert pandamock.records("harvester_instances") == []

        @pytest.mark.pandamock(scenario="my_world.yaml")
        def test_8_scenario_file(pandamock):
            assert pandamock.scenario_name == "my-world"
            assert sites(pandamock.engine) == {"FILE_QUEUE"}

        class TestClassMarker:
            pytestmark = pytest.mark.pandamock(scenario="empty", seed=3)

            def test_class_level(self, pandamock_engine):
                assert sites(pandamock_engine) == SITES["empty"]
                assert pandamock_engine.randomness.seed == 3

            @pytest.mark.pandamock(seed=4)
            def test_closest_marker_wins_per_keyword(self, pandamock_engine):
                assert sites(pandamock_engine) == SITES["empty"]
                assert pandamock_engine.randomness.seed == 4
        """
    )
    pytester.makefile(
        ".yaml",
        my_world="""
        name: my-world
        identities:
          - {name: robot, dn: /CN=robot, fqans: [/atlas/Role=production]}
        sites:
          - {name: FILE_QUEUE}
        """,
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert outcomes(result) == {"passed": 9}, result.stdout.str()


def test_configuration_fixtures_can_be_overridden(pytester):
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture
        def pandamock_scenario():
            return "empty"

        @pytest.fixture
        def pandamock_settings():
            return {"journal_size": 2}
        """
    )
    pytester.makepyfile(
        """
        import pytest

        def test_conftest_scenario(pandamock_local):
            assert pandamock_local.scenario_name == "empty"
            assert pandamock_local.settings.journal_size == 2

        @pytest.mark.pandamock(scenario="default")
        def test_marker_beats_fixture(pandamock_local):
            assert pandamock_local.scenario_name == "default"

        class TestRobot:
            @pytest.fixture
            def pandamock_identity(self):
                return "robot"

            def test_class_fixture(self, pandamock_local):
                assert pandamock_local.identity == "robot"
        """
    )
    assert outcomes(pytester.runpytest("-p", "no:cacheprovider")) == {"passed": 3}


def test_command_line_and_ini_settings(pytester):
    pytester.makeini(
        """
        [pytest]
        pandamock_scenario = empty
        pandamock_seed = 11
        pandamock_settings =
            journal_size = 3
            max_upload_mb = 5
        """
    )
    pytester.makepyfile(
        """
        def test_configured(pandamock_local, pytestconfig):
            expected = pytestconfig.getoption("expected")
            assert pandamock_local.scenario_name == expected
            assert pandamock_local.engine.randomness.seed == 11
            assert (pandamock_local.settings.journal_size, pandamock_local.settings.max_upload_mb) == (3, 5)
            assert pandamock_local.identity == pytestconfig.getoption("expected_identity")
        """
    )
    pytester.makeconftest(
        """
        def pytest_addoption(parser):
            parser.addoption("--expected")
            parser.addoption("--expected-identity", default=None)
        """
    )
    assert outcomes(pytester.runpytest("-p", "no:cacheprovider", "--expected", "empty")) == {"passed": 1}
    result = pytester.runpytest(
        "-p",
        "no:cacheprovider",
        "--pandamock-scenario",
        "default",
        "--pandamock-identity",
        "jdoe",
        "--expected",
        "default",
        "--expected-identity",
        "jdoe",
    )
    assert outcomes(result) == {"passed": 1}, result.stdout.str()


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ('scenario="nope"', "pandamock: scenario: nope: no shipped scenario of that name; shipped: *"),
        ('scenario="emtpy"', "pandamock: scenario: emtpy: no shipped scenario of that name (did you mean 'empty'?)*"),
        ('scenario="missing/world.yaml"', "pandamock: scenario: missing/world.yaml: no such file"),
        ('identity="nobody"', "pandamock: identity: 'nobody' is not an identity of scenario 'default' (its *"),
        ('seed="x"', "pandamock: seed: expected an integer, got 'x'"),
        ('auth_mode="closed"', "pandamock: auth_mode: expected 'open' or 'strict', got 'closed'"),
        ('scenarios="empty"', "pandamock: @pytest.mark.pandamock: unknown keyword 'scenarios'; keywords: *"),
        ('faults=[{"endpoint": "pilot/updte_job", "status": 503}]', "pandamock: faults[0]: endpoint: *did you mean*"),
        ('faults=[{"status": 404}]', "pandamock: faults[0]: *status*"),
        ('faults="503"', "pandamock: faults: expected a list of fault rules (mappings), got '503'"),
        ('settings={"port": 1234}', "pandamock: settings: 'port' belongs to the session's server*"),
        ('settings={"journal_size": "many"}', "pandamock: settings: *journal-size*expected an integer*"),
        ('settings={"no_such": 1}', "pandamock: settings: unknown setting 'no_such'*"),
    ],
)
def test_usage_errors_are_setup_errors_with_the_reason(pytester, marker, message):
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.pandamock({marker})
        def test_it(pandamock_local):
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert outcomes(result) == {"errors": 1}, result.stdout.str()
    result.stdout.fnmatch_lines([message.replace("[", "[[]")])
    assert "During handling" not in result.stdout.str()


# --- auth modes, identities, HTTPS ------------------------------------------------------------------------
def test_strict_mode_and_tokens(pytester):
    pytester.makepyfile(
        """
        import pytest
        import requests

        @pytest.mark.pandamock(auth_mode="strict")
        def test_strict(pandamock):
            url = pandamock.api_url + "/harvester/heartbeat"
            anonymous = requests.post(url, json={"harvester_id": "h"}, headers={"Accept": "application/json"})
            assert anonymous.json()["message"] == "SSL secure connection is required"
            headers = pandamock.auth_headers("pilot", role="production")
            assert headers["Origin"] == "atlas.production"
            signed = requests.post(url, json={"harvester_id": "h"}, headers=headers)
            assert signed.json()["success"] is True, signed.text
            forged = dict(headers, Authorization="Bearer " + headers["Authorization"][7:-4] + "AAAA")
            assert requests.post(url, json={"harvester_id": "h"}, headers=forged).status_code == 403

        def test_open_mode_headers(pandamock):
            reply = requests.post(pandamock.api_url + "/harvester/acquire_commands",
                                  json={"harvester_id": "h", "n_commands": 1}, headers=pandamock.headers("jdoe"))
            assert reply.json()["message"] == "production or pilot role required"
            with pytest.raises(KeyError, match="no identity 'nobody'"):
                pandamock.headers("nobody")
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert outcomes(result) == {"passed": 2}, result.stdout.str()


def test_https_on_request(pytester):
    pytester.makepyfile(
        """
        import requests

        def test_https(pandamock):
            assert pandamock.https_url.startswith("https://127.0.0.1:")
            reply = requests.get(pandamock.https_url + "/api/v1/system/is_alive", verify=str(pandamock.tls.ca_file),
                                 headers={"Accept": "application/json"})
            assert reply.json()["success"] is True
            assert pandamock.env["X509_CERT_DIR"] == str(pandamock.tls.cert_dir)
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--pandamock-https")
    assert outcomes(result) == {"passed": 1}, result.stdout.str()


# --- processes: imports, xdist, parallel sessions, private files ------------------------------------------
def _subprocess_env(home: Path) -> dict[str, str]:
    import os

    env = {key: value for key, value in os.environ.items() if not key.startswith("PANDAMOCK_")}
    env["HOME"] = str(home)
    env["XDG_CONFIG_HOME"] = str(home / ".config")
    env.pop("PYTEST_XDIST_WORKER", None)
    env.pop("PYTEST_ADDOPTS", None)
    return env


def test_a_run_that_does_not_use_the_fixtures_does_not_import_the_emulator(pytester, tmp_path):
    pytester.makepyfile(
        """
        import sys

        def test_nothing_imported():
            loaded = [name for name in ("flask", "pandamock.testing", "pandamock.app", "pandamock.engine")
                      if name in sys.modules]
            assert loaded == []
            assert "pandamock.pytest_plugin" in sys.modules
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert outcomes(result) == {"passed": 1}, result.stdout.str()


def test_xdist_gives_each_worker_its_own_server(pytester):
    pytester.makepyfile(
        """
        import os
        import pytest
        import requests

        @pytest.mark.parametrize("n", range(8))
        def test_worker(pandamock, n, tmp_path_factory):
            worker = os.environ["PYTEST_XDIST_WORKER"]
            out = tmp_path_factory.getbasetemp().parent / f"{worker}-{n}"
            out.write_text(pandamock.url)
            requests.post(pandamock.api_url + "/harvester/heartbeat", json={"harvester_id": f"xdist-{n}"})
            mine = [row["harvester_ID"] for row in pandamock.records("harvester_instances")
                    if row["harvester_ID"].startswith("xdist-")]
            assert mine == [f"xdist-{n}"]  # the earlier tests' instances are gone
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "--basetemp", str(pytester.path / "bt"))
    assert outcomes(result) == {"passed": 8}, result.stdout.str()
    urls: dict[str, set[str]] = {}
    for path in (pytester.path / "bt").glob("gw*-*"):
        urls.setdefault(path.name.split("-")[0], set()).add(path.read_text())
    assert sorted(urls) == ["gw0", "gw1"]
    assert all(len(found) == 1 for found in urls.values())  # one server per worker for the session
    assert urls["gw0"] != urls["gw1"]


def test_parallel_sessions_on_one_machine_and_nothing_written_to_home(pytester, tmp_path):
    pytester.makepyfile(
        """
        import time
        import requests

        def test_session(pandamock, tmp_path_factory):
            (tmp_path_factory.getbasetemp() / "url").write_text(pandamock.url)
            assert pandamock.https_url is None  # no HTTPS unless asked: 25443 is never bound
            for n in range(20):
                reply = requests.post(pandamock.api_url + "/harvester/heartbeat", json={"harvester_id": "h"},
                                      headers={"Accept": "application/json"})
                assert reply.json()["success"] is True
                time.sleep(0.01)
            pandamock.journal.assert_called("harvester/heartbeat", times=20)
            pandamock.token()  # signs with the session's key: in a private directory too
        """
    )
    home = tmp_path / "home"
    home.mkdir()
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--basetemp", str(tmp_path / f"bt{i}")],
            cwd=pytester.path,
            env=_subprocess_env(home),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(2)
    ]
    outputs = [run.communicate(timeout=120)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    urls = {(tmp_path / f"bt{i}" / "url").read_text() for i in range(2)}
    assert len(urls) == 2
    assert list(home.iterdir()) == []  # no ~/.config/pandamock, no ~/.pathena


# --- the documentation's examples ------------------------------------------------------------------------
def test_the_documented_examples_run(pytester):
    for example in sorted(EXAMPLES.glob("test_*.py")):
        shutil.copy(example, pytester.path / example.name)
    result = pytester.runpytest("-p", "no:cacheprovider", "-rs")
    counts = outcomes(result)
    from pandamock.api.registry import discover

    pilot_api = discover().lookup("pilot", "acquire_jobs") is not None
    expected_skips = 0 if pilot_api else 2  # the pilot loop needs pandamock's jobs module
    assert counts == {"passed": 13 - expected_skips, **({"skipped": expected_skips} if expected_skips else {})}, (
        result.stdout.str()
    )


def test_the_guide_names_every_example():
    guide = (ROOT / "docs" / "pytest-plugin.md").read_text()
    for example in EXAMPLES.glob("test_*.py"):
        assert f"examples/{example.name}" in guide


def test_examples_are_what_the_guide_says(pytester):
    """The guide's inline snippet is a runnable test file as well."""
    guide = (ROOT / "docs" / "pytest-plugin.md").read_text()
    snippet = re.search(r"```python\n(# test_quickstart\.py.*?)```", guide, re.S)
    assert snippet, "docs/pytest-plugin.md has the quick-start snippet"
    pytester.makepyfile(test_quickstart=textwrap.dedent(snippet.group(1)))
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert outcomes(result) == {"passed": 3}, result.stdout.str()
