"""``pandamock clock [show|freeze|unfreeze|advance|set|speed]`` against a running emulator."""

from __future__ import annotations

from typing import Any

import click

from . import client_options, connect, echo_json, number_or_text, refusals


def _show(clock: dict[str, Any]) -> None:
    state = "frozen" if clock["frozen"] else f"running x{clock['speed']:g}"
    click.echo(f"{clock['now']} ({state})")


@click.group(invoke_without_command=True)
@click.pass_context
@client_options
@refusals
def clock(context: click.Context, url: str | None, token: str | None) -> None:
    """The emulator's clock: progression delays and fault windows run on it.

    \b
    pandamock clock                 show the emulated time
    pandamock clock advance 300     jump 300 s (or 5m, 1h30m) forward
    pandamock clock freeze | unfreeze
    pandamock clock set 2026-11-29T12:00:00
    pandamock clock speed 60        a minute of PanDA per real second
    """
    if context.invoked_subcommand is None:
        _show(connect(url, token).clock())


@clock.command("show")
@click.option("--json", "as_json", is_flag=True)
@client_options
@refusals
def show(url: str | None, token: str | None, as_json: bool) -> None:
    """The emulated time, whether it is frozen and its speed."""
    described = connect(url, token).clock()
    echo_json(described) if as_json else _show(described)


@clock.command("freeze")
@client_options
@refusals
def freeze(url: str | None, token: str | None) -> None:
    """Stop the emulated time where it is."""
    _show(connect(url, token).freeze())


@clock.command("unfreeze")
@client_options
@refusals
def unfreeze(url: str | None, token: str | None) -> None:
    """Let the emulated time run again."""
    _show(connect(url, token).unfreeze())


@clock.command("advance")
@click.argument("seconds")
@client_options
@refusals
def advance(url: str | None, token: str | None, seconds: str) -> None:
    """Jump forward by SECONDS (or a duration: 90s, 5m, 1h30m)."""
    _show(connect(url, token).advance(number_or_text(seconds)))


@clock.command("set")
@click.argument("moment")
@client_options
@refusals
def set_(url: str | None, token: str | None, moment: str) -> None:
    """Set the emulated time (ISO time, or epoch seconds)."""
    _show(connect(url, token).set_time(number_or_text(moment)))


@clock.command("speed")
@click.argument("speed", type=float)
@client_options
@refusals
def speed(url: str | None, token: str | None, speed: float) -> None:
    """Run SPEED emulated seconds per real second (0 stops time)."""
    _show(connect(url, token).set_speed(speed))
