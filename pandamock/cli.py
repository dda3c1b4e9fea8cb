"""The ``pandamock`` command.

``serve`` takes one flag per setting (generated from :class:`pandamock.config.Settings`, so
flags, ``PANDAMOCK_*`` variables and the README's table stay in step).
"""

from __future__ import annotations

import gc
import json
import logging
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

import click

from . import __version__
from .commands import tls as tls_commands
from .config import ConfigError, Settings, SettingSpec

EXIT_USAGE = 2


def _setting_option(spec: SettingSpec) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    help_text = f"{spec.help} [env {spec.env}]"
    if spec.kind == "choice":
        return click.option(spec.flag, spec.name, type=click.Choice(spec.choices), default=None, help=help_text)
    if spec.kind == "int":
        return click.option(spec.flag, spec.name, type=int, default=None, help=help_text)
    if spec.kind == "bool":
        negative = "--no-" + spec.flag[2:]
        return click.option(f"{spec.flag}/{negative}", spec.name, default=None, help=help_text)
    if spec.kind == "list":
        return click.option(spec.flag, spec.name, type=str, default=None, help=help_text + " (comma-separated)")
    return click.option(spec.flag, spec.name, type=str, default=None, help=help_text)


def settings_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add one option per setting to a click command."""
    for spec in reversed([spec for spec in Settings.specs() if spec.serve]):
        command = _setting_option(spec)(command)
    return command


def load_settings(options: dict[str, Any]) -> Settings:
    try:
        return Settings.load({name: value for name, value in options.items() if value is not None})
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, "--version", "-V", prog_name="pandamock")
def main() -> None:
    """pandamock: a local emulator of the PanDA server's HTTP API v1.

    Start it with `pandamock serve`, then point a pilot, harvester or panda-client at
    http://127.0.0.1:25080 or https://127.0.0.1:25443 (see `pandamock serve --help` for every
    setting, `pandamock certs` for certificates and `pandamock token` for tokens).
    """


@main.command()
@settings_options
def serve(**options: Any) -> None:
    """Run the emulator on its scenario until Ctrl-C or SIGTERM.

    Prints the URL it serves (also with --port 0, which picks a free port).
    """
    from .app import create_app
    from .engine.persistence import StateFileError
    from .scenario import ScenarioError
    from .server import MockServer
    from .tls import TLSError, https_server

    settings = load_settings(options)
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        app = create_app(settings)
    except (ScenarioError, StateFileError) as exc:
        click.echo(f"pandamock: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    # the loaded world lives as long as the server: keep it out of the cyclic garbage collector's
    # full passes (about a second per pass for a world of a million records)
    gc.collect()
    gc.freeze()
    server = MockServer(app, host=settings.host, port=settings.port, threads=settings.threads)
    try:
        secure = https_server(app, settings)
    except (OSError, TLSError) as exc:
        app.extensions["pandamock"].close()
        click.echo(f"pandamock: cannot set up HTTPS in {settings.tls_dir or 'the config directory'}: {exc}", err=True)
        sys.exit(1)
    for listener, port in ((server, settings.port), (secure, settings.https_port)):
        try:
            if listener is not None:
                listener.start()
        except OSError as exc:
            click.echo(f"pandamock: cannot listen on {settings.host}:{port}: {exc.strerror or exc}", err=True)
            server.stop()
            app.extensions["pandamock"].close()
            sys.exit(1)
    emulator = app.extensions["pandamock"]
    urls = server.url + (f" and {secure.url}" if secure is not None else "")
    if settings.control and not settings.control_token and settings.host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(
            f"pandamock: warning: the control plane (/_pandamock/) is open to anyone who reaches "
            f"{settings.host}; set --control-token or --no-control",
            err=True,
        )
    state = f", state file {emulator.state.path}" if emulator.state is not None else ""
    click.echo(
        f"pandamock {__version__} serving {urls} (scenario {emulator.scenario.name}{state}, "
        f"auth {settings.auth_mode}); Ctrl-C to stop",
        err=False,
    )
    if settings.control:
        click.echo(f"pandamock: dashboard at {server.url}/_pandamock/ui/")
    sys.stdout.flush()
    stop = threading.Event()

    def request_stop(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        click.echo("pandamock: stopping", err=True)
        server.stop()
        if secure is not None:
            secure.stop()
        emulator.journal.shutdown()
        emulator.close()


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the routes as a JSON list.")
def routes(as_json: bool) -> None:
    """List every /api/v1 endpoint: method, path and flags (S secure, P production role, O task owner, R raw)."""
    from .api.registry import discover

    registry = discover()
    rows = [
        {
            "method": spec.method or "ANY",
            "path": spec.path,
            "secure": spec.secure,
            "production": spec.production,
            "task_owner": spec.task_owner,
            "raw": spec.raw,
            "parameters": [param.name for param in spec.params],
            "summary": spec.summary,
        }
        for spec in registry
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        flags = "".join(
            letter if row[name] else "-"
            for letter, name in (("S", "secure"), ("P", "production"), ("O", "task_owner"), ("R", "raw"))
        )
        click.echo(f"{row['method']:<5} {flags}  {row['path']:<58} {row['summary']}")
    click.echo(f"{len(rows)} endpoints", err=True)


@main.group()
def scenario() -> None:
    """Shipped scenarios and scenario files."""


def _register_scenario_commands() -> None:
    from .commands.scenario import scenario_generate, scenario_schema

    scenario.add_command(scenario_generate)
    scenario.add_command(scenario_schema)


_register_scenario_commands()


@scenario.command("list")
def scenario_list() -> None:
    """List the shipped scenarios with their descriptions."""
    from .scenario import load, shipped_scenarios

    for name, path in shipped_scenarios().items():
        description = load(path).description.strip().splitlines()
        click.echo(f"{name:<24} {description[0] if description else ''}")


@scenario.command("validate")
@click.argument("reference")
def scenario_validate(reference: str) -> None:
    """Check a scenario file (or shipped name); exit 2 with every problem and its path."""
    from .scenario import ScenarioError, load

    try:
        loaded = load(reference)
    except ScenarioError as exc:
        click.echo(f"pandamock: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    click.echo(f"{reference}: valid scenario {loaded.name!r}")


@scenario.command("show")
@click.argument("reference")
def scenario_show(reference: str) -> None:
    """Print a scenario (shipped name or path) after validation, as YAML."""
    import yaml

    from .scenario import ScenarioError, load

    try:
        loaded = load(reference)
    except ScenarioError as exc:
        click.echo(f"pandamock: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    click.echo(yaml.safe_dump(loaded.as_dict(), sort_keys=False, allow_unicode=True))


main.add_command(tls_commands.certs)
main.add_command(tls_commands.token)
# --- client commands (talk to a running emulator's control plane) ----------------------------
from .commands import clock, fault, journal, state  # noqa: E402

main.add_command(fault.fault)
main.add_command(clock.clock)
main.add_command(journal.journal)
main.add_command(state.state)
main.add_command(state.reset)
main.add_command(state.status)
from .commands.simulate import simulate  # noqa: E402

main.add_command(simulate)
from .commands.pilot import pilot_env  # noqa: E402

main.add_command(pilot_env)


if __name__ == "__main__":  # pragma: no cover
    main()
