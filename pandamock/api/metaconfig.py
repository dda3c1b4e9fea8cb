"""``/api/v1/metaconfig/*``: the world's configuration (banned users, queues, resource types). Read-only."""

from __future__ import annotations

from ..engine.outcome import Failure
from .registry import ApiModule
from .request import ApiRequest

module = ApiModule("metaconfig")

MESSAGE_DATABASE = "database error in the PanDA server"


@module.endpoint("GET")
def get_banned_users(req: ApiRequest) -> dict:
    """Banned users of the scenario as ``{<compact name>: False}``. Reads the users table."""
    return req.engine.world.banned_names()


@module.endpoint("GET", secure=False)
def get_site_specs(req: ApiRequest, type: str = "analysis") -> dict:
    """SiteSpec attributes of the queues of one type (``analysis``, ``production``, ``unified``,
    ``all``; other values match nothing). Reads the sites table."""
    return req.engine.world.site_specs(type)


@module.endpoint("GET")
def get_resource_types(req: ApiRequest) -> list:
    """The resource types (SCORE, MCORE, SCORE_HIMEM, MCORE_HIMEM, ...) with their core and memory
    bounds. Reads the resource_types table; an empty table is PanDA's database error."""
    resource_types = req.engine.world.resource_type_list()
    if not resource_types:
        raise Failure(MESSAGE_DATABASE)
    return resource_types
