"""What the task API reads: statuses, details, parameters, datasets and files, job lists, the
"modified since" queries. A mixin of :class:`pandamock.engine.tasks.Tasks` (``engine.tasks``).

The hot queries use the task table's sorted indexes, so their cost follows the size of the answer,
not the number of tasks: ``get_tasks_modified_since`` walks the caller's tasks of one
``prodSourceLabel`` from the ``since`` time on (index ``by_user_label_modified``);
``get_tasks_detailed_info_since`` walks the caller's tasks (``by_user_modified``) or looks one
task up by id.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .jobs import JOB_FINAL, description
from .outcome import Failure
from .records import TASK_ATTRIBUTES

if TYPE_CHECKING:
    from .core import Engine

_EPOCH = _dt.datetime(1970, 1, 1)
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
#: ``getJediTasksInTimeRange``: the attributes of each task (``full``: every attribute).
MODIFIED_SINCE_ATTRIBUTES = (
    "jediTaskID",
    "modificationTime",
    "status",
    "processingType",
    "transUses",
    "transHome",
    "architecture",
    "reqID",
    "creationDate",
    "site",
    "cloud",
    "taskName",
)
#: Filter values with one of these characters are regular expressions (get_tasks_detailed_info_since).
_REGEX_CHARS = set("^$*+?\\|()")
#: Jobs returned at most by ``get_job_descriptions`` (as job/get_description).
MAX_DESCRIPTIONS = 5500
#: Tasks returned at most by ``get_tasks_modified_since`` with ``full``.
MAX_FULL_TASKS = 500
UNSUCCESSFUL = ("failed", "cancelled", "closed")


class TaskViews:
    """Reading tasks (the query half of ``engine.tasks``)."""

    engine: Engine

    # -- single task -----------------------------------------------------------------------------
    def status(self, task_id: Any) -> str | None:
        with self.engine.operation():
            task = self.get(task_id)  # type: ignore[attr-defined]
            return task["status"] if task else None

    def details(self, task_id: int, include_parameters: bool, include_status: bool) -> dict | None:
        """``getJediTaskDetails``: input/output datasets, job statistics and PandaIDs, merge info."""
        with self.engine.operation():
            task = self.get(task_id)  # type: ignore[attr-defined]
            if task is None:
                return None
            datasets = self.datasets.find("by_task", task_id)  # type: ignore[attr-defined]
            in_ds = [d.get("containerName") or d["datasetName"] for d in datasets if d.get("type") == "input"]
            out_ds = [d.get("containerName") or d["datasetName"] for d in datasets if d.get("type") == "output"]
            jobs_table = self.engine.jobs.table
            ids = sorted(jobs_table.ids("by_task", task_id))
            counts: dict[str, int] = {}
            merge_ids = []
            merge_counts: dict[str, int] = {}
            for panda_id in ids:
                job = jobs_table.get(panda_id)
                if job.get("processingType") in ("pmerge", "merge") and job.get("prodSourceLabel") == "user":
                    merge_ids.append(panda_id)
                    merge_counts[job["jobStatus"]] = merge_counts.get(job["jobStatus"], 0) + 1
                else:
                    counts[job["jobStatus"]] = counts.get(job["jobStatus"], 0) + 1
            result: dict[str, Any] = {
                "inDS": ",".join(dict.fromkeys(in_ds)),
                "outDS": ",".join(dict.fromkeys(out_ds)),
                "statistics": ",".join(f"{status}*{n}" for status, n in sorted(counts.items())),
                "PandaID": [i for i in ids if i not in set(merge_ids)],
                "mergeStatus": _merge_status(merge_counts) if merge_ids else None,
                "mergePandaID": merge_ids,
            }
            if include_status:
                result["status"] = task["status"]
            if include_parameters:
                result["cliParams"] = self._params_of(task_id).get("cliParams")  # type: ignore[attr-defined]
            return result

    def task_parameters(self, task_id: int) -> str | None:
        """``getTaskParamsMap``: the parameters as stored (JSON text), None when unknown."""
        with self.engine.operation():
            record = self.params.get(task_id)  # type: ignore[attr-defined]
            if record is not None:
                return record["taskParams"]
            task = self.get(task_id)  # type: ignore[attr-defined]
            return json.dumps(self.synthesized_params(task)) if task else None  # type: ignore[attr-defined]

    def task_dict(self, task: Mapping) -> dict:
        """A task's details as pbook reads them: every JediTaskSpec attribute and the input progress
        (``nFiles``, ``nFilesFinished``, ``nFilesFailed``, ``pctFinished``, ``pctFailed``)."""
        data = {key: task.get(key) for key in TASK_ATTRIBUTES}
        n_files = finished = failed = 0
        for dataset in self.datasets.find("by_task", task["jediTaskID"]):  # type: ignore[attr-defined]
            if dataset.get("type") in ("input", "pseudo_input") and dataset.get("masterID") is None:
                n_files += dataset.get("nFiles") or 0
                finished += dataset.get("nFilesFinished") or 0
                failed += dataset.get("nFilesFailed") or 0
        data["nFiles"] = n_files
        data["nFilesFinished"] = finished
        data["nFilesFailed"] = failed
        data["pctFinished"] = int(100 * finished / n_files) if n_files else 0
        data["pctFailed"] = int(100 * failed / n_files) if n_files else 0
        return data

    def detailed_info(self, task_id: int) -> dict | None:
        """``get_detailed_info``: the task's attributes and input progress, its job-parameter
        template and its parameters (JSON text)."""
        with self.engine.operation():
            task = self.get(task_id)  # type: ignore[attr-defined]
            if task is None:
                return None
            data = self.task_dict(task)
            record = self.params.get(task_id)  # type: ignore[attr-defined]
            if record is not None:
                data["jobParamsTemplate"] = record.get("jobParamsTemplate")
                data["taskParams"] = record["taskParams"]
            else:
                params = self.synthesized_params(task)  # type: ignore[attr-defined]
                data["jobParamsTemplate"] = None
                data["taskParams"] = json.dumps(params)
            return data

    def parent_detailed_info(self, task_id: int) -> dict:
        """The detailed info of a task's parent; raises :class:`Failure` with PanDA's messages."""
        with self.engine.operation():
            task = self.get(task_id)  # type: ignore[attr-defined]
            if task is None:
                raise Failure("Child task not found")
            parent_id = task.get("parent_tid")
            if parent_id in (None, task_id):
                raise Failure("No parent task found")
            if self.get(parent_id) is None:  # type: ignore[attr-defined]
                raise Failure("Parent task not found")
            info = self.detailed_info(parent_id)
            if not info:
                raise Failure("Parent task details not found or retrieval error")
            return info

    # -- jobs -------------------------------------------------------------------------------------
    def job_ids(self, task_id: Any) -> list[int]:
        """``getPandaIDsWithTaskID``: every PandaID of the task, any status."""
        with self.engine.operation():
            try:
                key = int(task_id)
            except (TypeError, ValueError):
                return []
            return sorted(self.engine.jobs.table.ids("by_task", key))

    def job_descriptions(self, task_id: int, unsuccessful_only: bool) -> list[dict]:
        """Job descriptions with ``jobDuration`` and ``extendedProdSourceLabel`` (at most 5500)."""
        with self.engine.operation():
            table = self.engine.jobs.table
            ids = sorted(table.ids("by_task", task_id))
            result = []
            for panda_id in ids:
                job = table.get(panda_id)
                if unsuccessful_only and job["jobStatus"] not in UNSUCCESSFUL:
                    continue
                data = description(job)
                start, end = job.get("startTime"), job.get("endTime")
                data["jobDuration"] = (end - start).total_seconds() if start and end else None
                data["extendedProdSourceLabel"] = f"{job.get('prodSourceLabel')}_{_job_kind(job)}"
                result.append(data)
                if len(result) >= MAX_DESCRIPTIONS:
                    break
            return result

    # -- datasets and files -----------------------------------------------------------------------
    def datasets_and_files(self, task_id: Any, dataset_types: list) -> list | None:
        """``get_files_in_datasets``: ``[{'dataset': {'name', 'id'}, 'files': [{'lfn', 'scope', 'id',
        'status'}]}]`` for the task's datasets of those types; None when the id is not a number
        (the database refuses it)."""
        with self.engine.operation():
            try:
                key = int(str(task_id).strip())
            except (TypeError, ValueError):
                return None
            types = set(dataset_types or ())
            result = []
            for dataset in sorted(self.datasets.find("by_task", key), key=lambda d: d["datasetID"]):  # type: ignore[attr-defined]
                if dataset.get("type") not in types:
                    continue
                rows = sorted(self.files.find("by_dataset", dataset["datasetID"]), key=lambda r: r["fileID"])  # type: ignore[attr-defined]
                result.append(
                    {
                        "dataset": {"name": dataset["datasetName"], "id": dataset["datasetID"]},
                        "files": [
                            {
                                "lfn": row["lfn"],
                                "scope": row.get("scope"),
                                "id": row["fileID"],
                                "status": row.get("status"),
                            }
                            for row in rows
                        ],
                    }
                )
            return result

    def jumbo_datasets(self, from_offset: int, to_offset: int) -> dict:
        """``getJumboJobDatasets``: jumbo-enabled tasks modified in the window, with their input datasets."""
        with self.engine.operation():
            now = self.engine.now()
            low = now - _dt.timedelta(days=from_offset)
            high = now - _dt.timedelta(days=to_offset)
            index = self.table.index("jumbo_modified")  # type: ignore[attr-defined]
            bucket = index.buckets.get("jumbo", ())
            result: dict[int, dict] = {}
            for (modified, task_id), _ in _from(bucket, (low, 0)):
                if modified > high:
                    break
                task = self.get(task_id)  # type: ignore[attr-defined]
                names = [d["datasetName"] for d in self.datasets.find("by_task", task_id) if d.get("type") == "input"]  # type: ignore[attr-defined]
                result[task_id] = {"status": task["status"], "datasets": names}
            return result

    # -- time-range queries -----------------------------------------------------------------------
    def modified_since(
        self, user: str | None, since: str, full: bool, min_task_id: int | None, label: str | None
    ) -> dict:
        """``getJediTasksInTimeRange``: the user's tasks of one ``prodSourceLabel`` modified after
        ``since`` (clamped to 30 days back), keyed by ``reqID``; ``{}`` for a malformed time."""
        try:
            moment = _dt.datetime.strptime(str(since), TIME_FORMAT)
        except ValueError:
            return {}
        with self.engine.operation():
            floor = self.engine.now() - _dt.timedelta(days=30)
            moment = max(moment, floor)
            index = self.table.index("by_user_label_modified")  # type: ignore[attr-defined]
            bucket = index.buckets.get((user, label), ())
            attributes = TASK_ATTRIBUTES if full else MODIFIED_SINCE_ATTRIBUTES
            result: dict[Any, dict] = {}
            records = self.table.records  # type: ignore[attr-defined]
            for (modified, task_id), _ in _from(bucket, (moment, float("inf"))):
                if modified <= moment:
                    continue
                if min_task_id is not None and task_id < min_task_id:
                    continue
                task = records[task_id]
                key = task.get("reqID") if task.get("reqID") is not None else task_id
                result[key] = {name: task.get(name) for name in attributes}
                if full and len(result) >= MAX_FULL_TASKS:
                    break
            return result

    def detailed_info_since(self, user: str | None, since: str | None, filters: str | None, n_tasks: int) -> list[dict]:
        """``get_tasks_detailed_info_since``: the caller's tasks (optionally modified after ``since``,
        capped at 90 days) matching ``filters`` (equality, or a regular expression when the value has
        one of ``^$*+?\\|()``), at most ``n_tasks``, by jediTaskID."""
        criteria: dict[str, Any] = {}
        patterns: dict[str, re.Pattern] = {}
        if filters not in (None, ""):
            try:
                decoded = json.loads(filters)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise Failure("filters is not valid JSON") from None
            if not isinstance(decoded, dict):
                raise Failure("filters must be a JSON object")
            for key, value in decoded.items():
                if key not in TASK_ATTRIBUTES:
                    raise Failure("Failed to retrieve task IDs")
                if isinstance(value, str) and _REGEX_CHARS & set(value):
                    try:
                        patterns[key] = re.compile(value)
                    except re.error:
                        raise Failure("Failed to retrieve task IDs") from None
                else:
                    criteria[key] = value
        moment = None
        if since is not None:
            try:
                moment = _dt.datetime.strptime(since, TIME_FORMAT)
            except ValueError:
                raise Failure("Failed to retrieve task IDs") from None
        with self.engine.operation():
            if moment is not None:
                moment = max(moment, self.engine.now() - _dt.timedelta(days=90))
            criteria["userName"] = user
            limit = max(n_tasks, 0)
            if "jediTaskID" in criteria:
                try:
                    task = self.get(int(criteria["jediTaskID"]))  # type: ignore[attr-defined]
                except (TypeError, ValueError):
                    task = None
                candidates = [task] if task is not None else []
            else:
                bucket = self.table.index("by_user_modified").buckets.get(user, ())  # type: ignore[attr-defined]
                records = self.table.records  # type: ignore[attr-defined]
                start = (moment, 0) if moment is not None else (_EPOCH, 0)
                candidates = (records[task_id] for (_, task_id), _ in _from(bucket, start))
            chosen: list[dict] = []
            for task in candidates if limit else ():
                if moment is not None and (task.get("modificationTime") or _EPOCH) < moment:
                    continue
                if all(_equal(task.get(key), value) for key, value in criteria.items()):
                    chosen.append(task)
                    if len(chosen) >= limit:
                        break
            chosen.sort(key=lambda task: task["jediTaskID"])
            result = [self.task_dict(task) for task in chosen]
            if patterns:
                result = [
                    data
                    for data in result
                    if all(pattern.search(str(data.get(key))) for key, pattern in patterns.items())
                ]
            return result


def _equal(stored: Any, wanted: Any) -> bool:
    if wanted in ("NULL", None):
        return stored is None
    if wanted == "NOT NULL":
        return stored is not None
    return str(stored) == str(wanted)


def _from(bucket: Any, start: tuple) -> Any:
    """Items of a sorted index group from the first whose order value is at least ``start``."""
    if not bucket:
        return iter(())
    position = bucket.bisect_left((start,))
    return bucket.islice(position)


def _merge_status(counts: Mapping[str, int]) -> str:
    if any(status not in JOB_FINAL for status in counts):
        return "generating"
    return "finished" if set(counts) == {"finished"} else "failed"


def _job_kind(job: Mapping) -> str:
    """``build``, ``pmerge``, ``scout`` or ``normal`` (JobSpec.to_dict_advanced's extra label)."""
    if job.get("prodSourceLabel") == "panda" or "buildJob" in str(job.get("transformation") or ""):
        return "build"
    if job.get("processingType") == "pmerge":
        return "pmerge"
    if "sj" in str(job.get("specialHandling") or "").split(","):
        return "scout"
    return "normal"
