"""Shared fixtures of pandamock's own test suite."""

from __future__ import annotations

import pytest

from pandamock.app import create_app, emulator_of

pytest_plugins = ("pytester",)  # tests/test_pytest_plugin.py runs test files the way users write them


@pytest.fixture(scope="session", autouse=True)
def _private_tls_dir(tmp_path_factory):
    """Keep every test (and every `pandamock` subprocess) away from ~/.config/pandamock/tls and
    from the real HTTPS port: a session CA directory, HTTPS off unless a test asks for it."""
    patch = pytest.MonkeyPatch()
    patch.setenv("PANDAMOCK_TLS_DIR", str(tmp_path_factory.mktemp("tls")))
    patch.setenv("PANDAMOCK_HTTPS_PORT", "-1")
    yield
    patch.undo()


@pytest.fixture(scope="session")
def shared_app():
    """One app on the default scenario for the whole session (reset before each test that uses it)."""
    return create_app({"scenario": "default"})


@pytest.fixture
def app(shared_app):
    emulator_of(shared_app).reset()
    return shared_app


@pytest.fixture
def emulator(app):
    return emulator_of(app)


@pytest.fixture
def engine(emulator):
    return emulator.engine


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def strict_app():
    return create_app({"scenario": "default", "auth_mode": "strict"})


@pytest.fixture
def strict_client(strict_app):
    emulator_of(strict_app).reset()
    return strict_app.test_client()
