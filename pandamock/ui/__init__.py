"""The web dashboard: the emulated PanDA world in a browser, served at ``/_pandamock/ui/``.

Server-rendered pages (Jinja templates shipped in this package, a little vanilla JavaScript and
one stylesheet, nothing fetched from elsewhere): an overview that updates itself from a JSON
feed, tasks, jobs, the journal, fault rules and the clock. Reads go through
:mod:`pandamock.ui.queries` (indexes only); the forms act through
:class:`pandamock.control.ControlPlane`, so the dashboard follows the control plane's
settings: it is not served when the control plane is off, and asks for the control token when
one is set. See ``docs/dashboard.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..emulator import Emulator

PREFIX = "/_pandamock/ui"


def register(app: Any, emulator: Emulator) -> bool:
    """Add the dashboard to a Flask app (when the control plane is on); returns whether it was added."""
    if not emulator.settings.control:
        return False
    from .views import blueprint

    app.register_blueprint(blueprint(emulator, token=emulator.settings.control_token))
    return True


def index_page(text: str) -> str:
    """The root page for a browser: the plain-text index with its concrete paths as links."""
    import html
    import re

    def line_html(line: str) -> str:
        parts = []
        for piece in re.split(r"(/\S*)", line):
            if piece.startswith("/") and re.fullmatch(r"/[\w./-]*", piece) and "..." not in piece:
                parts.append(f'<a href="{html.escape(piece)}">{html.escape(piece)}</a>')
            else:
                parts.append(html.escape(piece, quote=False))
        return "".join(parts)

    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>pandamock</title></head>'
        "<body><pre>" + "\n".join(line_html(line) for line in text.splitlines()) + "</pre></body></html>\n"
    )
