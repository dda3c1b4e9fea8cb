"""``/api/v1/creds/*``: user secrets, key pairs, proxies and tokens.

Engine: :mod:`pandamock.engine.credentials`. The owner of secrets is always the caller's compact
user name.
"""

from __future__ import annotations

from typing import List

from ..engine.outcome import Reply
from .registry import ApiModule
from .request import ApiRequest

module = ApiModule("creds")


@module.endpoint("POST")
def set_user_secrets(req: ApiRequest, key: str = None, value: str = None) -> Reply:
    """Set (or with ``value`` null delete) one of the caller's ``secrets``; ``key`` null wipes them all."""
    return req.engine.credentials.set_user_secret(req.identity.compact_name, key, value)


@module.endpoint("GET")
def get_user_secrets(req: ApiRequest, keys: List[str] = None) -> str:
    """The caller's ``secrets`` as a JSON string (only ``keys`` when given). Changes nothing."""
    return req.engine.credentials.get_user_secrets(req.identity.compact_name, keys)


@module.endpoint("GET")
def get_key_pair(req: ApiRequest, public_key_name: str, private_key_name: str) -> dict:
    """A named key pair of ``server_keys``, for identities with the key_pair permission. Changes nothing."""
    return req.engine.credentials.get_key_pair(req.identity.compact_name, public_key_name, private_key_name, req.host)


@module.endpoint("GET")
def get_proxy(req: ApiRequest, role: str = None, dn: str = None) -> dict:
    """The cached proxy (``proxy_cache``) of ``dn`` or the caller, for identities with the proxy permission.
    Changes nothing."""
    return req.engine.credentials.get_proxy(req.identity.dn, req.identity.compact_name, role, dn)


@module.endpoint("GET")
def get_access_token(req: ApiRequest, client_name: str, token_key: str = None) -> dict:
    """The cached access token of a ``token_clients`` client (under ``user_proxy``), for identities with
    the proxy permission. Changes nothing."""
    return req.engine.credentials.get_access_token(req.identity.compact_name, client_name, token_key)


@module.endpoint("GET")
def get_token_key(req: ApiRequest, client_name: str) -> dict:
    """The latest token key of a ``token_clients`` client, for identities with the token_key permission.
    Changes nothing."""
    return req.engine.credentials.get_token_key(req.identity.compact_name, client_name)
