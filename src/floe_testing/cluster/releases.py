"""A chart's release on the cluster: install, upgrade or unchanged, and the record that says so.

Helm keeps a release's state in the cluster; so do we, in one labelled ConfigMap per release
(``floe-testing-release-NAME`` in the release's namespace): the digest of what was applied
(documents and hooks, after image overrides) and the objects it holds. From it a run knows:

* no record: an **install** (``pre-install`` hooks, objects, ``post-install`` hooks);
* another digest: an **upgrade** (``pre-upgrade`` hooks, objects, ``post-upgrade``), and the
  objects the release no longer renders are deleted, as ``helm upgrade`` deletes them; the
  record's digest per object says which ones changed (a Secret the chart generates anew on
  every render makes every run an upgrade: the line says so and how to pin it);
* the same digest: **unchanged**: no hook runs again; applying is a no-op (each object's
  applied hash) and the workloads are only checked.

The record is written after the last hook succeeded (a failed install stays an install), is
created with the run's labels (so a reused cluster loses it with the run's other objects), and
goes with the cluster or namespace.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pykube

from floe_testing.cluster.apply import apply_document, desired_object, object_class
from floe_testing.cluster.hooks import hooks_of
from floe_testing.cluster.manifests import Component, ManifestDoc

if TYPE_CHECKING:
    from floe_testing.cluster.origins import Origin

RELEASE_LABEL = "floe-testing.dev/release"
RECORD_PREFIX = "floe-testing-release-"
#: Helm's annotation that keeps an object its chart no longer renders (value ``keep``)
RESOURCE_POLICY = "helm.sh/resource-policy"


@dataclass(frozen=True)
class ReleaseRecord:
    """What the cluster says of a release: its digest and its objects."""

    digest: str
    objects: tuple[tuple[str, str, str, str], ...]  # apiVersion, kind, namespace, name
    #: each document's digest (hooks too), by ``Kind/name`` (empty in an older record)
    digests: Mapping[str, str] = field(default_factory=dict)


class Release:
    """One chart component's release in this run: what to do, and its hooks per phase."""

    def __init__(self, api: pykube.HTTPClient, component: Component,
                 overrides: Mapping[str, str]) -> None:
        assert component.origin is not None
        self.component = component
        self.origin: Origin = component.origin
        self.name = component.name
        self.digest, self.digests = release_digests(component, overrides)
        self.previous = read_record(api, self.origin.namespace, self.name)
        if self.previous is None:
            self.action = "install"
        elif self.previous.digest != self.digest:
            self.action = "upgrade"
        else:
            self.action = "unchanged"

    @property
    def pre_event(self) -> str | None:
        return {"install": "pre-install", "upgrade": "pre-upgrade"}.get(self.action)

    @property
    def post_event(self) -> str | None:
        return {"install": "post-install", "upgrade": "post-upgrade"}.get(self.action)

    def hooks(self, event: str | None) -> list[ManifestDoc]:
        return hooks_of(self.component.hooks, event) if event else []

    def describe(self) -> str:
        what = {"install": "install", "upgrade": "upgrade (values or templates changed)",
                "unchanged": "unchanged (no hooks run)"}[self.action]
        if self.action == "upgrade" and self.previous is not None and self.previous.digests:
            what = f"upgrade ({describe_changes(self.previous.digests, self.digests)})"
        return (f"release {self.name!r} (chart {self.origin.chart}, namespace "
                f"{self.origin.namespace}): {what}")

    def stale_objects(self) -> list[tuple[str, str, str, str]]:
        """Objects of the previous revision this one no longer renders."""
        if self.previous is None:
            return []
        now = set(objects_of(self.component.docs))
        return [ref for ref in self.previous.objects if ref not in now]

    def record_doc(self) -> ManifestDoc:
        """The record of this revision, as a document the ordinary pipeline applies."""
        origin = self.origin
        return ManifestDoc(origin.path, 0, {
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": RECORD_PREFIX + self.name, "namespace": origin.namespace,
                         "labels": {RELEASE_LABEL: self.name}},
            "data": {"digest": self.digest, "chart": origin.chart,
                     "objects": json.dumps(objects_of(self.component.docs)),
                     "digests": json.dumps(self.digests, sort_keys=True)},
        }, component_name=self.name)


def objects_of(docs: list[ManifestDoc]) -> list[tuple[str, str, str, str]]:
    return [(str(d.obj["apiVersion"]), d.kind, d.namespace or "", d.name) for d in docs]


def release_digests(component: Component,
                    overrides: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """The digest of everything the release applies (documents and hooks, as sent), and each
    document's, by ``Kind/name`` (``Kind/ns/name`` when two in different namespaces share a
    name)."""
    sent = [(doc, desired_object(doc, overrides)) for doc in component.docs + component.hooks]
    whole = hashlib.sha256(json.dumps([obj for _, obj in sent], sort_keys=True).encode())
    each: dict[str, str] = {}
    for doc, obj in sent:
        key = f"{doc.kind}/{doc.name}"
        if key in each:
            key = f"{doc.kind}/{doc.namespace or ''}/{doc.name}"
        each[key] = hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]
    return whole.hexdigest()[:32], each


#: how many objects an upgrade line names (the rest are counted)
_NAMED_CHANGES = 4


def describe_changes(before: Mapping[str, str], now: Mapping[str, str]) -> str:
    """What an upgrade changes, for its progress line: the objects changed, new and no longer
    rendered. When only Secrets changed, the likely cause: a chart that generates a value on
    every render (``randAlphaNum``, ``genCA``) upgrades every run until the value is pinned."""
    changed = sorted(k for k in now if k in before and before[k] != now[k])
    new = sorted(k for k in now if k not in before)
    gone = sorted(k for k in before if k not in now)
    parts = []
    for label, keys in (("changed", changed), ("new", new), ("no longer rendered", gone)):
        if keys:
            shown = ", ".join(keys[:_NAMED_CHANGES])
            more = f" and {len(keys) - _NAMED_CHANGES} more" if len(keys) > _NAMED_CHANGES else ""
            parts.append(f"{label}: {shown}{more}")
    if not parts:
        return "values or templates changed"
    said = "; ".join(parts)
    if changed and not new and not gone and all(k.startswith("Secret/") for k in changed):
        said += ("; if this says so on every run, the chart generates the Secret's values "
                 "anew on each render (randAlphaNum, genCA): pin them in your values file")
    return said


def read_record(api: pykube.HTTPClient, namespace: str, name: str) -> ReleaseRecord | None:
    """The release's record in the cluster, or None (never installed by us)."""
    found = pykube.ConfigMap.objects(api, namespace=namespace).get_or_none(
        name=RECORD_PREFIX + name)
    if found is None:
        return None
    data: dict[str, Any] = found.obj.get("data") or {}
    try:
        listed = json.loads(data.get("objects", "[]"))
        objects: tuple[tuple[str, str, str, str], ...] = tuple(
            (str(a), str(k), str(ns), str(n)) for a, k, ns, n in listed)
    except ValueError:
        objects = ()
    try:
        digests = {str(k): str(v) for k, v in json.loads(data.get("digests", "{}")).items()}
    except (ValueError, AttributeError):
        digests = {}
    return ReleaseRecord(str(data.get("digest", "")), objects, digests)


def write_record(api: pykube.HTTPClient, release: Release,
                 overrides: Mapping[str, str]) -> pykube.objects.APIObject | None:
    """Write the record; the object when it was created by this call."""
    applied = apply_document(api, release.record_doc(), overrides)
    return applied.obj if applied.outcome == "created" else None


def delete_stale(api: pykube.HTTPClient, release: Release) -> list[str]:
    """Delete what the previous revision had and this one does not render; their names. An
    object annotated ``helm.sh/resource-policy: keep`` stays, as Helm leaves it."""
    deleted = []
    for api_version, kind, namespace, name in release.stale_objects():
        doc = ManifestDoc(release.origin.path, 0, {
            "apiVersion": api_version, "kind": kind,
            "metadata": {"name": name, **({"namespace": namespace} if namespace else {})}})
        cls = object_class(api, doc)
        obj = cls(api, {"metadata": dict(doc.obj["metadata"])})
        if not obj.exists():
            continue
        obj.reload()
        if obj.annotations.get(RESOURCE_POLICY, "").strip().lower() == "keep":
            continue
        obj.delete(propagation_policy="Background")
        deleted.append(f"{kind}/{name}")
    return deleted
