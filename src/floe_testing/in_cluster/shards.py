"""One shard of an in-cluster run: its tests, its pod, and what came back so far."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from floe_testing.in_cluster.frames import FrameDecoder


@dataclass
class Shard:
    """One shard: its tests, its pod, what came back."""

    index: int
    ids: list[str]
    job: str
    decoder: FrameDecoder
    created_at: float = field(default_factory=time.monotonic)
    pod: str | None = None
    running_at: float | None = None
    first_report_at: float | None = None
    ended_at: float | None = None
    exit_code: int | None = None
    #: its log is followed (by a thread of its own, until the pod ends)
    following: bool = False
    started_tests: set[str] = field(default_factory=set)
    finished_tests: set[str] = field(default_factory=set)
    #: (test id, phase) of every report replayed, and the collectors reported
    reported: set[tuple[str, str]] = field(default_factory=set)
    _id_set: frozenset[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._id_set = frozenset(self.ids)

    @property
    def done(self) -> bool:
        return self.ended_at is not None

    def holds(self, test_id: str) -> bool:
        """Whether ``test_id`` is one of this shard's tests."""
        return test_id in self._id_set

    def holds_collector(self, node_id: str) -> bool:
        """Whether ``node_id`` is a collector (module, class) of one of this shard's tests."""
        return node_id == "" or any(t.startswith(f"{node_id}::") or t == node_id
                                    for t in self.ids)

    def figures(self) -> str:
        """Where the shard's time went (a benchmark reads these lines)."""
        def since(t: float | None) -> str:
            return f"{t - self.created_at:.1f}s" if t is not None else "-"
        return (f"{len(self.ids)} tests; pod running after {since(self.running_at)}, first "
                f"result after {since(self.first_report_at)}, done after "
                f"{since(self.ended_at)}; "
                + (f"exit {self.exit_code}" if self.exit_code is not None else "stopped"))
