"""What an engine call answers: a :class:`Reply` or a raised :class:`Failure`.

The HTTP pipeline turns a reply into ``{"success": true, "message": ..., "data": ...}`` and a
failure into ``{"success": false, "message": ..., "data": ...}``. Engine code never builds an
envelope itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Reply:
    """A successful answer that carries a message besides its data (most answers are bare data)."""

    data: Any = None
    message: str = ""
    success: Any = True


class Failure(Exception):
    """A refusal with PanDA's message: the pipeline answers ``success: false`` with it.

    ``data`` goes into the envelope's ``data`` (PanDA returns codes there, e.g. ``4`` for a
    rejected task command). ``success`` lets a handler reproduce the few endpoints that
    signal a failure with another ``success`` value.
    """

    def __init__(self, message: str, data: Any = None, success: Any = False) -> None:
        super().__init__(message)
        self.message = message
        self.data = data
        self.success = success


class TransitionError(Failure):
    """A status change that the transition table does not allow."""


class StateError(RuntimeError):
    """The stored state is inconsistent or cannot be read (e.g. a corrupt state file)."""
