"""The fixed part of the emulated world: identities (users), PanDA queues and resource types.

Records:

* ``users`` keyed by ``name``: ``dn``, ``vo``, ``fqans``, ``email``, ``banned``, ``default``,
  ``permissions`` (``proxy``, ``key_pair``, ``token_key``, ``async_request``), ``groups``
  (token groups) and ``status`` (``disabled`` when banned, as in PanDA's users table);
* ``sites`` keyed by ``sitename`` (the PanDA queue): SiteSpec attributes;
* ``resource_types`` keyed by ``resource_name``: ``mincore``, ``maxcore``,
  ``minrampercore``, ``maxrampercore``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .naming import clean_user_id, has_production_role
from .store import HashIndex

if TYPE_CHECKING:
    from .core import Engine

#: SiteSpec attributes, in PanDA's order (``pandaserver/taskbuffer/SiteSpec.py``).
SITE_ATTRIBUTES: tuple[str, ...] = tuple(
    """
    sitename nickname dq2url cloud ddm ddm_input ddm_output lfchost type gatekeeper releases memory
    maxtime status space retry cmtconfig setokens_input setokens_output glexec priorityoffset
    allowedgroups defaulttoken queue localqueue validatedreleases accesscontrol copysetup
    maxinputsize cachedse allowdirectaccess comment cloudlist statusmodtime lfcregister countryGroup
    availableCPU pledgedCPU coreCount reliabilityLevel iscvmfs transferringlimit maxwdir
    fairsharePolicy minmemory maxmemory mintime allowfax wansourcelimit wansinklimit pandasite
    sitershare cloudrshare corepower wnconnectivity catchall role pandasite_state
    ddm_endpoints_input ddm_endpoints_output maxrss minrss direct_access_lan direct_access_wan tier
    objectstores is_unified unified_name jobseed capability num_slots_map workflow
    """.split()
)

#: Attributes ``metaconfig/get_site_specs`` leaves out.
SITE_SPEC_EXCLUDED = frozenset(
    (
        "ddm_endpoints_input",
        "ddm_endpoints_output",
        "ddm_input",
        "ddm_output",
        "setokens_input",
        "num_slots_map",
        "pandamock_payload",  # the emulator's pilot-queue settings
    )
)

#: Permission names of the scenario and PanDA's "special dispatch params" list they feed.
PERMISSIONS = {
    "proxy": "allowProxy",
    "key_pair": "allowKeyPair",
    "token_key": "allowTokenKey",
    "async_request": "allowAsyncRequest",
}


class World:
    """Users, queues and resource types of the loaded scenario."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        store = engine.store
        self.users = store.create_table(
            "users", key="name", indexes=[HashIndex("by_dn", ["dn"]), HashIndex("by_compact_name", ["compact_name"])]
        )
        self.sites = store.create_table("sites", key="sitename", indexes=[HashIndex("by_type", ["type"])])
        self.resource_types = store.create_table("resource_types", key="resource_name")
        self.vos: tuple[str, ...] = ("atlas",)

    # -- loading ---------------------------------------------------------------------------
    def load(self, identities: Iterable[Mapping], sites: Iterable[Mapping], vos: Iterable[str]) -> None:
        """Write the scenario's identities and queues (inside a store transaction or bulk)."""
        self.vos = tuple(vos) or ("atlas",)
        for identity in identities:
            self.users.put(user_record(identity))
        for site in sites:
            self.sites.put(site_record(site))

    # -- identities ------------------------------------------------------------------------
    def user(self, name: str) -> dict | None:
        return self.users.get(name)

    def user_by_dn(self, dn: str) -> dict | None:
        """The identity whose DN is ``dn`` (proxy suffixes ignored)."""
        with self.engine.store.lock:
            found = self.users.find("by_dn", dn)
            if found:
                return found[0]
            bare = re.sub(r"(/CN=(limited )?proxy|/CN=\d+)+$", "", dn)
            for record in self.users.values() if bare != dn else ():
                if record["dn"] == bare or re.sub(r"(/CN=\d+)+$", "", record["dn"]) == bare:
                    return record
            return None

    def default_user(self, preferred: str | None = None) -> dict | None:
        """The identity credential-less requests act as in open mode."""
        with self.engine.store.lock:
            if preferred:
                return self.users.get(preferred)
            fallback = None
            for record in self.users.values():
                if record.get("default"):
                    return record
                if fallback is None and record.get("production"):
                    fallback = record
            return fallback or next(iter(self.users.values()), None)

    def banned_names(self) -> dict[str, bool]:
        """``metaconfig/get_banned_users`` data: compact names of disabled users → False."""
        with self.engine.store.lock:
            return {record["compact_name"]: False for record in self.users.values() if record.get("banned")}

    def is_banned(self, compact_name: str | None) -> bool:
        """Whether a compact user name belongs to a banned (disabled) user; O(1)."""
        with self.engine.store.lock:
            return any(record.get("banned") for record in self.users.find("by_compact_name", compact_name))

    def user_by_compact_name(self, compact_name: str | None) -> dict | None:
        with self.engine.store.lock:
            found = self.users.find("by_compact_name", compact_name)
            return found[0] if found else None

    def has_permission(self, compact_name: str, permission: str) -> bool:
        """Whether the user with this compact name is in a special-dispatch permission list."""
        with self.engine.store.lock:
            return any(
                permission in record.get("permissions", ())
                for record in self.users.find("by_compact_name", compact_name)
            )

    # -- queues ----------------------------------------------------------------------------
    def queue(self, name: str) -> dict | None:
        return self.sites.get(name)

    def site_specs(self, site_type: str) -> dict[str, dict]:
        """``metaconfig/get_site_specs`` data for a queue type (``all`` for every queue)."""
        with self.engine.store.lock:
            records = list(self.sites.values()) if site_type == "all" else self.sites.find("by_type", site_type)
        return {
            record["sitename"]: {key: value for key, value in record.items() if key not in SITE_SPEC_EXCLUDED}
            for record in sorted(records, key=lambda r: r["sitename"])
        }

    def resource_type_list(self) -> list[dict]:
        """``metaconfig/get_resource_types`` data."""
        with self.engine.store.lock:
            return [dict(record) for record in self.resource_types.values()]


def user_record(identity: Mapping[str, Any]) -> dict:
    """The ``users`` record of a scenario identity."""
    vo = identity.get("vo", "atlas")
    fqans = list(identity.get("fqans") or [f"/{vo}/Role=NULL"])
    groups = identity.get("groups")
    if groups is None:
        groups = sorted({_group_of(fqan) for fqan in fqans if _group_of(fqan)})
    banned = bool(identity.get("banned", False))
    return {
        "name": identity["name"],
        "dn": identity["dn"],
        "compact_name": clean_user_id(identity["dn"]),
        "vo": vo,
        "fqans": fqans,
        "groups": list(groups),
        "email": identity.get("email"),
        "banned": banned,
        "status": "disabled" if banned else "online",
        "default": bool(identity.get("default", False)),
        "production": has_production_role(identity["dn"], fqans),
        "permissions": list(identity.get("permissions", ())),
    }


def _group_of(fqan: str) -> str:
    """Token group of an FQAN: ``/atlas/Role=production`` → ``atlas/production``, ``/atlas`` → ``atlas``."""
    parts = [part for part in fqan.split("/") if part]
    groups = [part for part in parts if not part.startswith(("Role=", "Capability="))]
    roles = [part.split("=", 1)[1] for part in parts if part.startswith("Role=")]
    if not groups:
        return ""
    role = roles[0] if roles and roles[0] != "NULL" else None
    return "/".join(groups + ([role] if role else []))


#: Scenario queue keys → SiteSpec attribute names.
QUEUE_KEYS = {
    "name": "sitename",
    "site": "pandasite",
    "cloud": "cloud",
    "type": "type",
    "status": "status",
    "corecount": "coreCount",
    "capability": "capability",
    "maxrss": "maxrss",
    "minrss": "minrss",
    "maxtime": "maxtime",
    "mintime": "mintime",
    "maxwdir": "maxwdir",
    "maxinputsize": "maxinputsize",
    "tier": "tier",
    "country": "countryGroup",
    "ddm": "ddm",
    "gatekeeper": "gatekeeper",
    "jobseed": "jobseed",
    "corepower": "corepower",
    "wnconnectivity": "wnconnectivity",
    "catchall": "catchall",
    "objectstores": "objectstores",
    "payload": "pandamock_payload",  # a pilot queue (pandamock.engine.payloads), not a SiteSpec attribute
}


def site_record(queue: Mapping[str, Any]) -> dict:
    """The ``sites`` record (SiteSpec attributes) of a scenario queue."""
    record: dict[str, Any] = {name: None for name in SITE_ATTRIBUTES}
    record.update(
        {
            "type": "production",
            "status": "online",
            "coreCount": 1,
            "capability": "score",
            "maxrss": 2000,
            "minrss": 0,
            "maxtime": 172800,
            "mintime": 0,
            "maxwdir": 30000,
            "maxinputsize": 14336,
            "memory": 0,
            "minmemory": 0,
            "maxmemory": 0,
            "iscvmfs": True,
            "direct_access_lan": False,
            "direct_access_wan": False,
            "role": "",
            "wnconnectivity": "full",
            "jobseed": "std",
            "corepower": 10.0,
            "num_slots_map": {},
            "is_unified": False,
            "pandasite_state": "ACTIVE",
            "objectstores": [],
            "releases": ["ANY"],
            "validatedreleases": ["True"],
            "retry": True,
            "space": 0,
        }
    )
    for key, value in queue.items():
        if key == "specs":
            record.update(value)
        elif key in QUEUE_KEYS:
            record[QUEUE_KEYS[key]] = value
    name = record["sitename"]
    record["nickname"] = record.get("nickname") or name
    record["pandasite"] = record.get("pandasite") or name
    record["queue"] = record.get("queue") or name
    record["is_unified"] = record["type"] == "unified" or bool(record.get("is_unified"))
    record["memory"] = record["memory"] or record["maxrss"]
    record["maxmemory"] = record["maxmemory"] or record["maxrss"]
    ddm = record.get("ddm") or f"{record['pandasite']}_DATADISK"
    record["ddm"] = ddm
    record["ddm_endpoints_input"] = record.get("ddm_endpoints_input") or [ddm]
    record["ddm_endpoints_output"] = record.get("ddm_endpoints_output") or [ddm]
    record["ddm_input"] = record.get("ddm_input") or ddm
    record["ddm_output"] = record.get("ddm_output") or ddm
    record["setokens_output"] = record.get("setokens_output") or {"ATLASDATADISK": ddm}
    record["gatekeeper"] = record.get("gatekeeper") or f"ce.{record['pandasite'].lower()}.example.org"
    return record
