"""The data carousel: staging requests that bring a task's tape inputs to disk (``engine.carousel``).

A task submitted with ``inputPreStaging`` waits in ``staging`` while one request per input dataset
goes ``queued`` → ``staging`` (a DDM rule to a disk endpoint; after the ``data_carousel_staging``
delay, or at once with ``data_carousel/force_to_staging``) → ``done`` (after ``data_carousel_done``);
when every request of the task is done, the task goes ``staged`` and on (§7.5). Operators can
change the source or destination of a request (the old request is ``cancelled``, a new one
stages) and retire a done request no task uses any more (``retired``).

Requests and the tasks that wait for them are in ``data_carousel_requests`` and
``data_carousel_relations``; every status change goes through the ``DATA_CAROUSEL`` machine.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .outcome import Failure
from .statuses import DATA_CAROUSEL, TASK_FINAL, created, transition
from .store import HashIndex

if TYPE_CHECKING:
    from .core import Engine

ACTIVE = ("queued", "staging", "done")
MESSAGE_NO_REQUEST = "failed to get corresponding request"


class DataCarousel:
    """Staging requests of the data carousel."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        store = engine.store
        self.requests = store.create_table(
            "data_carousel_requests",
            key="request_id",
            indexes=[HashIndex("by_dataset", ["dataset"]), HashIndex("by_status", ["status"])],
        )
        self.relations = store.create_table(
            "data_carousel_relations",
            key="relation_key",
            indexes=[HashIndex("by_request", ["request_id"]), HashIndex("by_task", ["task_id"])],
        )
        engine.on("data_carousel_stage", self._stage_due)
        engine.on("data_carousel_done", self._done_due)

    # -- helpers ------------------------------------------------------------------------------------
    def _rses(self, suffix: str) -> list[str]:
        """Storage endpoints of the scenario's queues with the given suffix (``DATATAPE``, ``DATADISK``)."""
        names = set()
        for site in self.engine.world.sites.values():
            ddm = site.get("ddm") or site.get("ddm_output") or ""
            if ddm:
                base = ddm.rsplit("_", 1)[0]
                names.add(f"{base}_{suffix}")
        return sorted(names) or [f"CERN-PROD_{suffix}"]

    def _choose(self, suffix: str, exclude: Sequence[str | None] = ()) -> str:
        choices = [rse for rse in self._rses(suffix) if rse not in exclude] or self._rses(suffix)
        return choices[self.engine.random.randrange(len(choices))]

    def _rule_id(self) -> str:
        return uuid.UUID(int=self.engine.random.getrandbits(128), version=4).hex

    def _link(self, request_id: int, task_id: int) -> None:
        key = f"{request_id}:{task_id}"
        if self.relations.get(key) is None:
            self.relations.insert({"relation_key": key, "request_id": request_id, "task_id": task_id})

    def _tasks_of(self, request_id: int) -> list[int]:
        return sorted(link["task_id"] for link in self.relations.find("by_request", request_id))

    def _dataset_files(self, dataset: str) -> tuple[int, int]:
        """(files, bytes) of a dataset name, from the task datasets that read it."""
        datasets = self.engine.store.table("datasets")
        files = self.engine.store.table("dataset_files")
        for record in datasets.find("by_name", dataset):
            rows = files.find("by_dataset", record["datasetID"])
            if rows:
                return len(rows), sum(row.get("fsize") or 0 for row in rows)
        return 0, 0

    def find(self, request_id: int | None, dataset: str | None) -> dict | None:
        """A request by id, else the latest active request of a dataset (``scope:name`` or name)."""
        if request_id is not None:
            return self.requests.get(request_id)
        if dataset is None:
            return None
        name = dataset.split(":", 1)[-1]
        found = [r for r in self.requests.find("by_dataset", name) if r["status"] in ACTIVE]
        if not found:
            found = self.requests.find("by_dataset", name)
        return max(found, key=lambda r: r["request_id"]) if found else None

    def view(self, request: Mapping) -> dict:
        return dict(request)

    # -- requests from tasks ----------------------------------------------------------------------
    def request_staging(self, task_id: int, datasets: Sequence[str]) -> list[int]:
        """Staging requests for a task's input datasets (an active request of a dataset is shared)."""
        ids = []
        now = self.engine.now()
        for name in datasets:
            existing = [r for r in self.requests.find("by_dataset", name) if r["status"] in ACTIVE]
            if existing:
                request = max(existing, key=lambda r: r["request_id"])
            else:
                n_files, size = self._dataset_files(name)
                request = created(
                    self.requests,
                    {
                        "request_id": self.engine.ids.next("request_id"),
                        "dataset": name,
                        "source_rse": self._choose("DATATAPE"),
                        "destination_rse": None,
                        "ddm_rule_id": None,
                        "status": "queued",
                        "total_files": n_files,
                        "staged_files": 0,
                        "dataset_size": size,
                        "staged_size": 0,
                        "creation_time": now,
                        "start_time": None,
                        "end_time": None,
                        "check_time": None,
                        "source_tape": None,
                        "parameters": json.dumps({"task_id": task_id}),
                        "last_staged_time": None,
                    },
                    DATA_CAROUSEL,
                    now,
                )
                request = self.requests.update(
                    request["request_id"], {"source_tape": request["source_rse"].replace("DATATAPE", "TAPE")}
                )
                self.engine.schedule("data_carousel_stage", "data_carousel_staging", request_id=request["request_id"])
            self._link(request["request_id"], task_id)
            ids.append(request["request_id"])
        self._notify_done(ids)
        return ids

    def release(self, task_id: int) -> None:
        """``task/release``: the task's requests are taken as staged (staging skipped)."""
        for link in self.relations.find("by_task", task_id):
            request = self.requests.get(link["request_id"])
            if request["status"] == "queued":
                self._stage(request)
                request = self.requests.get(link["request_id"])
            if request["status"] == "staging":
                self._done(request)

    # -- progression ------------------------------------------------------------------------------
    def _stage(self, request: Mapping, exclude: Sequence[str | None] = ()) -> dict:
        now = self.engine.now()
        destination = self._choose("DATADISK", exclude)
        transition(
            self.requests,
            request["request_id"],
            DATA_CAROUSEL,
            "staging",
            now,
            changes={"destination_rse": destination, "ddm_rule_id": self._rule_id(), "start_time": now},
        )
        self.engine.schedule("data_carousel_done", "data_carousel_done", request_id=request["request_id"])
        return self.requests.get(request["request_id"])

    def _done(self, request: Mapping) -> None:
        now = self.engine.now()
        transition(
            self.requests,
            request["request_id"],
            DATA_CAROUSEL,
            "done",
            now,
            changes={
                "staged_files": request.get("total_files") or 0,
                "staged_size": request.get("dataset_size") or 0,
                "end_time": now,
                "last_staged_time": now,
            },
        )
        self._notify_done([request["request_id"]])

    def _notify_done(self, request_ids: Sequence[int]) -> None:
        tasks = self.engine.tasks
        for request_id in request_ids:
            for task_id in self._tasks_of(request_id):
                # a cancelled request was superseded (change_staging_destination made a new one)
                current = [self.requests.get(link["request_id"]) for link in self.relations.find("by_task", task_id)]
                current = [request for request in current if request["status"] != "cancelled"]
                if current and all(request["status"] in ("done", "retired") for request in current):
                    tasks.inputs_staged(task_id)

    def _stage_due(self, request_id: int) -> None:
        request = self.requests.get(request_id)
        if request is not None and request["status"] == "queued":
            self._stage(request)

    def _done_due(self, request_id: int) -> None:
        request = self.requests.get(request_id)
        if request is not None and request["status"] == "staging":
            self._done(request)

    # -- data_carousel/* ----------------------------------------------------------------------------
    def force_to_staging(self, request_id: int | None, dataset: str | None) -> tuple[dict, str]:
        with self.engine.operation():
            request = self.find(request_id, dataset)
            if request is None:
                raise Failure(MESSAGE_NO_REQUEST)
            if request["status"] != "queued":
                raise Failure(
                    f"failed to stage request_id={request['request_id']} : status={request['status']} not queued"
                )
            request = self._stage(request)
            data = {
                "request_id": request["request_id"],
                "dataset": request["dataset"],
                "status": request["status"],
                "ddm_rule_id": request["ddm_rule_id"],
            }
            return data, f"status has become {request['status']}"

    def change_source(
        self,
        request_id: int | None,
        dataset: str | None,
        cancel_fts: bool,
        change_src_expr: bool,
        source_rse: str | None,
    ) -> tuple[dict, str]:
        with self.engine.operation():
            request = self.find(request_id, dataset)
            if request is None:
                raise Failure(MESSAGE_NO_REQUEST)
            status = request["status"]
            if status not in ("queued", "staging"):
                raise Failure(f"request_id={request['request_id']} status={status} not queued or staging; skipped")
            if source_rse is not None:
                change_src_expr = True
                if not source_rse.endswith(("TAPE", "DATATAPE", "MCTAPE")):
                    raise Failure(
                        f"failed to change source request_id={request['request_id']} : {source_rse} is not a tape RSE"
                    )
            original = request["source_rse"]
            if status == "queued" or change_src_expr:
                new_source = source_rse or self._choose("DATATAPE", exclude=[original])
                changes: dict[str, Any] = {
                    "source_rse": new_source,
                    "source_tape": new_source.replace("DATATAPE", "TAPE"),
                }
                if status == "staging":
                    changes["ddm_rule_id"] = self._rule_id()
                request = self.requests.update(
                    request["request_id"], dict(changes, modification_time=self.engine.now())
                )
                message = f"status={status} changed source_rse from {original} to {request['source_rse']}"
            else:
                request = self.requests.update(request["request_id"], {"modification_time": self.engine.now()})
                message = f"status={status} source replica expression is dropped"
            data = {
                "request_id": request["request_id"],
                "dataset": request["dataset"],
                "source_rse": request["source_rse"],
                "ddm_rule_id": request["ddm_rule_id"],
            }
            return data, message

    def change_destination(self, request_id: int | None, dataset: str | None) -> tuple[dict, str]:
        with self.engine.operation():
            request = self.find(request_id, dataset)
            if request is None:
                raise Failure(MESSAGE_NO_REQUEST)
            if request["status"] not in ("queued", "staging"):
                rid, status = request["request_id"], request["status"]
                raise Failure(f"failed to resubmit request_id={rid} : status={status} not queued or staging")
            now = self.engine.now()
            transition(self.requests, request["request_id"], DATA_CAROUSEL, "cancelled", now, changes={"end_time": now})
            new = created(
                self.requests,
                {
                    **{key: request.get(key) for key in request if key not in ("request_id", "status")},
                    "request_id": self.engine.ids.next("request_id"),
                    "status": "queued",
                    "creation_time": now,
                    "start_time": None,
                    "end_time": None,
                    "staged_files": 0,
                    "staged_size": 0,
                    "modification_time": None,
                },
                DATA_CAROUSEL,
                now,
            )
            new = self._stage(new, exclude=[request.get("destination_rse")])
            tasks = self._tasks_of(request["request_id"])
            for task_id in tasks:
                self._link(new["request_id"], task_id)
            data = {"request_id": request["request_id"], "new_request_id": new["request_id"], "dataset": new["dataset"]}
            message = "new request resubmitted, destination changed"
            if tasks:
                message += "; submitted iDDS requests"
            else:
                message += "; failed to get related tasks; skipped to submit iDDS requests"
            return data, message

    def retire(self, request_id: int | None, dataset: str | None) -> tuple[dict, str]:
        with self.engine.operation():
            request = self.find(request_id, dataset)
            if request is None:
                raise Failure(MESSAGE_NO_REQUEST)
            rid = request["request_id"]
            if request["status"] != "done":
                raise Failure(f"failed to retire request_id={rid} : status={request['status']} is not done")
            tasks = self.engine.store.table("tasks")
            active = [
                task_id
                for task_id in self._tasks_of(rid)
                if (tasks.get(task_id) or {}).get("status") not in TASK_FINAL | {None}
            ]
            if active:
                raise Failure(f"failed to retire request_id={rid} : still used by active tasks {active}")
            transition(self.requests, rid, DATA_CAROUSEL, "retired", self.engine.now())
            request = self.requests.get(rid)
            data = {
                "request_id": rid,
                "dataset": request["dataset"],
                "status": request["status"],
                "ddm_rule_id": request["ddm_rule_id"],
            }
            return data, "retired successfully"
