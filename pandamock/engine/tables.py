"""The shared tables of the PanDA data model and their indexes.

Created by every engine, whatever services it has, so that jobs, tasks, event ranges and
files are one state that every service reads and changes. Services may add indexes of their
own with :meth:`Table.add_index`.

Event ranges are keyed by ``eventRangeID``; when a range changes owner (a jobset range
dispatched to a job gets that job's PandaID in its id), the old record is deleted and the new
one inserted in the same transaction.
"""

from __future__ import annotations

import datetime as _dt

from .store import HashIndex, SortedIndex, Store

_EPOCH = _dt.datetime(1970, 1, 1)


def _modified(record: dict) -> tuple:
    return (record.get("modificationTime") or _EPOCH, record["jediTaskID"])


def _dispatch_order(record: dict) -> tuple:
    return (-(record.get("currentPriority") or 0), record["PandaID"])


def _range_order(record: dict) -> tuple:
    return (record.get("fileID") or 0, record.get("job_processID") or 0, record["eventRangeID"])


def create_tables(store: Store) -> None:
    """Create ``tasks``, ``datasets``, ``dataset_files``, ``jobs``, ``harvester_instances``, ``workers``,
    ``worker_jobs``, ``status_history`` and ``event_ranges``."""
    store.create_table(
        "tasks",
        key="jediTaskID",
        indexes=[
            HashIndex("by_status", ["status"]),
            SortedIndex("by_user_modified", ["userName"], order=_modified),
            SortedIndex("by_modified", [], order=_modified),
        ],
    )
    store.create_table("datasets", key="datasetID", indexes=[HashIndex("by_task", ["jediTaskID"])])
    store.create_table(
        "dataset_files",
        key="fileID",
        indexes=[HashIndex("by_dataset", ["datasetID"]), HashIndex("by_task", ["jediTaskID"])],
    )
    store.create_table(
        "jobs",
        key="PandaID",
        indexes=[
            # activated jobs of a queue, highest currentPriority first (also: counts per queue+status)
            SortedIndex("dispatch", ["computingSite", "jobStatus"], order=_dispatch_order),
            HashIndex("by_status", ["jobStatus"]),
            HashIndex("by_task", ["jediTaskID"]),
            HashIndex("by_task_status", ["jediTaskID", "jobStatus"]),
            HashIndex("by_jobset", ["jobsetID"]),
        ],
    )
    # harvester: instances keyed by harvester_ID; workers keyed "<harvester_ID>:<workerID>" (PanDA's
    # primary key is the pair), links between workers and jobs keyed "<harvester_ID>:<workerID>:<PandaID>"
    store.create_table("harvester_instances", key="harvester_ID")
    store.create_table(
        "workers",
        key="worker_key",
        indexes=[
            HashIndex("by_harvester", ["harvesterID"]),
            HashIndex("by_queue_status", ["computingSite", "status"]),
        ],
    )
    store.create_table(
        "worker_jobs",
        key="link_key",
        indexes=[HashIndex("by_worker", ["harvesterID", "workerID"]), HashIndex("by_job", ["PandaID"])],
    )
    # status changes of jobs, tasks, workers and requests, in order (event ranges are too many to keep)
    store.history = store.create_table(
        "status_history",
        key="seq",
        indexes=[
            SortedIndex("by_record", ["table", "id"], order=lambda record: record["seq"]),
            SortedIndex("by_seq", [], order=lambda record: record["seq"]),
        ],
    )
    store.history_tables = frozenset(
        ("jobs", "tasks", "workers", "harvester_commands", "data_carousel_requests", "async_requests")
    )
    store.create_table(
        "event_ranges",
        key="eventRangeID",
        indexes=[
            # ranges of a job (or of a jobset before dispatch) in one status, in file/process order
            SortedIndex("by_job_status", ["PandaID", "status"], order=_range_order),
            HashIndex("by_task", ["jediTaskID"]),
            HashIndex("by_status", ["status"]),
        ],
    )
