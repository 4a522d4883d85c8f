"""Manifest documents: one file's documents read and checked, their order, components, config
digests and image overrides (where the documents come from, plain files or rendered charts
and kustomizations: ``sources``)."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from floe_testing.errors import FloeTestingError

if TYPE_CHECKING:
    from floe_testing.cluster.origins import Hook, Origin

#: Apply order: what others refer to first (kinds not listed go just before workloads).
KIND_ORDER = [
    "Namespace", "CustomResourceDefinition", "ResourceQuota", "LimitRange",
    "PodSecurityPolicy", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role",
    "RoleBinding", "Secret", "ConfigMap", "StorageClass", "PersistentVolume",
    "PersistentVolumeClaim", "Service", "Deployment", "StatefulSet", "DaemonSet",
    "ReplicaSet", "Pod", "Job", "CronJob", "Ingress",
]
#: on a workload's pod template: the digest of the ConfigMaps and Secrets it reads
CONFIG_DIGEST_ANNOTATION = "floe-testing.dev/config-digest"
WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "Job", "Pod"})
DEPENDS_ON_ANNOTATION = "floe-testing.dev/depends-on"
_UNLISTED_RANK = KIND_ORDER.index("Service") + 0.5


class ManifestError(FloeTestingError):
    """A manifest document is unreadable, incomplete or rejected; says file, index and object."""


@dataclass
class ManifestDoc:
    """One YAML document of a manifest file, with where it came from."""

    path: Path
    index: int
    obj: dict[str, Any]
    #: set when this document replaces one of another file: it joins that document's component
    replaces_in: str | None = None
    #: a rendered document's component (its chart or kustomization), not its file's stem
    component_name: str | None = None
    #: a chart's hook: run in its phase by ``hooks``, never applied with the component
    hook: Hook | None = None
    #: the chart or kustomization a rendered document came from
    origin: Origin | None = None

    @property
    def kind(self) -> str:
        return str(self.obj["kind"])

    @property
    def name(self) -> str:
        return str(self.obj["metadata"]["name"])

    @property
    def namespace(self) -> str | None:
        ns = self.obj["metadata"].get("namespace")
        return str(ns) if ns else None

    @property
    def component(self) -> str:
        """The file's stem (a rendered document's chart or kustomization): documents of one
        component are applied together, on demand."""
        return self.replaces_in or self.component_name or self.path.stem

    @property
    def identity(self) -> tuple[str, str | None, str]:
        """(kind, namespace, name): what a document of an extra directory replaces."""
        return self.kind, self.namespace, self.name

    def where(self) -> str:
        """``file (document N) Kind/name`` for error messages."""
        return f"{self.path} (document {self.index}) {self.kind}/{self.name}"


@dataclass
class Component:
    """The documents of one manifest file; applied only when a test needs one of its Services."""

    name: str
    docs: list[ManifestDoc] = field(default_factory=list)
    depends_on: set[str] = field(default_factory=set)
    #: a chart's hooks (``cluster.hooks`` runs them in their phases)
    hooks: list[ManifestDoc] = field(default_factory=list)
    #: the chart release or kustomization it was rendered from
    origin: Origin | None = None

    @property
    def is_chart(self) -> bool:
        """True for a Helm chart's release (hooks, release record)."""
        return self.origin is not None and self.origin.kind == "chart"

    @property
    def always(self) -> bool:
        """Files without workloads (namespaces, quotas, shared config) are always applied."""
        return not self.hooks and not any(doc.kind in WORKLOAD_KINDS for doc in self.docs)

    def services(self) -> Iterator[tuple[str, str | None, list[int]]]:
        """(name, namespace, ports) of each Service this component defines."""
        for doc in self.docs:
            if doc.kind == "Service":
                ports = [int(p["port"]) for p in doc.obj.get("spec", {}).get("ports", [])]
                yield doc.name, doc.namespace, ports


def _config_refs(pod_spec: Mapping[str, Any]) -> set[tuple[str, str]]:
    """The (kind, name) of every ConfigMap and Secret a pod spec reads."""
    refs: set[tuple[str, str]] = set()
    for volume in pod_spec.get("volumes") or []:
        if (volume.get("configMap") or {}).get("name"):
            refs.add(("ConfigMap", volume["configMap"]["name"]))
        if (volume.get("secret") or {}).get("secretName"):
            refs.add(("Secret", volume["secret"]["secretName"]))
        for source in (volume.get("projected") or {}).get("sources") or []:
            for kind, key in (("ConfigMap", "configMap"), ("Secret", "secret")):
                if (source.get(key) or {}).get("name"):
                    refs.add((kind, source[key]["name"]))
    for key in ("initContainers", "containers"):
        for container in pod_spec.get(key) or []:
            for source in container.get("envFrom") or []:
                for kind, ref in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                    if (source.get(ref) or {}).get("name"):
                        refs.add((kind, source[ref]["name"]))
            for env in container.get("env") or []:
                value_from = env.get("valueFrom") or {}
                for kind, ref in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
                    if (value_from.get(ref) or {}).get("name"):
                        refs.add((kind, value_from[ref]["name"]))
    return refs


def stamp_config_digests(docs: list[ManifestDoc]) -> None:
    """Give each workload's pod template the digest of the ConfigMaps and Secrets (of these
    manifests) it reads, so a changed one changes the workload too: applied to a running stack
    (a kept cluster, a project replacing the Dagster code location), the workload is updated
    and its pods restart with the new content instead of keeping the old one."""
    contents = {(d.kind, d.namespace or "default", d.name):
                {k: d.obj.get(k) for k in ("data", "binaryData", "stringData")}
                for d in docs if d.kind in ("ConfigMap", "Secret")}
    for doc in docs:
        if doc.kind not in WORKLOAD_KINDS - {"Pod"}:
            continue
        for pod_spec in _pod_specs(doc.obj):
            namespace = doc.namespace or "default"
            read = sorted((kind, name) for kind, name in _config_refs(pod_spec)
                          if (kind, namespace, name) in contents)
            if not read:
                continue
            digest = hashlib.sha256(json.dumps(
                [contents[(kind, namespace, name)] for kind, name in read],
                sort_keys=True).encode()).hexdigest()[:16]
            template = doc.obj["spec"]["template"]
            metadata = template.setdefault("metadata", {}) or {}
            template["metadata"] = metadata
            metadata["annotations"] = {**(metadata.get("annotations") or {}),
                                       CONFIG_DIGEST_ANNOTATION: digest}


def load_file(path: Path) -> Iterator[ManifestDoc]:
    import yaml  # here, not at module level: settings validation runs on every pytest run

    raw_docs: list[Any] = []
    try:
        for raw in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            raw_docs.append(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        # the documents before the broken one loaded: its index is how many did
        raise ManifestError(f"{path}:{where} YAML syntax error in document {len(raw_docs)}: "
                            f"{problem}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: cannot be read as UTF-8 text: {exc}") from None
    for index, obj in enumerate(raw_docs):
        if obj is None:
            continue
        yield checked_document(path, index, obj)


def checked_document(path: Path, index: int, obj: Any) -> ManifestDoc:
    """A document that has what applying it needs (a mapping with apiVersion, kind and
    metadata.name), else an error naming file and index."""
    if not isinstance(obj, dict):
        raise ManifestError(f"{path} (document {index}): expected a mapping, got "
                            f"{type(obj).__name__}")
    missing = [k for k in ("apiVersion", "kind") if not obj.get(k)]
    if not isinstance(obj.get("metadata"), dict) or not obj["metadata"].get("name"):
        missing.append("metadata.name")
    if missing:
        hint = (" (a Helm chart's templates? a chart is a directory holding Chart.yaml)"
                if "{{" in json.dumps(obj) else "")
        raise ManifestError(f"{path} (document {index}): missing {', '.join(missing)}{hint}")
    return ManifestDoc(path, index, obj)


def apply_rank(doc: ManifestDoc) -> float:
    """A document's place in the apply order (equal for documents of one kind)."""
    return KIND_ORDER.index(doc.kind) if doc.kind in KIND_ORDER else _UNLISTED_RANK


def apply_order(docs: Iterable[ManifestDoc]) -> list[ManifestDoc]:
    """Documents in dependency order (stable within a kind)."""
    return sorted(docs, key=apply_rank)


def components(docs: Iterable[ManifestDoc]) -> dict[str, Component]:
    """Group documents by file into components, with ``depends-on`` annotations collected."""
    found: dict[str, Component] = {}
    for doc in docs:
        comp = found.setdefault(doc.component, Component(doc.component))
        (comp.hooks if doc.hook is not None else comp.docs).append(doc)
        comp.origin = comp.origin or doc.origin
        deps = (doc.obj["metadata"].get("annotations") or {}).get(DEPENDS_ON_ANNOTATION, "")
        comp.depends_on.update(d.strip() for d in str(deps).split(",") if d.strip())
    for comp in found.values():
        unknown = comp.depends_on - found.keys()
        if unknown:
            raise ManifestError(
                f"component {comp.name!r} ({comp.docs[0].path}) depends on unknown "
                f"component(s) {sorted(unknown)}; components are manifest file names: "
                f"{sorted(found)}"
            )
    return found


def with_dependencies(wanted: Iterable[str], comps: Mapping[str, Component]) -> set[str]:
    """``wanted`` plus everything they depend on, transitively."""
    result: set[str] = set()
    stack = list(wanted)
    while stack:
        name = stack.pop()
        if name not in result:
            result.add(name)
            stack.extend(comps[name].depends_on)
    return result


def rewrite_image(image: str, overrides: Mapping[str, str]) -> str:
    """Exact match first; else the longest key ending in '/' that prefixes the image."""
    if image in overrides:
        return overrides[image]
    prefixes = [k for k in overrides if k.endswith("/") and image.startswith(k)]
    if prefixes:
        best = max(prefixes, key=len)
        return overrides[best] + image[len(best):]
    return image


def _pod_specs(obj: dict[str, Any]) -> Iterator[dict[str, Any]]:
    kind = obj.get("kind")
    spec = obj.get("spec", {})
    if kind == "Pod":
        yield spec
    elif kind == "CronJob":
        yield spec.get("jobTemplate", {}).get("spec", {}).get("template", {}).get("spec", {})
    elif "template" in spec:
        yield spec["template"].get("spec", {})


def with_image_overrides(doc: ManifestDoc, overrides: Mapping[str, str]) -> dict[str, Any]:
    """A copy of the document with every container image rewritten."""
    obj = copy.deepcopy(doc.obj)
    if overrides:
        for pod_spec in _pod_specs(obj):
            for key in ("initContainers", "containers"):
                for container in pod_spec.get(key, []) or []:
                    if "image" in container:
                        container["image"] = rewrite_image(container["image"], overrides)
    return obj


def images(obj: Mapping[str, Any]) -> list[str]:
    """Every container image a document refers to."""
    return [
        c["image"]
        for pod_spec in _pod_specs(dict(obj))
        for key in ("initContainers", "containers")
        for c in pod_spec.get(key, []) or []
        if "image" in c
    ]
