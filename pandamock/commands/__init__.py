"""Command groups of the ``pandamock`` CLI, one module per area, each registered in ``cli.py``.

The client commands talk to a running emulator's control plane.

Each module holds one command group (``fault``, ``clock``, ``journal``, ``state``) registered in
:mod:`pandamock.cli`. Which server: ``--url`` (default: the ``url`` setting, i.e.
``PANDAMOCK_URL`` or http://127.0.0.1:25080); ``--token`` (default ``PANDAMOCK_CONTROL_TOKEN``).
Exit status: 0 done, 2 refused input (an invalid rule, an unknown filter), 1 anything else
(server unreachable, unknown rule id, wrong token).
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any

import click

EXIT_USAGE = 2
EXIT_FAILURE = 1


def client_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--url`` and ``--token`` for a command that talks to a running emulator."""
    command = click.option(
        "--token",
        default=None,
        help="Control-plane token of the server [env PANDAMOCK_CONTROL_TOKEN].",
    )(command)
    command = click.option(
        "--url",
        default=None,
        help="URL of the running pandamock [env PANDAMOCK_URL; default http://127.0.0.1:25080].",
    )(command)
    return command


def connect(url: str | None, token: str | None) -> Any:
    """A :class:`pandamock.client.Control` for the options (settings fill what is not given)."""
    from ..client import Control
    from ..config import ConfigError

    try:
        return Control(url, token)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None


def refusals(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a control-plane refusal into a message on stderr and exit 2 (bad input) or 1."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from ..control import ControlError

        try:
            return command(*args, **kwargs)
        except ControlError as exc:
            click.echo(f"pandamock: {exc.message}", err=True)
            sys.exit(EXIT_USAGE if exc.status == 400 else EXIT_FAILURE)

    return wrapper


def echo_json(data: Any) -> None:
    from ..journal import json_default

    click.echo(json.dumps(data, indent=2, default=json_default))


def number_or_text(text: str) -> Any:
    """``"120"`` → 120, ``"1.5"`` → 1.5, anything else unchanged."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def key_values(values: tuple[str, ...], option: str) -> dict[str, str]:
    """``name=value`` options as a mapping; a malformed one is a usage error."""
    mapping: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected NAME=VALUE, got {item!r}", param_hint=option)
        mapping[key] = value
    return mapping
