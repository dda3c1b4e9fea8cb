"""Who is calling: the DN and VO roles the real server would derive, in open or strict mode.

Sources, as in the real server (``panda_request.py``, ``api/v1/common.py``):

* a client certificate: the TLS layer (:mod:`pandamock.tls`) puts ``SSL_CLIENT_S_DN`` in the WSGI
  environ; VO roles come from the scenario identity with that DN, proxy CNs ignored
  (``GRST_CRED_<n>`` attributes are synthesised, with a ``GSIPROXY`` entry per proxy level);
* a bearer token with an ``Origin: <vo>[:<role>|.<role>]`` header: the DN is built from the
  token's ``name`` claim (+ ``/CN=nickname:<preferred_username>``), roles from Origin and the
  token's groups; a rejected token is a 403 ``ERROR : Token authentication failed. <reason>``;
  the ``verifier`` decodes the token: without checks in open mode, checking the emulator's
  signature, expiry, issuer and client id in strict mode (:mod:`pandamock.tokens`);
* **open mode** only: no credentials → the scenario's default identity (a production-role
  user), or the identity named by the ``X-Pandamock-Identity`` header.

In **strict mode** a request without certificate or token is anonymous, so secure endpoints
answer ``SSL secure connection is required``.
"""

from __future__ import annotations

import base64
import binascii
import json
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ..engine.naming import (
    clean_user_id,
    get_bare_dn,
    has_production_role,
    primary_production_working_group,
    production_working_groups,
)

IDENTITY_HEADER = "HTTP_X_PANDAMOCK_IDENTITY"
_NOT_BEFORE = 1700000000  # fixed validity window of the synthesised VOMS attributes
_NOT_AFTER = 4102444800


class AuthRejected(Exception):
    """The request is refused before parsing: HTTP 403 with ``message`` as the text body."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidToken(Exception):
    """A token that does not decode or verify; the message follows PyJWT's wording."""


class TokenDecodeFailure(Exception):
    """A token whose checking failed outside PyJWT (the real server's ``Token decode failure. <error>``)."""


@dataclass
class Identity:
    """The caller as the emulator sees it."""

    raw_dn: str = ""
    fqans: tuple[str, ...] = ()
    source: str = "anonymous"  # certificate | token | default | header | anonymous
    env: dict[str, str] = field(default_factory=dict)
    user: Mapping[str, Any] | None = None
    production_dns: tuple[str, ...] = ()
    claims: Mapping[str, Any] | None = None

    @cached_property
    def dn(self) -> str:
        """``get_dn``: the DN without ``/CN=limited proxy`` and with repeated ``/CN=proxy`` collapsed."""
        return get_bare_dn(self.raw_dn, keep_proxy=True) if self.raw_dn else ""

    @cached_property
    def compact_name(self) -> str | None:
        """PanDA's compact user name (``clean_user_id``), used for every ownership check."""
        return clean_user_id(self.raw_dn) if self.raw_dn else None

    @property
    def secure(self) -> bool:
        """The "secure" check: an authenticated DN that is not a limited proxy."""
        return bool(self.raw_dn) and "/CN=limited proxy" not in self.raw_dn

    @cached_property
    def production(self) -> bool:
        return has_production_role(self.dn, self.fqans, self.production_dns)

    @property
    def working_groups(self) -> list[str]:
        return production_working_groups(self.fqans)

    @property
    def primary_working_group(self) -> str | None:
        return primary_production_working_group(self.fqans)

    @property
    def email(self) -> str | None:
        return self.user.get("email") if self.user else None

    def describe(self) -> dict[str, Any]:
        """Plain data for the journal and the control plane."""
        return {
            "source": self.source,
            "dn": self.dn,
            "name": self.compact_name,
            "fqans": list(self.fqans),
            "production": self.production,
        }


def voms_env(
    dn: str,
    fqans: tuple[str, ...] | list[str],
    proxy_dns: tuple[str, ...] | list[str] = (),
    validity: tuple[int, int] = (_NOT_BEFORE, _NOT_AFTER),
) -> dict[str, str]:
    """The ``GRST_CRED_*`` variables mod_gridsite exports: the user certificate (``X509USER``,
    delegation level 0), each proxy level (``GSIPROXY``) and the VOMS FQANs carried by the last
    level, each as ``<type> <notbefore> <notafter> <level> <value>``."""
    start, end = validity
    env = {"GRST_CRED_0": f"X509USER {start} {end} 0 {dn}"}
    index = 1
    for level, proxy_dn in enumerate(proxy_dns, start=1):
        env[f"GRST_CRED_{index}"] = f"GSIPROXY {start} {end} {level} {proxy_dn}"
        index += 1
    for fqan in fqans:
        env[f"GRST_CRED_{index}"] = f"VOMS {start} {end} {len(proxy_dns)} {fqan}"
        index += 1
    return env


def _proxy_dns(cert_dn: str, user_dn: str) -> list[str]:
    """The DN of each proxy level between a user's DN and the presented certificate's DN."""
    if not cert_dn.startswith(user_dn + "/CN="):
        return []
    levels = cert_dn[len(user_dn) :].split("/CN=")[1:]
    return [user_dn + "".join(f"/CN={cn}" for cn in levels[: i + 1]) for i in range(len(levels))]


def _validity(environ: Mapping[str, Any]) -> tuple[int, int]:
    """The presented certificate's validity (epoch seconds) from the TLS layer's variables."""
    try:
        return (
            int(ssl.cert_time_to_seconds(environ["SSL_CLIENT_V_START"])),
            int(ssl.cert_time_to_seconds(environ["SSL_CLIENT_V_END"])),
        )
    except (KeyError, ValueError):
        return _NOT_BEFORE, _NOT_AFTER


def fqans_from_env(env: Mapping[str, str]) -> tuple[str, ...]:
    """``get_fqan``: FQANs from ``GRST_CRED_*`` (VOMS ...) and old-style ``GRST_CONN_*`` (fqan:...)."""
    fqans = []
    for key, value in env.items():
        if key.startswith("GRST_CRED_") and value.startswith("VOMS"):
            fqans.append(value.split()[-1])
        elif key.startswith("GRST_CONN_"):
            items = value.split(":")
            if len(items) == 2 and items[0] == "fqan":
                fqans.append(items[-1])
    return tuple(fqans)


def _b64_json(segment: str, what: str) -> Any:
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise InvalidToken(f"Invalid {what} padding") from None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise InvalidToken(f"Invalid {what} string: {exc}") from None


def decode_unverified(token: str) -> dict[str, Any]:
    """The claims of a JWT without checking its signature (open mode, like panda-client does)."""
    try:
        signing_input, _signature = token.rsplit(".", 1)
        header_segment, payload_segment = signing_input.split(".", 1)
    except ValueError:
        raise InvalidToken("Not enough segments") from None
    header = _b64_json(header_segment, "header")
    if not isinstance(header, dict):
        raise InvalidToken("Invalid header string: must be a json object")
    claims = _b64_json(payload_segment, "payload")
    if not isinstance(claims, dict):
        raise InvalidToken("Invalid payload string: must be a json object")
    return claims


TokenVerifier = Callable[[str], dict]


class IdentityResolver:
    """Turns a WSGI environ into an :class:`Identity` (or raises :class:`AuthRejected`)."""

    def __init__(
        self,
        world: Any,
        mode: str = "open",
        default_identity: str | None = None,
        production_dns: tuple[str, ...] = (),
        verifier: TokenVerifier | None = None,
    ) -> None:
        self.world = world
        self.mode = mode
        self.default_identity = default_identity
        self.production_dns = tuple(production_dns)
        self.verifier = verifier or decode_unverified
        #: open-mode identities by (source, id of the user record): resolved once, not per request
        self._open_cache: dict[tuple[str, int], Identity] = {}

    def resolve(self, environ: Mapping[str, Any]) -> Identity:
        env: dict[str, str] = {}
        raw_dn = ""
        source = "anonymous"
        user = None
        claims = None
        cert_dn = environ.get("SSL_CLIENT_S_DN")
        if cert_dn:
            raw_dn = cert_dn
            source = "certificate"
            user = self.world.user_by_dn(get_bare_dn(cert_dn, keep_digits=False))
            env["SSL_CLIENT_S_DN"] = cert_dn
            env.update({k: v for k, v in environ.items() if k.startswith(("GRST_CRED_", "GRST_CONN_"))})
            if not any(key.startswith("GRST_") for key in env):
                # mod_gridsite's view; a DN that is not in the scenario has no VO roles
                user_dn = user["dn"] if user is not None else get_bare_dn(cert_dn, keep_digits=False)
                fqans = user["fqans"] if user is not None else ()
                env.update(voms_env(user_dn, fqans, _proxy_dns(cert_dn, user_dn), _validity(environ)))
        authorization = environ.get("HTTP_AUTHORIZATION")
        if authorization and len(authorization.split()) > 1:
            token_env, claims = self._token(authorization.split()[1], environ, cert_dn)
            env.update(token_env)
            if not cert_dn:
                raw_dn = token_env.get("SSL_CLIENT_S_DN", "")
                source = "token"
                user = (
                    self.world.user_by_dn(raw_dn)
                    or self.world.user_by_compact_name(clean_user_id(raw_dn))
                    or self._nickname_user(raw_dn, claims)
                )
        if not raw_dn and self.mode == "open":
            user, source = self._open_mode_user(environ)
            cached = self._open_cache.get((source, id(user)))
            if cached is not None and cached.user is user:
                # the same scenario identity record as before: same DN, roles and ban status
                return cached
            if user is not None:
                raw_dn = user["dn"]
                env["SSL_CLIENT_S_DN"] = raw_dn
                env.update(voms_env(raw_dn, user["fqans"]))
        identity = Identity(
            raw_dn=raw_dn,
            fqans=fqans_from_env(env),
            source=source,
            env=env,
            user=user,
            production_dns=self.production_dns,
            claims=claims,
        )
        if identity.raw_dn and self.world.is_banned(identity.compact_name):
            raise AuthRejected(f"ERROR : {identity.compact_name} is banned")
        if source in ("default", "header") and user is not None:
            if len(self._open_cache) > 64:
                self._open_cache.clear()
            # records are copy-on-write: a changed or reloaded identity is a new record, a new key
            self._open_cache[(source, id(user))] = identity
        return identity

    def _nickname_user(self, raw_dn: str, claims: Mapping[str, Any]) -> Mapping | None:
        """The scenario identity a token names in ``preferred_username`` when its ``name`` claim
        only differs from that identity's compact name by case (``atlpilo1`` → ``Atlpilo1``)."""
        nickname = claims.get("preferred_username")
        user = self.world.user(nickname) if isinstance(nickname, str) else None
        compact = clean_user_id(raw_dn) or ""
        if user is not None and user["compact_name"].lower() == compact.lower():
            return user
        return None

    def _open_mode_user(self, environ: Mapping[str, Any]) -> tuple[Mapping | None, str]:
        requested = environ.get(IDENTITY_HEADER)
        if requested:
            user = self.world.user(requested)
            if user is None:
                raise AuthRejected(f"ERROR : unknown pandamock identity {requested!r} in X-Pandamock-Identity")
            return user, "header"
        return self.world.default_user(self.default_identity), "default"

    def _token(self, token: str, environ: Mapping[str, Any], cert_dn: str | None) -> tuple[dict[str, str], dict]:
        """The real server's OIDC decision for a token; raises AuthRejected when refused."""
        origin = environ.get("HTTP_ORIGIN")

        def refuse(message: str) -> AuthRejected:
            return AuthRejected(f"ERROR : Token authentication failed. {message}")

        if origin is None:
            raise refuse("Token decode failure. 'NoneType' object has no attribute 'replace'")
        try:
            claims = dict(self.verifier(token))
        except InvalidToken as exc:
            raise refuse(f"Invalid token. {exc}") from None
        except TokenDecodeFailure as exc:
            raise refuse(f"Token decode failure. {exc}") from None
        vo, role = _split_origin(origin)
        if vo not in self.world.vos:
            raise refuse(f"Unknown vo : {vo}")
        groups_claim = "groups" if "groups" in claims or "wlcg.groups" not in claims else "wlcg.groups"
        groups = claims.get(groups_claim) or []
        if isinstance(groups, str):
            groups = [groups]
        env: dict[str, str] = {}
        if role:
            if f"{vo}/{role}" not in groups and f"/{vo}/{role}" not in groups:
                raise refuse(f"Not a member of the {vo}/{role} group")
            env.update({"PANDA_OIDC_VO": vo, "PANDA_OIDC_GROUP": role, "PANDA_OIDC_ROLE": role})
        else:
            if vo not in groups and f"/{vo}" not in groups:
                raise refuse(f"Not a member of the {vo} group")
            env.update({"PANDA_OIDC_VO": vo, "PANDA_OIDC_GROUP": vo, "PANDA_OIDC_ROLE": "user"})
        if "iss" not in claims:
            raise refuse("Issuer is undefined in the token")
        for claim, value in claims.items():
            env[f"PANDA_OIDC_CLAIM_{claim}"] = str(value)
        if not cert_dn:
            if "name" in claims:
                dn = " ".join(word[:1].upper() + word[1:].lower() for word in str(claims["name"]).split())
                if "preferred_username" in claims:
                    dn += f"/CN=nickname:{claims['preferred_username']}"
            else:
                dn = str(claims.get("sub", ""))
            env["SSL_CLIENT_S_DN"] = dn
            i = 0
            for scope in str(claims.get("scope", "")).split():
                if scope.startswith("role:"):
                    env[f"GRST_CRED_AUTH_TOKEN_{i}"] = "VOMS " + scope.split(":")[-1]
                    i += 1
            if role:
                env[f"GRST_CRED_AUTH_TOKEN_{i}"] = f"VOMS /{vo}/Role={role}"
        return env, claims


def _split_origin(origin: str) -> tuple[str, str | None]:
    """``vo``, ``vo:role`` or ``vo.role`` (split on the last dot) as the real server reads Origin."""
    if ":" in origin:
        vo, role = origin.split(":", 1)
        return vo, role or None
    if "." in origin and not origin.startswith("vo."):
        vo, role = origin.rsplit(".", 1)
        return vo, role or None
    return origin, None
