"""The ``req`` object every endpoint handler receives (PanDA calls it ``req`` too)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..wsgi import request_base_url, request_host

if TYPE_CHECKING:
    from ..emulator import Emulator
    from ..engine import Engine
    from .identity import Identity
    from .registry import EndpointSpec

_CGI_KEYS = (
    "REQUEST_METHOD",
    "SCRIPT_NAME",
    "PATH_INFO",
    "QUERY_STRING",
    "CONTENT_TYPE",
    "CONTENT_LENGTH",
    "SERVER_NAME",
    "SERVER_PORT",
    "SERVER_PROTOCOL",
    "REMOTE_ADDR",
    "REMOTE_PORT",
    "HTTPS",
)


def _is_tls_variable(key: str) -> bool:
    """mod_ssl's ``+StdEnvVars`` (``SSL_PROTOCOL``, ``SSL_CLIENT_S_DN``, ``SSL_CLIENT_V_END`` ...),
    without the PEM certificates themselves (``+ExportCertData`` is not set)."""
    return key.startswith("SSL_") and not key.endswith("_CERT")


class ApiRequest:
    """The caller's identity, the engine and the raw request environment."""

    __slots__ = ("emulator", "engine", "identity", "environ", "method", "endpoint", "json_app", "_subprocess_env")

    def __init__(
        self,
        emulator: Emulator,
        identity: Identity,
        environ: dict,
        endpoint: EndpointSpec,
        json_app: bool,
    ) -> None:
        self.emulator = emulator
        self.engine: Engine = emulator.engine
        self.identity = identity
        self.environ = environ
        self.method = environ.get("REQUEST_METHOD", "GET")
        self.endpoint = endpoint
        self.json_app = json_app
        self._subprocess_env: dict[str, str] | None = None

    @property
    def subprocess_env(self) -> dict[str, str]:
        """The request environment as the real server's handlers see it (CGI variables, HTTP
        headers, and the identity variables: ``SSL_CLIENT_S_DN``, ``GRST_CRED_*``, ``PANDA_OIDC_*``)."""
        if self._subprocess_env is None:
            env: dict[str, str] = {}
            for key, value in self.environ.items():
                if (key in _CGI_KEYS or key.startswith("HTTP_") or _is_tls_variable(key)) and isinstance(value, str):
                    env[key] = value
            env["SCRIPT_NAME"] = self.environ.get("SCRIPT_NAME", "") + self.environ.get("PATH_INFO", "")
            env.update(self.identity.env)
            self._subprocess_env = env
        return self._subprocess_env

    @property
    def host(self) -> str:
        """The server's host name as the client addressed it (without port)."""
        return request_host(self.environ)

    @property
    def base_url(self) -> str:
        """``scheme://host:port`` of this server as the client addressed it."""
        return request_base_url(self.environ)
