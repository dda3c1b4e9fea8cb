"""Job statistics computed from the live job state, in the shapes of ``statistics/*``.

Like the real server (``getJobStatistics*`` in the DB layer), the figures count the active jobs
(defined, waiting and active tables) and, where the endpoint says so, the final jobs modified
within a time window (12 hours by default). Nothing scans the jobs table: one sorted index groups
jobs by (queue, status, label, resource type, processing type, global share) and orders each
group by modification time, so a statistic costs one pass over the distinct groups plus a
binary search per final group.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .clock import EPOCH
from .jobs import ANALY_SOURCES, PTEST_SOURCES
from .statuses import JOB_FINAL
from .store import SortedIndex

if TYPE_CHECKING:
    from .core import Engine

STATS_FIELDS = ["computingSite", "jobStatus", "prodSourceLabel", "resource_type", "processingType", "gshare"]
_SITE, _STATUS, _LABEL, _RESOURCE, _PTYPE, _GSHARE = range(6)
DEFAULT_WINDOW_MINUTES = 12 * 60
MAX_TIME_WINDOW = 60 * 24 * 7
PRODUCTION_LABELS = frozenset(("managed",) + PTEST_SOURCES)
#: Global shares of analysis (``get_job_statistics_per_site_label_resource`` labels them ``user``).
ANALYSIS_SHARES = frozenset(("User Analysis", "Express Analysis", "Analysis"))


def _modified(record: Mapping) -> tuple:
    """Final jobs by modification time (for the time window); active jobs keep a fixed place, so
    their heartbeats do not reorder the index."""
    if record.get("jobStatus") in JOB_FINAL:
        return (record.get("modificationTime") or EPOCH, record["PandaID"])
    return (EPOCH, record["PandaID"])


class Statistics:
    """Aggregations of the jobs table: ``engine.statistics``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.jobs = engine.store.table("jobs")
        self.jobs.add_index(SortedIndex("statistics", STATS_FIELDS, order=_modified))

    def _groups(self, window_minutes: int | None, count_final: bool = True) -> list[tuple[tuple, int]]:
        """(group key, job count) of every group: all active jobs, and final jobs modified within the
        window (none when ``count_final`` is False)."""
        index = self.jobs.index("statistics")
        minutes = DEFAULT_WINDOW_MINUTES if window_minutes is None else int(window_minutes)
        # entries are ((modificationTime, PandaID), PandaID): everything up to the floor sorts before this
        floor = ((self.engine.now() - _dt.timedelta(minutes=minutes), float("inf")),)
        groups = []
        for key, bucket in index.buckets.items():
            if key[_STATUS] in JOB_FINAL:
                if not count_final:
                    continue
                count = len(bucket) - bucket.bisect_right(floor)
            else:
                count = len(bucket)
            if count:
                groups.append((key, count))
        return groups

    def _cloud(self, site: str) -> Any:
        queue = self.engine.world.queue(site)
        return queue.get("cloud") if queue else None

    def by_cloud(self, source_type: str) -> dict:
        """``getJobStatisticsForExtIF``: ``{cloud: {jobStatus: n}}`` for production or analysis jobs."""
        labels = frozenset(ANALY_SOURCES) if source_type == "analysis" else PRODUCTION_LABELS
        with self.engine.operation():
            result: dict[Any, dict] = {}
            for key, count in self._groups(None):
                if key[_LABEL] not in labels:
                    continue
                cloud = self._cloud(key[_SITE])
                statuses = result.setdefault(cloud, {})
                statuses[key[_STATUS]] = statuses.get(key[_STATUS], 0) + count
            return result

    def by_cloud_and_processing_type(self) -> dict:
        """``getJobStatisticsForBamboo``: ``{cloud: {processingType: {jobStatus: n}}}`` of production jobs."""
        with self.engine.operation():
            result: dict[Any, dict] = {}
            for key, count in self._groups(None):
                if key[_LABEL] not in PRODUCTION_LABELS:
                    continue
                statuses = result.setdefault(self._cloud(key[_SITE]), {}).setdefault(key[_PTYPE], {})
                statuses[key[_STATUS]] = statuses.get(key[_STATUS], 0) + count
            return result

    def active_by_site(self) -> dict:
        """``getJobStatistics``: ``{site: {jobStatus: n}}`` of active jobs (merging left out,
        assigned/activated/running always present)."""
        with self.engine.operation():
            result: dict[Any, dict] = {}
            for key, count in self._groups(None, count_final=False):
                if key[_STATUS] == "merging" or key[_STATUS] == "failed":
                    continue
                statuses = result.setdefault(key[_SITE], {})
                statuses[key[_STATUS]] = statuses.get(key[_STATUS], 0) + count
            for statuses in result.values():
                for status in ("assigned", "activated", "running"):
                    statuses.setdefault(status, 0)
            return result

    def active_detailed_by_site(self) -> dict:
        """``{site: {resource_type: {prodSourceLabel: {jobStatus: n}}}}`` of active jobs."""
        with self.engine.operation():
            result: dict[Any, dict] = {}
            for key, count in self._groups(None, count_final=False):
                if key[_STATUS] == "merging":
                    continue
                statuses = result.setdefault(key[_SITE], {}).setdefault(key[_RESOURCE], {}).setdefault(key[_LABEL], {})
                statuses[key[_STATUS]] = statuses.get(key[_STATUS], 0) + count
            return result

    def by_site_and_resource_type(self, time_window: int | None) -> dict:
        """``getJobStatisticsPerSiteResource``: ``{site: {resource_type: {jobStatus: n}}}``, with
        assigned/activated/running/finished/failed always present."""
        with self.engine.operation():
            result: dict[Any, dict] = {}
            for key, count in self._groups(time_window):
                statuses = result.setdefault(key[_SITE], {}).setdefault(key[_RESOURCE], {})
                statuses[key[_STATUS]] = statuses.get(key[_STATUS], 0) + count
            for resources in result.values():
                for statuses in resources.values():
                    for status in ("assigned", "activated", "running", "finished", "failed"):
                        statuses.setdefault(status, 0)
            return result

    def by_site_share_and_resource_type(self, time_window: int | None) -> dict:
        """``get_job_statistics_per_site_label_resource``: ``{site: {label: {resource_type: {jobStatus: n}}}}``
        where the label is ``user`` for analysis global shares and ``managed`` otherwise."""
        with self.engine.operation():
            result: dict[Any, dict] = {}
            for key, count in self._groups(time_window):
                share = key[_GSHARE]
                if share is None:
                    label = "user" if key[_LABEL] in ANALY_SOURCES else "managed"
                else:
                    label = "user" if share in ANALYSIS_SHARES else "managed"
                statuses = result.setdefault(key[_SITE], {}).setdefault(label, {}).setdefault(key[_RESOURCE], {})
                statuses[key[_STATUS]] = statuses.get(key[_STATUS], 0) + count
            for labels in result.values():
                for resources in labels.values():
                    for statuses in resources.values():
                        for status in ("assigned", "activated", "running", "finished", "failed"):
                            statuses.setdefault(status, 0)
            return result
