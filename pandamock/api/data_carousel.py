"""``/api/v1/data_carousel/*``: operator actions on staging requests (``engine.carousel``)."""

from __future__ import annotations

from ..engine.outcome import Reply
from .registry import ApiModule
from .request import ApiRequest

module = ApiModule("data_carousel")


@module.endpoint("POST", production=True)
def change_staging_destination(req: ApiRequest, request_id: int | None = None, dataset: str | None = None) -> Reply:
    """Cancel a queued/staging request and stage its dataset again to another disk endpoint (a new
    request); by ``request_id``, else by ``dataset``."""
    data, message = req.engine.carousel.change_destination(request_id, dataset)
    return Reply(data, message)


@module.endpoint("POST", production=True)
def change_staging_source(
    req: ApiRequest,
    request_id: int | None = None,
    dataset: str | None = None,
    cancel_fts: bool = False,
    change_src_expr: bool = False,
    source_rse: str | None = None,
) -> Reply:
    """Choose another tape source for a queued request, or drop/replace the source of a staging one."""
    data, message = req.engine.carousel.change_source(request_id, dataset, cancel_fts, change_src_expr, source_rse)
    return Reply(data, message)


@module.endpoint("POST", production=True)
def force_to_staging(req: ApiRequest, request_id: int | None = None, dataset: str | None = None) -> Reply:
    """Move a queued request to staging now (a DDM rule to a disk endpoint)."""
    data, message = req.engine.carousel.force_to_staging(request_id, dataset)
    return Reply(data, message)


@module.endpoint("POST", production=True)
def retire_unused(req: ApiRequest, request_id: int | None = None, dataset: str | None = None) -> Reply:
    """Retire a done request that no active task uses (``retired``)."""
    data, message = req.engine.carousel.retire(request_id, dataset)
    return Reply(data, message)
