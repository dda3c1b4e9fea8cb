"""``pandamock simulate``: a fleet of simulated pilots against a running emulator or PanDA server."""

from __future__ import annotations

import json
import sys
from typing import Any

import click


@click.command()
@click.option("--url", required=True, help="Base URL of the server, e.g. http://127.0.0.1:25080 (/api/v1 is added).")
@click.option("--pilots", "-n", type=click.IntRange(min=1), default=10, show_default=True, help="Concurrent pilots.")
@click.option("--queue", "-q", required=True, help="PanDA queue (site_name) the pilots ask jobs for.")
@click.option(
    "--duration",
    type=click.FloatRange(min=0),
    default=None,
    help="Run this many seconds (default: until the queue is empty).",
)
@click.option("--jobs", type=click.IntRange(min=0), default=None, help="Stop after this many jobs in total.")
@click.option(
    "--failure-rate",
    type=click.FloatRange(0.0, 1.0),
    default=0.0,
    show_default=True,
    help="Fraction of jobs that fail.",
)
@click.option("--event-service", is_flag=True, help="Process the event ranges of event-service jobs.")
@click.option("--heartbeats", type=click.IntRange(min=0), default=2, show_default=True, help="Running updates per job.")
@click.option(
    "--heartbeat-interval",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Seconds between heartbeats.",
)
@click.option(
    "--ranges", "n_ranges", type=click.IntRange(min=1), default=8, show_default=True, help="Event ranges per request."
)
@click.option("--prod-source-label", default=None, help="prodSourceLabel to ask for (user, managed, ...).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the simulated outcomes.")
@click.option("--token", default=None, help="Bearer token (OIDC) to send.")
@click.option("--origin", default=None, help="Origin header with the token (<vo> or <vo>:<role>).")
@click.option("--identity", default=None, help="pandamock identity to act as (X-Pandamock-Identity, open mode).")
@click.option("--cert", default=None, help="Client certificate (PEM) for https.")
@click.option("--key", default=None, help="Key of the client certificate.")
@click.option("--insecure", is_flag=True, help="Do not verify the server certificate (https).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--quiet", is_flag=True, help="No live progress.")
def simulate(
    url: str,
    pilots: int,
    queue: str,
    duration: float | None,
    jobs: int | None,
    failure_rate: float,
    event_service: bool,
    heartbeats: int,
    heartbeat_interval: float,
    n_ranges: int,
    prod_source_label: str | None,
    seed: int,
    token: str | None,
    origin: str | None,
    identity: str | None,
    cert: str | None,
    key: str | None,
    insecure: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Run N simulated pilots on a queue: acquire -> starting -> running heartbeats -> finished/failed
    (with realistic metrics and error codes; event ranges for event-service jobs), with live
    progress and a summary (jobs run, failures by reason, requests/s, p50/p99 per endpoint)."""
    from ..simulate import Fleet, format_summary, progress_line

    headers: dict[str, str] = {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
        headers["Origin"] = origin or "atlas"
    if identity:
        headers["X-Pandamock-Identity"] = identity
    certificate: Any = (cert, key) if cert and key else cert
    fleet = Fleet(
        url,
        pilots=pilots,
        queue=queue,
        duration=duration,
        jobs=jobs,
        failure_rate=failure_rate,
        event_service=event_service,
        heartbeats=heartbeats,
        heartbeat_interval=heartbeat_interval,
        n_ranges=n_ranges,
        prod_source_label=prod_source_label,
        seed=seed,
        headers=headers,
        cert=certificate,
        verify=not insecure,
    )
    interactive = sys.stderr.isatty()
    shown = {"last": 0.0}

    def progress(current: Fleet) -> None:
        if quiet:
            return
        if interactive:
            click.echo("\r" + progress_line(current), nl=False, err=True)
        elif current.elapsed() - shown["last"] >= 5:  # a line every 5 s when not on a terminal
            shown["last"] = current.elapsed()
            click.echo(progress_line(current), err=True)

    result = fleet.run(progress=progress)
    if interactive and not quiet:
        click.echo("", err=True)
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
    else:
        click.echo(format_summary(result))
    if result.errors:
        sys.exit(1)  # a pilot broke off (server unreachable, unexpected answer)
