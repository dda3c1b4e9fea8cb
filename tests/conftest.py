"""Shared fixtures of pandamock's own test suite."""

from __future__ import annotations

import pytest

from pandamock.app import create_app, emulator_of


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
