"""Credentials: user secrets, and the key pairs, proxies and tokens the server hands out.

Follows ``pandaserver/api/v1/credential_management_api.py`` and ``set_user_secret`` /
``get_user_secrets`` of the DB proxy:

* **secrets** (table ``secrets``, key: owner = the caller's compact user name): one JSON object per
  owner; ``key`` None wipes them all, ``value`` None deletes that key (or ``___file___:<key>``),
  otherwise the key is set. ``get_user_secrets`` answers the stored JSON **text** (filtered to the
  asked keys). The owner always comes from the caller's identity, so nobody reads another's secrets;
* **key pairs** (``server_keys``), **proxies** (``proxy_cache``) and **token clients**
  (``token_clients``) come from the scenario's ``credentials`` section; values not given there are
  well-formed fakes (PEM blocks, JWT-shaped tokens) made with the seeded randomness. They are handed
  out only to identities with the ``key_pair``, ``proxy`` or ``token_key`` permission, with the real
  refusal messages otherwise.
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .naming import get_bare_dn
from .outcome import Failure, Reply

if TYPE_CHECKING:
    from .core import Engine

#: ``panda_config.schemaMETA`` in the permission messages.
SCHEMA_META = "ATLAS_PANDAMETA"
MESSAGE_DATABASE = "database error"
FILE_KEY_PREFIX = "___file___:"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def pem_block(label: str, body: bytes) -> str:
    """A PEM block: base64 of ``body`` in 64-character lines between BEGIN/END lines."""
    text = _b64(body)
    lines = [text[i : i + 64] for i in range(0, len(text), 64)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"


def proxy_target(dn: str) -> str:
    """The proxy-cache key of a DN: ``get_bare_dn(dn, keep_digits=False)``."""
    return get_bare_dn(dn, keep_digits=False)


class Credentials:
    """Secrets per owner, and the key pairs, proxies and tokens of the scenario."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        store = engine.store
        self.secrets = store.create_table("secrets", key="owner")
        self.keys = store.create_table("server_keys", key="name")
        self.proxies = store.create_table("proxy_cache", key="proxy_key")
        self.clients = store.create_table("token_clients", key="name")
        engine.scenario_hooks.append(load_credentials)

    # -- secrets ---------------------------------------------------------------------------------
    def set_user_secret(self, owner: str | None, key: str | None, value: str | None) -> Reply:
        """``set_user_secret``: set one key, delete one key (value None) or wipe all (key None)."""
        with self.engine.operation():
            if owner is None:
                raise Failure(MESSAGE_DATABASE)
            record = self.secrets.get(owner)
            data = json.loads(record["data"]) if record else {}
            if key is None:
                data = {}
            elif value is None:
                if key in data:
                    del data[key]
                else:
                    data.pop(f"{FILE_KEY_PREFIX}{key}", None)
            else:
                data[key] = value
            self.secrets.put({"owner": owner, "data": json.dumps(data), "updated_at": self.engine.now()})
            return Reply(None, message="OK")

    def get_user_secrets(self, owner: str | None, keys: Iterable[str] | None) -> str:
        """``get_user_secrets``: the owner's secrets as JSON text (only ``keys`` when given)."""
        with self.engine.operation():
            if owner is None:
                raise Failure(MESSAGE_DATABASE, data={})
            record = self.secrets.get(owner)
            if record is None:
                return json.dumps({})
            wanted = {key for key in (keys or ()) if key}
            if not wanted:
                return record["data"]
            data = json.loads(record["data"])
            return json.dumps({key: item for key, item in data.items() if key in wanted})

    # -- key pairs, proxies, tokens --------------------------------------------------------------
    def get_key_pair(self, compact_name: str | None, public_key_name: str, private_key_name: str, host: str) -> dict:
        """A named public/private key pair, for callers with the ``key_pair`` permission."""
        with self.engine.operation():
            if not compact_name or not self.engine.world.has_permission(compact_name, "key_pair"):
                raise Failure(f"Failed since '{compact_name}' not authorized with 'k' in {SCHEMA_META}.USERS.GRIDPREF")
            for name in (public_key_name, private_key_name):
                if self.keys.get(name) is None:
                    raise Failure(f"Failed for '{compact_name}' since {name} is missing on {host}")
            return {
                "public_key": self.keys.get(public_key_name)["value"],
                "private_key": self.keys.get(private_key_name)["value"],
            }

    def _check_proxy_permission(self, compact_name: str | None, secret: str) -> None:
        if not compact_name or not self.engine.world.has_permission(compact_name, "proxy"):
            raise Failure(
                f"failed: '{compact_name}' not in authorized users with 'p' in {SCHEMA_META}.USERS.GRIDPREF "
                f"to get {secret}"
            )

    def get_proxy(self, caller_dn: str, compact_name: str | None, role: str | None, dn: str | None) -> dict:
        """The cached proxy of ``dn`` (default: the caller) for ``role``, for callers with ``proxy``."""
        with self.engine.operation():
            if role == "":
                role = None
            self._check_proxy_permission(compact_name, "proxy")
            target = proxy_target(dn if dn else caller_dn)
            record = self.proxies.get(f"{target}|{role}")
            if record is None:
                raise Failure(f"'proxy' not found for {target}")
            return {"user_proxy": record["proxy"]}

    def get_access_token(self, compact_name: str | None, client_name: str, token_key: str | None) -> dict:
        """The cached access token of a client (answered under ``user_proxy``), for callers with ``proxy``."""
        with self.engine.operation():
            self._check_proxy_permission(compact_name, "access token")
            client = self.clients.get(client_name)
            if client is not None and client["use_token_key"] and token_key not in client["token_keys"]:
                raise Failure(f"failed since token key is invalid for {client_name}")
            target = proxy_target(client_name)
            client = self.clients.get(target)
            if client is None or not client.get("access_token"):
                raise Failure(f"'token' not found for {target}")
            return {"user_proxy": client["access_token"]}

    def get_token_key(self, compact_name: str | None, client_name: str) -> dict:
        """The latest token key of a client, for callers with the ``token_key`` permission."""
        with self.engine.operation():
            if not compact_name or not self.engine.world.has_permission(compact_name, "token_key"):
                raise Failure(f"Denied since '{compact_name}' not authorized with 't' in {SCHEMA_META}.USERS.GRIDPREF")
            client = self.clients.get(client_name)
            if client is None or not client["token_keys"]:
                raise Failure(f"Token key is missing for '{client_name}'")
            return {"tokenKey": client["token_keys"][-1]}


# --- scenario loading ------------------------------------------------------------------------------
def _fake_proxy(rnd: random.Random, dn: str, role: str | None) -> str:
    """A proxy file's shape: the proxy certificate, its private key and the user certificate."""
    subject = f"{dn}/CN={rnd.randint(10**8, 10**9 - 1)}".encode()
    extension = (f"VOMS /atlas/Role={role}".encode()) if role else b"VOMS /atlas/Role=NULL"
    return (
        pem_block("CERTIFICATE", subject + b"\x00" + extension + b"\x00" + rnd.randbytes(640))
        + pem_block("RSA PRIVATE KEY", rnd.randbytes(1190))
        + pem_block("CERTIFICATE", dn.encode() + b"\x00" + rnd.randbytes(1100))
    )


def _fake_token(engine: Engine, rnd: random.Random, client: str) -> str:
    """A JWT-shaped access token (header.claims.signature) for a client."""
    now = int(engine.clock.time())
    header = {"alg": "RS256", "typ": "JWT", "kid": f"pandamock-{rnd.randint(1000, 9999)}"}
    claims = {
        "sub": client,
        "client_id": client,
        "aud": "https://pandamock.invalid",
        "iss": "https://pandamock.invalid/auth",
        "scope": "openid profile wlcg.groups",
        "iat": now,
        "nbf": now,
        "exp": now + 4 * 24 * 3600,
        "jti": f"{rnd.getrandbits(128):032x}",
    }
    return ".".join(
        (_b64url(json.dumps(header).encode()), _b64url(json.dumps(claims).encode()), _b64url(rnd.randbytes(256)))
    )


def _resolve_dn(engine: Engine, reference: str, where: str) -> str:
    if reference.startswith("/"):
        return reference
    user = engine.world.user(reference)
    if user is None:
        from ..scenario import ScenarioError

        raise ScenarioError(where, [f"no identity named {reference!r}"])
    return user["dn"]


def load_credentials(engine: Engine, scenario: Any) -> None:
    """Fill the key, proxy and token tables from the scenario's ``credentials`` section (bulk load)."""
    section: Mapping = getattr(scenario, "credentials", None) or {}
    store = engine.store
    keys = store.table("server_keys")
    proxies = store.table("proxy_cache")
    clients = store.table("token_clients")
    # a generator of its own, seeded from the scenario seed: the same credentials whatever else is generated
    rnd = random.Random(f"pandamock-credentials:{engine.randomness.seed}")
    for pair in section.get("key_pairs", ()):
        public = pair.get("public_key") or pem_block("PUBLIC KEY", rnd.randbytes(294))
        private = pair.get("private_key") or pem_block("PRIVATE KEY", rnd.randbytes(1218))
        keys.put({"name": pair["public"], "kind": "public", "value": public})
        keys.put({"name": pair["private"], "kind": "private", "value": private})
    for i, entry in enumerate(section.get("proxies", ())):
        dn = _resolve_dn(engine, entry["dn"], f"credentials.proxies[{i}].dn")
        target = proxy_target(dn)
        for role in entry.get("roles", [None]):
            role = role or None
            proxy = entry.get("proxy") or _fake_proxy(rnd, target, role)
            proxies.put({"proxy_key": f"{target}|{role}", "dn": target, "role": role, "proxy": proxy})
    for entry in section.get("token_clients", ()):
        configured = entry.get("token_keys", 1)
        if isinstance(configured, int):
            token_keys = [f"{rnd.getrandbits(128):032x}" for _ in range(configured)]
        else:
            token_keys = list(configured)
        access = entry.get("access_token", True)
        if access is True:
            access = _fake_token(engine, rnd, entry["name"])
        clients.put(
            {
                "name": entry["name"],
                "use_token_key": bool(entry.get("use_token_key", False)),
                "token_keys": token_keys,
                "access_token": access or None,
            }
        )
