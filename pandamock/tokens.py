"""Signed OIDC tokens: the emulator as its own identity provider.

``pandamock token --user NAME`` issues an RS256 JWT signed with the emulator's key (kept in the
TLS directory beside the CA, created on first use). In **strict** mode the request pipeline
verifies bearer tokens the way the real server's ``TokenDecoder.deserialize_token`` does, in the
same order and with the same (PyJWT) messages, so a rejected token is a 403
``ERROR : Token authentication failed. Invalid token. <reason>``:

1. the token must decode (``Not enough segments``, ``Invalid header padding``, ...);
2. its client id must be known: ``aud`` (or the ``client_id`` claim, or ``sub``) must be the
   emulator's client id :data:`CLIENT_ID`, else ``cannot extract client_id from token``;
3. the header must name a key id (``cannot extract kid from headers``) that is the emulator's
   (``JWK not found for kid=<kid>``);
4. PyJWT checks the RS256 signature (``Signature verification failed``; another algorithm:
   ``The specified alg value is not allowed``), ``exp`` (``Signature has expired``), ``nbf``/``iat``
   (``The token is not yet valid (nbf)``) and the issuer (``failed to decode: Invalid issuer``;
   a token issuer that is a prefix of :data:`ISSUER` is accepted, as the real server does for
   access tokens missing the last ``/``).

The groups-versus-Origin decision (``Not a member of the atlas/production group`` ...) is the
identity resolver's, the same for signed and unsigned tokens. Token times are checked against
the real time (as the real server does), not the emulator's clock. In open mode tokens are
decoded without verification, as before.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .api.identity import InvalidToken, TokenDecodeFailure
from .engine.naming import clean_user_id
from .tls import LocalCA, _write, new_key, tls_dir

if TYPE_CHECKING:
    from .config import Settings

ISSUER = "https://pandamock.invalid/idp/"
CLIENT_ID = "pandamock"
DEFAULT_LIFETIME = 86400
_SUB_NAMESPACE = uuid.UUID("6f1b9a52-4b8e-4d8c-9a55-7d3f2f0c6a11")


class TokenAuthority:
    """The emulator's token signing key (``<tls dir>/token/signing-key.pem``): issues and verifies."""

    def __init__(self, directory: str | Path, issuer: str = ISSUER, client_id: str = CLIENT_ID) -> None:
        self.directory = Path(directory).expanduser()
        self.issuer = issuer
        self.client_id = client_id
        self._key: rsa.RSAPrivateKey | None = None
        self._lock = threading.Lock()

    @property
    def key_file(self) -> Path:
        return self.directory / "token" / "signing-key.pem"

    @property
    def key(self) -> rsa.RSAPrivateKey:
        """The signing key, created on first use."""
        with self._lock:
            if self._key is None:
                self._key = self._load_or_create()
            return self._key

    def _load_or_create(self) -> rsa.RSAPrivateKey:
        with LocalCA(self.directory)._locked():
            if self.key_file.exists():
                key = serialization.load_pem_private_key(self.key_file.read_bytes(), password=None)
                if not isinstance(key, rsa.RSAPrivateKey):
                    raise TokenDecodeFailure(f"{self.key_file} does not hold an RSA key")
                return key
            key = new_key()
            pem = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            _write(self.key_file, pem, private=True)
            return key

    @property
    def jwk(self) -> dict[str, str]:
        """The public key as a JWK with its RFC 7638 thumbprint as ``kid``."""
        numbers = self.key.public_key().public_numbers()
        jwk = {"e": _b64_int(numbers.e), "kty": "RSA", "n": _b64_int(numbers.n)}
        thumbprint = hashlib.sha256(json.dumps(jwk, separators=(",", ":"), sort_keys=True).encode()).digest()
        return {**jwk, "kid": base64.urlsafe_b64encode(thumbprint).rstrip(b"=").decode(), "use": "sig", "alg": "RS256"}

    @property
    def kid(self) -> str:
        return self.jwk["kid"]

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The JSON Web Key Set a relying party would fetch from ``jwks_uri``."""
        return {"keys": [self.jwk]}

    # -- issuing -----------------------------------------------------------------------------
    def sign(self, claims: Mapping[str, Any], headers: Mapping[str, Any] | None = None) -> str:
        """Sign arbitrary claims (RS256, this key's ``kid``)."""
        return jwt.encode(dict(claims), self.key, algorithm="RS256", headers={"kid": self.kid, **(headers or {})})

    def claims_for(
        self,
        user: Mapping[str, Any],
        vo: str | None = None,
        role: str | None = None,
        extra_groups: Iterable[str] = (),
        lifetime: int = DEFAULT_LIFETIME,
        name: str | None = None,
        now: int | None = None,
    ) -> dict[str, Any]:
        """ID-token claims for a scenario identity, as an IAM would issue them.

        ``groups`` holds the identity's VO groups (``atlas``, ``atlas/production``, ...) plus
        ``extra_groups``; ``role`` must be one of them (raises :class:`ValueError` otherwise).
        ``name`` is the identity's compact user name unless given.
        """
        vo = vo or user.get("vo") or "atlas"
        groups = [vo] + [g for g in user.get("groups", ()) if g == vo or g.startswith(f"{vo}/")]
        groups = list(dict.fromkeys([*groups, *extra_groups]))
        if role and f"{vo}/{role}" not in groups:
            raise ValueError(
                f"identity {user['name']!r} has no {vo}/{role} group (its groups: {', '.join(groups)}); "
                f"add --group {vo}/{role} to put it in the token anyway"
            )
        now = int(time.time()) if now is None else now
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.client_id,
            "sub": str(uuid.uuid5(_SUB_NAMESPACE, user["dn"])),
            "name": name or clean_user_id(user["dn"]) or user["name"],
            "preferred_username": user["name"],
            "groups": groups,
            "iat": now,
            "auth_time": now,
            "exp": now + lifetime,
            "jti": str(uuid.uuid4()),
        }
        if user.get("email"):
            claims["email"] = user["email"]
        return claims

    def issue(self, user: Mapping[str, Any], **options: Any) -> str:
        """A signed ID token for a scenario identity (options of :meth:`claims_for`)."""
        return self.sign(self.claims_for(user, **options))

    # -- verifying ---------------------------------------------------------------------------
    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a token this emulator signed; raises :class:`InvalidToken` or
        :class:`TokenDecodeFailure` with the real server's reasons, in its order."""
        known_clients = {self.client_id}
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
            audience = unverified.get("aud")
            client_id = audience if audience in known_clients else None
            if not client_id:
                client_id = unverified.get("client_id")
                if client_id and client_id not in known_clients:
                    client_id = None
            if not client_id:
                client_id = unverified["sub"]
                if client_id and client_id not in known_clients:
                    client_id = None
            if not client_id:
                raise jwt.InvalidTokenError("cannot extract client_id from token")
            header = jwt.get_unverified_header(token)
            if header is None or "kid" not in header:
                raise jwt.InvalidTokenError("cannot extract kid from headers")
            if header["kid"] != self.kid:
                raise jwt.InvalidTokenError(f"JWK not found for kid={header['kid']}")
            issuer = self.issuer
            if unverified["iss"] and unverified["iss"] != issuer and issuer.startswith(unverified["iss"]):
                issuer = unverified["iss"]
            try:
                return jwt.decode(token, self.key.public_key(), algorithms=["RS256"], audience=audience, issuer=issuer)
            except jwt.InvalidIssuerError as exc:
                raise jwt.InvalidTokenError(f"failed to decode: {exc}") from None
        except jwt.InvalidTokenError as exc:
            raise InvalidToken(str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - the real server reports any other error as a decode failure
            raise TokenDecodeFailure(str(exc)) from None


def _b64_int(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def token_verifier(settings: Settings) -> Any:
    """The identity resolver's token verifier for these settings: signature checks in strict mode
    (the key is read on the first token), None (decode without verification) in open mode."""
    if settings.auth_mode != "strict":
        return None
    return TokenAuthority(tls_dir(settings)).verify
