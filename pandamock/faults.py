"""Fault injection: rules that make requests fail the way the real service fails.

The pipeline consults :meth:`FaultEngine.before_call` before identity and decoding (transport
faults: 403/500/503 bodies, delays, dropped connections) and :meth:`FaultEngine.after_call`
after the handler ran (forcing ``success: false``, latency, broken bodies).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class FaultResponse:
    """What a fired fault answers instead of (or after) the real call."""

    status: str
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=lambda: [("Content-Type", "text/plain")])
    rule_id: Any = None
    drop: bool = False


class FaultEngine:
    """The active fault rules of an emulator (none by default)."""

    def __init__(self) -> None:
        self.rules: list[Any] = []

    def before_call(self, call: Any) -> FaultResponse | None:
        """A response that replaces the call, or None to go on."""
        return None

    def after_call(self, call: Any) -> FaultResponse | None:
        """A response that replaces the real answer of a call that ran, or None."""
        return None
