"""``pandamock state dump|load`` and ``pandamock reset`` against a running emulator."""

from __future__ import annotations

from pathlib import Path

import click

from . import client_options, connect, echo_json, key_values, refusals


@click.group()
def state() -> None:
    """The state of a running emulator (dumps are scenarios: they load back)."""


@state.command("dump")
@click.option("--table", "tables", multiple=True, help="Only this table (repeatable); default every table.")
@click.option("--where", multiple=True, help="Only records with FIELD=VALUE (repeatable).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="Write to this file.")
@client_options
@refusals
def dump(url: str | None, token: str | None, tables: tuple[str, ...], where: tuple[str, ...], output: str | None):
    """The state in scenario form, as JSON (datetimes as {"__datetime__": iso}).

    A dump loads back: `pandamock state load dump.json` or `pandamock serve --scenario dump.json`.
    """
    import json

    from ..journal import json_default

    data = connect(url, token).state(list(tables) or None, key_values(where, "--where"))
    if output:
        Path(output).write_text(json.dumps(data, indent=2, default=json_default) + "\n")
        counts = ", ".join(f"{table} {len(records)}" for table, records in data["records"].items())
        click.echo(f"wrote {output}: {counts}")
    else:
        echo_json(data)


@state.command("load")
@click.argument("scenario")
@client_options
@refusals
def load(url: str | None, token: str | None, scenario: str) -> None:
    """Replace the state by SCENARIO: a shipped name, or a file (its absolute path is sent: the
    server reads it, so fixtures next to it are found)."""
    path = Path(scenario)
    reference = str(path.resolve()) if path.is_file() else scenario
    health = connect(url, token).load_scenario(reference)
    click.echo(f"loaded scenario {health['scenario']!r}: {health['counts']}")


@click.command()
@client_options
@refusals
def reset(url: str | None, token: str | None) -> None:
    """Reset a running emulator to its scenario (state, clock, fault rules; journal emptied)."""
    health = connect(url, token).reset()
    click.echo(f"reset to scenario {health['scenario']!r} at {health['clock']['now']}")


@click.command()
@click.option("--json", "as_json", is_flag=True)
@client_options
@refusals
def status(url: str | None, token: str | None, as_json: bool) -> None:
    """Health of a running emulator: scenario, clock, record counts, faults, journal."""
    health = connect(url, token).health()
    if as_json:
        echo_json(health)
        return
    clock = health["clock"]
    click.echo(f"pandamock {health['version']} at {connect(url, token).url}: scenario {health['scenario']!r}")
    click.echo(f"  clock    {clock['now']} ({'frozen' if clock['frozen'] else 'x' + format(clock['speed'], 'g')})")
    click.echo(f"  faults   {health['faults']} rule{'s' if health['faults'] != 1 else ''}")
    journal = health["journal"]
    click.echo(f"  journal  {journal['entries']} entries ({journal['dropped']} dropped)")
    counts = ", ".join(f"{table} {count}" for table, count in health["counts"].items() if count)
    click.echo(f"  records  {counts}")
