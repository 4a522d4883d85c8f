"""Coordination of pytest-xdist workers that share one cluster.

The controller creates a directory per run and hands it to every worker
(``pytest_configure_node``). Workers provision under a file lock, so the cluster is created
once and manifests are applied once, and they record what must be removed at the end; the
controller, which outlives every worker, does the removal. Each worker keeps its own forwards.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from filelock import FileLock

WORKER_INPUT_KEY = "floe_testing_run_dir"


class SharedRun:
    """The run directory: a lock, what cluster is in use, and objects created on it."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def lock(self) -> FileLock:
        """Held while a worker creates the cluster or applies manifests."""
        return FileLock(str(self.directory / "provision.lock"), timeout=1800)

    def record_cluster(self, info: dict[str, Any]) -> None:
        """Say which cluster the run uses (written once; every worker writes the same)."""
        (self.directory / "cluster.json").write_text(json.dumps(info))

    def cluster(self) -> dict[str, Any] | None:
        """The cluster the run used, if any worker used one."""
        path = self.directory / "cluster.json"
        if not path.exists():
            return None
        data: dict[str, Any] = json.loads(path.read_text())
        return data

    def record_created(self, refs: list[dict[str, str]]) -> None:
        """Append references of objects a worker created (for removal on a reused cluster)."""
        if refs:
            with self.lock(), (self.directory / "created.jsonl").open("a") as out:
                out.writelines(json.dumps(ref) + "\n" for ref in refs)

    def created(self) -> list[dict[str, str]]:
        """Every object reference recorded by the workers, in creation order."""
        path = self.directory / "created.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
