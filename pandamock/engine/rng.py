"""The one seeded random generator and the one seeded Faker of an engine.

Never use the module-level ``random`` functions or a global ``Faker``: everything generated
(ids aside, which are counters) comes from these, so the same seed gives the same world.
"""

from __future__ import annotations

import random
from typing import Any


class Randomness:
    """A seeded :class:`random.Random` and a lazily created, identically seeded Faker."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.random = random.Random(seed)
        self._faker: Any = None

    @property
    def faker(self) -> Any:
        """A Faker instance seeded from ``seed`` (created on first use: importing Faker costs time)."""
        if self._faker is None:
            from faker import Faker

            faker = Faker("en_US")
            faker.seed_instance(self.seed)
            self._faker = faker
        return self._faker

    def reseed(self, seed: int) -> None:
        self.seed = seed
        self.random.seed(seed)
        if self._faker is not None:
            self._faker.seed_instance(seed)
