"""Each test's duration in the cluster, recorded by one in-cluster run for the next one's split
(pytest's cache: nothing is recorded with ``-p no:cacheprovider``)."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

#: key of the recorded durations in pytest's cache (``config.cache``)
DURATIONS_CACHE_KEY = "floe-testing/durations"


class RecordedDurations:
    """What earlier runs recorded, and what this run adds (setup + call + teardown)."""

    def __init__(self, config: pytest.Config) -> None:
        self._cache = getattr(config, "cache", None)
        self._measured: dict[str, float] = {}

    def _recorded(self) -> dict[str, float]:
        found = self._cache.get(DURATIONS_CACHE_KEY, {}) if self._cache is not None else {}
        return ({str(k): float(v) for k, v in found.items()} if isinstance(found, dict)
                else {})

    def of(self, test_ids: Iterable[str]) -> dict[str, float]:
        """The recorded durations of these tests (those that have one)."""
        recorded = self._recorded()
        return {t: recorded[t] for t in test_ids if t in recorded}

    def add(self, test_id: str, seconds: float) -> None:
        self._measured[test_id] = self._measured.get(test_id, 0.0) + seconds

    def save(self) -> None:
        """Record this run's durations over the earlier ones."""
        if self._cache is not None and self._measured:
            self._cache.set(DURATIONS_CACHE_KEY, {**self._recorded(), **self._measured})
