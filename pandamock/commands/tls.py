"""``pandamock certs`` (the local CA, user certificates, proxies) and ``pandamock token`` (signed JWTs).

Both read the ``tls_dir`` and ``scenario`` settings (flags, then ``PANDAMOCK_*`` variables, then
defaults), so that they work on the same directory and identities as ``pandamock serve``.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ..config import ConfigError, Settings

EXIT_USAGE = 2


def _common_options(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option(
        "--scenario", "scenario", default=None, help="Scenario whose identities to use [env PANDAMOCK_SCENARIO]."
    )(command)
    return click.option(
        "--tls-dir",
        "tls_dir",
        default=None,
        help="Directory of the local CA (default ~/.config/pandamock/tls) [env PANDAMOCK_TLS_DIR].",
    )(command)


def _settings(tls_dir: str | None, scenario: str | None) -> Settings:
    try:
        return Settings.load({"tls_dir": tls_dir, "scenario": scenario})
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None


def _ca(settings: Settings) -> Any:
    from ..tls import LocalCA, TLSError, tls_dir

    try:
        return LocalCA(tls_dir(settings)).ensure()
    except (OSError, TLSError) as exc:
        click.echo(f"pandamock: cannot use the CA directory {tls_dir(settings)}: {exc}", err=True)
        sys.exit(1)


def _identities(settings: Settings) -> dict[str, dict]:
    """The scenario's identities as ``users`` records (name, dn, vo, fqans, groups ...)."""
    from ..engine.world import user_record
    from ..scenario import ScenarioError, load

    try:
        loaded = load(settings.scenario)
    except ScenarioError as exc:
        click.echo(f"pandamock: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    return {identity["name"]: user_record(identity) for identity in loaded.identities}


def _identity(settings: Settings, name: str) -> dict:
    identities = _identities(settings)
    if name not in identities:
        known = ", ".join(identities) or "none"
        click.echo(f"pandamock: no identity {name!r} in scenario {settings.scenario!r} (identities: {known})", err=True)
        sys.exit(EXIT_USAGE)
    return identities[name]


def _issued(make: Callable[[], Any]) -> Any:
    """Run a certificate request; a DN the CA cannot use (or an unwritable file) ends the command."""
    from ..tls import TLSError

    try:
        return make()
    except TLSError as exc:
        click.echo(f"pandamock: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    except OSError as exc:
        click.echo(f"pandamock: {exc}", err=True)
        sys.exit(1)


def _https_base(settings: Settings) -> str | None:
    if settings.https_port <= 0:
        return None
    host = settings.host if settings.host not in ("", "0.0.0.0", "::") else "127.0.0.1"
    return f"https://{host}:{settings.https_port}"


# -- certs -------------------------------------------------------------------------------------
@click.group(invoke_without_command=True)
@_common_options
@click.pass_context
def certs(ctx: click.Context, tls_dir: str | None, scenario: str | None) -> None:
    """The local CA and the certificates it issues (created on first use).

    Without a subcommand: where everything is. Subcommands print a file or write it where asked.
    """
    ctx.ensure_object(dict)
    ctx.obj.update(tls_dir=tls_dir, scenario=scenario)
    if ctx.invoked_subcommand is not None:
        return
    settings = _settings(tls_dir, scenario)
    ca = _ca(settings)
    click.echo(f"CA directory:            {ca.directory}")
    click.echo(f"CA certificate (bundle): {ca.ca_file}")
    click.echo(f"X509_CERT_DIR:           {ca.cert_dir}")
    click.echo(f"identities:              {', '.join(_identities(settings))}")
    click.echo("see `pandamock certs user NAME`, `pandamock certs proxy NAME` and `pandamock certs env NAME`")


def _sub_settings(ctx: click.Context, tls_dir: str | None, scenario: str | None) -> Settings:
    parent = ctx.obj or {}
    return _settings(tls_dir or parent.get("tls_dir"), scenario or parent.get("scenario"))


@certs.command("ca")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Write the CA bundle to this file.")
@_common_options
@click.pass_context
def certs_ca(ctx: click.Context, out: str | None, tls_dir: str | None, scenario: str | None) -> None:
    """Print the CA certificate (PEM), or write it with --out (e.g. for REQUESTS_CA_BUNDLE)."""
    ca = _ca(_sub_settings(ctx, tls_dir, scenario))
    if out is None:
        click.echo(ca.ca_file.read_text(), nl=False)
        return
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ca.ca_file, out)
    click.echo(out)


@certs.command("cert-dir")
@click.option(
    "--out", type=click.Path(file_okay=False), default=None, help="Copy the hashed CA file into this directory."
)
@_common_options
@click.pass_context
def certs_cert_dir(ctx: click.Context, out: str | None, tls_dir: str | None, scenario: str | None) -> None:
    """Print the X509_CERT_DIR-style directory (the CA as <hash>.0), or copy it into --out."""
    ca = _ca(_sub_settings(ctx, tls_dir, scenario))
    if out is None:
        click.echo(ca.cert_dir)
        return
    Path(out).mkdir(parents=True, exist_ok=True)
    for path in sorted(ca.cert_dir.glob("*.0")):
        shutil.copyfile(path, Path(out) / path.name)
    click.echo(out)


@certs.command("user")
@click.argument("name")
@click.option(
    "--out-dir", type=click.Path(file_okay=False), default=None, help="Also copy usercert.pem/userkey.pem here."
)
@_common_options
@click.pass_context
def certs_user(ctx: click.Context, name: str, out_dir: str | None, tls_dir: str | None, scenario: str | None) -> None:
    """Issue (once) the user certificate of identity NAME with its scenario DN; print cert and key paths."""
    settings = _sub_settings(ctx, tls_dir, scenario)
    identity = _identity(settings, name)
    ca = _ca(settings)
    cert_file, key_file = _issued(lambda: ca.user_files(name, identity["dn"]))
    if out_dir is not None:
        from ..tls import _write

        target = Path(out_dir)
        _write(target / "usercert.pem", cert_file.read_bytes())
        _write(target / "userkey.pem", key_file.read_bytes(), private=True)
        cert_file, key_file = target / "usercert.pem", target / "userkey.pem"
    click.echo(cert_file)
    click.echo(key_file)


@certs.command("proxy")
@click.argument("name")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Write the proxy file here.")
@click.option("--hours", type=float, default=12.0, show_default=True, help="Lifetime (negative: already expired).")
@click.option("--limited", is_flag=True, help="A limited proxy (/CN=limited proxy), refused by secure endpoints.")
@_common_options
@click.pass_context
def certs_proxy(
    ctx: click.Context,
    name: str,
    out: str | None,
    hours: float,
    limited: bool,
    tls_dir: str | None,
    scenario: str | None,
) -> None:
    """Write a new RFC 3820 proxy of identity NAME (an X509_USER_PROXY file); print its path."""
    settings = _sub_settings(ctx, tls_dir, scenario)
    identity = _identity(settings, name)
    ca = _ca(settings)
    lifetime = dt.timedelta(hours=hours)
    path = _issued(lambda: ca.write_proxy(name, identity["dn"], out, lifetime=lifetime, limited=limited))
    click.echo(path)


@certs.command("env")
@click.argument("name")
@_common_options
@click.pass_context
def certs_env(ctx: click.Context, name: str, tls_dir: str | None, scenario: str | None) -> None:
    """Shell exports pointing grid clients (panda-client, pilot, harvester) at the HTTPS port as NAME.

    Makes a fresh proxy. Use: eval "$(pandamock certs env jdoe)".
    """
    settings = _sub_settings(ctx, tls_dir, scenario)
    identity = _identity(settings, name)
    ca = _ca(settings)
    cert_file, key_file = _issued(lambda: ca.user_files(name, identity["dn"]))
    proxy = _issued(lambda: ca.write_proxy(name, identity["dn"]))
    exports = {
        "X509_USER_PROXY": proxy,
        "X509_USER_CERT": cert_file,
        "X509_USER_KEY": key_file,
        "X509_CERT_DIR": ca.cert_dir,
    }
    base = _https_base(settings)
    if base is not None:
        exports.update(
            PANDA_URL_SSL=f"{base}/server/panda",
            PANDA_URL=f"{base}/server/panda",
            PANDACACHE_URL=f"{base}/server/panda",
            PANDA_BEHIND_REAL_LB="1",
        )
    for key, value in exports.items():
        click.echo(f"export {key}={_quote(str(value))}")


def _quote(value: str) -> str:
    import shlex

    return shlex.quote(value)


# -- token -------------------------------------------------------------------------------------
@click.command()
@click.option("--user", "user", default=None, help="Scenario identity the token is for (e.g. jdoe).")
@click.option("--role", default=None, help="VO role to use in Origin (e.g. production); must be one of the user's.")
@click.option("--vo", default=None, help="VO (default: the identity's).")
@click.option("--group", "groups", multiple=True, help="Extra group to put in the token (repeatable).")
@click.option("--lifetime", type=int, default=86400, show_default=True, help="Seconds (negative: already expired).")
@click.option("--name", default=None, help="The name claim (default: the identity's compact user name).")
@click.option(
    "--format",
    "output",
    type=click.Choice(["token", "json", "env"]),
    default="token",
    show_default=True,
    help="token: the JWT alone; json: token, Origin and claims; env: panda-client exports.",
)
@click.option("--jwks", is_flag=True, help="Print the public key set (JWKS) instead of issuing a token.")
@_common_options
def token(
    user: str | None,
    role: str | None,
    vo: str | None,
    groups: tuple[str, ...],
    lifetime: int,
    name: str | None,
    output: str,
    jwks: bool,
    tls_dir: str | None,
    scenario: str | None,
) -> None:
    """Issue an OIDC ID token (RS256 JWT) signed by the emulator's key, accepted in strict mode.

    Send it as `Authorization: Bearer <token>` with `Origin: <vo>` or `Origin: <vo>:<role>`.
    """
    from ..tls import tls_dir as resolve_tls_dir
    from ..tokens import TokenAuthority

    settings = _settings(tls_dir, scenario)
    authority = TokenAuthority(resolve_tls_dir(settings))
    if jwks:
        click.echo(json.dumps(authority.jwks(), indent=2))
        return
    if not user:
        raise click.UsageError("--user is required (a scenario identity, e.g. jdoe)")
    identity = _identity(settings, user)
    try:
        claims = authority.claims_for(identity, vo=vo, role=role, extra_groups=groups, lifetime=lifetime, name=name)
    except ValueError as exc:
        click.echo(f"pandamock: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    signed = authority.sign(claims)
    vo_name = vo or identity.get("vo") or "atlas"
    origin = f"{vo_name}:{role}" if role else vo_name
    if output == "json":
        click.echo(json.dumps({"token": signed, "origin": origin, "claims": claims}, indent=2))
    elif output == "env":
        click.echo("export PANDA_AUTH=oidc")
        click.echo(f"export PANDA_AUTH_VO={_quote(origin)}")
        click.echo(f"export PANDA_AUTH_ID_TOKEN={_quote(signed)}")
    else:
        click.echo(signed)
