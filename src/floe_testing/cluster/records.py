"""What a run used and created, as plain data: :class:`ClusterRecord` says which cluster (a
kind cluster it may delete, or a reused one it never deletes), :class:`ObjectRef` names an
object it created on a reused cluster. Plain data, so the pytest-xdist controller, which
outlives every worker, can release what a worker started."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import pykube


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
        """The reference of ``obj``; a kind the server serves cluster-wide (its class says so,
        from the server's discovery) has no namespace, whatever its manifest said."""
        from pykube.objects import NamespacedAPIObject

        namespace = obj.obj["metadata"].get("namespace") or "" \
            if isinstance(obj, NamespacedAPIObject) else ""
        return cls(obj.version, obj.kind, obj.name, namespace)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ObjectRef:
        data: dict[str, Any] = json.loads(text)
        return cls(**data)
