"""A fleet of simulated pilots speaking the PanDA API v1 pilot protocol over HTTP.

Each pilot is a thread with its own keep-alive ``requests`` session that loops::

    pilot/acquire_jobs -> pilot/update_job starting -> running heartbeats
        [-> event/acquire_event_ranges + event/update_event_ranges, for event-service jobs]
        -> pilot/update_job finished | failed (with realistic metrics and error codes)

It works against pandamock or any PanDA server that serves ``/api/v1`` (give a token or a
certificate for a real one). :class:`Fleet` records every request (per-endpoint latency, HTTP
errors) and what happened to the jobs; :func:`format_summary` prints the summary the
``pandamock simulate`` command shows. The benchmark in ``bench/`` uses the same fleet as its load
generator.

This module is a client: it never touches the emulator's state except through HTTP.
"""

from __future__ import annotations

import datetime as _dt
import json
import random
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

#: Pilot error codes a simulated failure reports: (reason, pilotErrorCode, pilotErrorDiag).
FAILURES: tuple[tuple[str, int, str], ...] = (
    ("stage-in", 1099, "Failed to stage-in file: Rucio download failed: checksum mismatch"),
    ("stage-out", 1137, "Failed to stage-out file: transfer to destination RSE timed out"),
    ("looping", 1150, "Looping job killed by pilot: no output file update for 7200 s"),
    ("memory", 1235, "Payload ran out of memory: maxRSS exceeded the queue limit"),
    ("payload", 1305, "Payload execution error: transformation exited with code 65"),
    ("signal", 1201, "Caught signal SIGTERM, the batch system is killing the job"),
)
KILLED = ("killed by server", 1144, "Job killed by panda server: tobekilled")

ENDPOINTS = (
    "pilot/acquire_jobs",
    "pilot/update_job",
    "event/acquire_event_ranges",
    "event/update_event_ranges",
)


@dataclass
class FleetResult:
    """What a fleet did: counts, failures by reason, per-endpoint latencies (seconds)."""

    elapsed: float = 0.0
    requests: int = 0
    http_errors: int = 0
    jobs_acquired: int = 0
    jobs_finished: int = 0
    jobs_failed: int = 0
    ranges_processed: int = 0
    failures: Counter = field(default_factory=Counter)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return self.requests / self.elapsed if self.elapsed else 0.0

    def endpoint_stats(self) -> dict[str, dict[str, float]]:
        """Per endpoint: count, p50 and p99 in milliseconds."""
        stats = {}
        for endpoint, values in sorted(self.latencies.items()):
            if not values:
                continue
            ordered = sorted(values)
            stats[endpoint] = {
                "count": len(ordered),
                "p50_ms": statistics.median(ordered) * 1000,
                "p99_ms": ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000,
            }
        return stats

    def as_dict(self) -> dict[str, Any]:
        return {
            "elapsed": self.elapsed,
            "requests": self.requests,
            "rps": self.rps,
            "http_errors": self.http_errors,
            "jobs_acquired": self.jobs_acquired,
            "jobs_finished": self.jobs_finished,
            "jobs_failed": self.jobs_failed,
            "ranges_processed": self.ranges_processed,
            "failures": dict(self.failures),
            "endpoints": self.endpoint_stats(),
        }

    def merge(self, other: FleetResult) -> None:
        """Add another fleet's figures (e.g. from a parallel process)."""
        self.elapsed = max(self.elapsed, other.elapsed)
        self.requests += other.requests
        self.http_errors += other.http_errors
        self.jobs_acquired += other.jobs_acquired
        self.jobs_finished += other.jobs_finished
        self.jobs_failed += other.jobs_failed
        self.ranges_processed += other.ranges_processed
        self.failures.update(other.failures)
        for endpoint, values in other.latencies.items():
            self.latencies.setdefault(endpoint, []).extend(values)
        self.errors.extend(other.errors)


class HttpError(Exception):
    """The server answered something other than HTTP 200 with a JSON envelope."""


class Fleet:
    """``pilots`` simulated pilots on ``queue``; call :meth:`run`.

    ``duration``: seconds to run (pilots keep asking for work until then); without it the pilots
    stop once the queue has no jobs. ``jobs``: stop after this many jobs in total.
    ``failure_rate``: fraction of jobs that fail, with a reason from :data:`FAILURES`.
    ``event_service``: process event ranges of event-service jobs. ``heartbeats``: running
    updates per job; ``heartbeat_interval``: seconds between them.
    """

    def __init__(
        self,
        url: str,
        pilots: int = 10,
        queue: str = "BNL_PROD_MCORE",
        duration: float | None = None,
        jobs: int | None = None,
        failure_rate: float = 0.0,
        event_service: bool = False,
        heartbeats: int = 2,
        heartbeat_interval: float = 0.0,
        idle_sleep: float = 0.2,
        n_ranges: int = 8,
        prod_source_label: str | None = None,
        seed: int = 0,
        headers: dict[str, str] | None = None,
        cert: Any = None,
        verify: Any = True,
        timeout: float = 60.0,
    ) -> None:
        if pilots < 1:
            raise ValueError("a fleet needs at least one pilot")
        if not 0.0 <= failure_rate <= 1.0:
            raise ValueError("the failure rate is a fraction between 0 and 1")
        self.url = url.rstrip("/")
        self.pilots = pilots
        self.queue = queue
        self.duration = duration
        self.jobs_limit = jobs
        self.failure_rate = failure_rate
        self.event_service = event_service
        self.heartbeats = heartbeats
        self.heartbeat_interval = heartbeat_interval
        self.idle_sleep = idle_sleep
        self.n_ranges = n_ranges
        self.prod_source_label = prod_source_label
        self.seed = seed
        self.headers = {"Accept": "application/json", **(headers or {})}
        self.cert = cert
        self.verify = verify
        self.timeout = timeout
        self.result = FleetResult(latencies={endpoint: [] for endpoint in ENDPOINTS})
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._started = 0.0
        self.active_pilots = 0

    # -- public ---------------------------------------------------------------------------------
    def run(self, progress: Callable[[Fleet], None] | None = None, interval: float = 0.5) -> FleetResult:
        """Run the fleet to the end; ``progress(fleet)`` is called every ``interval`` seconds."""
        self._started = time.perf_counter()
        threads = [
            threading.Thread(target=self._pilot, args=(i,), name=f"pilot-{i}", daemon=True) for i in range(self.pilots)
        ]
        self.active_pilots = len(threads)
        for thread in threads:
            thread.start()
        try:
            while any(thread.is_alive() for thread in threads):
                if self.duration is not None and self.elapsed() >= self.duration:
                    self._stop.set()
                if progress is not None:
                    progress(self)
                for thread in threads:
                    thread.join(timeout=interval / max(len(threads), 1))
        except KeyboardInterrupt:
            self._stop.set()
            for thread in threads:
                thread.join(timeout=self.timeout)
        self.result.elapsed = self.elapsed()
        if progress is not None:
            progress(self)
        return self.result

    def stop(self) -> None:
        self._stop.set()

    def elapsed(self) -> float:
        return time.perf_counter() - self._started if self._started else 0.0

    # -- one pilot ----------------------------------------------------------------------------------
    def _pilot(self, index: int) -> None:
        rng = random.Random(f"{self.seed}-{index}")
        node = f"wn{index:04d}.{self.queue.lower().replace('_', '-')}.sim"
        try:
            with requests.Session() as session:
                session.headers.update(self.headers)
                if self.cert is not None:
                    session.cert = self.cert
                session.verify = self.verify
                while not self._stop.is_set():
                    if not self._claim_job_slot():
                        break
                    job = self._acquire(session, node)
                    if job is None:
                        self._release_job_slot()
                        if self.duration is None:
                            break  # a real pilot exits when there is nothing to do
                        self._stop.wait(self.idle_sleep)
                        continue
                    self._run_job(session, rng, node, job)
        except Exception as exc:  # noqa: BLE001 - a broken pilot is reported, the fleet goes on
            with self._lock:
                self.result.errors.append(f"pilot {index}: {type(exc).__name__}: {exc}")
        finally:
            with self._lock:
                self.active_pilots -= 1

    def _claim_job_slot(self) -> bool:
        with self._lock:
            if self.jobs_limit is not None and self.result.jobs_acquired >= self.jobs_limit:
                return False
            self.result.jobs_acquired += 1
            return True

    def _release_job_slot(self) -> None:
        with self._lock:
            self.result.jobs_acquired -= 1

    def _call(self, session: requests.Session, endpoint: str, payload: dict) -> dict:
        started = time.perf_counter()
        try:
            response = session.post(f"{self.url}/api/v1/{endpoint}", json=payload, timeout=self.timeout)
        except requests.RequestException as exc:
            with self._lock:
                self.result.requests += 1
                self.result.http_errors += 1
            raise HttpError(f"{endpoint}: {exc}") from exc
        latency = time.perf_counter() - started
        with self._lock:
            self.result.requests += 1
            self.result.latencies.setdefault(endpoint, []).append(latency)
            if response.status_code != 200:
                self.result.http_errors += 1
        if response.status_code != 200:
            raise HttpError(f"{endpoint}: HTTP {response.status_code} {response.text[:200]}")
        try:
            return response.json()
        except ValueError as exc:
            raise HttpError(f"{endpoint}: not JSON: {response.text[:200]}") from exc

    def _acquire(self, session: requests.Session, node: str) -> dict | None:
        payload: dict[str, Any] = {"site_name": self.queue, "node": node, "n_jobs": 1}
        if self.prod_source_label is not None:
            payload["prod_source_label"] = self.prod_source_label
        reply = self._call(session, "pilot/acquire_jobs", payload)
        if not reply.get("success"):
            return None
        data = reply.get("data") or {}
        jobs = data.get("jobs") if isinstance(data, dict) and "jobs" in data else [data]
        return jobs[0] if jobs else None

    def _update(self, session: requests.Session, job_id: int, status: str, **params: Any) -> str:
        reply = self._call(session, "pilot/update_job", {"job_id": job_id, "job_status": status, **params})
        data = reply.get("data") or {}
        return str(data.get("command") or "NULL") if isinstance(data, dict) else "NULL"

    def _run_job(self, session: requests.Session, rng: random.Random, node: str, job: dict) -> None:
        job_id = job["PandaID"]
        attempt = job.get("attemptNr")
        cores = int(job.get("coreCount") or 1)
        start = _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)
        batch_id = f"{rng.randrange(10**6, 10**7)}.0"
        common = {"attempt_nr": attempt, "node": node, "batch_id": batch_id} if attempt is not None else {"node": node}
        killed = "tobekilled" in self._update(session, job_id, "starting", **common)
        heartbeat = 0
        while not killed and heartbeat < self.heartbeats:
            if self.heartbeat_interval:
                self._stop.wait(self.heartbeat_interval)
            metrics = _running_metrics(rng, cores)
            killed = "tobekilled" in self._update(session, job_id, "running", core_count=cores, **common, **metrics)
            heartbeat += 1
        processed = 0
        if not killed and self.event_service and str(job.get("eventService")) == "True":
            processed = self._process_events(session, rng, job)
        failure = None
        if killed:
            failure = KILLED
        elif rng.random() < self.failure_rate:
            failure = rng.choice(FAILURES)
        wall = max(1, int(rng.gauss(3600, 600)))
        final = _final_metrics(rng, cores, wall, start)
        if processed:
            final["n_events"] = processed
        if failure is None:
            self._update(session, job_id, "finished", trans_exit_code=0, pilot_error_code=0, **common, **final)
            with self._lock:
                self.result.jobs_finished += 1
        else:
            reason, code, diag = failure
            self._update(
                session,
                job_id,
                "failed",
                trans_exit_code=65 if reason == "payload" else 0,
                pilot_error_code=code,
                pilot_error_diag=diag,
                **common,
                **final,
            )
            with self._lock:
                self.result.jobs_failed += 1
                self.result.failures[reason] += 1

    def _process_events(self, session: requests.Session, rng: random.Random, job: dict) -> int:
        processed = 0
        payload = {"job_id": job["PandaID"], "jobset_id": job.get("jobsetID"), "n_ranges": self.n_ranges}
        if job.get("taskID") is not None:
            payload["task_id"] = job["taskID"]
        while not self._stop.is_set():
            reply = self._call(session, "event/acquire_event_ranges", payload)
            ranges = reply.get("data") or []
            if isinstance(ranges, dict):  # Harvester's shape, if a server answers that way
                ranges = ranges.get("eventRanges") or []
            if not ranges:
                break
            report = []
            for item in ranges:
                if rng.random() < self.failure_rate / 2:
                    report.append(
                        {
                            "eventRangeID": item["eventRangeID"],
                            "eventStatus": "failed",
                            "errorCode": 1305,
                            "errorDiag": "event processing failed",
                        }
                    )
                else:
                    report.append({"eventRangeID": item["eventRangeID"], "eventStatus": "finished"})
                    processed += 1
            self._call(session, "event/update_event_ranges", {"event_ranges": json.dumps(report), "version": 0})
            with self._lock:
                self.result.ranges_processed += len(ranges)
        return processed


def _running_metrics(rng: random.Random, cores: int) -> dict[str, Any]:
    rss = int(rng.uniform(1.4, 2.2) * 1024 * 1024 * cores)
    return {
        "max_rss": rss,
        "max_vmem": int(rss * 1.3),
        "max_pss": int(rss * 0.95),
        "avg_rss": int(rss * 0.8),
        "cpu_consumption_time": int(rng.uniform(60, 600) * cores),
        "cpu_consumption_unit": "s",
    }


def _final_metrics(rng: random.Random, cores: int, wall: int, start: _dt.datetime) -> dict[str, Any]:
    rss = int(rng.uniform(1.5, 2.4) * 1024 * 1024 * cores)
    efficiency = rng.uniform(0.75, 0.98)
    end = start + _dt.timedelta(seconds=wall)
    return {
        "cpu_consumption_time": int(wall * cores * efficiency),
        "cpu_consumption_unit": "s",
        "cpu_conversion_factor": round(rng.uniform(0.9, 1.4), 3),
        "max_rss": rss,
        "max_vmem": int(rss * 1.3),
        "max_swap": 0,
        "max_pss": int(rss * 0.95),
        "avg_rss": int(rss * 0.8),
        "avg_vmem": int(rss * 1.1),
        "avg_swap": 0,
        "avg_pss": int(rss * 0.78),
        "tot_rchar": rng.randrange(10**9, 5 * 10**9),
        "tot_wchar": rng.randrange(10**8, 10**9),
        "tot_rbytes": rng.randrange(10**9, 5 * 10**9),
        "tot_wbytes": rng.randrange(10**8, 10**9),
        "rate_rchar": rng.randrange(10**5, 10**6),
        "rate_wchar": rng.randrange(10**4, 10**5),
        "rate_rbytes": rng.randrange(10**5, 10**6),
        "rate_wbytes": rng.randrange(10**4, 10**5),
        "n_events": rng.randrange(100, 2000),
        "n_input_files": rng.randrange(1, 5),
        "job_metrics": f"coreCount={cores} nEvents=0 dbTime=0.5 dbData=1024 workDirSize={rng.randrange(10**5, 10**7)}",
        "pilot_timing": "|".join(
            str(value) for value in (rng.randrange(5, 60), rng.randrange(10, 300), wall, rng.randrange(10, 600), 7)
        ),
        "start_time": start.strftime("%Y-%m-%d %H:%M:%S"),
        "end_time": end.strftime("%Y-%m-%d %H:%M:%S"),
    }


def progress_line(fleet: Fleet) -> str:
    """One line of live progress."""
    result = fleet.result
    elapsed = fleet.elapsed()
    rps = result.requests / elapsed if elapsed else 0.0
    return (
        f"[{elapsed:7.1f}s] pilots {fleet.active_pilots}/{fleet.pilots}  "
        f"jobs {result.jobs_finished + result.jobs_failed} done ({result.jobs_failed} failed)  "
        f"ranges {result.ranges_processed}  {rps:7.0f} req/s  http errors {result.http_errors}"
    )


def format_summary(result: FleetResult, title: str = "pandamock simulate") -> str:
    """The end-of-run summary: jobs, failures by reason, requests/s, p50/p99 per endpoint."""
    lines = [
        f"{title}: {result.elapsed:.1f} s",
        f"  jobs run        {result.jobs_finished + result.jobs_failed}"
        f" ({result.jobs_finished} finished, {result.jobs_failed} failed)",
    ]
    if result.failures:
        for reason, count in result.failures.most_common():
            lines.append(f"    failed: {reason:<18} {count}")
    if result.ranges_processed:
        lines.append(f"  event ranges    {result.ranges_processed}")
    lines.append(f"  requests        {result.requests} ({result.rps:.0f} req/s), http errors {result.http_errors}")
    stats = result.endpoint_stats()
    if stats:
        lines.append(f"  {'endpoint':<30} {'requests':>9} {'p50 ms':>9} {'p99 ms':>9}")
        for endpoint, values in stats.items():
            lines.append(f"  {endpoint:<30} {values['count']:>9} {values['p50_ms']:>9.2f} {values['p99_ms']:>9.2f}")
    for error in result.errors[:5]:
        lines.append(f"  error: {error}")
    return "\n".join(lines)
