"""Picking by weight, fast: `random.choices` adds up its weights again on every call, which
was the largest single cost of making a record."""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class Weighted(Generic[T]):
    def __init__(self, values: Sequence[T], weights: Sequence[float]) -> None:
        if len(values) != len(weights) or not values:
            raise ValueError("one weight per value, and at least one value")
        self.values = tuple(values)
        self._cumulative = list(itertools.accumulate(weights))
        self._total = self._cumulative[-1]
        self._last = len(values) - 1

    def pick(self, rng: random.Random) -> T:
        """As rng.choices(values, weights)[0] would, from the same random number."""
        index = bisect.bisect(self._cumulative, rng.random() * self._total, 0, self._last)
        return self.values[index]
