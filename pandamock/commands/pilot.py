"""``pandamock pilot-env``: the exact command line and environment that run a real pilot3 against a
running pandamock on one queue (docs/pilot-legacy.md).

It reads the queue's documents from the running emulator (``/cache/schedconfig/<queue>.all.json``
and ``/cache/ddmendpoints.json``: the queue must exist, and they name the storage directory the
``mv`` copytool reads inputs from), issues a token for a scenario identity (signed by the
emulator's key, so strict mode accepts it too), and prints a shell script — or the same as JSON.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from . import EXIT_FAILURE, EXIT_USAGE

#: What a pilot needs in any case: never kill processes of the same user (pilot3's orphan killer).
SAFETY_ENV = {"PILOT_NOKILL": "1"}
#: The trf host that old pilot3 releases (without ``--baseurls``) trust for the generic plug-in.
OLD_PILOT_TRF_URL = "http://pandaserver-doma.cern.ch:25080/trf/user"


class PilotEnvError(Exception):
    """The running emulator or the scenario cannot give what the pilot needs."""

    def __init__(self, message: str, status: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.status = status


def _get_json(url: str) -> Any:
    import requests

    try:
        response = requests.get(url, timeout=10, proxies={"http": None, "https": None})
    except requests.RequestException as exc:
        raise PilotEnvError(f"cannot reach pandamock at {url}: {exc}") from None
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        raise PilotEnvError(f"{url} answered HTTP {response.status_code}")
    try:
        return response.json()
    except ValueError:
        raise PilotEnvError(f"{url} did not answer JSON") from None


def _identity(scenario: str, name: str | None) -> dict:
    from ..engine.world import user_record
    from ..scenario import ScenarioError, load

    try:
        loaded = load(scenario)
    except ScenarioError as exc:
        raise PilotEnvError(str(exc), EXIT_USAGE) from None
    users = [user_record(identity) for identity in loaded.identities]
    if name is not None:
        found = [user for user in users if user["name"] == name]
        if not found:
            known = ", ".join(user["name"] for user in users) or "none"
            raise PilotEnvError(f"no identity {name!r} in scenario {scenario!r} (identities: {known})", EXIT_USAGE)
        return found[0]
    for user in users:
        if user.get("default"):
            return user
    for user in users:
        if user.get("production") and not user.get("banned"):
            return user
    raise PilotEnvError(f"scenario {scenario!r} has no identity a pilot could use; pass --identity", EXIT_USAGE)


def pilot_environment(
    url: str,
    queue: str,
    *,
    run_dir: str | None = None,
    pilot: str = "pilot.py",
    python: str = "python3",
    label: str = "managed",
    pilot_user: str = "generic",
    identity: str | None = None,
    scenario: str = "default",
    tls_dir: str | None = None,
    old_pilot: bool = False,
) -> dict[str, Any]:
    """Everything to run pilot3 on ``queue`` of the pandamock at ``url``: ``command`` (argv),
    ``environment`` (to set), ``unset`` (to remove), ``token`` and ``token_file`` (to write without
    a trailing newline), ``run_dir``, ``input_dir``, ``origin``."""
    from ..config import Settings
    from ..tls import tls_dir as resolve_tls_dir
    from ..tokens import TokenAuthority

    base = url.rstrip("/")
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PilotEnvError(f"--url must be http(s)://host:port, got {url!r}", EXIT_USAGE)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    queuedata = _get_json(f"{base}/cache/schedconfig/{queue}.all.json")
    if queuedata is None:
        raise PilotEnvError(f"pandamock at {base} has no queue {queue!r}", EXIT_USAGE)
    endpoints = _get_json(f"{base}/cache/ddmendpoints.json") or {}
    rse = ((queuedata.get("astorages") or {}).get("read_lan") or [queuedata.get("ddm")])[0]
    endpoint = endpoints.get(rse) or {}
    protocols = (endpoint.get("arprotocols") or {}).get("read_lan") or []
    if not protocols:
        raise PilotEnvError(f"pandamock at {base} has no storage endpoint {rse!r} for queue {queue!r}")
    input_dir = protocols[0]["path"]

    settings = Settings.load({"tls_dir": tls_dir})
    user = _identity(scenario, identity)
    vo = user.get("vo") or "atlas"
    groups = set(user.get("groups") or ())
    role = next((role for role in ("pilot", "production") if f"{vo}/{role}" in groups), None)
    token = TokenAuthority(resolve_tls_dir(settings)).issue(user, role=role)
    origin = f"{vo}.{role}" if role else vo

    run = Path(run_dir or f"/tmp/pandamock-pilot/{queue}")
    host = f"{parts.scheme}://{parts.hostname}"
    environment = dict(SAFETY_ENV)
    environment.update(
        {
            "OIDC_AUTH_TOKEN": str(run / "token"),
            "OIDC_AUTH_ORIGIN": origin,
            "LOCAL_AGIS_SCHEDCONF": f"{base}/cache/schedconfig/{queue}.json",
            "no_proxy": "127.0.0.1,localhost",
            "NO_PROXY": "127.0.0.1,localhost",
        }
    )
    unset = ["https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "X509_USER_PROXY"]
    if old_pilot:
        # the payload script comes from the built-in trf host, through pandamock as HTTP proxy
        environment["http_proxy"] = base
        unset = [name for name in unset if name != "http_proxy"]
    command = [python, pilot, "-q", queue, "--pilot-user", pilot_user, "-w", "generic", "-j", label]
    command += ["--url", host, "-p", str(port)]
    command += ["--queuedata-url", f"{base}/cache/schedconfig/{{pandaqueue}}.all.json"]
    command += ["--storagedata-url", f"{base}/cache/ddmendpoints.json"]
    if not old_pilot:
        command += ["--baseurls", f"{base}/trf/user", "-b"]
    command += ["--input-destination-dir", input_dir, "-a", str(run / "work"), "-d", "--cleanup", "False"]
    return {
        "url": base,
        "queue": queue,
        "run_dir": str(run),
        "input_dir": input_dir,
        "token_file": str(run / "token"),
        "token": token,
        "origin": origin,
        "identity": user["name"],
        "environment": environment,
        "unset": unset,
        "command": command,
        "trf_url": OLD_PILOT_TRF_URL if old_pilot else f"{base}/trf/user",
    }


def shell_script(env: dict[str, Any], old_pilot: bool = False) -> str:
    """The environment as a bash script that writes the token and runs the pilot."""
    q = shlex.quote
    lines = [
        "#!/bin/bash",
        f"# pilot3 against pandamock at {env['url']}, queue {env['queue']} (pandamock pilot-env)",
        "# PILOT_NOKILL=1 keeps the pilot from killing orphan processes of your user (pandamock among them).",
        "# Safer still, run this script in its own PID namespace:",
        "#   unshare --pid --fork --mount-proc --map-root-user bash <this script>",
    ]
    if old_pilot:
        lines.append(f"# Old pilot3 (no --baseurls): serve pandamock with --trf-url {OLD_PILOT_TRF_URL}")
    lines += [
        "set -e",
        f"mkdir -p {q(env['run_dir'])}/work",
        f"printf '%s' {q(env['token'])} > {q(env['token_file'])}",
    ]
    lines += [f"unset {' '.join(env['unset'])}"]
    lines += [f"export {name}={q(value)}" for name, value in env["environment"].items()]
    lines.append("exec " + " ".join(q(arg) for arg in env["command"]))
    return "\n".join(lines) + "\n"


@click.command("pilot-env")
@click.option("--queue", "-q", required=True, help="PanDA queue of the running pandamock (e.g. PANDAMOCK_PILOT).")
@click.option(
    "--url", default=None, help="URL of the running pandamock [env PANDAMOCK_URL; default http://127.0.0.1:25080]."
)
@click.option(
    "--run-dir",
    default=None,
    help="Scratch directory: token and pilot work dir [default /tmp/pandamock-pilot/<queue>].",
)
@click.option("--pilot", "pilot_path", default="pilot.py", show_default=True, help="pilot3's pilot.py.")
@click.option("--python", default="python3", show_default=True, help="Python that runs the pilot.")
@click.option("--label", "-j", default="managed", show_default=True, help="The pilot's job label (-j).")
@click.option("--pilot-user", default="generic", show_default=True, help="The pilot's plug-in (--pilot-user).")
@click.option("--identity", default=None, help="Scenario identity the token is for [default: the default identity].")
@click.option("--scenario", default=None, help="Scenario with that identity [env PANDAMOCK_SCENARIO; default default].")
@click.option("--tls-dir", default=None, help="Directory of the key that signs the token [env PANDAMOCK_TLS_DIR].")
@click.option(
    "--old-pilot",
    is_flag=True,
    help="pilot3 without --baseurls (e.g. 3.7): fetch the payload script from its built-in trf host through "
    f"pandamock as http_proxy (serve with --trf-url {OLD_PILOT_TRF_URL}).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the environment as JSON instead of a shell script.")
def pilot_env(
    queue: str,
    url: str | None,
    run_dir: str | None,
    pilot_path: str,
    python: str,
    label: str,
    pilot_user: str,
    identity: str | None,
    scenario: str | None,
    tls_dir: str | None,
    old_pilot: bool,
    as_json: bool,
) -> None:
    """Print the command line and environment that run a real pilot3 on QUEUE of a running pandamock.

    Run the printed script from pilot3's directory (or pass --pilot). It always sets
    PILOT_NOKILL=1. Afterwards look at the job with `pandamock journal` or job/get_status.
    """
    from ..config import ConfigError, Settings

    try:
        settings = Settings.load({"url": url, "scenario": scenario, "tls_dir": tls_dir})
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    try:
        env = pilot_environment(
            settings.url,
            queue,
            run_dir=run_dir,
            pilot=pilot_path,
            python=python,
            label=label,
            pilot_user=pilot_user,
            identity=identity,
            scenario=settings.scenario,
            tls_dir=settings.tls_dir,
            old_pilot=old_pilot,
        )
    except PilotEnvError as exc:
        click.echo(f"pandamock: {exc}", err=True)
        sys.exit(exc.status)
    if as_json:
        click.echo(json.dumps(env, indent=2))
    else:
        click.echo(shell_script(env, old_pilot), nl=False)
