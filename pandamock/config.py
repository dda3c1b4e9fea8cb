"""Every pandamock setting, in one place.

Each setting has a field here, a ``PANDAMOCK_<NAME>`` environment variable and a CLI flag
``--<name-with-dashes>``. This module is the only reader of ``PANDAMOCK_*`` variables; the
CLI builds its ``serve`` options from :data:`SETTINGS` so that the three stay in step.

Precedence: explicit values (CLI flags, ``create_app(config=...)``) over environment
variables over the defaults below.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

ENV_PREFIX = "PANDAMOCK_"


class ConfigError(ValueError):
    """A setting has a value that cannot be used; the message names the setting."""


@dataclass(frozen=True)
class SettingSpec:
    """Description of one setting: how it is named on the command line and in the environment."""

    name: str
    kind: str  # "str", "int", "float", "bool", "list", "choice"
    help: str
    choices: tuple[str, ...] = ()
    serve: bool = True  # a flag of `pandamock serve` (False: only of the client commands)

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


def _spec(kind: str, help: str, default: Any, choices: tuple[str, ...] = (), serve: bool = True) -> Any:
    return field(default=default, metadata={"kind": kind, "help": help, "choices": choices, "serve": serve})


def _list_spec(help: str) -> Any:
    return field(default_factory=tuple, metadata={"kind": "list", "help": help, "choices": ()})


@dataclass(frozen=True)
class Settings:
    """The emulator's configuration. Immutable; use :meth:`with_overrides` to derive one."""

    host: str = _spec("str", "Address to bind (the real server uses its host name; tests use 127.0.0.1).", "127.0.0.1")
    port: int = _spec("int", "HTTP port (the real server's plain-HTTP port is 25080; 0 picks a free one).", 25080)
    https_port: int = _spec(
        "int",
        "HTTPS port, client certificates optional (the real server's is 25443); 0 picks a free one, -1 disables HTTPS.",
        25443,
    )
    tls_dir: str | None = _spec(
        "str", "Directory of the local CA, certificates and token key (default ~/.config/pandamock/tls).", None
    )
    scenario: str = _spec("str", "Scenario to load: a shipped scenario name or a path to a YAML file.", "default")
    seed: int | None = _spec("int", "Seed for every generated value; overrides the scenario's seed.", None)
    state_file: str | None = _spec(
        "str", "Keep the state in this TinyDB document file (durable across restarts and kill -9).", None
    )
    auth_mode: str = _spec(
        "choice",
        "open: a request without credentials acts as the default identity; strict: the real server's rules.",
        "open",
        ("open", "strict"),
    )
    identity: str | None = _spec(
        "str", "Name of the scenario identity that credential-less requests act as in open mode.", None
    )
    production_dns: tuple[str, ...] = _list_spec(
        "DN substrings that always have the production role (the server's production_dns), comma-separated."
    )
    data_dir: str | None = _spec(
        "str", "Directory of the file server's files (cache, JEDI logs); default: a temporary directory.", None
    )
    max_upload_mb: int = _spec(
        "int", "Upload size cap in MB, on top of the real server's per-endpoint limits (0: those limits only).", 768
    )
    trf_url: str | None = _spec(
        "str",
        "Base URL of the payload scripts in dispatched jobs (default: <the URL the pilot used>/trf/user); "
        "for pilots that trust fixed hosts only, e.g. http://pandaserver-doma.cern.ch:25080/trf/user "
        "with the pilot's http_proxy set to pandamock.",
        None,
    )
    threads: int = _spec("int", "Worker threads of the HTTP server.", 16)
    journal_size: int = _spec("int", "Number of requests the journal keeps (the oldest are dropped).", 10000)
    journal_file: str | None = _spec("str", "Also append every journal entry to this JSON-lines file.", None)
    control: bool = _spec("bool", "Serve the /_pandamock/ control plane (health stays available when off).", True)
    control_token: str | None = _spec(
        "str", "Token the control plane requires (Authorization: Bearer <token>); none: no token needed.", None
    )
    url: str = _spec(
        "str",
        "URL of the running pandamock that the client commands (fault, clock, journal, state, reset) talk to.",
        "http://127.0.0.1:25080",
        serve=False,
    )
    log_level: str = _spec("choice", "Logging level of the server.", "info", ("debug", "info", "warning", "error"))

    @classmethod
    def specs(cls) -> list[SettingSpec]:
        """The description of every setting, in declaration order."""
        return [
            SettingSpec(
                f.name, f.metadata["kind"], f.metadata["help"], f.metadata["choices"], f.metadata.get("serve", True)
            )
            for f in fields(cls)
        ]

    @classmethod
    def load(cls, overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from the environment, then apply explicit ``overrides`` (None values ignored)."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for spec in cls.specs():
            raw = environ.get(spec.env)
            if raw is not None and raw != "":
                values[spec.name] = _convert(spec, raw, source=spec.env)
        settings = cls(**values)
        return settings.with_overrides(overrides or {})

    def with_overrides(self, overrides: Mapping[str, Any]) -> Settings:
        """A copy with the given values replaced; strings are converted like environment values."""
        known = {spec.name: spec for spec in self.specs()}
        values: dict[str, Any] = {}
        for name, value in overrides.items():
            if name not in known:
                raise ConfigError(f"unknown setting {name!r}; known settings: {', '.join(sorted(known))}")
            if value is None:
                continue
            spec = known[name]
            values[name] = _convert(spec, value, source=spec.flag) if isinstance(value, str) else _check(spec, value)
        return replace(self, **values)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _check(spec: SettingSpec, value: Any) -> Any:
    if spec.kind == "list":
        return tuple(value)
    if spec.kind == "choice" and value not in spec.choices:
        raise ConfigError(f"{spec.name}: expected one of {', '.join(spec.choices)}, got {value!r}")
    return value


def _convert(spec: SettingSpec, raw: str, source: str) -> Any:
    try:
        if spec.kind == "int":
            return int(raw)
        if spec.kind == "float":
            return float(raw)
        if spec.kind == "bool":
            lowered = raw.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if spec.kind == "list":
            return tuple(item.strip() for item in raw.split(",") if item.strip())
        if spec.kind == "choice":
            return _check(spec, raw.strip().lower())
        return raw
    except ConfigError:
        raise
    except ValueError:
        raise ConfigError(
            f"{source}: expected {'an integer' if spec.kind == 'int' else spec.kind}, got {raw!r}"
        ) from None
