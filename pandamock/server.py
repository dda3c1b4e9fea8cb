"""A real HTTP server for the emulator: cheroot (threaded, HTTP/1.1 keep-alive, TLS-capable).

cheroot was chosen over waitress and werkzeug's development server by
``bench/bench_server_stack.py``: waitress was faster on plain HTTP but cannot serve TLS, which
the real server's 25443 port (and client-certificate identities) need; werkzeug's server closes
every connection. See the README's "Serving" section for the figures.
"""

from __future__ import annotations

import logging
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

from cheroot import server as cheroot_server
from cheroot import wsgi

from .faults import ConnectionDropped

log = logging.getLogger("pandamock.server")


class _Gateway(wsgi.Gateway_10):
    """cheroot's WSGI gateway, plus dropped connections for fault injection: when the app
    raises :class:`ConnectionDropped` the connection ends without (the rest of) an answer,
    with an abortive reset (``abort``) or a normal close after a truncated body."""

    def respond(self) -> None:
        try:
            super().respond()
        except ConnectionDropped as dropped:
            connection = self.req.conn
            self.req.close_connection = True
            if dropped.abort:
                try:
                    connection.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    connection.socket.close()
                except OSError:
                    pass
                connection.linger = True  # closed already: cheroot must not shut it down again
            raise


class _Request(cheroot_server.HTTPRequest):
    """Accepts request targets in absolute form (``GET http://host/path``), which an HTTP/1.1
    server must (RFC 9112 §3.2.2): a pilot whose ``http_proxy`` is pandamock fetches its payload
    script through it (see docs/pilot-legacy.md). The path is served; the host is not contacted."""

    def __init__(self, server: Any, conn: Any, proxy_mode: bool = True, strict_mode: bool = True) -> None:
        super().__init__(server, conn, proxy_mode=True, strict_mode=strict_mode)


class _Connection(cheroot_server.HTTPConnection):
    RequestHandlerClass = _Request


class MockServer:
    """Serve a WSGI app on a thread: ``with MockServer(app) as server: requests.get(server.url + ...)``.

    ``port=0`` picks a free port (read it from :attr:`port` after :meth:`start`).
    """

    def __init__(
        self,
        app: Callable[..., Any],
        host: str = "127.0.0.1",
        port: int = 0,
        threads: int = 16,
        ssl_adapter: Any = None,
        scheme: str | None = None,
    ) -> None:
        self.app = app
        self.host = host
        self.requested_port = port
        self.threads = threads
        self.ssl_adapter = ssl_adapter
        self.scheme = scheme or ("https" if ssl_adapter is not None else "http")
        self._server: wsgi.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> MockServer:
        """Bind and start serving in a background thread; returns self."""
        server = wsgi.Server(
            (self.host, self.requested_port),
            self.app,
            numthreads=self.threads,
            server_name="Apache",  # the real server answers from behind Apache httpd
            timeout=30,
            shutdown_timeout=2,
            # cheroot's default listen backlog (5) resets connections when dozens of pilots connect at once
            request_queue_size=max(128, self.threads * 4),
        )
        server.gateway = _Gateway
        server.ConnectionClass = _Connection
        if self.ssl_adapter is not None:
            server.ssl_adapter = self.ssl_adapter
        server.prepare()
        self._server = server
        self._thread = threading.Thread(target=server.serve, name=f"pandamock-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 5
        while not server.ready and time.monotonic() < deadline:
            time.sleep(0.001)
        log.info("serving %s", self.url)
        return self

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the server is not started")
        return self._server.bind_addr[1]

    @property
    def url(self) -> str:
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return f"{self.scheme}://{host}:{self.port}"

    def stop(self) -> None:
        """Stop accepting, finish the requests in flight and join the thread."""
        if self._server is not None:
            self._server.stop()
            if self._thread is not None:
                self._thread.join(timeout=10)
            self._server = None
            self._thread = None

    def __enter__(self) -> MockServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
