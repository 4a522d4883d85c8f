"""What a run must release at its end, and the one function that releases it.

A :class:`ClusterRecord` says which cluster the run used (a kind cluster it may delete, or a
reused one it never deletes); :class:`ObjectRef` names an object the run created on a reused
cluster. Both are plain data so the pytest-xdist controller, which outlives every worker, can
release what a worker started (see ``shared_run``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pykube

from floe_testing.cluster.kubeconfig import connect, connect_in_cluster

if TYPE_CHECKING:
    from floe_testing.cluster.progress import Progress
    from floe_testing.cluster.settings import ClusterSettings


@dataclass(frozen=True)
class ClusterRecord:
    """The cluster a run uses: enough for another process to release it."""

    mode: Literal["kind", "reuse"]
    #: the kubeconfig in use (None: the pod's own cluster, in-cluster mode)
    kubeconfig: str | None
    #: where a reused cluster's kubeconfig was named (``KUBECONFIG``, ``--kubeconfig``)
    source: str | None = None
    kind_name: str | None = None
    kind_path: str | None = None
    kubectl_path: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ClusterRecord:
        return cls(**json.loads(text))


@dataclass(frozen=True)
class ObjectRef:
    """Enough to find an object the run created again, from another process."""

    api_version: str
    kind: str
    name: str
    namespace: str = ""

    @classmethod
    def of(cls, obj: pykube.objects.APIObject) -> ObjectRef:
        return cls(obj.version, obj.kind, obj.name, obj.obj["metadata"].get("namespace") or "")

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ObjectRef:
        data: dict[str, Any] = json.loads(text)
        return cls(**data)


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
            cls = pykube.object_factory(api, ref.api_version, ref.kind)
            metadata = {"name": ref.name, **({"namespace": ref.namespace}
                                             if ref.namespace else {})}
            cls(api, {"metadata": metadata}).delete(propagation_policy="Background")


def manual_cleanup_hint(settings: ClusterSettings) -> str:
    """What to do by hand when releasing failed."""
    if settings.reuse:
        return "Check the reused cluster for objects labelled floe-testing.dev/run-id."
    return f"Remove it by hand: kind delete cluster --name {settings.cluster_name}"
