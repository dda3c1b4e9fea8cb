"""``/api/v1/workflow/*``: PanDA-native workflows (``engine.workflows``).

``get_workflow_details`` is not in the server snapshot the reference describes; panda-client 2.2.0
calls it (``Client.get_workflow_details``, ``pbook show_native_workflow``), so pandamock serves it
with what the client reads (see the README's fidelity notes).
"""

from __future__ import annotations

from ..engine.outcome import Failure
from .registry import ApiModule
from .request import ApiRequest

module = ApiModule("workflow")


@module.endpoint("POST")
def submit_workflow_raw_request(req: ApiRequest, params: dict | str) -> dict:
    """Register a workflow from raw request parameters (a dict or its JSON), always as a user
    workflow; it is parsed and run on the emulator clock. Returns ``{"workflow_id": n}``."""
    return {"workflow_id": req.engine.workflows.submit_raw(params, req.identity.dn)}


@module.endpoint("POST")
def submit_workflow(req: ApiRequest, workflow_definition: dict) -> dict:
    """Register a workflow from a definition (steps with task parameters); ``managed`` with the
    production role, else ``user``. Returns ``{"workflow_id": n}``."""
    identity = req.identity
    return {
        "workflow_id": req.engine.workflows.submit_definition(workflow_definition, identity.dn, identity.production)
    }


@module.endpoint("GET")
def get_workflow_details(req: ApiRequest, workflow_id: int) -> dict:
    """A workflow with its status, steps (relations, tasks, progress) and data. Changes nothing."""
    details = req.engine.workflows.details(workflow_id)
    if details is None:
        raise Failure(f"workflow_id={workflow_id} not found")
    return details
