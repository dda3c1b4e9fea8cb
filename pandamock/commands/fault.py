"""``pandamock fault add|update|list|show|delete|clear`` against a running emulator."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from . import client_options, connect, echo_json, key_values, number_or_text, refusals

ACTIONS = ("error", "fail", "delay", "drop", "truncate", "malformed")


_ID_FIELDS = ("panda_id", "task_id", "worker_id")


def _multi(key: str, values: tuple[str, ...]) -> Any:
    """One value, or a list of several; ids given as digits become numbers."""
    if not values:
        return None
    converted = [int(value) if key in _ID_FIELDS and value.isdigit() else value for value in values]
    return converted[0] if len(converted) == 1 else converted


def _delay(text: str | None) -> Any:
    if text is None:
        return None
    for separator in ("..", ","):
        if separator in text:
            low, _, high = text.partition(separator)
            try:
                return [float(low), float(high)]
            except ValueError:
                break
    try:
        return float(text)
    except ValueError:
        raise click.BadParameter(
            f"expected seconds (2, 0.5) or a range MIN..MAX, got {text!r}", param_hint="--delay"
        ) from None


def _rule_text(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    import yaml

    if text.startswith("@"):
        try:
            with open(text[1:], encoding="utf-8") as handle:
                text = handle.read()
        except OSError as exc:
            raise click.BadParameter(f"cannot read {text[1:]}: {exc.strerror}", param_hint="--rule") from None
    try:
        rule = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise click.BadParameter(f"not valid JSON/YAML: {exc}", param_hint="--rule") from None
    if not isinstance(rule, dict):
        raise click.BadParameter(f"expected a mapping of rule fields, got {rule!r}", param_hint="--rule")
    return rule


def rule_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Every rule field as an option (see docs/faults-and-control.md for their meaning)."""
    options = [
        click.option("--rule", "rule_text", help="Rule as JSON/YAML text, or @FILE; options below override it."),
        click.option("--id", "rule_id", help="Rule id (default rule-<n>)."),
        click.option("--description"),
        click.option("--endpoint", multiple=True, help="Glob over module/function, e.g. 'pilot/*' (repeatable)."),
        click.option("--method", multiple=True, help="HTTP method (repeatable)."),
        click.option("--identity", multiple=True, help="Scenario name, compact name or DN glob (repeatable)."),
        click.option("--production/--no-production", default=None, help="Caller has / lacks the production role."),
        click.option("--panda-id", multiple=True, help="PandaID (repeatable)."),
        click.option("--task-id", multiple=True, help="jediTaskID (repeatable)."),
        click.option("--site", multiple=True, help="Queue/site name glob (repeatable)."),
        click.option("--harvester-id", multiple=True, help="Harvester id glob (repeatable)."),
        click.option("--worker-id", multiple=True, help="Harvester worker id (repeatable)."),
        click.option("--param", multiple=True, help="Any request parameter: NAME=VALUE (repeatable)."),
        click.option("--probability", type=float, help="Chance of firing, 0-1 (seeded)."),
        click.option("--first", type=int, help="Fire on the first N matches only."),
        click.option("--after", type=int, help="Fire only after the first N matches."),
        click.option("--every", type=int, help="Fire on every Nth match."),
        click.option("--max", "max_", type=int, help="Fire at most N times."),
        click.option("--from", "from_", help="Start: seconds/duration from now ('30s', '2m') or ISO time."),
        click.option("--until", help="End: duration from now or ISO time."),
        click.option("--for", "for_", help="Duration ('120s', '5m')."),
        click.option("--period", help="Repeat every period (active --for of each)."),
        click.option("--action", type=click.Choice(ACTIONS), help="Default: error with --status, delay with --delay."),
        click.option("--status", type=int, help="HTTP status of an error: 403, 500 or 503."),
        click.option("--message", help="403/500 body text, or the message of a 'fail'."),
        click.option("--reason", help="403 body: forbidden, banned or token."),
        click.option("--retry-after", help="Retry-After of a 503 (seconds or HTTP date)."),
        click.option("--delay", help="Seconds before the answer, or MIN..MAX."),
        click.option("--when", help="before (default) or after the real call."),
        click.option("--bytes", "bytes_", type=int, help="truncate/malformed: keep N bytes."),
        click.option("--fraction", type=float, help="truncate/malformed: keep this fraction."),
        click.option("--body", help="malformed: the body to send."),
        click.option("--data", help="fail: the envelope's data, as JSON."),
        click.option("--continue", "continue_", is_flag=True, default=None, help="Let later rules fire too."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def build_rule(options: dict[str, Any]) -> dict[str, Any]:
    """The rule definition of the command-line options (unset options left out)."""
    rule = _rule_text(options.pop("rule_text", None))
    data = options.pop("data", None)
    if data is not None:
        try:
            rule["data"] = json.loads(data)
        except ValueError as exc:
            raise click.BadParameter(f"not valid JSON: {exc}", param_hint="--data") from None
    params = key_values(options.pop("param", ()), "--param")
    if params:
        rule["params"] = {key: number_or_text(value) for key, value in params.items()}
    names = {"rule_id": "id", "max_": "max", "from_": "from", "for_": "for", "continue_": "continue", "bytes_": "bytes"}
    for option, value in options.items():
        key = names.get(option, option)
        if isinstance(value, tuple):
            value = _multi(key, value)
        elif key == "delay":
            value = _delay(value)
        elif key in ("from", "until", "for", "period", "retry_after") and value is not None:
            value = number_or_text(value)
        if value is not None:
            rule[key] = value
    return rule


@click.group()
def fault() -> None:
    """Fault rules of a running emulator (see docs/faults-and-control.md).

    \b
    pandamock fault add --endpoint 'pilot/update_job' --status 503 --probability 0.3 --for 120s
    pandamock fault add --endpoint 'pilot/*' --delay 1..5
    pandamock fault add --endpoint 'pilot/update_job' --action drop --when after --first 1
    pandamock fault list
    """


@fault.command("add")
@rule_options
@click.option("--position", type=int, help="Index in the rule order (default: last).")
@click.option("--json", "as_json", is_flag=True, help="Print the installed rule as JSON.")
@client_options
@refusals
def add(url: str | None, token: str | None, position: int | None, as_json: bool, **options: Any) -> None:
    """Install a fault rule; prints its id. An invalid rule exits 2 with the reason."""
    rule = connect(url, token).add_fault(build_rule(options), position=position)
    if as_json:
        echo_json(rule)
    else:
        click.echo(f"{rule['id']}: {describe(rule)}")


@fault.command("update")
@click.argument("target", metavar="RULE_ID")
@rule_options
@click.option("--json", "as_json", is_flag=True, help="Print the rule as JSON.")
@client_options
@refusals
def update(url: str | None, token: str | None, target: str, as_json: bool, **options: Any) -> None:
    """Change fields of a rule (its counters are kept)."""
    changes = build_rule(options)
    rule = connect(url, token).update_fault(target, changes)
    if as_json:
        echo_json(rule)
    else:
        click.echo(f"{rule['id']}: {describe(rule)}")


@fault.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the rules as JSON.")
@client_options
@refusals
def list_(url: str | None, token: str | None, as_json: bool) -> None:
    """The rules in order, with their state and counters (matched, fired)."""
    rules = connect(url, token).faults()
    if as_json:
        echo_json(rules)
        return
    if not rules:
        click.echo("no fault rules")
        return
    click.echo(f"{'ID':<20} {'STATE':<9} {'MATCHED':>7} {'FIRED':>6}  RULE")
    for rule in rules:
        click.echo(f"{rule['id']:<20} {rule['state']:<9} {rule['matched']:>7} {rule['fired']:>6}  {describe(rule)}")


@fault.command("show")
@click.argument("rule_id")
@client_options
@refusals
def show(url: str | None, token: str | None, rule_id: str) -> None:
    """One rule as JSON."""
    echo_json(connect(url, token).fault(rule_id))


@fault.command("delete")
@click.argument("rule_ids", nargs=-1, required=True)
@client_options
@refusals
def delete(url: str | None, token: str | None, rule_ids: tuple[str, ...]) -> None:
    """Remove rules by id."""
    control = connect(url, token)
    for rule_id in rule_ids:
        control.delete_fault(rule_id)
        click.echo(f"deleted {rule_id}")


@fault.command("clear")
@client_options
@refusals
def clear(url: str | None, token: str | None) -> None:
    """Remove every rule (the scenario's return with `pandamock reset`)."""
    cleared = connect(url, token).clear_faults()["cleared"]
    click.echo(f"cleared {cleared} rule{'s' if cleared != 1 else ''}")


def describe(rule: dict[str, Any]) -> str:
    """One line: what a rule matches, when it fires, what it does."""
    parts = []
    endpoint = rule.get("endpoint", "*")
    parts.append(",".join(endpoint) if isinstance(endpoint, list) else endpoint)
    for key in ("method", "identity", "production", "panda_id", "task_id", "site", "harvester_id", "worker_id"):
        if key in rule:
            parts.append(f"{key}={rule[key]}")
    for key, value in (rule.get("params") or {}).items():
        parts.append(f"{key}={value}")
    action = rule.get("action")
    what = f"{rule.get('status')}" if action == "error" else action
    if rule.get("delay") is not None and action != "delay":
        what += f"+delay {rule['delay']}"
    elif action == "delay":
        what = f"delay {rule['delay']}"
    if rule.get("when") == "after":
        what += " after the call"
    gates = [f"{key} {rule[key]}" for key in ("probability", "first", "after", "every", "max") if key in rule]
    window = rule.get("window") or {}
    if window.get("from") or window.get("until"):
        gates.append(f"window {window.get('from') or '...'} .. {window.get('until') or '...'}")
    if rule.get("period"):
        gates.append(f"for {rule.get('for')} every {rule['period']}")
    if rule.get("continue"):
        gates.append("continue")
    return " ".join(parts) + f" -> {what}" + (f" [{'; '.join(gates)}]" if gates else "")
