"""Helm charts as components: found in a manifests directory, rendered offline with
``helm template`` into manifest documents (hooks among them, marked), before any cluster exists.

A directory holding ``Chart.yaml`` (or a packaged chart ``.tgz``) is one release: its documents
form one component named after the chart, applied by the ordinary pipeline (``apply``,
``readiness``, ``stack``); its hooks are run in their phases by ``hooks``. Values: the chart's
own, then each values file and ``--set`` entry the settings give for it. A chart that does not
render fails here with one screen naming the chart, the template file and Helm's message.
"""

from __future__ import annotations

import re
import subprocess
import tarfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from floe_testing.cluster.manifests import ManifestDoc, ManifestError, checked_document
from floe_testing.cluster.origins import Hook, Origin

HOOK_ANNOTATION = "helm.sh/hook"
HOOK_WEIGHT_ANNOTATION = "helm.sh/hook-weight"
HOOK_DELETE_ANNOTATION = "helm.sh/hook-delete-policy"
#: Helm's hook events (``test-success`` is Helm 2's name for ``test``)
HOOK_EVENTS = {
    "pre-install", "post-install", "pre-upgrade", "post-upgrade", "pre-delete", "post-delete",
    "pre-rollback", "post-rollback", "test",
}
#: Kinds without a namespace: every other rendered object lands in the release's namespace
CLUSTER_SCOPED_KINDS = frozenset({
    "Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding",
    "PersistentVolume", "StorageClass", "PriorityClass", "PodSecurityPolicy", "RuntimeClass",
    "IngressClass", "CSIDriver", "APIService", "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration", "VolumeSnapshotClass",
})
RENDER_TIMEOUT = 120.0
_TEMPLATE_FILE = re.compile(r"([\w.-]+/(?:charts/[\w.-]+/)*templates/[^\s:()\"]+)")


@dataclass(frozen=True)
class ChartValues:
    """What the settings give one chart: values files, ``--set`` entries (in precedence
    order: later wins), a namespace, and where each came from (for messages)."""

    values_files: tuple[Path, ...] = ()
    set_values: tuple[str, ...] = ()
    namespace: str | None = None
    sources: tuple[str, ...] = ()


@dataclass
class RenderSettings:
    """Everything rendering needs; helm is found on first use (a stack without charts never
    looks for it)."""

    default_namespace: str
    helm_bin: str | None = None
    kubectl: Path = Path("kubectl")
    values: Mapping[str, ChartValues] = field(default_factory=dict)
    #: where helm_bin was given (the settings' one precedence: option > ini > env)
    helm_bin_source: str = "--floe-helm-bin"
    _helm: Path | None = None

    def helm(self) -> Path:
        if self._helm is None:
            from floe_testing.cluster.helm_binary import resolve_helm_binary

            self._helm = resolve_helm_binary(self.helm_bin, self.helm_bin_source).path
        return self._helm


def is_chart_dir(path: Path) -> bool:
    return path.is_dir() and (path / "Chart.yaml").is_file()


def chart_archive_name(path: Path) -> str | None:
    """The chart name of a packaged chart (``NAME/Chart.yaml`` at the top of the archive),
    or None when ``path`` is no packaged chart."""
    if path.suffix != ".tgz" or not path.is_file():
        return None
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                parts = member.name.split("/")
                if len(parts) == 2 and parts[1] == "Chart.yaml":
                    return parts[0]
    except (tarfile.TarError, OSError):
        return None
    return None


def chart_name(path: Path) -> str:
    """The chart's name: ``name`` in its ``Chart.yaml`` (the directory name when unreadable;
    rendering then reports what is wrong with it)."""
    if path.suffix == ".tgz":
        return chart_archive_name(path) or path.stem
    import yaml

    try:
        meta = yaml.safe_load((path / "Chart.yaml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return path.name
    name = meta.get("name") if isinstance(meta, dict) else None
    return str(name) if name else path.name


def _go_atoi(text: str) -> int:
    """The weight as Helm reads it (Go's ``strconv.Atoi``: an optional sign and decimal digits,
    nothing around them, within 64 bits); anything else is 0, as in Helm."""
    digits = text[1:] if text[:1] in "+-" else text
    if not (digits.isascii() and digits.isdecimal()):
        return 0
    value = int(text)
    return value if -(2**63) <= value < 2**63 else 0


def parse_hook(obj: Mapping[str, Any]) -> Hook | bool | None:
    """The document's hook; None when it is no hook; False when it names an event Helm does
    not know (Helm then skips the document, and so do we)."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    if HOOK_ANNOTATION not in annotations:
        return None
    events = []
    for raw in str(annotations[HOOK_ANNOTATION]).split(","):
        event = raw.strip().lower()
        event = "test" if event == "test-success" else event
        if event not in HOOK_EVENTS:
            return False
        events.append(event)
    weight = _go_atoi(str(annotations.get(HOOK_WEIGHT_ANNOTATION, "0")))
    policies = tuple(p.strip().lower() for p in
                     str(annotations.get(HOOK_DELETE_ANNOTATION, "")).split(",") if p.strip())
    return Hook(tuple(events), weight, policies)


def render_chart(path: Path, render: RenderSettings) -> list[ManifestDoc]:
    """The chart's documents, rendered by ``helm template`` (offline; CRDs included; hooks
    and test hooks included and marked), each namespaced into the release's namespace."""
    name = chart_name(path)
    values = render.values.get(name, ChartValues())
    namespace = values.namespace or render.default_namespace
    argv = [str(render.helm()), "template", name, str(path), "--namespace", namespace,
            "--include-crds"]
    for values_file in values.values_files:
        argv += ["--values", str(values_file)]
    for entry in values.set_values:
        argv += ["--set", entry]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=RENDER_TIMEOUT,
                              check=False)
    except subprocess.TimeoutExpired:
        raise ManifestError(f"chart {name!r} ({path}): `helm template` did not finish in "
                            f"{RENDER_TIMEOUT:.0f}s") from None
    if done.returncode != 0:
        raise ManifestError(_render_error(name, path, values, done.stderr))
    chart_version = _chart_version(path, done.stdout)
    origin = Origin("chart", name, path, namespace, chart_version)
    return list(_documents(done.stdout, path, origin))


def _chart_version(path: Path, _rendered: str) -> str:
    if path.is_dir():
        import yaml

        try:
            meta = yaml.safe_load((path / "Chart.yaml").read_text(encoding="utf-8")) or {}
            return f"{meta.get('name', path.name)}-{meta.get('version', '?')}"
        except (OSError, yaml.YAMLError):
            return path.name
    return path.stem


def _render_error(name: str, path: Path, values: ChartValues, stderr: str) -> str:
    """One screen: the chart, the template file Helm names (if any), Helm's own words, and
    the values that went in."""
    said = [line.strip() for line in stderr.strip().splitlines()
            if line.strip() and not line.startswith("Use --debug")]
    message = " ".join(said).removeprefix("Error: ") or "no output"
    found = _TEMPLATE_FILE.search(message)
    template = ""
    if found:
        relative = found.group(1).split("/", 1)[1]
        template = f"\n  template file: {path / relative if path.is_dir() else found.group(1)}"
    inputs = "".join(f"\n  values file: {f}" for f in values.values_files)
    inputs += "".join(f"\n  --set {entry}" for entry in values.set_values)
    return (f"chart {name!r} ({path}) does not render:{template}\n  helm: {message}{inputs}\n"
            "Fix the template or the values (`helm template` on the chart shows the same); "
            "dependencies must be vendored in the chart's charts/ directory (`helm dependency "
            "build`).")


def _documents(rendered: str, chart: Path, origin: Origin) -> Iterator[ManifestDoc]:
    """Split ``helm template`` output into documents, each with its template file (from
    Helm's ``# Source:`` line) as its path."""
    import yaml

    per_source: dict[str, int] = {}
    for chunk in re.split(r"^---[ \t]*$", rendered, flags=re.MULTILINE):
        found = re.search(r"^# Source: (.+)$", chunk, flags=re.MULTILINE)
        source = found.group(1).strip() if found else "(no source)"
        relative = source.split("/", 1)[1] if "/" in source else source
        path = chart / relative if chart.is_dir() else Path(f"{chart}/{source}")
        try:
            objects = [o for o in yaml.safe_load_all(chunk) if o is not None]
        except yaml.YAMLError as exc:
            raise ManifestError(f"chart {origin.name!r}: {path} renders invalid YAML: "
                                f"{str(exc).splitlines()[0]}") from None
        for obj in objects:
            index = per_source.get(source, 0)
            per_source[source] = index + 1
            hook = parse_hook(obj) if isinstance(obj, dict) else None
            if hook is False:
                continue  # an event Helm does not know: Helm skips it
            doc = checked_document(path, index, obj)
            namespaced(doc, origin)
            yield ManifestDoc(path, index, doc.obj, component_name=origin.name,
                              hook=hook if isinstance(hook, Hook) else None, origin=origin)


def namespaced(doc: ManifestDoc, origin: Origin) -> None:
    """Put a namespaced object without a namespace into the component's namespace, as Helm
    and kubectl do with ``--namespace``."""
    if doc.kind not in CLUSTER_SCOPED_KINDS and not doc.obj["metadata"].get("namespace"):
        doc.obj["metadata"]["namespace"] = origin.namespace


def release_namespaces(docs: list[ManifestDoc]) -> None:
    """A Namespace document in each rendered component whose namespace no other document
    defines (a chart's namespace is created if missing, whichever components a run needs;
    the copies are identical, so applying one after another changes nothing)."""
    defined = {d.name for d in docs if d.kind == "Namespace"}
    added: set[str] = set()
    for doc in list(docs):
        origin = doc.origin
        if origin is None or origin.namespace in defined or origin.name in added:
            continue
        added.add(origin.name)
        docs.insert(0, ManifestDoc(origin.path, 0, {
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": origin.namespace}}, component_name=origin.name, origin=origin))


def check_chart_settings(docs: list[ManifestDoc], render: RenderSettings | None) -> None:
    """Every chart named by a values, set or namespace setting exists among the manifests."""
    if render is None:
        return
    charts = sorted({d.origin.name for d in docs
                     if d.origin is not None and d.origin.kind == "chart"})
    for name, values in render.values.items():
        if name not in charts:
            raise ManifestError(
                f"{', '.join(values.sources) or 'a chart setting'} names chart {name!r}, but "
                f"the manifests hold {'the charts ' + str(charts) if charts else 'no chart'}; "
                "charts are named by the name in their Chart.yaml.")


__all__ = ["ChartValues", "Hook", "Origin", "RenderSettings",
           "check_chart_settings", "is_chart_dir", "parse_hook", "release_namespaces",
           "render_chart"]
