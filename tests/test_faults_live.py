"""Every fault action seen by a real HTTP client (requests) over a live MockServer."""

from __future__ import annotations

import time

import pytest
import requests

from pandamock.app import emulator_of
from pandamock.faults import APACHE_503
from pandamock.server import MockServer
from tests.faultprobe import make_app

JSON = {"Accept": "application/json"}


@pytest.fixture(scope="module")
def server():
    with MockServer(make_app(), port=0) as live:
        yield live


@pytest.fixture
def live(server):
    emulator = emulator_of(server.app)
    emulator.reset()
    emulator.faults.clear()
    return server


def add(live, **rule):
    return emulator_of(live.app).faults.add(rule)


def url(live, path):
    return f"{live.url}/api/v1/{path}"


def update_job(live, job_id, status=None, session=requests):
    payload = {"job_id": job_id, **({"job_status": status} if status else {})}
    return session.post(url(live, "jobprobe/update_job"), json=payload, headers=JSON, timeout=5)


def job_status(live, job_id):
    job = emulator_of(live.app).engine.store.table("jobs").get(job_id)
    return job and job["jobStatus"]


def test_403_and_500_text_bodies(live):
    add(live, endpoint="system/is_alive", status=403, first=1)
    add(live, endpoint="system/is_alive", status=500, message="ORA-03113: end-of-file on communication channel")
    response = requests.get(url(live, "system/is_alive"), timeout=5)
    assert (response.status_code, response.headers["Content-Type"]) == (403, "text/plain")
    assert response.text == "ERROR : method is_alive is forbidden"
    response = requests.get(url(live, "system/is_alive"), timeout=5)
    assert (response.status_code, response.headers["Content-Type"]) == (500, "text/plain")
    assert response.text == "ERROR : ORA-03113: end-of-file on communication channel"


def test_503_carries_apaches_page_and_retry_after(live):
    add(live, endpoint="system/is_alive", status=503, retry_after=120, first=1)
    add(live, endpoint="system/is_alive", status=503)
    response = requests.get(url(live, "system/is_alive"), timeout=5)
    assert response.status_code == 503
    assert response.reason == "Service Unavailable"
    assert response.headers["Content-Type"] == "text/html; charset=iso-8859-1"
    assert response.headers["Retry-After"] == "120"
    assert response.content == APACHE_503
    response = requests.get(url(live, "system/is_alive"), timeout=5)
    assert response.status_code == 503 and "Retry-After" not in response.headers


def test_dropped_connection_is_a_connection_error(live):
    update_job(live, 5)
    add(live, endpoint="jobprobe/update_job", action="drop", first=1)
    with requests.Session() as session:
        with pytest.raises(requests.exceptions.ConnectionError):
            update_job(live, 5, "sent", session=session)
        assert job_status(live, 5) == "activated"  # dropped before the call: state untouched
        assert update_job(live, 5, "sent", session=session).json()["data"]["jobStatus"] == "sent"  # reconnects


def test_dropped_connection_after_the_call_changed_state(live):
    update_job(live, 6)
    add(live, endpoint="jobprobe/update_job", action="drop", when="after")
    with pytest.raises(requests.exceptions.ConnectionError):
        update_job(live, 6, "sent")
    assert job_status(live, 6) == "sent"  # the server did it; the client never heard
    entry = emulator_of(live.app).journal.entries()[-1]
    assert entry["status"] == 0 and entry["transitions"][0]["to"] == "sent"


def test_truncated_body_breaks_the_read(live):
    add(live, endpoint="metaconfig/get_site_specs", action="truncate", bytes=100)
    with pytest.raises(requests.exceptions.ChunkedEncodingError, match=r"IncompleteRead\(100 bytes read"):
        requests.get(url(live, "metaconfig/get_site_specs"), headers=JSON, timeout=5)


def test_malformed_body_is_a_short_valid_http_answer(live):
    add(live, endpoint="system/is_alive", action="malformed", fraction=0.5)
    response = requests.get(url(live, "system/is_alive"), headers=JSON, timeout=5)
    assert response.status_code == 200
    assert response.text == '{"success": true, "mess'
    with pytest.raises(ValueError):
        response.json()


def test_fail_envelope(live):
    update_job(live, 8)
    add(live, endpoint="jobprobe/update_job", action="fail")
    response = update_job(live, 8, "sent")
    assert response.json() == {"success": False, "message": "database error in the PanDA server", "data": None}
    assert job_status(live, 8) == "activated"


def test_delay_before_and_after(live):
    add(live, endpoint="system/is_alive", delay=0.3)
    add(live, endpoint="jobprobe/update_job", delay=0.3, when="after")
    started = time.monotonic()
    assert requests.get(url(live, "system/is_alive"), timeout=5).status_code == 200
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    assert update_job(live, 9).json()["success"] is True
    assert time.monotonic() - started >= 0.3
    assert job_status(live, 9) == "activated"


def test_a_hang_trips_the_client_timeout(live):
    add(live, endpoint="system/is_alive", delay=30)
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(url(live, "system/is_alive"), timeout=0.3)
    emulator_of(live.app).faults.clear()  # wakes the held request
