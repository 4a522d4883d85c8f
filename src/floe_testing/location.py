"""Where this process runs: outside any cluster, in a pod of the cluster, or in a shard pod of an
in-cluster run. Imported by every run (settings, traceability, the plugin): stdlib only."""

from __future__ import annotations

import os
from pathlib import Path

#: set in a shard pod of ``--floe-in-cluster`` (``INDEX/COUNT``): the stack belongs to the
#: outer run
SHARD_ENV = "FLOE_SHARD"


def running_as_shard() -> bool:
    """True inside a shard pod: the stack is the outer run's (never applied or deleted here),
    and every test report is sent back to it."""
    return bool(os.environ.get(SHARD_ENV))


def in_cluster_mode(kubeconfig: Path | None) -> bool:
    """The one definition of "running inside a cluster": in a pod (the kubelet sets
    ``KUBERNETES_SERVICE_HOST``) with no kubeconfig named. A named kubeconfig wins, because it
    may well point at another cluster than the pod's."""
    return kubeconfig is None and bool(os.environ.get("KUBERNETES_SERVICE_HOST"))
