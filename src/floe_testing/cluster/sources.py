"""Where the stack's documents come from: the manifests directory (and each extra one), its
plain YAML files read as they are, and each chart (a directory with ``Chart.yaml``, a packaged
``.tgz``) or kustomization in it rendered into one component, before any cluster exists."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from floe_testing.cluster.charts import (
    RenderSettings,
    chart_archive_name,
    check_chart_settings,
    is_chart_dir,
    release_namespaces,
    render_chart,
)
from floe_testing.cluster.kustomize import is_kustomization, render_kustomization
from floe_testing.cluster.manifests import (
    ManifestDoc,
    ManifestError,
    load_file,
    stamp_config_digests,
)
from floe_testing.errors import ConfigError


def load_manifests(directory: Path, render: RenderSettings | None = None) -> list[ManifestDoc]:
    """Every document of every ``*.yaml``/``*.yml`` under ``directory``, sorted by file name;
    a chart (``Chart.yaml``, a packaged ``.tgz``) or kustomization found there, or
    ``directory`` itself being one, is rendered into one component."""
    if not directory.is_dir():
        raise ConfigError(
            f"Manifests directory {directory} does not exist (set --floe-manifests or the "
            "floe_manifests ini option)."
        )
    docs: list[ManifestDoc] = []
    for path, rendered in _sources(directory):
        docs.extend(render_directory(path, render) if rendered else load_file(path))
    _refuse_duplicates(docs)
    return docs


def _sources(directory: Path) -> list[tuple[Path, bool]]:
    """Plain YAML files and rendered components (charts, kustomizations) under ``directory``,
    by path; nothing inside a chart or kustomization is read as a plain file."""
    found: list[tuple[Path, bool]] = []

    def walk(folder: Path) -> None:
        if is_chart_dir(folder) or is_kustomization(folder):
            found.append((folder, True))
            return
        for path in sorted(folder.iterdir()):
            if path.is_dir():
                walk(path)
            elif path.suffix in (".yaml", ".yml"):
                found.append((path, False))
            elif chart_archive_name(path) is not None:
                found.append((path, True))

    walk(directory)
    return sorted(found)


def _refuse_duplicates(docs: list[ManifestDoc]) -> None:
    """Two documents of one directory defining the same object (kind, namespace, name) are a
    mistake: applied one after the other, the last would silently win, and its workload
    would be awaited twice. Replacing a document is what an extra directory is for."""
    seen: dict[tuple[str, str, str], ManifestDoc] = {}
    for doc in docs:
        first = seen.setdefault((doc.kind, doc.namespace or "default", doc.name), doc)
        if first is not doc:
            where = f" in namespace {doc.namespace}" if doc.namespace else ""
            raise ManifestError(
                f"{first.path} (document {first.index}) and {doc.path} (document {doc.index}) "
                f"both define {doc.kind}/{doc.name}{where}: applied one after the other, the "
                "last would silently replace the first. Keep one of them; to replace an object "
                "of the stack, put yours in a directory of its own and name it with "
                "--floe-extra-manifests.")


def load_layers(base: Path, extras: Iterable[Path] = (),
                render: RenderSettings | None = None) -> list[ManifestDoc]:
    """The base manifests plus each extra directory, in order. An extra document with the
    identity of an earlier one replaces it in place (and joins its component), so a project
    changes one object of the packaged stack, e.g. the Dagster code location, without copying
    the rest; other documents are added, grouped by their file names as usual."""
    docs = load_manifests(base, render)
    for directory in extras:
        at = {doc.identity: i for i, doc in enumerate(docs)}
        for doc in load_manifests(directory, render):
            if doc.identity in at:
                doc.replaces_in = docs[at[doc.identity]].component
                docs[at[doc.identity]] = doc
            else:
                docs.append(doc)
    check_chart_settings(docs, render)
    release_namespaces(docs)
    stamp_config_digests(docs)
    return docs


def render_directory(path: Path, render: RenderSettings | None) -> list[ManifestDoc]:
    """A chart directory, packaged chart or kustomization, rendered."""
    if render is None:
        raise ManifestError(f"{path} is a chart or kustomization; this caller reads plain "
                            "manifests only")
    if is_kustomization(path):
        return render_kustomization(path, render)
    return render_chart(path, render)


