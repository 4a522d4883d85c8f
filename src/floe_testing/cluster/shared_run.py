"""Coordination of pytest-xdist workers that share one cluster.

The controller creates a directory per run and hands it to every worker
(``pytest_configure_node``). Workers provision under a file lock, so the cluster is created
once and manifests are applied once, and they record what must be removed at the end; the
controller, which outlives every worker, does the removal. Each worker keeps its own forwards.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from filelock import FileLock

from floe_testing.cluster.records import ClusterRecord, ObjectRef
from floe_testing.cluster.release import release

if TYPE_CHECKING:
    from floe_testing.cluster.progress import Progress
    from floe_testing.cluster.settings import ClusterSettings



class SharedRun:
    """The run directory: a lock, what cluster is in use, and objects created on it."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def lock(self) -> FileLock:
        """Held while a worker creates the cluster or applies manifests."""
        return FileLock(str(self.directory / "provision.lock"), timeout=1800)

    def record_cluster(self, record: ClusterRecord) -> None:
        """Say which cluster the run uses (written once; every worker writes the same)."""
        (self.directory / "cluster.json").write_text(record.to_json())

    def cluster(self) -> ClusterRecord | None:
        """The cluster the run used, if any worker used one."""
        path = self.directory / "cluster.json"
        return ClusterRecord.from_json(path.read_text()) if path.exists() else None

    def record_created(self, refs: list[ObjectRef]) -> None:
        """Append references of objects a worker created (for removal on a reused cluster)."""
        if refs:
            with self.lock(), (self.directory / "created.jsonl").open("a") as out:
                out.writelines(ref.to_json() + "\n" for ref in refs)

    def created(self) -> list[ObjectRef]:
        """Every object reference recorded by the workers, in creation order."""
        path = self.directory / "created.jsonl"
        if not path.exists():
            return []
        return [ObjectRef.from_json(line) for line in path.read_text().splitlines()
                if line.strip()]

    def release(self, settings: ClusterSettings, progress: Progress) -> None:
        """The controller, after the last worker: release what the workers used."""
        release(settings, self.cluster(), self.created(), progress)
