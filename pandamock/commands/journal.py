"""``pandamock journal tail|summary|clear`` against a running emulator."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import click

from . import client_options, connect, echo_json, refusals


def filter_options(command: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--endpoint", help="Endpoint glob, e.g. 'pilot/*'."),
        click.option("--identity", help="Compact user name glob."),
        click.option("--status", type=int, multiple=True, help="HTTP status (repeatable; 0 = dropped)."),
        click.option("--failed/--succeeded", "failed", default=None, help="Only failures / only successes."),
        click.option("--fault", help="Rule id glob whose firing is recorded, or true/false."),
        click.option("--since", help="Emulated time (ISO) from which on."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _filters(options: dict[str, Any]) -> dict[str, Any]:
    filters = {key: value for key, value in options.items() if value not in (None, ())}
    if "status" in filters:
        filters["status"] = list(filters["status"])
    return filters


@click.group()
def journal() -> None:
    """The request journal of a running emulator."""


@journal.command("tail")
@click.option("-n", "--lines", default=20, show_default=True, help="How many of the newest entries.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new entries (Ctrl-C to stop).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@filter_options
@client_options
@refusals
def tail(url: str | None, token: str | None, lines: int, follow: bool, as_json: bool, **options: Any) -> None:
    """The newest journal entries, oldest first (one line each)."""
    import json

    from ..journal import format_entry, json_default

    control = connect(url, token)
    filters = _filters(options)
    answer = control.journal(limit=lines, **filters)
    last = 0

    def show(entries: list[dict]) -> int:
        seq = 0
        for entry in entries:
            click.echo(json.dumps(entry, default=json_default) if as_json else format_entry(entry).lstrip())
            seq = entry["seq"]
        return seq

    last = show(answer["entries"]) or last
    if answer["dropped"] and not as_json:
        click.echo(f"({answer['dropped']} older entries were dropped from the journal)", err=True)
    try:
        while follow:
            time.sleep(0.5)
            entries = control.journal(after_seq=last, **filters)["entries"]
            last = show(entries) or last
    except KeyboardInterrupt:
        pass


@journal.command("summary")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@client_options
@refusals
def summary(url: str | None, token: str | None, as_json: bool) -> None:
    """Per endpoint: requests, failures, faults fired, p50/p99 latency."""
    data = connect(url, token).journal_summary()
    if as_json:
        echo_json(data)
        return
    click.echo(f"{'ENDPOINT':<44} {'REQUESTS':>8} {'FAILED':>7} {'FAULTS':>7} {'P50 MS':>8} {'P99 MS':>8}")
    for endpoint, row in data["endpoints"].items():
        p50 = f"{row['p50_ms']:.2f}" if row["p50_ms"] is not None else "-"
        p99 = f"{row['p99_ms']:.2f}" if row["p99_ms"] is not None else "-"
        click.echo(f"{endpoint:<44} {row['requests']:>8} {row['failures']:>7} {row['faults']:>7} {p50:>8} {p99:>8}")
    click.echo(
        f"{data['requests']} requests, {data['failures']} failed, {data['faults']} faults fired"
        + (f", {data['dropped']} older entries dropped" if data["dropped"] else "")
    )


@journal.command("clear")
@client_options
@refusals
def clear(url: str | None, token: str | None) -> None:
    """Forget every journal entry."""
    cleared = connect(url, token).clear_journal()["cleared"]
    click.echo(f"cleared {cleared} entr{'ies' if cleared != 1 else 'y'}")
