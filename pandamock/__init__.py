"""pandamock: a local emulator of the PanDA workload-management server's HTTP API v1."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["__version__", "create_app", "Control", "ControlPlane", "Emulator", "MockServer", "Scenario"]

if TYPE_CHECKING:
    from .app import create_app
    from .client import Control
    from .control import ControlPlane
    from .emulator import Emulator
    from .scenario import Scenario
    from .server import MockServer


def __getattr__(name: str) -> Any:
    """Lazy public API: importing ``pandamock`` stays cheap (the pytest plugin relies on it)."""
    if name == "create_app":
        from .app import create_app

        return create_app
    if name == "Emulator":
        from .emulator import Emulator

        return Emulator
    if name == "MockServer":
        from .server import MockServer

        return MockServer
    if name == "Control":
        from .client import Control

        return Control
    if name == "ControlPlane":
        from .control import ControlPlane

        return ControlPlane
    if name == "Scenario":
        from .scenario import Scenario

        return Scenario
    raise AttributeError(f"module 'pandamock' has no attribute {name!r}")
