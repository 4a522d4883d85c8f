"""The run's stack: which manifest components the needed services take, applied in dependency
order and waited for in parallel.

Manifests are parsed once, before any cluster exists (a broken file or a chart that does not
render fails first). A component is applied at most once per session, with the components it
depends on; what the run created is remembered for the end of the run (``release``). A chart's
release runs its hooks around that (``releases``, ``hooks``): pre-install/pre-upgrade hooks
before its objects (its dependencies up first), post-install/post-upgrade hooks once its
workloads are ready, none when the release is unchanged.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import TYPE_CHECKING

from floe_testing.cluster.apply import Applied, apply_document
from floe_testing.cluster.manifests import (
    WORKLOAD_KINDS,
    Component,
    ManifestDoc,
    apply_order,
    apply_rank,
    components,
    with_dependencies,
)
from floe_testing.cluster.readiness import Workload, wait_ready
from floe_testing.cluster.records import ObjectRef
from floe_testing.cluster.sources import load_layers

if TYPE_CHECKING:
    import pykube

    from floe_testing.cluster.progress import Progress
    from floe_testing.cluster.releases import Release
    from floe_testing.cluster.settings import ClusterSettings
    from floe_testing.redaction import SecretValues
    from floe_testing.service_requirement import ServiceRequirement


class Stack:
    """The manifests of the run and what has been applied of them."""

    def __init__(self, settings: ClusterSettings, progress: Progress,
                 secrets: SecretValues | None = None) -> None:
        self.settings = settings
        self.progress = progress
        #: the run's secrets: learn the data of every Secret of the manifests (charts'
        #: included), to mask it
        self._secrets = secrets
        self._components: dict[str, Component] | None = None
        self._applied: set[str] = set()
        #: objects this run created, oldest first (a reused cluster gets them deleted)
        self.created: list[ObjectRef] = []

    def components(self) -> dict[str, Component]:
        """The components, parsed on first call (one progress line names their source)."""
        if self._components is None:
            s = self.settings
            docs = load_layers(s.manifests_dir, s.extra_manifests, s.render_settings())
            self.progress.line(f"manifests from {s.manifests_source}: {s.manifests_dir}"
                               + "".join(f" + {extra}" for extra in s.extra_manifests))
            self._mask_secrets(docs)
            self._components = components(docs)
        return self._components

    def _mask_secrets(self, docs: list[ManifestDoc]) -> None:
        """Every Secret's values (a chart's rendered ones too) are known secrets from now on."""
        if self._secrets is None:
            return
        for doc in docs:
            if doc.kind != "Secret":
                continue
            data = {str(k): str(v) for k, v in (doc.obj.get("stringData") or {}).items()}
            for key, value in (doc.obj.get("data") or {}).items():
                try:
                    data[str(key)] = base64.b64decode(str(value)).decode()
                except ValueError:
                    continue
            self._secrets.add_secret_data(data)

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
        self._bring_up(api, with_dependencies(wanted, comps))

    def bring_up_component(self, api: pykube.HTTPClient, name: str) -> None:
        """One component with what it depends on (a chart's test hooks need its release)."""
        self._bring_up(api, with_dependencies({name}, self.components()))

    def _bring_up(self, api: pykube.HTTPClient, names: set[str]) -> None:
        from floe_testing.cluster.releases import Release

        comps = self.components()
        todo = sorted(names - self._applied)
        if not todo:
            return
        releases = [Release(api, comps[n], self.settings.image_overrides) for n in todo
                    if comps[n].is_chart]
        # a chart's pre-install hooks may need what it depends on: that goes up first
        early = {dep for r in releases if r.hooks(r.pre_event)
                 for dep in with_dependencies(r.component.depends_on, comps)} & set(todo)
        if early and early != set(todo):
            self._bring_up(api, early)
            releases = [r for r in releases if r.name not in self._applied]
            todo = [n for n in todo if n not in self._applied]
        for release in releases:
            self.progress.line(release.describe())
        if any(r.hooks(r.pre_event) for r in releases):
            for doc in apply_order(d for n in todo for d in comps[n].docs
                                   if d.kind == "Namespace"):
                self._track(apply_document(api, doc, self.settings.image_overrides))
        for release in releases:
            self._run_hooks(api, release, release.pre_event)
        docs = apply_order(d for name in todo for d in comps[name].docs)
        self._apply(api, docs)
        # a release counts as up once its post hooks succeeded: after a failed one, the next
        # test that needs it tries again (and fails with the hook's diagnosis again)
        self._applied.update(n for n in todo if not comps[n].is_chart)
        self._wait(api, [Workload(d.kind, d.name, d.namespace or "default",
                                  str(d.obj["apiVersion"]))
                         for d in docs if d.kind in WORKLOAD_KINDS])
        for release in releases:
            self._run_hooks(api, release, release.post_event)
            self._finish(api, release)
            self._applied.add(release.name)

    def _run_hooks(self, api: pykube.HTTPClient, release: Release, event: str | None) -> None:
        from floe_testing.cluster.hooks import run_phase

        hooks = release.hooks(event)
        if hooks and event:
            run_phase(api, release.name, event, hooks, overrides=self.settings.image_overrides,
                      timeout=self.settings.ready_timeout, progress=self.progress,
                      on_created=self.created.append)

    def _finish(self, api: pykube.HTTPClient, release: Release) -> None:
        """Objects the new revision dropped are deleted; then the release's record."""
        from floe_testing.cluster.releases import delete_stale, write_record

        dropped = delete_stale(api, release)
        if dropped:
            self.progress.line(f"release {release.name!r}: deleted {', '.join(dropped)} (no "
                               "longer rendered)")
        created = write_record(api, release, self.settings.image_overrides)
        if created is not None:
            self.created.append(ObjectRef.of(created))

    def _track(self, applied: Applied) -> None:
        if applied.outcome == "created":
            self.created.append(ObjectRef.of(applied.obj))

    def _apply(self, api: pykube.HTTPClient, docs: list[ManifestDoc]) -> None:
        """Kind by kind in dependency order; the documents of one kind at once (as Helm
        creates them), so the workloads start sooner."""
        from concurrent.futures import ThreadPoolExecutor
        from itertools import groupby

        counts = {"created": 0, "updated": 0, "unchanged": 0}
        with self.progress.step(f"apply {len(docs)} manifest documents"), \
                ThreadPoolExecutor(max_workers=8, thread_name_prefix="floe-apply") as pool:
            for _, group in groupby(docs, key=apply_rank):
                for applied in pool.map(lambda d: apply_document(
                        api, d, self.settings.image_overrides), list(group)):
                    counts[applied.outcome] += 1
                    self._track(applied)
        self.progress.line("manifests: " + ", ".join(f"{n} {k}" for k, n in counts.items()))

    def _wait(self, api: pykube.HTTPClient, workloads: list[Workload]) -> None:
        if not workloads:
            return
        with self.progress.step(f"{len(workloads)} workloads ready"):
            wait_ready(api, workloads, timeout=self.settings.ready_timeout,
                       on_ready=lambda w, t: self.progress.line(f"ready: {w} ({t:.2f}s)"))
