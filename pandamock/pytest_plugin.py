"""pytest plugin: a seeded, stateful PanDA server per test, live or in-process.

Registered through the ``pytest11`` entry point ``pandamock``. This module imports only pytest and
the standard library; the emulator (:mod:`pandamock.testing`) is imported when a test first asks
for one of the fixtures, so test runs that do not use them pay nothing.

Fixtures (function scope, sharing one reset emulator per test):

* ``pandamock`` — :class:`pandamock.testing.PandaMock` with a live server (127.0.0.1, port 0,
  started once per session and per xdist worker): ``url``, ``env``, ``control``, ``journal``,
  ``client``, ``engine``;
* ``pandamock_local`` — the same handle without a server (in-process only);
* ``pandamock_client`` — Flask test client (no socket) with ``call(endpoint, **params)``;
* ``pandamock_engine`` — the engine, for arranging and inspecting state without HTTP.

Configuration, most specific first: ``@pytest.mark.pandamock(...)`` keywords, the overridable
fixtures ``pandamock_scenario``, ``pandamock_seed``, ``pandamock_identity``,
``pandamock_auth_mode``, ``pandamock_settings``, then ``--pandamock-*`` options and
``pandamock_*`` ini settings. Guide: ``docs/pytest-plugin.md``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from flask.testing import FlaskClient

    from .engine import Engine
    from .testing import ActiveEmulator, EmulatorPool, LiveServers, PandaMock, SessionOptions

ACTIVE_KEY = pytest.StashKey["ActiveEmulator"]()
MARKER = "pandamock"
MARKER_HELP = (
    "pandamock(scenario=None, seed=None, identity=None, auth_mode=None, faults=(), frozen=False, settings=None): "
    "the PanDA world of this test (see docs/pytest-plugin.md)"
)
_OPTIONS = (
    ("scenario", "Scenario of the pandamock fixtures: a shipped name or a YAML path (default: default)."),
    ("seed", "Seed of the pandamock fixtures' generated data (default: the scenario's)."),
    ("identity", "Scenario identity that credential-less requests act as (default: the scenario's default)."),
    ("auth_mode", "open (credential-less requests act as an identity) or strict (the real server's rules)."),
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pandamock", "pandamock (PanDA server emulator)")
    for name, help_text in _OPTIONS:
        flag = "--pandamock-" + name.replace("_", "-")
        group.addoption(flag, dest=f"pandamock_{name}", default=None, help=help_text)
        parser.addini(f"pandamock_{name}", help_text, default=None)
    group.addoption(
        "--pandamock-https",
        dest="pandamock_https",
        action="store_true",
        default=None,
        help="Also serve HTTPS (port 0, a session CA in a temporary directory).",
    )
    parser.addini("pandamock_https", "Also serve HTTPS for the pandamock fixture.", type="bool", default=False)
    group.addoption(
        "--pandamock-journal-lines",
        dest="pandamock_journal_lines",
        default=None,
        help="Journal lines added to the report of a failed test that used pandamock (0: none; default 20).",
    )
    parser.addini("pandamock_journal_lines", "Journal lines shown for a failed test (default 20).", default=None)
    parser.addini(
        "pandamock_settings",
        "More emulator settings, one name=value per line (e.g. journal_size=500, production_dns=...).",
        type="linelist",
        default=[],
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)


def _options(config: pytest.Config) -> SessionOptions:
    """The session's options and ini settings (read once)."""
    from .testing import SessionOptions

    cached = getattr(config, "_pandamock_options", None)
    if cached is not None:
        return cached

    def value(name: str) -> Any:
        given = config.getoption(f"pandamock_{name}")
        return given if given is not None else config.getini(f"pandamock_{name}")

    settings: dict[str, str] = {}
    for line in config.getini("pandamock_settings"):
        name, sep, setting = line.partition("=")
        if not sep or not name.strip():
            raise pytest.UsageError(f"pandamock_settings: expected name=value lines, got {line!r}")
        settings[name.strip()] = setting.strip()
    lines = value("journal_lines")
    try:
        journal_lines = 20 if lines in (None, "") else int(lines)
    except ValueError:
        raise pytest.UsageError(f"pandamock_journal_lines: expected an integer, got {lines!r}") from None
    options = SessionOptions(
        scenario=value("scenario") or None,
        seed=value("seed") or None,
        identity=value("identity") or None,
        auth_mode=value("auth_mode") or None,
        https=bool(value("https")),
        settings=settings,
        journal_lines=journal_lines,
    )
    config._pandamock_options = options  # type: ignore[attr-defined]
    return options


# --- overridable configuration fixtures ------------------------------------------------------------
@pytest.fixture
def pandamock_scenario(request: pytest.FixtureRequest) -> Any:
    """Scenario of this test: a shipped name, a YAML path or a mapping (override to change it)."""
    return _options(request.config).scenario or "default"


@pytest.fixture
def pandamock_seed(request: pytest.FixtureRequest) -> int | None:
    """Seed of generated data (None: the scenario's own)."""
    return _options(request.config).seed  # converted and checked with the rest of the configuration


@pytest.fixture
def pandamock_identity(request: pytest.FixtureRequest) -> str | None:
    """Scenario identity that credential-less requests act as (None: the scenario's default)."""
    return _options(request.config).identity


@pytest.fixture
def pandamock_auth_mode(request: pytest.FixtureRequest) -> str:
    """``open`` (default) or ``strict``."""
    return _options(request.config).auth_mode or "open"


@pytest.fixture
def pandamock_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    """More emulator settings (``journal_size``, ``production_dns``, ``max_upload_mb``, ...)."""
    return dict(_options(request.config).settings)


# --- session state -------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def _pandamock_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorPool]:
    """The session's emulators (one per configuration), with a private TLS directory."""
    from .testing import EmulatorPool

    pool = EmulatorPool(tls_dir=str(tmp_path_factory.mktemp("pandamock-tls")))
    yield pool
    pool.close()


@pytest.fixture(scope="session")
def _pandamock_servers(
    request: pytest.FixtureRequest, _pandamock_pool: EmulatorPool, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServers]:
    """The session's server on 127.0.0.1 port 0 (each xdist worker has its own)."""
    from .testing import LiveServers

    servers = LiveServers(
        _pandamock_pool.tls_dir,
        https=_options(request.config).https,
        env_dir=str(tmp_path_factory.mktemp("pandamock-client")),
    )
    servers.start()
    yield servers
    servers.stop()


# --- per test ---------------------------------------------------------------------------------------
@pytest.fixture
def _pandamock_active(
    request: pytest.FixtureRequest,
    _pandamock_pool: EmulatorPool,
    pandamock_scenario: Any,
    pandamock_seed: Any,
    pandamock_identity: Any,
    pandamock_auth_mode: Any,
    pandamock_settings: Any,
) -> Iterator[ActiveEmulator]:
    """The reset emulator of this test (shared by every pandamock fixture the test uses)."""
    from .testing import MARKER_KEYS, PandamockUsageError, TestConfig

    values: dict[str, Any] = {
        "scenario": pandamock_scenario,
        "seed": pandamock_seed,
        "identity": pandamock_identity,
        "auth_mode": pandamock_auth_mode,
        "settings": pandamock_settings,
        "faults": (),
        "frozen": False,
    }
    for marker in reversed(list(request.node.iter_markers(MARKER))):  # outermost first, closest wins
        if len(marker.args) > 1:
            _fail(request, f"@pytest.mark.{MARKER} takes at most one positional argument (the scenario)")
        if marker.args:
            values["scenario"] = marker.args[0]
        unknown = sorted(set(marker.kwargs) - set(MARKER_KEYS))
        if unknown:
            _fail(request, f"@pytest.mark.{MARKER}: unknown keyword {unknown[0]!r}; keywords: {', '.join(MARKER_KEYS)}")
        for key, value in marker.kwargs.items():
            values[key] = {**values["settings"], **value} if key == "settings" and value else value
    try:
        config = TestConfig.build(
            **values,
            base=request.path.parent if request.path is not None else None,
            roots=[request.config.rootpath],
        )
        active = _pandamock_pool.activate(config)
    except PandamockUsageError as exc:
        problem = str(exc)
    else:
        problem = None
    if problem is not None:
        _fail(request, problem)  # outside the except block: the report shows the reason alone
    request.node.stash[ACTIVE_KEY] = active
    try:
        yield active
    finally:
        del request.node.stash[ACTIVE_KEY]
        active.release()


def _fail(request: pytest.FixtureRequest, message: str) -> Any:
    __tracebackhide__ = True
    pytest.fail(f"pandamock: {message}", pytrace=False)


@pytest.fixture
def pandamock(_pandamock_active: ActiveEmulator, _pandamock_servers: LiveServers) -> PandaMock:
    """A reset PanDA server for this test, live on 127.0.0.1: ``url``, ``env``, ``journal``,
    ``control``, ``client``, ``engine`` (see :class:`pandamock.testing.PandaMock`)."""
    from .testing import PandaMock

    _pandamock_servers.switch.app = _pandamock_active.app
    return PandaMock(_pandamock_active, _pandamock_servers)


@pytest.fixture
def pandamock_local(_pandamock_active: ActiveEmulator) -> PandaMock:
    """The same handle as ``pandamock`` without a server: in-process ``client``, ``control``,
    ``journal`` and ``engine``."""
    from .testing import PandaMock

    return PandaMock(_pandamock_active)


@pytest.fixture
def pandamock_client(_pandamock_active: ActiveEmulator) -> FlaskClient:
    """An in-process client (Flask test client, no socket) of this test's reset emulator, with
    ``call(endpoint, **params)`` returning the decoded envelope."""
    return _pandamock_active.app.test_client()


@pytest.fixture
def pandamock_engine(_pandamock_active: ActiveEmulator) -> Engine:
    """The engine of this test's reset emulator: arrange and inspect state without HTTP."""
    return _pandamock_active.emulator.engine


# --- reporting -----------------------------------------------------------------------------------------
@pytest.hookimpl(hookwrapper=True)  # the old-style wrapper: works with every pytest >= 7
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """A failed test that used pandamock gets a "pandamock journal" section: its last requests."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when == "call" and report.failed:
        active = item.stash.get(ACTIVE_KEY, None)
        if active is not None:
            lines = _options(item.config).journal_lines
            if lines > 0:
                report.sections.append(("pandamock journal", active.journal_tail(lines)))
