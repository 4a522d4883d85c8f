"""The run's stack: which manifest components the needed services take, applied in dependency
order and waited for in parallel.

Manifests are parsed once, before any cluster exists (a broken file fails first). A component
is applied at most once per session, with the components it depends on; what the run created
is remembered for the end of the run (``release``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from floe_testing.cluster.apply import apply_document
from floe_testing.cluster.manifests import (
    WORKLOAD_KINDS,
    Component,
    ManifestDoc,
    apply_order,
    components,
    load_layers,
    with_dependencies,
)
from floe_testing.cluster.readiness import Workload, wait_ready
from floe_testing.cluster.records import ObjectRef

if TYPE_CHECKING:
    import pykube

    from floe_testing.cluster.progress import Progress
    from floe_testing.cluster.settings import ClusterSettings
    from floe_testing.service_requirement import ServiceRequirement


class Stack:
    """The manifests of the run and what has been applied of them."""

    def __init__(self, settings: ClusterSettings, progress: Progress) -> None:
        self.settings = settings
        self.progress = progress
        self._components: dict[str, Component] | None = None
        self._applied: set[str] = set()
        #: objects this run created, oldest first (a reused cluster gets them deleted)
        self.created: list[ObjectRef] = []

    @property
    def applied_any(self) -> bool:
        """True once a component was applied in this session."""
        return bool(self._applied)

    def components(self) -> dict[str, Component]:
        """The components, parsed on first call (one progress line names their source)."""
        if self._components is None:
            s = self.settings
            docs = load_layers(s.manifests_dir, s.extra_manifests)
            self.progress.line(f"manifests from {s.manifests_source}: {s.manifests_dir}"
                               + "".join(f" + {extra}" for extra in s.extra_manifests))
            self._components = components(docs)
        return self._components

    def component_of(self, service: str, namespace: str) -> str | None:
        """The manifest component that defines this Service, if any."""
        for comp in self.components().values():
            for name, ns, _ in comp.services():
                if name == service and (ns or "default") == namespace:
                    return comp.name
        return None

    def bring_up(self, api: pykube.HTTPClient, requirements: Iterable[ServiceRequirement]) -> None:
        """Apply the components these services need (with dependencies and the always-applied
        ones) that are not applied yet, and wait for their workloads."""
        comps = self.components()
        wanted = {c for c in (self.component_of(r.name, r.namespace) for r in requirements) if c}
        wanted |= {name for name, comp in comps.items() if comp.always}
        todo = sorted(with_dependencies(wanted, comps) - self._applied)
        if not todo:
            return
        docs = apply_order(d for name in todo for d in comps[name].docs)
        self._apply(api, docs)
        self._applied.update(todo)
        self._wait(api, [Workload(d.kind, d.name, d.namespace or "default")
                         for d in docs if d.kind in WORKLOAD_KINDS])

    def _apply(self, api: pykube.HTTPClient, docs: list[ManifestDoc]) -> None:
        counts = {"created": 0, "updated": 0, "unchanged": 0}
        with self.progress.step(f"apply {len(docs)} manifest documents"):
            for doc in docs:
                applied = apply_document(api, doc, self.settings.image_overrides)
                counts[applied.outcome] += 1
                if applied.outcome == "created":
                    self.created.append(ObjectRef.of(applied.obj))
        self.progress.line("manifests: " + ", ".join(f"{n} {k}" for k, n in counts.items()))

    def _wait(self, api: pykube.HTTPClient, workloads: list[Workload]) -> None:
        if not workloads:
            return
        with self.progress.step(f"{len(workloads)} workloads ready"):
            wait_ready(api, workloads, timeout=self.settings.ready_timeout,
                       on_ready=lambda w, t: self.progress.line(f"ready: {w} ({t:.2f}s)"))
