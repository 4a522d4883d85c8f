"""kustomize directories as components: a directory holding ``kustomization.yaml`` is rendered
with ``kubectl kustomize`` (kubectl is needed for cluster use anyway) into one component named
after the directory, before any cluster exists; the ordinary pipeline applies it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from floe_testing.cluster.manifests import ManifestDoc, ManifestError, checked_document

if TYPE_CHECKING:
    from floe_testing.cluster.charts import RenderSettings

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
RENDER_TIMEOUT = 120.0


def kustomization_file(path: Path) -> Path | None:
    """The kustomization file of a directory, if it is a kustomization."""
    if not path.is_dir():
        return None
    return next((path / n for n in KUSTOMIZATION_FILES if (path / n).is_file()), None)


def is_kustomization(path: Path) -> bool:
    return kustomization_file(path) is not None


def render_kustomization(path: Path, render: RenderSettings) -> list[ManifestDoc]:
    """The kustomization's documents; objects without a namespace go to the stack namespace
    (the kustomization's own ``namespace:`` wins), as a chart's do."""
    import yaml

    from floe_testing.cluster.charts import namespaced
    from floe_testing.cluster.origins import Origin

    source = kustomization_file(path)
    assert source is not None
    try:
        done = subprocess.run([str(render.kubectl), "kustomize", str(path)],
                              capture_output=True, text=True, timeout=RENDER_TIMEOUT,
                              check=False)
    except subprocess.TimeoutExpired:
        raise ManifestError(f"kustomization {path}: `kubectl kustomize` did not finish in "
                            f"{RENDER_TIMEOUT:.0f}s") from None
    except OSError as exc:
        raise ManifestError(f"kustomization {path}: cannot run {render.kubectl}: {exc}; "
                            "kubectl renders kustomizations (install it or pass "
                            "--kind-kubectl-bin)") from None
    if done.returncode != 0:
        said = " ".join(line.strip() for line in done.stderr.strip().splitlines())
        said = re.sub(r'^E\d{4} [\d:.]+\s+\d+ \S+\] "command failed" err=', "", said)
        raise ManifestError(f"kustomization {path} does not render:\n  kubectl kustomize: "
                            f"{said or 'no output'}\nFix {source.name} or the files it names "
                            f"(`kubectl kustomize {path}` shows the same).")
    origin = Origin("kustomize", path.name, path, render.default_namespace)
    docs = []
    for index, obj in enumerate(o for o in yaml.safe_load_all(done.stdout) if o is not None):
        doc = checked_document(source, index, obj)
        namespaced(doc, origin)
        docs.append(ManifestDoc(source, index, doc.obj, component_name=origin.name,
                                origin=origin))
    return docs
