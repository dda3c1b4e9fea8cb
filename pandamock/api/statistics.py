"""``/api/v1/statistics/*``: job counts from the live job state (no identity needed)."""

from __future__ import annotations

from ..engine.outcome import Reply
from .registry import ApiModule
from .request import ApiRequest

module = ApiModule("statistics")

MESSAGE_FAILURE = "Database failure getting the job statistics"
MESSAGE_TIME_WINDOW = 'Parameter "time_window" needs to be a positive integer smaller than 10080 min (7 days)'
MAX_TIME_WINDOW = 60 * 24 * 7


def _answer(data: dict, message: str = MESSAGE_FAILURE) -> Reply:
    """The real handlers answer success=false when the statistics are empty."""
    success = data != {}
    return Reply(data, message="" if success else message, success=success)


def _bad_window(time_window: int | None) -> bool:
    return time_window is not None and (
        not isinstance(time_window, int) or time_window < 0 or time_window > MAX_TIME_WINDOW
    )


@module.endpoint("GET", secure=False)
def job_stats_by_cloud(req: ApiRequest, type: str = "production") -> Reply:  # noqa: A002 - PanDA's name
    """``{cloud: {jobStatus: n}}`` of production or analysis jobs: active ones and final ones modified
    in the last 12 hours. Changes nothing."""
    if type not in ("production", "analysis"):
        return Reply({}, message='Parameter "type" needs to be either "production" or "analysis" ', success=False)
    return _answer(req.engine.statistics.by_cloud(type))


@module.endpoint("GET", secure=False)
def production_job_stats_by_cloud_and_processing_type(req: ApiRequest) -> Reply:
    """``{cloud: {processingType: {jobStatus: n}}}`` of production jobs (active, and final ones of the
    last 12 hours). Changes nothing."""
    return _answer(req.engine.statistics.by_cloud_and_processing_type())


@module.endpoint("GET", secure=False)
def active_job_stats_by_site(req: ApiRequest) -> Reply:
    """``{site: {jobStatus: n}}`` of active (non-final) jobs. Changes nothing."""
    return _answer(req.engine.statistics.active_by_site())


@module.endpoint("GET", secure=False)
def active_job_detailed_stats_by_site(req: ApiRequest) -> Reply:
    """``{site: {resource_type: {prodSourceLabel: {jobStatus: n}}}}`` of active jobs. Changes nothing."""
    return _answer(
        req.engine.statistics.active_detailed_by_site(),
        "Database failure getting the job statistics with resource_type and prodsourcelabel",
    )


@module.endpoint("GET", secure=False)
def job_stats_by_site_and_resource_type(req: ApiRequest, time_window: int = None) -> Reply:
    """``{site: {resource_type: {jobStatus: n}}}``: active jobs and final ones modified within
    ``time_window`` minutes (default 12 hours). Changes nothing."""
    if _bad_window(time_window):
        return Reply({}, message=MESSAGE_TIME_WINDOW, success=False)
    return _answer(req.engine.statistics.by_site_and_resource_type(time_window))


@module.endpoint("GET", secure=False)
def job_stats_by_site_share_and_resource_type(req: ApiRequest, time_window: int = None) -> Reply:
    """``{site: {prodSourceLabel: {resource_type: {jobStatus: n}}}}`` (label from the global share):
    active jobs and final ones modified within ``time_window`` minutes. Changes nothing."""
    if _bad_window(time_window):
        return Reply({}, message=MESSAGE_TIME_WINDOW, success=False)
    return _answer(req.engine.statistics.by_site_share_and_resource_type(time_window))
