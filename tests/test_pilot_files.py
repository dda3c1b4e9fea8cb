"""What a pilot fetches besides the dispatcher: info-system documents (pilot3_legacy.md §4), the
payload script (§8), ``pandamock pilot-env``; and pilot3's two transports over a real socket."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from pandamock.app import create_app, emulator_of
from pandamock.cli import main
from pandamock.commands.pilot import pilot_environment, shell_script
from pandamock.engine.payloads import EXIT_NO_INPUT, PAYLOAD_SCRIPT_TEXT, adler32_of, replica_bytes, rucio_path
from pandamock.server import MockServer

QUEUE = "PANDAMOCK_PILOT"
ACTIVITIES = ("read_lan", "write_lan", "pl", "pr", "pw", "default")


# --------------------------------------------------------------------------------------------------
# info-system documents
# --------------------------------------------------------------------------------------------------
def test_queuedata_has_what_the_pilot_needs(client, engine):
    response = client.get(f"/cache/schedconfig/{QUEUE}.all.json")
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
    queuedata = json.loads(response.data)
    site = engine.world.queue(QUEUE)
    # the verified minimum (§4): without these the pilot stops
    assert queuedata["nickname"] == QUEUE and queuedata["panda_resource"] == QUEUE
    assert queuedata["atlas_site"] == site["pandasite"] == "PANDAMOCK"
    assert (queuedata["state"], queuedata["status"]) == ("ACTIVE", "online")
    assert "error" not in queuedata  # a body with an error key is refused
    # one job per pilot, disk and memory limits from the SiteSpec
    assert queuedata["timefloor"] == 0
    assert (queuedata["maxwdir"], queuedata["maxrss"], queuedata["corecount"]) == (site["maxwdir"], 2000, 1)
    # stage-in and stage-out through the mv copytool into the local storage
    assert "mv_final_destination" in queuedata["catchall"].split()
    assert queuedata["copytools"] == {"mv": {"setup": ""}}
    assert {activity: queuedata["acopytools"][activity] for activity in ACTIVITIES} == {a: ["mv"] for a in ACTIVITIES}
    assert {queuedata["astorages"][activity][0] for activity in ACTIVITIES} == {"PANDAMOCK_DATADISK"}
    assert queuedata["container_type"] == "" and queuedata["container_options"] == ""
    assert isinstance(queuedata["params"], dict)
    assert client.get("/cache/schedconfig/NO_SUCH_QUEUE.all.json").status_code == 404


def test_schedconfig_is_keyed_by_queue(client):
    schedconfig = json.loads(client.get(f"/cache/schedconfig/{QUEUE}.json").data)
    assert list(schedconfig) == [QUEUE]
    assert schedconfig[QUEUE] == json.loads(client.get(f"/cache/schedconfig/{QUEUE}.all.json").data)
    assert client.get(f"/cache/schedconfig/{QUEUE}.yaml").status_code == 404


def test_storage_data_points_at_the_storage_directory(client, engine):
    endpoints = json.loads(client.get("/cache/ddmendpoints.json").data)
    sites = engine.world.sites.values()
    assert set(endpoints) == {site["ddm"] for site in sites}
    endpoint = endpoints["PANDAMOCK_DATADISK"]
    assert endpoint["name"] == "PANDAMOCK_DATADISK" and isinstance(endpoint["id"], int)
    assert endpoint["type"] == "DATADISK" and endpoint["is_deterministic"] is True
    directory = engine.payloads.storage_dir / "PANDAMOCK_DATADISK"
    for activity in ("read_lan", "write_lan"):
        (protocol,) = endpoint["arprotocols"][activity]
        assert protocol["endpoint"] == "file://localhost" and protocol["path"] == str(directory)
    assert directory.is_dir()
    assert len({entry["id"] for entry in endpoints.values()}) == len(endpoints)


def test_uploaded_cache_files_are_still_served(client, engine):
    from io import BytesIO

    client.post(
        "/api/v1/file_server/upload_cache_file",
        data={"file": (BytesIO(b"\x1f\x8babc"), "jobO.abc.tar.gz")},
        headers={"Accept": "application/json"},
    )
    assert client.get("/cache/jobO.abc.tar.gz").data == b"\x1f\x8babc"
    assert client.get("/cache/schedconfig").status_code == 404


# --------------------------------------------------------------------------------------------------
# the payload script
# --------------------------------------------------------------------------------------------------
def test_payload_script_is_served(client):
    response = client.get("/trf/user/runpandamock")
    assert response.status_code == 200 and response.data.decode() == PAYLOAD_SCRIPT_TEXT
    assert client.head("/trf/user/runpandamock").status_code == 200
    assert client.get("/trf/user/runGen-00-00-02").status_code == 404


def _run_script(tmp_path: Path, arguments: str) -> subprocess.CompletedProcess:
    script = tmp_path / "runpandamock"
    script.write_text(PAYLOAD_SCRIPT_TEXT)
    script.chmod(0o755)
    # as the pilot runs it: `./<trf> <jobPars>` through a shell in the job directory
    return subprocess.run(f"./runpandamock {arguments}", shell=True, cwd=tmp_path, capture_output=True, text=True)


def test_payload_writes_outputs_and_exits_with_the_asked_code(tmp_path):
    (tmp_path / "in.txt").write_bytes(replica_bytes("scope", "in.txt", 300))
    done = _run_script(tmp_path, "--sleep 0 --exit-code 0 --input in.txt --output out1.txt,out2.txt --output-size 77")
    assert done.returncode == 0, done.stderr
    assert "runpandamock: input in.txt (300 bytes)" in done.stdout
    assert (tmp_path / "out1.txt").stat().st_size == 77 and (tmp_path / "out2.txt").stat().st_size == 77
    assert json.loads((tmp_path / "jobReport.json").read_text()) == {
        "exitCode": 0,
        "exitMsg": "OK",
        "reportVersion": "pandamock-1.0",
    }
    failed = _run_script(tmp_path, "--sleep 0 --exit-code 3 --output out3.txt --message 'staged failure'")
    assert failed.returncode == 3 and "staged failure" in failed.stdout
    assert json.loads((tmp_path / "jobReport.json").read_text())["exitCode"] == 3


def test_payload_without_its_input_exits_66(tmp_path):
    done = _run_script(tmp_path, "--sleep 0 --input missing.txt --output out.txt")
    assert done.returncode == EXIT_NO_INPUT and "input missing.txt is missing" in done.stderr
    assert not (tmp_path / "out.txt").exists()


def test_input_replicas_are_a_pure_function_of_the_file():
    data = replica_bytes("mc23_13p6TeV", "TXT.1._000001.txt.1", 5000)
    assert len(data) == 5000 and data == replica_bytes("mc23_13p6TeV", "TXT.1._000001.txt.1", 5000)
    assert data != replica_bytes("mc23_13p6TeV", "TXT.1._000002.txt.1", 5000)
    assert adler32_of(b"abc") == "ad:024d0127"
    # Rucio's deterministic path, with the scope's dots as directories (the pilot's get_path)
    digest = hashlib.md5(b"user.jdoe:f.root").hexdigest()
    assert rucio_path("user.jdoe", "f.root") == f"user/jdoe/{digest[:2]}/{digest[2:4]}/f.root"


def test_generated_pilot_jobs_have_consistent_inputs(engine):
    for panda_id in engine.store["jobs"].ids("dispatch", (QUEUE, "activated")):
        job = engine.jobs.get(panda_id)
        (input_file,) = [f for f in job["Files"] if f["type"] == "input"]
        data = replica_bytes(input_file["scope"], input_file["lfn"], input_file["fsize"])
        assert adler32_of(data) == input_file["checksum"]
        assert 1000 <= input_file["fsize"] <= 64000
        assert job["maxDiskCount"] <= 100 and job["minRamCount"] <= 2000 and job["coreCount"] == 1


# --------------------------------------------------------------------------------------------------
# pilot-env and the two transports over a real socket
# --------------------------------------------------------------------------------------------------
@pytest.fixture
def live(tmp_path):
    app = create_app({"scenario": "default", "data_dir": str(tmp_path / "data")})
    with MockServer(app, port=0) as server:
        server.emulator = emulator_of(app)
        yield server


def test_pilot_env_names_everything_the_pilot_needs(live, tmp_path):
    env = pilot_environment(live.url, QUEUE, run_dir=str(tmp_path / "run"), pilot="/opt/pilot3/pilot.py")
    port = str(live.port)
    assert env["environment"]["PILOT_NOKILL"] == "1"
    assert env["environment"]["OIDC_AUTH_ORIGIN"] == "atlas.pilot"
    assert env["environment"]["OIDC_AUTH_TOKEN"] == str(tmp_path / "run" / "token")
    assert env["environment"]["LOCAL_AGIS_SCHEDCONF"] == f"{live.url}/cache/schedconfig/{QUEUE}.json"
    assert "http_proxy" in env["unset"] and "https_proxy" in env["unset"]
    command = env["command"]
    assert command[:2] == ["python3", "/opt/pilot3/pilot.py"]
    option = {command[i]: command[i + 1] for i in range(2, len(command) - 1) if command[i].startswith("-")}
    assert option["-q"] == QUEUE and option["--url"] == "http://127.0.0.1" and option["-p"] == port
    assert option["--queuedata-url"] == f"{live.url}/cache/schedconfig/{{pandaqueue}}.all.json"
    assert option["--storagedata-url"] == f"{live.url}/cache/ddmendpoints.json"
    assert option["--baseurls"] == f"{live.url}/trf/user"
    assert option["--input-destination-dir"] == str(live.emulator.engine.payloads.storage_dir / "PANDAMOCK_DATADISK")
    # the token is accepted as the pilot sends it, and has a pilot role
    headers = {"Authorization": f"Bearer {env['token']}", "Origin": env["environment"]["OIDC_AUTH_ORIGIN"]}
    reply = requests.post(f"{live.url}/server/panda/getJob", data={"siteName": QUEUE}, headers=headers, timeout=10)
    assert reply.text.startswith("StatusCode=0&PandaID=")
    script = shell_script(env)
    assert "export PILOT_NOKILL=1" in script and f"printf '%s' {env['token']} >" in script
    old = pilot_environment(live.url, QUEUE, old_pilot=True)
    assert "--baseurls" not in old["command"] and "-b" not in old["command"]
    assert old["environment"]["http_proxy"] == live.url and "http_proxy" not in old["unset"]


def test_pilot_env_command(live):
    runner = CliRunner()
    result = runner.invoke(main, ["pilot-env", "--queue", QUEUE, "--url", live.url, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["queue"] == QUEUE
    script = runner.invoke(main, ["pilot-env", "-q", QUEUE, "--url", live.url, "--pilot", "/p/pilot.py"])
    assert script.output.startswith("#!/bin/bash\n") and "exec python3 /p/pilot.py -q PANDAMOCK_PILOT" in script.output
    unknown = runner.invoke(main, ["pilot-env", "--queue", "NOPE", "--url", live.url])
    assert unknown.exit_code == 2 and "has no queue 'NOPE'" in unknown.output
    down = runner.invoke(main, ["pilot-env", "--queue", QUEUE, "--url", "http://127.0.0.1:9"])
    assert down.exit_code == 1 and "cannot reach pandamock" in down.output


def test_urllib_path_over_a_socket(live):
    """request2 of pilot3: gzip JSON without Content-Encoding, no Accept; a URL-encoded answer."""
    body = gzip.compress(json.dumps({"siteName": QUEUE, "prodSourceLabel": "managed", "mem": 16000.5}).encode())
    request = urllib.request.Request(f"{live.url}/server/panda/getJob", data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    request.add_header("Accept-Encoding", "identity")
    request.add_header("Connection", "close")
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
    assert text.startswith("StatusCode=0&PandaID=") and f"transformation=http%3A%2F%2F127.0.0.1%3A{live.port}" in text


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_path_over_a_socket(live, tmp_path):
    """pilot3's curl fallback: the data in a --config file, Accept: application/json, JSON back."""
    config = tmp_path / "curl_getJob.config"
    config.write_text(
        'data="siteName=PANDAMOCK_PILOT"\ndata="prodSourceLabel=managed"\ndata="allowOtherCountry=False"\n'
    )
    done = subprocess.run(
        [
            "curl",
            "-sS",
            "--compressed",
            "-H",
            "Accept: application/json",
            "--config",
            str(config),
            f"{live.url}/server/panda/getJob",
        ],
        capture_output=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(b'{"StatusCode": 0, "PandaID": ') and done.stdout.endswith(b"}")
    job = json.loads(done.stdout)
    assert job["transformation"] == f"{live.url}/trf/user/runpandamock"


def test_absolute_form_requests_are_served(live):
    """A client whose http_proxy is pandamock (old pilots fetching their payload script from a
    built-in host) gets the path served; nothing is forwarded."""
    proxies = {"http": live.url}
    response = requests.get("http://pandaserver-doma.cern.ch:25080/trf/user/runpandamock", proxies=proxies, timeout=10)
    assert response.status_code == 200 and response.text == PAYLOAD_SCRIPT_TEXT
    other = requests.get("http://example.org/nothing/here", proxies=proxies, timeout=10)
    assert other.status_code == 404
