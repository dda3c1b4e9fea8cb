"""``/api/v1/system/*``: health and what the server sees of the caller. No state is changed."""

from __future__ import annotations

from typing import Any

from ..engine.outcome import Reply
from .identity import fqans_from_env
from .registry import ApiModule
from .request import ApiRequest

module = ApiModule("system")


@module.endpoint("GET", secure=False)
def is_alive(req: ApiRequest) -> None:
    """Health check. Reads and changes nothing; needs no identity."""
    return None


@module.endpoint("GET")
def get_attributes(req: ApiRequest, **kwargs: Any) -> Reply:
    """Echo of the request: its parameters and the environment the server sees. Changes nothing."""
    parameters = {key: str(value) for key, value in sorted(kwargs.items())}
    environment = {key: str(value) for key, value in sorted(req.subprocess_env.items())}
    text = (
        "===== param =====\n"
        + "\n".join(f"{key} = {value}" for key, value in parameters.items())
        + "\n\n====== env ======\n"
        + "\n".join(f"{key} : {value}" for key, value in environment.items())
        + "\n"
    )
    return Reply({"parameters": parameters, "environment": environment}, message=text)


@module.endpoint("GET")
def get_voms_attributes(req: ApiRequest) -> Reply:
    """The caller's ``GRST_CRED_*`` attributes (VOMS FQANs), sorted. Changes nothing."""
    attributes = {key: value for key, value in req.subprocess_env.items() if key.startswith("GRST_CRED_")}
    text = "\n".join(f"{key} : {value}" for key, value in sorted(attributes.items()))
    return Reply(attributes, message=text)


@module.endpoint("GET")
def get_user_attributes(req: ApiRequest) -> Reply:
    """The caller's DN, compact name, FQANs and production role as the emulator sees them. Changes nothing."""
    identity = req.identity
    raw = req.subprocess_env.get("SSL_CLIENT_S_DN", "")
    fqans = list(fqans_from_env(req.subprocess_env))
    data = {
        "user_dn_raw": raw,
        "user_dn_clean": identity.compact_name,
        "fqans": fqans,
        "is_production_user": identity.production,
        "production_working_groups": identity.working_groups,
        "primary_working_group": identity.primary_working_group,
    }
    text = (
        f"User DN (raw): {raw}\nUser DN (bare): {identity.dn}\nUser DN (clean): {identity.compact_name}\n"
        f"Email address: {identity.email}\n"
        f"FQANs: {fqans}\nProduction user: {identity.production}\n"
        f"Production working groups: {identity.working_groups}\n"
        f"Primary production working group: {identity.primary_working_group}\n"
    )
    return Reply(data, message=text)
