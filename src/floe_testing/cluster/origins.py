"""Where a rendered document came from, as plain data the manifests carry: the chart release or
kustomization (:class:`Origin`), and a chart hook's annotations read as Helm reads them
(:class:`Hook`). Kept apart from the rendering (``charts``, ``kustomize``) so the documents'
module needs nothing of it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Hook:
    """A document's Helm hook annotations, read as Helm reads them."""

    events: tuple[str, ...]
    weight: int = 0
    #: as annotated; none means Helm's default, ``before-hook-creation``
    delete_policies: tuple[str, ...] = ()

    @property
    def policies(self) -> tuple[str, ...]:
        return self.delete_policies or ("before-hook-creation",)


@dataclass(frozen=True)
class Origin:
    """Where a rendered component came from: a chart release or a kustomization."""

    kind: str  # "chart" | "kustomize"
    name: str
    path: Path
    namespace: str
    #: ``name-version`` of a chart
    chart: str = ""
