"""Example: fault drills in tests — does a client's retry logic survive what the real server does?

The client under test is a small Harvester-style heartbeat/worker reporter with retries. Faults
come from the marker (installed after the per-test reset), from the test itself
(``pandamock.add_fault``) and from a shipped drill scenario driven with the emulator clock.
Every fault is seeded and counted, so these tests are deterministic.
"""

from __future__ import annotations

import time

import pytest
import requests

HARVESTER_ID = "drill_harvester"
QUEUE = "CERN-PROD_UCORE"


class GaveUp(Exception):
    pass


class ReportingClient:
    """Retries what PanDA asks clients to retry: 5xx answers, dropped connections, broken bodies."""

    def __init__(self, base_url: str, attempts: int = 3, backoff: float = 0.01) -> None:
        self.api = f"{base_url}/api/v1"
        self.attempts = attempts
        self.backoff = backoff

    def post(self, endpoint: str, **params) -> dict:
        problem = None
        for attempt in range(self.attempts):
            try:
                response = requests.post(
                    f"{self.api}/{endpoint}", json=params, headers={"Accept": "application/json"}, timeout=5
                )
                if response.status_code < 500:
                    response.raise_for_status()
                    return response.json()
                problem = f"HTTP {response.status_code}"
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError, ValueError) as exc:
                problem = type(exc).__name__
            time.sleep(self.backoff * 2**attempt)
        raise GaveUp(f"{endpoint}: {problem} after {self.attempts} attempts")

    def heartbeat(self) -> dict:
        return self.post("harvester/heartbeat", harvester_id=HARVESTER_ID, data={"sw_version": "0.7.5"})

    def report_worker(self, worker_id: int, status: str) -> dict:
        worker = {"workerID": worker_id, "computingSite": QUEUE, "status": status}
        return self.post("harvester/update_workers", harvester_id=HARVESTER_ID, workers=[worker])


@pytest.fixture
def client(pandamock):
    return ReportingClient(pandamock.url)


@pytest.mark.pandamock(faults=[{"id": "blip", "endpoint": "harvester/heartbeat", "status": 503, "first": 2}])
def test_retries_through_a_short_outage(pandamock, client):
    assert client.heartbeat()["success"] is True

    pandamock.journal.assert_called("harvester/heartbeat", times=3)
    pandamock.journal.assert_faults_fired("blip", times=2)
    pandamock.journal.assert_no_unexpected_failures()  # the two 503s were the fault's
    assert pandamock.records("harvester_instances", harvester_ID=HARVESTER_ID)  # registered


def test_a_lost_answer_is_retried_safely(pandamock, client):
    # the server applies the update, then the connection drops before the answer
    pandamock.add_fault(id="lost-answer", endpoint="harvester/update_workers", action="drop", when="after", first=1)

    assert client.report_worker(1, "running")["data"] == [True]

    calls = pandamock.journal.assert_called("harvester/update_workers", times=2)
    assert [call["status"] for call in calls] == [0, 200]  # 0: dropped
    (worker,) = pandamock.records("workers", harvesterID=HARVESTER_ID)
    assert worker["status"] == "running"  # applied once, the retry changed nothing
    pandamock.journal.assert_statuses(f"{HARVESTER_ID}:1", ["running"], table="workers")


def test_database_trouble_is_not_retried(pandamock, client):
    pandamock.add_fault(endpoint="harvester/*", action="fail", for_="2m")  # success: false, nothing written

    reply = client.report_worker(1, "submitted")

    assert reply == {"success": False, "message": "database error in the PanDA server", "data": None}
    assert pandamock.records("workers", harvesterID=HARVESTER_ID) == []
    pandamock.advance("2m")  # the window is over
    assert client.report_worker(1, "submitted")["data"] == [True]


@pytest.mark.pandamock(scenario="drill-server-outage", frozen=True)
def test_the_shipped_outage_drill(pandamock, client):
    assert client.heartbeat()["success"] is True  # before the outage

    pandamock.advance(60)  # the drill's outage starts at t+60 s, for 3 minutes
    with pytest.raises(GaveUp, match="HTTP 503 after 3 attempts"):
        client.heartbeat()

    pandamock.advance("3m")
    assert client.heartbeat()["success"] is True
    pandamock.journal.assert_faults_fired("outage-*", times=3)
    pandamock.journal.assert_no_unexpected_failures()
