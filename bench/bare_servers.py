"""Bare Flask apps for comparison, on the same server stacks pandamock can use.

``python bench/bare_servers.py --stack cheroot|waitress|werkzeug [--app bare|pandamock]`` prints
``serving <url>`` like ``pandamock serve``.
"""

from __future__ import annotations

import argparse
import socket
import sys
import threading

from flask import Flask, jsonify


def bare_app() -> Flask:
    app = Flask("bare")

    @app.get("/api/v1/system/is_alive")
    def is_alive():
        return jsonify({"success": True, "message": "", "data": None})

    @app.post("/bare/json")
    def bare_json():
        return jsonify({"success": True, "message": "", "data": None})

    return app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stack", choices=["cheroot", "waitress", "werkzeug"], default="cheroot")
    parser.add_argument("--app", choices=["bare", "pandamock"], default="bare")
    args = parser.parse_args()
    if args.app == "bare":
        app = bare_app()
    else:
        from pandamock.app import create_app

        app = create_app({"log_level": "warning"})
    port = free_port()
    if args.stack == "cheroot":
        from pandamock.server import MockServer

        server = MockServer(app, port=port, threads=16).start()
        print(f"serving {server.url}", flush=True)
        threading.Event().wait()
    elif args.stack == "waitress":
        import waitress

        print(f"serving http://127.0.0.1:{port}", flush=True)
        waitress.serve(app, host="127.0.0.1", port=port, threads=16, _quiet=True)
    else:
        from werkzeug.serving import make_server

        server = make_server("127.0.0.1", port, app, threaded=True)
        print(f"serving http://127.0.0.1:{port}", flush=True)
        server.serve_forever()
    sys.exit(0)


if __name__ == "__main__":
    main()
