"""Read models of the dashboard: counts and pages of the engine's tables, read through indexes.

Every function takes the engine and reads inside :meth:`Engine.operation` (the store lock,
due progression steps applied first), and only through indexes: counts are index group sizes
(``Table.count`` / ``Table.counts``, O(1) per group), lists are slices of index groups (a
sorted group is sliced by position, a hash group is walked only up to the end of the page), so
the cost of a page depends on the page and the number of groups, not on the size of the world.
The one exception is a filter that has no index (task name, queue within a task): it walks the
index group the other filters chose (the tasks of a status or user, the jobs of one task).

Records are returned as stored: they are copy-on-write, so templates may read them after the
lock is released; nothing here writes.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sortedcontainers import SortedList

from ..engine.harvester import worker_key
from ..engine.statuses import EVENT_CODES, JOB_STATUSES, TASK_STATUSES, WORKER
from ..engine.store import HashIndex, Store, Table

if TYPE_CHECKING:
    from ..engine import Engine

#: Page sizes the lists offer; the first is the default.
PER_PAGE = (50, 20, 100, 200)
MAX_PER_PAGE = 500
#: How many status-history entries a record page shows (the newest).
HISTORY_LIMIT = 500
#: Names a task-command table may have (the JEDI emulation's); any table whose name has both
#: ``task`` and ``command`` in it is taken otherwise.
TASK_COMMAND_TABLES = ("task_commands", "jedi_task_commands", "task_command", "jedi_task_command")

EVENT_STATUSES = tuple(EVENT_CODES)
WORKER_STATUSES = WORKER.statuses

_GOOD = frozenset(("finished", "done", "merged", "acknowledged", "retired", "staged", "prepared", "passed"))
_BAD = frozenset(
    (
        "failed",
        "cancelled",
        "closed",
        "aborted",
        "aborting",
        "toabort",
        "broken",
        "tobroken",
        "exhausted",
        "fatal",
        "corrupted",
        "discarded",
        "missed",
        "reserved_fail",
    )
)
_RUNNING = frozenset(
    (
        "sent",
        "starting",
        "running",
        "holding",
        "transferring",
        "merging",
        "scouting",
        "scouted",
        "finishing",
        "preprocessing",
        "reserved_get",
        "retrieved",
        "staging",
        "submitted",
        "idle",
    )
)


def category(status: Any) -> str:
    """The colour class of a status: ``good`` (done), ``bad`` (failed, cancelled ...), ``run``
    (dispatched, running, finishing) or ``wait`` (queued, defined, ready ...)."""
    if status in _GOOD:
        return "good"
    if status in _BAD:
        return "bad"
    if status in _RUNNING:
        return "run"
    return "wait"


def status_rows(counts: Mapping[Any, int], order: Iterable[str]) -> list[dict[str, Any]]:
    """``[{status, count, category}]`` in lifecycle order (statuses with no record left out;
    unknown ones at the end)."""
    known = list(order)
    rows = [
        {"status": status, "count": counts[status], "category": category(status)}
        for status in known
        if counts.get(status)
    ]
    rows.extend(
        {"status": status, "count": count, "category": category(status)}
        for status, count in sorted(counts.items(), key=lambda item: str(item[0]))
        if status not in known and count
    )
    return rows


# --- pages ---------------------------------------------------------------------------------------
@dataclass
class Page:
    """One page of a list: the records, the number of matches and where the page is."""

    items: list[dict]
    total: int
    page: int
    per_page: int
    #: what the list is read from (e.g. ``jobs.by_status['running']``), shown in the page
    source: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def start(self) -> int:
        """1-based position of the first item (0 when the page is empty)."""
        return (self.page - 1) * self.per_page + 1 if self.items else 0

    @property
    def end(self) -> int:
        return (self.page - 1) * self.per_page + len(self.items)

    def window(self, width: int = 3) -> list[int | None]:
        """Page numbers to link: first, last and ``width`` around the current one (None: a gap)."""
        wanted = {1, self.pages, *range(self.page - width, self.page + width + 1)}
        numbers = sorted(n for n in wanted if 1 <= n <= self.pages)
        shown: list[int | None] = []
        for n in numbers:
            if shown and n - shown[-1] > 1:  # type: ignore[operator]
                shown.append(None)
            shown.append(n)
        return shown


def clamp_page(page: Any, per_page: Any) -> tuple[int, int]:
    """A valid (page, per_page) from request values (bad values fall back to the defaults)."""
    try:
        size = int(per_page)
    except (TypeError, ValueError):
        size = PER_PAGE[0]
    size = min(max(size, 1), MAX_PER_PAGE)
    try:
        number = int(page)
    except (TypeError, ValueError):
        number = 1
    return max(number, 1), size


def group_slice(index: HashIndex, key: Hashable, start: int, stop: int, reverse: bool = False) -> list:
    """Ids at positions ``start:stop`` of one index group (``reverse``: counted from the end).

    A sorted group is sliced by position (O(log n + k)); a hash group (insertion order: the
    order in which records entered the group) is walked from its nearer end."""
    bucket = index.buckets.get(key)
    if not bucket or stop <= start:
        return []
    if isinstance(bucket, SortedList):
        size = len(bucket)
        if reverse:
            return [rid for _, rid in reversed(bucket[max(0, size - stop) : max(0, size - start)])]
        return [rid for _, rid in bucket[start:stop]]
    return dict_slice(bucket, start, stop, reverse)


def dict_slice(mapping: Mapping, start: int, stop: int, reverse: bool = False) -> list:
    """Keys at positions ``start:stop`` of a dict in insertion order (``reverse``: from the end),
    walking from the nearer end (a last page costs a page, not the whole dict)."""
    size = len(mapping)
    stop = min(stop, size)
    if start >= stop:
        return []
    if start > size - stop:
        backward: Iterator = iter(mapping) if reverse else reversed(mapping)  # type: ignore[call-overload]
        return list(itertools.islice(backward, size - stop, size - start))[::-1]
    ordered: Iterator = reversed(mapping) if reverse else iter(mapping)  # type: ignore[call-overload]
    return list(itertools.islice(ordered, start, stop))


def page_of_groups(groups: list[tuple[HashIndex, Hashable, bool]], page: int, per_page: int) -> tuple[list, int]:
    """Ids of one page over several index groups one after the other, and the total."""
    counts = [index.count(key) for index, key, _ in groups]
    total = sum(counts)
    start = (page - 1) * per_page
    stop = start + per_page
    ids: list = []
    offset = 0
    for (index, key, reverse), count in zip(groups, counts, strict=True):
        if offset >= stop:
            break
        if offset + count > start:
            ids.extend(group_slice(index, key, max(0, start - offset), min(count, stop - offset), reverse))
        offset += count
    return ids, total


def page_filtered(ids: Iterable, accept: Callable[[Any], bool], page: int, per_page: int) -> tuple[list, int]:
    """Ids of one page of those ``accept`` takes, and how many it takes (walks every id given)."""
    start = (page - 1) * per_page
    stop = start + per_page
    chosen: list = []
    total = 0
    for rid in ids:
        if accept(rid):
            if start <= total < stop:
                chosen.append(rid)
            total += 1
    return chosen, total


def _ordered_ids(index: HashIndex, key: Hashable, reverse: bool = True) -> Iterator:
    bucket = index.buckets.get(key)
    if not bucket:
        return iter(())
    if isinstance(bucket, SortedList):
        return (rid for _, rid in (reversed(bucket) if reverse else bucket))
    return iter(reversed(list(bucket)) if reverse else list(bucket))


# --- overview ------------------------------------------------------------------------------------
_QUEUE_COLUMNS = {
    "queued": ("pending", "defined", "assigned", "waiting", "throttled"),
    "activated": ("activated",),
    "starting": ("sent", "starting"),
    "running": ("running",),
    "holding": ("holding", "transferring", "merging"),
    "finished": ("finished",),
    "failed": ("failed", "cancelled", "closed"),
}


def overview(engine: Engine) -> dict[str, Any]:
    """Counts by status of tasks, jobs and event ranges, jobs and workers per queue, harvester
    instances and workers: index group sizes only."""
    store = engine.store
    with engine.operation():
        tasks = store["tasks"].counts("by_status")
        jobs_table = store["jobs"]
        jobs = jobs_table.counts("by_status")
        ranges = store["event_ranges"].counts("by_status")
        per_queue = jobs_table.counts("dispatch")
        workers_table = store["workers"]
        workers_per_queue = workers_table.counts("by_queue_status")
        sites = store["sites"]
        queue_names = sorted(set(sites.records) | {site for site, _ in per_queue if site is not None})
        queue_records = {name: sites.get(name) for name in queue_names}
        instances = store["harvester_instances"]
        harvesters = [
            {
                "harvester_ID": record["harvester_ID"],
                "hostName": record.get("hostName"),
                "owner": record.get("owner"),
                "lastUpdate": record.get("lastUpdate"),
                "sw_version": record.get("sw_version"),
                "workers": workers_table.count("by_harvester", record["harvester_ID"]),
            }
            for record in itertools.islice(instances.values(), 200)
        ]
        harvester_count = len(instances)
    worker_status: dict[str, int] = {}
    worker_queue: dict[str, dict[str, int]] = {}
    for (site, status), count in workers_per_queue.items():
        worker_status[status] = worker_status.get(status, 0) + count
        per = worker_queue.setdefault(site, {})
        per[status] = per.get(status, 0) + count
    queues = []
    for name in queue_names:
        record = queue_records.get(name) or {}
        row: dict[str, Any] = {
            "name": name,
            "type": record.get("type"),
            "status": record.get("status"),
            "known": bool(record),
        }
        for column, statuses in _QUEUE_COLUMNS.items():
            row[column] = sum(per_queue.get((name, status), 0) for status in statuses)
        row["jobs"] = sum(row[column] for column in _QUEUE_COLUMNS)
        row["workers"] = sum(worker_queue.get(name, {}).values())
        row["workers_running"] = worker_queue.get(name, {}).get("running", 0)
        if row["known"] or row["jobs"]:
            queues.append(row)
    return {
        "tasks": status_rows(tasks, TASK_STATUSES),
        "jobs": status_rows(jobs, JOB_STATUSES),
        "event_ranges": status_rows(ranges, EVENT_STATUSES),
        "workers": status_rows(worker_status, WORKER_STATUSES),
        "totals": {
            "tasks": sum(tasks.values()),
            "jobs": sum(jobs.values()),
            "event_ranges": sum(ranges.values()),
            "workers": sum(worker_status.values()),
            "harvesters": harvester_count,
        },
        "queues": queues,
        "harvesters": harvesters,
    }


# --- tasks -----------------------------------------------------------------------------------------
def task_facets(engine: Engine) -> dict[str, Any]:
    """Filter choices of the tasks list: statuses and users with their task counts."""
    with engine.operation():
        tasks = engine.store["tasks"]
        statuses = tasks.counts("by_status")
        users = tasks.counts("by_user_modified")
    return {
        "statuses": status_rows(statuses, TASK_STATUSES),
        "users": sorted(((user, count) for user, count in users.items() if user is not None), key=lambda i: str(i[0])),
    }


def tasks_page(
    engine: Engine,
    status: str | None = None,
    user: str | None = None,
    name: str | None = None,
    page: int = 1,
    per_page: int = PER_PAGE[0],
) -> Page:
    """Tasks, most recently changed first (``status``: in order of entering it), filtered by status
    and user through the indexes; ``name``: case-insensitive substring of taskName (or ``*`` glob)."""
    from fnmatch import fnmatchcase

    matcher: Callable[[dict], bool] | None = None
    if name:
        wanted = name.lower()
        if any(char in wanted for char in "*?["):
            matcher = lambda record: fnmatchcase((record.get("taskName") or "").lower(), wanted)  # noqa: E731
        else:
            matcher = lambda record: wanted in (record.get("taskName") or "").lower()  # noqa: E731
    with engine.operation():
        tasks = engine.store["tasks"]
        by_status = tasks.index("by_status")
        by_user = tasks.index("by_user_modified")
        notes = []
        if status and user:
            # walk the smaller of the two groups, check the other field
            if by_status.count(status) <= by_user.count(user):
                base, source = _ordered_ids(by_status, status), f"tasks.by_status[{status!r}]"
                checks = [lambda record: record.get("userName") == user]
            else:
                base, source = _ordered_ids(by_user, user), f"tasks.by_user_modified[{user!r}]"
                checks = [lambda record: record.get("status") == status]
        elif status:
            base, source, checks = None, f"tasks.by_status[{status!r}]", []
            groups = [(by_status, status, True)]
        elif user:
            base, source, checks = None, f"tasks.by_user_modified[{user!r}]", []
            groups = [(by_user, user, True)]
        else:
            base, source, checks = None, "tasks.by_modified", []
            groups = [(tasks.index("by_modified"), (), True)]
        if matcher is not None:
            checks.append(matcher)
            notes.append("the name filter checks each task of the group")
            if base is None:
                base = _ordered_ids(*groups[0])
        if base is not None:
            records = tasks.records

            def accept(rid: Any) -> bool:
                record = records[rid]
                return all(check(record) for check in checks)

            ids, total = page_filtered(base, accept, page, per_page)
        else:
            ids, total = page_of_groups(groups, page, per_page)
        items = []
        for rid in ids:
            record = tasks.get(rid)
            if record is not None:
                items.append({"task": record, "jobs": engine.store["jobs"].count("by_task", rid)})
    return Page(items, total, page, per_page, source=source, notes=notes)


def history(store: Store, table: str, rid: Any, limit: int = HISTORY_LIMIT) -> tuple[list[dict], int]:
    """The status changes of one record, oldest first (at most the newest ``limit``), and how many."""
    if store.history is None:
        return [], 0
    index = store.history.index("by_record")
    total = index.count((table, rid))
    ids = group_slice(index, (table, rid), max(0, total - limit), total)
    return [store.history.records[seq] for seq in ids], total


def command_table(store: Store) -> Table | None:
    """The task-command table of the JEDI emulation, when this engine has one."""
    for name in TASK_COMMAND_TABLES:
        if name in store.tables:
            return store.tables[name]
    for name in sorted(store.tables):
        if "task" in name and "command" in name:
            return store.tables[name]
    return None


def task_commands(store: Store, task_id: int) -> tuple[str | None, list[dict]]:
    """(table name, commands of the task) — through an index on the task id when the table has
    one; a command table without one is small (a few commands per task) and is read whole."""
    table = command_table(store)
    if table is None:
        return None, []
    if table.key in ("jediTaskID", "task_id", "jedi_task_id"):  # one (last) command per task, as PanDA keeps
        record = table.get(task_id)
        return table.name, [record] if record is not None else []
    for index in table.indexes.values():
        if getattr(index, "fields", None) in (("jediTaskID",), ("task_id",), ("jedi_task_id",)):
            found = [table.records[rid] for rid in _ordered_ids(index, task_id, reverse=False)]
            break
    else:
        found = [
            record
            for record in table.values()
            if task_id in (record.get("jediTaskID"), record.get("task_id"), record.get("jedi_task_id"))
        ]
    return table.name, found


def task_detail(
    engine: Engine, task_id: int, dataset_id: int | None = None, files_page: int = 1, files_per_page: int = 50
) -> dict[str, Any] | None:
    """Everything the task page shows, or None for an unknown task."""
    store = engine.store
    with engine.operation():
        task = store["tasks"].get(task_id)
        if task is None:
            return None
        jobs = store["jobs"]
        by_task_status = jobs.index("by_task_status")
        job_counts = {status: by_task_status.count((task_id, status)) for status in JOB_STATUSES}
        changes, changes_total = history(store, "tasks", task_id)
        datasets_table = store["datasets"]
        datasets = sorted(datasets_table.find("by_task", task_id), key=lambda record: record["datasetID"])
        files_table = store["dataset_files"]
        file_counts = {record["datasetID"]: files_table.count("by_dataset", record["datasetID"]) for record in datasets}
        files = None
        if dataset_id is not None and any(record["datasetID"] == dataset_id for record in datasets):
            ids, total = page_of_groups(
                [(files_table.index("by_dataset"), dataset_id, False)], files_page, files_per_page
            )
            files = Page([files_table.records[rid] for rid in ids], total, files_page, files_per_page)
        command_source, commands = task_commands(store, task_id)
        ranges = store["event_ranges"].count("by_task", task_id)
    return {
        "task": task,
        "jobs": status_rows(job_counts, JOB_STATUSES),
        "jobs_total": jobs.count("by_task", task_id),
        "history": changes,
        "history_total": changes_total,
        "datasets": datasets,
        "file_counts": file_counts,
        "dataset_id": dataset_id,
        "files": files,
        "commands": commands,
        "command_table": command_source,
        "event_ranges": ranges,
    }


# --- jobs --------------------------------------------------------------------------------------------
def job_facets(engine: Engine, queue: str | None = None, task: int | None = None) -> dict[str, Any]:
    """Filter choices of the jobs list: statuses with their counts under the other filters, queues."""
    with engine.operation():
        jobs = engine.store["jobs"]
        if task is not None:
            index = jobs.index("by_task_status")
            counts = {status: index.count((task, status)) for status in JOB_STATUSES}
        elif queue:
            index = jobs.index("dispatch")
            counts = {status: index.count((queue, status)) for status in JOB_STATUSES}
        else:
            counts = jobs.counts("by_status")
        queues = sorted(set(engine.store["sites"].records) | {site for site, _ in jobs.counts("dispatch") if site})
    return {"statuses": status_rows(counts, JOB_STATUSES), "queues": queues}


def jobs_page(
    engine: Engine,
    status: str | None = None,
    queue: str | None = None,
    task: int | None = None,
    page: int = 1,
    per_page: int = PER_PAGE[0],
) -> Page:
    """Jobs filtered by status, queue and task through the indexes.

    Order: no filter, the newest stored job first; a status, the last to enter it first; a queue,
    by status then dispatch order (highest priority first); a task, most recent first."""
    with engine.operation():
        jobs = engine.store["jobs"]
        notes: list[str] = []
        if task is not None:
            if status:
                index, key, source = (
                    jobs.index("by_task_status"),
                    (task, status),
                    f"jobs.by_task_status[{task}, {status!r}]",
                )
            else:
                index, key, source = jobs.index("by_task"), task, f"jobs.by_task[{task}]"
            if queue:
                records = jobs.records
                notes.append("the queue filter checks each job of the task")
                ids, total = page_filtered(
                    _ordered_ids(index, key), lambda rid: records[rid].get("computingSite") == queue, page, per_page
                )
            else:
                ids, total = page_of_groups([(index, key, True)], page, per_page)
        elif queue:
            dispatch = jobs.index("dispatch")
            statuses = [status] if status else JOB_STATUSES
            source = f"jobs.dispatch[{queue!r}, {status!r}]" if status else f"jobs.dispatch[{queue!r}, *]"
            ids, total = page_of_groups([(dispatch, (queue, s), False) for s in statuses], page, per_page)
        elif status:
            source = f"jobs.by_status[{status!r}]"
            ids, total = page_of_groups([(jobs.index("by_status"), status, True)], page, per_page)
        else:
            source = "jobs (newest stored first)"
            total = len(jobs)
            start = (page - 1) * per_page
            ids = dict_slice(jobs.records, start, start + per_page, reverse=True)
        items = [jobs.records[rid] for rid in ids if rid in jobs.records]
    return Page(items, total, page, per_page, source=source, notes=notes)


def job_detail(engine: Engine, panda_id: int, ranges_page: int = 1, ranges_per_page: int = 50) -> dict[str, Any] | None:
    """Everything the job page shows, or None for an unknown job."""
    store = engine.store
    with engine.operation():
        job = store["jobs"].get(panda_id)
        if job is None:
            return None
        logs = store["job_logs"].get(panda_id) if "job_logs" in store.tables else None
        changes, changes_total = history(store, "jobs", panda_id)
        links = store["worker_jobs"].find("by_job", panda_id)
        workers_table = store["workers"]
        workers = []
        for link in links:
            worker = workers_table.get(worker_key(link["harvesterID"], link["workerID"]))
            workers.append({"link": link, "worker": worker})
        ranges_table = store["event_ranges"]
        by_job_status = ranges_table.index("by_job_status")
        range_counts = {status: by_job_status.count((panda_id, status)) for status in EVENT_STATUSES}
        ids, ranges_total = page_of_groups(
            [(by_job_status, (panda_id, status), False) for status in EVENT_STATUSES], ranges_page, ranges_per_page
        )
        ranges = Page([ranges_table.records[rid] for rid in ids], ranges_total, ranges_page, ranges_per_page)
        jobset_id = job.get("jobsetID")
        jobset_ready = by_job_status.count((jobset_id, "ready")) if job.get("eventService") and jobset_id else 0
        task = store["tasks"].get(job.get("jediTaskID")) if job.get("jediTaskID") else None
    return {
        "job": job,
        "logs": logs,
        "history": changes,
        "history_total": changes_total,
        "workers": workers,
        "range_counts": status_rows(range_counts, EVENT_STATUSES),
        "ranges": ranges,
        "jobset_ready": jobset_ready,
        "task": task,
    }
