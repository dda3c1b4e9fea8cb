"""``/api/v1/pilot/*``: what pilots report to the server.

Only ``update_worker_status`` lives here on the harvester branch (to be merged into the jobs
branch's ``pilot.py``). Engine: :meth:`pandamock.engine.harvester.Harvester.update_worker_pilot_status`.
"""

from __future__ import annotations

from typing import Any

from .registry import ApiModule
from .request import ApiRequest

module = ApiModule("pilot")


@module.endpoint("POST", production=True)
def update_worker_status(
    req: ApiRequest, worker_id: Any, harvester_id: Any, status: Any, timeout: Any = 60, node_id: Any = None
) -> None:
    """The pilot's view of its worker: ``pilotStatus`` started/finished, ``pilotStartTime``/``pilotEndTime``
    and ``nodeID`` of the ``workers`` record."""
    return req.engine.harvester.update_worker_pilot_status(worker_id, harvester_id, status, node_id)
