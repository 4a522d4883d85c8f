"""What a run must release at its end, and the one function that releases it: the kind
cluster it created (unless kept), or the objects it created on a reused cluster (the
``records`` say which), also from the pytest-xdist controller (see ``shared_run``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pykube

from floe_testing.cluster.kinds import pykube_class
from floe_testing.cluster.kubeconfig import connect, connect_in_cluster
from floe_testing.cluster.records import ClusterRecord, ObjectRef

if TYPE_CHECKING:
    from floe_testing.cluster.progress import Progress
    from floe_testing.cluster.settings import ClusterSettings


def release(settings: ClusterSettings, record: ClusterRecord | None,
            created: list[ObjectRef], progress: Progress) -> None:
    """End of run: delete the kind cluster unless kept; on a reused cluster, delete what the
    run created unless kept. Never deletes a reused cluster."""
    if record is None:
        return
    if settings.keep_cluster:
        if record.mode == "kind":
            progress.line(f"kept kind cluster {record.kind_name!r} (--keep-cluster); the next "
                          "run reuses it")
        return
    if record.mode == "kind":
        from floe_testing.cluster.kind import delete_kind_cluster

        delete_kind_cluster(record, progress)
        return
    if created:
        access = (connect(Path(record.kubeconfig), record.source or "kubeconfig")
                  if record.kubeconfig else connect_in_cluster())
        delete_created(access.api, created, progress)


def delete_created(api: pykube.HTTPClient, created: list[ObjectRef],
                   progress: Progress) -> None:
    """Newest first; objects inside a namespace the run created go with the namespace."""
    namespaces = {r.name for r in created if r.kind == "Namespace"}
    doomed = [r for r in reversed(created)
              if r.kind == "Namespace" or r.namespace not in namespaces]
    with progress.step(f"delete {len(doomed)} objects created by this run "
                       f"(namespaces: {', '.join(sorted(namespaces)) or 'none'})"):
        for ref in doomed:
            cls = pykube_class(api, ref.api_version, ref.kind)
            metadata = {"name": ref.name, **({"namespace": ref.namespace}
                                             if ref.namespace else {})}
            cls(api, {"metadata": metadata}).delete(propagation_policy="Background")


def manual_cleanup_hint(settings: ClusterSettings) -> str:
    """What to do by hand when releasing failed."""
    if settings.reuse:
        return "Check the reused cluster for objects labelled floe-testing.dev/run-id."
    return f"Remove it by hand: kind delete cluster --name {settings.cluster_name}"
