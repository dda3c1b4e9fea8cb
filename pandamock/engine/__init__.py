"""PanDA's state and rules, without HTTP: see :class:`pandamock.engine.core.Engine`."""

from .clock import Clock
from .core import Engine
from .outcome import Failure, Reply

__all__ = ["Clock", "Engine", "Failure", "Reply"]
