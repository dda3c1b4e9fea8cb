"""What the pytest plugin hands to tests: emulators kept for a session, the per-test handle, journal
assertions and an in-process PanDA test client. Usable without pytest too.

The plugin (:mod:`pandamock.pytest_plugin`) imports this module only when a test asks for one of
its fixtures. A session keeps one emulator per configuration (scenario, seed, auth mode, extra
settings) in an :class:`EmulatorPool`; before each test the chosen emulator is reset to its
scenario (microseconds to milliseconds), given the test's identity, fault rules and clock, and,
for the live fixture, put behind the session's one HTTP server (port 0 on 127.0.0.1). A test that
asks for another scenario gets that scenario's emulator; the session default is untouched and
serves the next test again.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask.testing import FlaskClient

from .app import create_app
from .config import Settings
from .control import ControlError, ControlPlane
from .emulator import Emulator
from .journal import JournalAssertionError, format_entry
from .scenario import Scenario

if TYPE_CHECKING:
    from flask import Flask

    from .client import Control
    from .engine import Engine
    from .server import MockServer
    from .tls import LocalCA

#: The request header that picks a scenario identity in open mode (``X-Pandamock-Identity``).
IDENTITY_HTTP_HEADER = "X-Pandamock-Identity"

#: Settings a test may not change: they belong to the session's server.
SERVER_SETTINGS = frozenset(("host", "port", "https_port", "threads", "url", "tls_dir", "log_level"))
#: Settings that have their own fixture, option and marker keyword.
OWN_SETTINGS = frozenset(("scenario", "seed", "identity", "auth_mode"))
#: Keywords of ``@pytest.mark.pandamock(...)``.
MARKER_KEYS = ("scenario", "seed", "identity", "auth_mode", "faults", "frozen", "settings")


class PandamockUsageError(Exception):
    """A configuration a test asked for cannot be used (unknown scenario, bad rule, ...)."""


# --- configuration ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TestConfig:
    """What one test runs against. ``key`` picks the emulator; the rest is applied per test."""

    __test__ = False  # not a test class, whatever pytest's name patterns say

    scenario: Any = "default"
    seed: int | None = None
    auth_mode: str = "open"
    settings: tuple[tuple[str, Any], ...] = ()
    identity: str | None = None
    faults: tuple[Mapping[str, Any], ...] = ()
    frozen: bool = False

    @property
    def key(self) -> str:
        return json.dumps(
            [_scenario_key(self.scenario), self.seed, self.auth_mode, [list(item) for item in self.settings]],
            sort_keys=True,
            default=repr,
        )

    @classmethod
    def build(
        cls,
        scenario: Any,
        seed: Any,
        identity: Any,
        auth_mode: Any,
        settings: Mapping[str, Any] | None = None,
        faults: Any = (),
        frozen: Any = False,
        base: Path | None = None,
        roots: Sequence[Path] = (),
    ) -> TestConfig:
        """Check and normalise the values (``base``/``roots``: where relative scenario paths are looked for)."""
        if scenario is None or scenario == "":
            scenario = "default"
        if isinstance(scenario, Path):
            scenario = str(scenario)
        if isinstance(scenario, str):
            scenario = _locate(scenario, base, roots)
        elif not isinstance(scenario, (Mapping, Scenario)):
            raise PandamockUsageError(f"scenario: expected a shipped name, a path or a mapping, got {scenario!r}")
        if seed is not None and seed != "":
            try:
                seed = int(seed)
            except (TypeError, ValueError):
                raise PandamockUsageError(f"seed: expected an integer, got {seed!r}") from None
        else:
            seed = None
        auth_mode = (auth_mode or "open").strip().lower() if isinstance(auth_mode, str) or auth_mode is None else None
        if auth_mode not in ("open", "strict"):
            raise PandamockUsageError(f"auth_mode: expected 'open' or 'strict', got {auth_mode!r}")
        if identity is not None and not isinstance(identity, str):
            raise PandamockUsageError(f"identity: expected the name of a scenario identity, got {identity!r}")
        extra = dict(settings or {})
        for name in extra:
            if name in SERVER_SETTINGS:
                raise PandamockUsageError(
                    f"settings: {name!r} belongs to the session's server and cannot be set per test "
                    "(the plugin serves on 127.0.0.1, port 0, with a private TLS directory)"
                )
            if name in OWN_SETTINGS:
                raise PandamockUsageError(f"settings: give {name!r} as its own keyword, option or fixture")
        try:
            Settings().with_overrides(extra)
        except ValueError as exc:
            raise PandamockUsageError(f"settings: {exc}") from None
        if isinstance(faults, Mapping):
            faults = [faults]
        if not isinstance(faults, (list, tuple)) or not all(isinstance(rule, Mapping) for rule in faults):
            raise PandamockUsageError(f"faults: expected a list of fault rules (mappings), got {faults!r}")
        return cls(
            scenario=scenario,
            seed=seed,
            auth_mode=auth_mode,
            settings=tuple(sorted(extra.items())),
            identity=identity or None,
            faults=tuple(dict(rule) for rule in faults),
            frozen=bool(frozen),
        )


def _looks_like_path(reference: str) -> bool:
    return reference.endswith((".yaml", ".yml", ".json")) or "/" in reference or "\\" in reference


def _locate(reference: str, base: Path | None, roots: Sequence[Path]) -> str:
    """A relative scenario path is looked for next to the test file, then in the root directories."""
    if not _looks_like_path(reference):
        return reference
    path = Path(reference).expanduser()
    if path.is_absolute():
        return str(path)
    for directory in [base, *roots]:
        if directory is not None and (directory / path).is_file():
            return str((directory / path).resolve())
    return reference  # loading names the problem


def _scenario_key(scenario: Any) -> Any:
    if isinstance(scenario, str):
        return scenario
    if isinstance(scenario, Mapping):
        return json.dumps(scenario, sort_keys=True, default=repr)
    return json.dumps(scenario.as_dict(), sort_keys=True, default=repr)


# --- the session's emulators ----------------------------------------------------------------------------
class PoolEntry:
    """One emulator (and its Flask app) of the pool."""

    def __init__(self, key: str, emulator: Emulator, app: Flask) -> None:
        self.key = key
        self.emulator = emulator
        self.app = app
        self.scenario = emulator.scenario  # a test that loads another scenario makes the entry stale
        self.control = ControlPlane(emulator)

    def close(self) -> None:
        self.emulator.journal.shutdown()
        files = getattr(self.emulator.engine, "files", None)
        if files is not None and hasattr(files, "close"):
            files.close()


class EmulatorPool:
    """The emulators of a test session, one per configuration key, created on first use and kept
    (least recently used beyond ``size`` are closed)."""

    def __init__(self, tls_dir: str, size: int = 8) -> None:
        self.tls_dir = tls_dir
        self.size = max(1, size)
        self.entries: OrderedDict[str, PoolEntry] = OrderedDict()
        self.created = 0

    def entry(self, config: TestConfig) -> PoolEntry:
        key = config.key
        entry = self.entries.get(key)
        if entry is not None:
            self.entries.move_to_end(key)
            return entry
        entry = PoolEntry(key, *self._build(config))
        self.created += 1
        self.entries[key] = entry
        while len(self.entries) > self.size:
            _, evicted = self.entries.popitem(last=False)
            evicted.close()
        return entry

    def _build(self, config: TestConfig) -> tuple[Emulator, Flask]:
        from .faults import RuleError
        from .scenario import ScenarioError

        overrides = {
            **dict(config.settings),
            "host": "127.0.0.1",
            "port": 0,
            "https_port": -1,
            "tls_dir": self.tls_dir,
            "seed": config.seed,
            "auth_mode": config.auth_mode,
        }
        # The environment is ignored on purpose: a developer's PANDAMOCK_* variables (or a
        # running `pandamock serve`'s) must not change what a test suite runs against.
        settings = Settings.load(overrides, environ={})
        try:
            emulator = Emulator(settings, config.scenario)
        except ScenarioError as exc:
            raise PandamockUsageError(f"scenario: {exc}") from None
        except RuleError as exc:
            raise PandamockUsageError(f"scenario {_describe(config.scenario)}: faults: {exc}") from None
        app = create_app(emulator=emulator)
        app.test_client_class = PandaClient
        return emulator, app

    def discard(self, entry: PoolEntry) -> None:
        if self.entries.get(entry.key) is entry:
            del self.entries[entry.key]
        entry.close()

    def close(self) -> None:
        while self.entries:
            _, entry = self.entries.popitem()
            entry.close()

    # -- per test ------------------------------------------------------------------------------
    def activate(self, config: TestConfig) -> ActiveEmulator:
        """Reset the configuration's emulator and apply the per-test identity, faults and clock."""
        entry = self.entry(config)
        active = ActiveEmulator(self, entry, config)
        try:
            active.start()
        except BaseException:
            active.release()
            raise
        return active


class ActiveEmulator:
    """The emulator of the running test (what every plugin fixture of that test shares). It keeps
    every status transition committed during the test, whatever caused it (a request, a
    progression step, the test's own arrangement), for :meth:`JournalView.assert_statuses`."""

    def __init__(self, pool: EmulatorPool, entry: PoolEntry, config: TestConfig) -> None:
        self.pool = pool
        self.entry = entry
        self.config = config
        self.emulator = self.entry.emulator
        self.app = self.entry.app
        self.control = self.entry.control
        self.transitions: list[dict] = []
        self._default_identity = self.emulator.identities.default_identity
        self._listening = False

    def start(self) -> None:
        """Reset, then apply the test's identity, fault rules and clock; start recording transitions."""
        emulator = self.emulator
        emulator.reset()
        config = self.config
        if config.identity is not None:
            world = emulator.engine.world
            if world.user(config.identity) is None:
                known = ", ".join(sorted(record["name"] for record in world.users.values()))
                raise PandamockUsageError(
                    f"identity: {config.identity!r} is not an identity of scenario "
                    f"{emulator.scenario.name!r} (its identities: {known})"
                )
            emulator.identities.default_identity = config.identity
        for position, rule in enumerate(config.faults):
            try:
                self.control.add_fault(rule)
            except ControlError as exc:
                raise PandamockUsageError(f"faults[{position}]: {exc.message}") from None
        if config.frozen:
            _freeze_at_start(emulator)
        self.transitions.clear()
        if not self._listening:
            emulator.engine.store.listeners.append(self._committed)
            self._listening = True

    def _committed(self, tx: Any) -> None:
        if tx.transitions:
            self.transitions.extend(tx.transitions)

    def release(self) -> None:
        """After the test: undo what a reset does not, and drop an emulator whose scenario the test replaced."""
        if self._listening:
            self.emulator.engine.store.listeners.remove(self._committed)
            self._listening = False
        self.emulator.identities.default_identity = self._default_identity
        if self.emulator.scenario is not self.entry.scenario:
            self.pool.discard(self.entry)

    def journal_tail(self, lines: int) -> str:
        entries = self.emulator.journal.entries()
        if not entries:
            return "(no request reached pandamock during this test)"
        shown = entries[-lines:]
        text = [format_entry(entry) for entry in shown]
        if len(entries) > len(shown):
            text.insert(0, f"  ... {len(entries) - len(shown)} earlier entries not shown")
        return "\n".join(text)


# --- the live server -------------------------------------------------------------------------------
class Switch:
    """A WSGI app that forwards to whichever emulator's app the running test uses."""

    def __init__(self) -> None:
        self.app: Callable[..., Any] | None = None

    def __call__(self, environ: dict, start_response: Callable[..., Any]) -> Iterable[bytes]:
        app = self.app
        if app is None:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"pandamock: no test is running\n"]
        return app(environ, start_response)


class LiveServers:
    """The session's HTTP server (and HTTPS server when asked), serving the :class:`Switch`."""

    def __init__(self, tls_dir: str, https: bool = False, threads: int = 16, env_dir: str | None = None) -> None:
        from .server import MockServer

        self.switch = Switch()
        self.tls_dir = tls_dir
        self.env_dir = env_dir  # PANDA_CONFIG_ROOT and the dummy proxy path of PandaMock.env
        self.http: MockServer = MockServer(self.switch, host="127.0.0.1", port=0, threads=threads)
        self.https: MockServer | None = None
        self.ca: LocalCA | None = None
        if https:
            from .tls import LocalCA, server_hosts

            self.ca = LocalCA(tls_dir).ensure()
            adapter = self.ca.ssl_adapter(server_hosts("127.0.0.1"))
            self.https = MockServer(self.switch, host="127.0.0.1", port=0, threads=threads, ssl_adapter=adapter)

    def start(self) -> LiveServers:
        self.http.start()
        if self.https is not None:
            try:
                self.https.start()
            except BaseException:
                self.http.stop()
                raise
        return self

    def stop(self) -> None:
        self.http.stop()
        if self.https is not None:
            self.https.stop()


# --- the per-test handle ---------------------------------------------------------------------------
class PandaMock:
    """A reset emulator for one test: ``url`` and ``env`` for real clients (live fixture), an
    in-process ``client``, ``engine`` for direct arrange/assert, ``control`` (faults, clock, state,
    journal), ``journal`` assertions."""

    def __init__(self, active: ActiveEmulator, servers: LiveServers | None = None) -> None:
        self._active = active
        self._servers = servers
        self._env_dir = servers.env_dir if servers is not None else None
        self.emulator: Emulator = active.emulator
        self.app: Flask = active.app
        #: The in-process control plane: same methods and answers as :class:`pandamock.Control`.
        self.control: ControlPlane = active.control
        self.journal = JournalView(active)
        self._client: PandaClient | None = None

    def __repr__(self) -> str:
        where = self.url if self.url else "in-process"
        return f"<PandaMock {where} scenario={self.scenario_name!r}>"

    # -- what the test runs against ---------------------------------------------------------------
    @property
    def engine(self) -> Engine:
        return self.emulator.engine

    @property
    def settings(self) -> Settings:
        return self.emulator.settings

    @property
    def scenario_name(self) -> str | None:
        return self.emulator.scenario.name if self.emulator.scenario else None

    @property
    def identity(self) -> str | None:
        """The identity credential-less requests act as (None: the scenario's default)."""
        return self.emulator.identities.default_identity

    @property
    def live(self) -> bool:
        return self._servers is not None

    @property
    def url(self) -> str | None:
        """``http://127.0.0.1:<port>`` of the session's server (None for the in-process fixture)."""
        return self._servers.http.url if self._servers is not None else None

    @property
    def https_url(self) -> str | None:
        """``https://127.0.0.1:<port>`` when the session serves HTTPS (``--pandamock-https``)."""
        if self._servers is None or self._servers.https is None:
            return None
        return self._servers.https.url

    @property
    def api_url(self) -> str:
        """``<url>/api/v1``: the base of every PanDA API call."""
        return f"{self._require_url()}/api/v1"

    @property
    def tls(self) -> LocalCA | None:
        """The session's local CA (``--pandamock-https``): ``ca_file``, ``cert_dir``, ``write_proxy(...)``."""
        return self._servers.ca if self._servers is not None else None

    @property
    def env(self) -> dict[str, str]:
        """Environment for real clients: panda-client's ``PANDA_URL``, ``PANDA_URL_SSL``,
        ``PANDACACHE_URL`` (``<url>/server/panda``), ``PANDA_BEHIND_REAL_LB``, a private
        ``PANDA_CONFIG_ROOT`` and a dummy ``X509_USER_PROXY`` (no grid proxy over http), and
        ``PANDAMOCK_URL`` for the ``pandamock`` CLI and :class:`pandamock.Control`."""
        base = f"{self._require_url()}/server/panda"
        env = {
            "PANDA_URL": base,
            "PANDA_URL_SSL": base,
            "PANDACACHE_URL": base,
            "PANDA_BEHIND_REAL_LB": "1",
            "PANDAMOCK_URL": self._require_url(),
        }
        if self._env_dir is not None:
            env["PANDA_CONFIG_ROOT"] = str(Path(self._env_dir) / "panda-config")
            env["X509_USER_PROXY"] = str(Path(self._env_dir) / "no-proxy")
        if self.tls is not None:
            env["X509_CERT_DIR"] = str(self.tls.cert_dir)
            env["PANDAMOCK_HTTPS_URL"] = self.https_url or ""
        return env

    def _require_url(self) -> str:
        if self._servers is None:
            raise RuntimeError("the pandamock_local fixture has no server; use the `pandamock` fixture for url and env")
        return self._servers.http.url

    @property
    def client(self) -> PandaClient:
        """An in-process test client (no socket) on the same emulator."""
        if self._client is None:
            self._client = self.app.test_client()  # type: ignore[assignment]
        return self._client  # type: ignore[return-value]

    def remote(self) -> Control:
        """A :class:`pandamock.Control` speaking HTTP to the live server (what another process would use)."""
        from .client import Control

        return Control(self._require_url(), token=self.settings.control_token or "")

    # -- identities ---------------------------------------------------------------------------------
    def headers(self, identity: str | None = None, json: bool = True) -> dict[str, str]:
        """Request headers: ``Accept: application/json`` (real clients' encoding) and, in open mode,
        ``X-Pandamock-Identity`` to act as another scenario identity."""
        headers = {"Accept": "application/json"} if json else {}
        if identity is not None:
            self._user(identity)
            headers[IDENTITY_HTTP_HEADER] = identity
        return headers

    def token(self, identity: str | None = None, **options: Any) -> str:
        """An ID token of a scenario identity, signed by the session's key (accepted in strict
        mode, and in open mode); ``options``: ``vo``, ``role``, ``extra_groups``, ``lifetime``."""
        from .tokens import TokenAuthority

        user = self._user(identity)
        return TokenAuthority(self._active.pool.tls_dir).issue(user, **options)

    def auth_headers(self, identity: str | None = None, role: str | None = None, vo: str | None = None) -> dict:
        """``Authorization: Bearer <token>`` and ``Origin: <vo>[.<role>]``, as panda-client and the
        pilot send them (``role='production'`` for the production role)."""
        user = self._user(identity)
        vo = vo or user.get("vo") or "atlas"
        token = self.token(identity, vo=vo, role=role)
        return {
            "Accept": "application/json",
            "Authorization": f"Bearer {token}",
            "Origin": f"{vo}.{role}" if role else vo,
        }

    def _user(self, identity: str | None) -> dict:
        world = self.engine.world
        user = world.user(identity) if identity is not None else world.default_user(self.identity)
        if user is None:
            known = ", ".join(sorted(record["name"] for record in world.users.values()))
            raise KeyError(f"no identity {identity!r} in scenario {self.scenario_name!r} (its identities: {known})")
        return user

    # -- control shortcuts ----------------------------------------------------------------------------
    def add_fault(self, rule: Mapping[str, Any] | None = None, position: int | None = None, **fields: Any) -> dict:
        """Install a fault rule for this test (``from_``, ``for_``, ``continue_`` for the keywords)."""
        return self.control.add_fault(rule, position=position, **fields)

    def clear_faults(self) -> dict[str, Any]:
        return self.control.clear_faults()

    def faults(self) -> list[dict[str, Any]]:
        return self.control.faults()

    def advance(self, seconds: float | str) -> dict[str, Any]:
        """Move the emulator clock forward and apply what came due (the adder, JEDI steps, ...)."""
        clock = self.control.advance(seconds)
        self.engine.tick()
        return clock

    def freeze(self) -> dict[str, Any]:
        return self.control.freeze()

    def set_time(self, moment: Any) -> dict[str, Any]:
        clock = self.control.set_time(moment)
        self.engine.tick()
        return clock

    def now(self) -> Any:
        """The emulator's current time (naive UTC datetime)."""
        return self.engine.now()

    def state(self, tables: str | Iterable[str] | None = None, where: Mapping[str, Any] | None = None) -> dict:
        """A state dump in scenario form (``['records'][table]`` is a list of records), after
        applying the progression steps that have come due."""
        self.engine.tick()
        return self.control.state(tables, where)

    def records(self, table: str, **where: Any) -> list[dict]:
        """The records of one table whose fields equal ``where`` (copies; safe to keep)."""
        return self.state(table, where or None)["records"].get(table, [])

    def reset(self) -> None:
        """Back to the state this test started from (the scenario's, with the test's identity,
        fault rules and clock); the journal and the transition history are emptied."""
        self._active.start()


# --- journal assertions ---------------------------------------------------------------------------
class JournalView:
    """This test's requests (the journal is emptied by the per-test reset) and assertions whose
    failure messages show the relevant journal lines."""

    def __init__(self, active: ActiveEmulator) -> None:
        self._active = active
        self._journal = active.emulator.journal

    def __len__(self) -> int:
        return len(self._journal)

    def __iter__(self) -> Iterator[dict]:
        return iter(self._journal.entries())

    def entries(self, **filters: Any) -> list[dict]:
        """Entries matching the filters (``endpoint``/``identity`` globs, ``status``, ``success``,
        ``failed``, ``fault``, ``method``, ``since``, ``until``, ``after_seq``, ``limit``)."""
        return self._journal.query(**filters) if filters else self._journal.entries()

    def calls(self, endpoint: str, **filters: Any) -> list[dict]:
        """The requests to ``endpoint`` (a glob such as ``harvester/*``)."""
        return self._journal.query(endpoint=endpoint, **filters)

    def summary(self) -> dict[str, Any]:
        return self._journal.summary()

    def text(self, entries: list[dict] | None = None) -> str:
        """Readable lines of these entries (default: every entry)."""
        shown = self._journal.entries() if entries is None else entries
        return "\n".join(format_entry(entry) for entry in shown) or "  (the journal is empty)"

    # -- transitions ---------------------------------------------------------------------------------
    def transitions(self, record_id: Any = None, table: str | None = None) -> list[dict]:
        """Status transitions committed during this test (requests, progression steps, the test's
        own arrangement), oldest first; optionally of one record and/or table."""
        wanted = None if record_id is None else str(record_id)
        return [
            change
            for change in list(self._active.transitions)
            if (table is None or change.get("table") == table) and (wanted is None or str(change.get("id")) == wanted)
        ]

    def statuses(self, record_id: Any, table: str = "jobs", field: str | None = None) -> list[str]:
        """The statuses record ``record_id`` of ``table`` went through during this test: where it
        started (for a record that existed before) and every status it moved to."""
        seen: list[str] = []
        for change in self.transitions(record_id, table):
            if field is not None and change.get("field") != field:
                continue
            if not seen and change.get("from") is not None:
                seen.append(change["from"])
            seen.append(change["to"])
        return seen

    # -- assertions ----------------------------------------------------------------------------------
    def assert_called(self, endpoint: str, times: int | None = None, **filters: Any) -> list[dict]:
        """``endpoint`` (glob) was called ``times`` times (at least once when None), with the
        filters (``identity``, ``status``, ``success``, ``failed``, ...); returns the calls."""
        __tracebackhide__ = True
        try:
            return self._journal.assert_called(endpoint, times, **filters)
        except JournalAssertionError as exc:
            raise JournalAssertionError(str(exc)) from None  # the traceback ends at the test's line

    def assert_not_called(self, endpoint: str, **filters: Any) -> None:
        __tracebackhide__ = True
        try:
            self._journal.assert_called(endpoint, 0, **filters)
        except JournalAssertionError as exc:
            raise JournalAssertionError(str(exc)) from None

    def assert_statuses(
        self, record_id: Any, expected: Sequence[str], table: str = "jobs", field: str | None = None
    ) -> None:
        """Record ``record_id`` (a PandaID by default; ``table='tasks'``, ``'workers'``, ...) went
        through exactly ``expected`` during this test (see :meth:`statuses`)."""
        __tracebackhide__ = True
        seen = self.statuses(record_id, table, field)
        if seen == list(expected):
            return
        wanted = str(record_id)
        changes = self.transitions(record_id, table)
        lines = [
            f"  {str(change.get('time', ''))[11:23]} {change.get('from')} -> {change.get('to')}"
            + (f" ({change['reason']})" if change.get("reason") else "")
            for change in changes
        ] or ["  (none)"]
        related = [
            entry
            for entry in self._journal.entries()
            if any(
                change.get("table") == table and str(change.get("id")) == wanted
                for change in entry.get("transitions") or ()
            )
            or _mentions(entry.get("params"), wanted)
        ]
        raise JournalAssertionError(
            f"{table} {record_id}: expected statuses {list(expected)}, it went through {seen}\n"
            f"transitions of {table} {record_id} during the test:\n"
            + "\n".join(lines)
            + "\nrequests that touched it:\n"
            + (self.text(related[-20:]) if related else "  (none)")
        )

    def assert_no_unexpected_failures(self, allow: Iterable[str] = (), allow_faults: bool = True) -> None:
        """No request failed (HTTP error or ``success: false``), except on endpoints matching
        ``allow`` or because a fault rule fired (unless ``allow_faults=False``)."""
        __tracebackhide__ = True
        try:
            self._journal.assert_no_unexpected_failures(allow, allow_faults)
        except JournalAssertionError as exc:
            raise JournalAssertionError(str(exc)) from None

    def assert_faults_fired(self, rule_id: str = "*", times: int | None = None) -> list[dict]:
        """Fault rule(s) ``rule_id`` (glob) fired ``times`` times (at least once when None);
        returns the requests they hit."""
        __tracebackhide__ = True
        fired = self._journal.query(fault=rule_id)
        if (times is None and fired) or (times is not None and len(fired) == times):
            return fired
        expected = "at least once" if times is None else f"{times} time{'s' if times != 1 else ''}"
        raise JournalAssertionError(
            f"expected fault {rule_id} to fire {expected}, it fired {len(fired)} "
            f"time{'s' if len(fired) != 1 else ''}\njournal:\n" + self.text(self._journal.entries()[-20:])
        )


def _freeze_at_start(emulator: Emulator) -> None:
    """Stop the clock exactly on the scenario's start (or where it stands for ``start: now``)."""
    clock = emulator.engine.clock
    clock.freeze()
    start = ((emulator.scenario.clock if emulator.scenario else None) or {}).get("start")
    if start not in (None, "", "now"):
        from .engine.clock import parse_time

        clock.set(parse_time(start))


def _mentions(params: Any, wanted: str, depth: int = 0) -> bool:
    """Whether a request's parameters carry the id ``wanted`` anywhere (a job id in ``job_ids``, ...)."""
    if depth > 4 or params is None:
        return False
    if isinstance(params, Mapping):
        return any(_mentions(value, wanted, depth + 1) for value in params.values())
    if isinstance(params, (list, tuple)):
        return any(_mentions(value, wanted, depth + 1) for value in params)
    return not isinstance(params, bool) and str(params) == wanted


# --- in-process client ------------------------------------------------------------------------------
class PandaHTTPError(AssertionError):
    """:meth:`PandaClient.call` got an HTTP status other than 200 (``status``, ``body``)."""

    def __init__(self, endpoint: str, status: int, body: str) -> None:
        super().__init__(f"{endpoint}: HTTP {status}: {body[:300]!r}")
        self.endpoint = endpoint
        self.status = status
        self.body = body


class PandaClient(FlaskClient):
    """Flask's test client (no socket) plus :meth:`call` for the PanDA API."""

    def call(
        self,
        endpoint: str,
        method: str | None = None,
        identity: str | None = None,
        headers: Mapping[str, str] | None = None,
        **params: Any,
    ) -> Any:
        """Call ``/api/v1/<endpoint>`` as panda-client does (GET: query string, else a JSON body;
        ``Accept: application/json``) and return the decoded envelope (``{"success", "message",
        "data"}``), or the text of an endpoint that answers a bare string. The method defaults to
        the endpoint's. Raises :class:`PandaHTTPError` for an HTTP status other than 200."""
        __tracebackhide__ = True
        emulator: Emulator = self.application.extensions["pandamock"]
        module, _, function = endpoint.partition("/")
        spec = emulator.registry.lookup(module, function)
        method = (method or (spec.method if spec is not None else None) or "POST").upper()
        request_headers = {"Accept": "application/json", **(headers or {})}
        if identity is not None:
            request_headers[IDENTITY_HTTP_HEADER] = identity
        path = f"/api/v1/{endpoint}"
        if method == "GET":
            query = {key: value for key, value in params.items() if value is not None}
            response = self.get(path, query_string=query, headers=request_headers)
        else:
            response = self.open(path, method=method, json=params, headers=request_headers)
        text = response.get_data(as_text=True)
        if response.status_code != 200:
            raise PandaHTTPError(endpoint, response.status_code, text)
        try:
            return json.loads(text)
        except ValueError:
            return text


# --- small helpers --------------------------------------------------------------------------------
def _describe(scenario: Any) -> str:
    if isinstance(scenario, str):
        return repr(scenario)
    if isinstance(scenario, Mapping):
        return repr(scenario.get("name", "<mapping>"))
    return repr(getattr(scenario, "name", scenario))


@dataclass
class SessionOptions:
    """The plugin's command-line options and ini settings, read once per session."""

    scenario: str | None = None
    seed: str | None = None
    identity: str | None = None
    auth_mode: str | None = None
    https: bool = False
    settings: dict[str, str] = field(default_factory=dict)
    journal_lines: int = 20
