"""Where the shipped scenarios and fixtures are, installed or in a source checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _shipped(name: str) -> Path:
    installed = _PACKAGE / name  # a wheel maps the repository's top-level folder here
    if installed.is_dir():
        return installed
    return _PACKAGE.parent / name  # source checkout / editable install


def scenarios_dir() -> Path:
    """Folder of the shipped scenario files (``scenarios/`` of the repository)."""
    return _shipped("scenarios")


def fixtures_dir() -> Path:
    """Folder of the shipped fixture files (``fixtures/`` of the repository)."""
    return _shipped("fixtures")
