"""Which tests each shard runs: contiguous runs of the collection order, balanced by time.

Contiguous, so a module's or class's fixtures are set up in as few pods as possible; balanced
by each test's recorded duration (from the previous in-cluster run, kept in pytest's cache)
or, for tests without one, the median of the known durations (1 when none is known: then the
split is by count). The same ids and durations always give the same split.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence


def split(test_ids: Sequence[str], shards: int,
          durations: Mapping[str, float] | None = None) -> list[list[str]]:
    """At most ``shards`` non-empty, contiguous groups of ``test_ids`` whose expected times
    are as even as a greedy cut makes them."""
    known = {k: v for k, v in (durations or {}).items() if v >= 0}
    default = statistics.median(known.values()) if known else 1.0
    weights = [known.get(test_id, default) or 1e-3 for test_id in test_ids]
    count = min(shards, len(test_ids))
    groups: list[list[str]] = []
    start = 0
    remaining = sum(weights)
    for group in range(count):
        left = count - group
        if left == 1:
            groups.append(list(test_ids[start:]))
            break
        target = remaining / left
        end, acc = start, 0.0
        # take at least one test, leave at least one per later group, cut nearest the target
        while end < len(test_ids) - (left - 1):
            if end > start and abs(acc + weights[end] - target) > abs(acc - target):
                break
            acc += weights[end]
            end += 1
        groups.append(list(test_ids[start:end]))
        remaining -= acc
        start = end
    return groups
