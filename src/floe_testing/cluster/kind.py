"""The only module that touches pytest-kind and the kind CLI (its imports are deferred: the
plugin calls :func:`contain_pytest_kind` on every pytest run, also with ``-p no:pytest-kind``,
when pytest-kind is not to be imported at all).

pytest-kind's ``KindCluster`` creates, deletes and loads images into kind clusters; the kind
binary itself is asked which clusters exist and for an existing cluster's kubeconfig. A cluster
kept by an earlier run is reused through the kubeconfig stored for it, without asking kind.
pytest-kind's own ``kind_cluster`` fixture and its working-directory folder are kept out of
the user's run (:func:`contain_pytest_kind`, :func:`_kind_cluster`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import chdir, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from floe_testing.errors import FloeTestingError, InfrastructureError

if TYPE_CHECKING:
    import pytest
    from pytest_kind import KindCluster

    from floe_testing.cluster.kubeconfig import ClusterAccess
    from floe_testing.cluster.progress import Progress
    from floe_testing.cluster.records import ClusterRecord
    from floe_testing.cluster.settings import ClusterSettings


class KindClusterOfRun:
    """The run's kind cluster: created, or reused when kept by an earlier run."""

    def __init__(self, settings: ClusterSettings, progress: Progress) -> None:
        self.settings = settings
        self.progress = progress
        #: set once the run may own a cluster (an interrupt from then on means: delete it)
        self.cluster: KindCluster | None = None

    def record(self) -> ClusterRecord:
        """What releasing it needs (also from the xdist controller)."""
        from floe_testing.cluster.records import ClusterRecord

        assert self.cluster is not None
        return ClusterRecord("kind", str(self.cluster.kubeconfig_path),
                             kind_name=self.cluster.name,
                             kind_path=str(self.cluster.kind_path),
                             kubectl_path=str(self.cluster.kubectl_path))

    def connect(self) -> ClusterAccess:
        """Create the cluster, or reuse a kept one; load the project's images; connect."""
        from floe_testing.cluster.kind_binary import resolve_kind_binary
        from floe_testing.cluster.kubeconfig import connect, restrict_permissions

        s = self.settings
        kind = resolve_kind_binary(s.kind_bin)
        make_state_dir(s.state_dir)
        kubeconfig = s.state_dir / s.cluster_name / "kubeconfig"
        kubeconfig.parent.mkdir(parents=True, exist_ok=True)
        cluster = _kind_cluster(s.cluster_name, s.state_dir, kubeconfig=kubeconfig,
                                image=s.kind_image, kind_path=kind.path, kubectl_path=s.kubectl)
        keep = "yes" if s.keep_cluster else "no"
        kept = _kept_cluster_access(kubeconfig)
        if kept is not None:  # a kept cluster answers with the kubeconfig kind wrote for it
            self.progress.line(f"using kind cluster {s.cluster_name!r} (reuse, kept by an "
                               f"earlier run; keep={keep})")
            self.cluster = cluster
            self._load_images(cluster, kind.path)
            return kept
        exists = s.cluster_name in _kind_clusters(kind.path)  # fails before we own anything
        verb = "reuse" if exists else "create"
        self.progress.line(f"using kind cluster {s.cluster_name!r} ({verb}; kind {kind.path} "
                           f"from {kind.source}; keep={keep})")
        self.cluster = cluster
        if exists:  # kept by an earlier run, maybe from another directory: ask kind for access
            with self.progress.step(f"export kubeconfig of kind cluster {s.cluster_name!r}"):
                _export_kubeconfig(kind.path, s.cluster_name, kubeconfig)
        else:
            self._create(cluster, kind.path, kubeconfig)
        restrict_permissions(kubeconfig)
        self._load_images(cluster, kind.path)
        return connect(kubeconfig, f"kind cluster {s.cluster_name!r} kubeconfig")

    def _load_images(self, cluster: KindCluster, kind: Path) -> None:
        """Put the project's locally built images into the kind node (kind's own commands:
        ``load docker-image`` through pytest-kind, ``load image-archive`` for archives)."""
        for image in self.settings.load_images:
            archive = Path(image).is_absolute()
            failed: subprocess.CalledProcessError | None = None
            with self.progress.step(f"load {'image archive' if archive else 'image'} {image} "
                                    f"into kind cluster {cluster.name!r}"), \
                    _stderr_tail() as kind_said:
                try:
                    if archive:
                        subprocess.run([str(kind), "load", "image-archive", "--name",
                                        cluster.name, image], check=True, timeout=600)
                    else:
                        cluster.load_docker_image(image)
                except subprocess.CalledProcessError as exc:
                    failed = exc
            if failed is not None:
                raise InfrastructureError(
                    f"kind could not load {image!r} into cluster {cluster.name!r} (exit "
                    f"{failed.returncode}):\n"
                    + "".join(f"  | {line}\n" for line in kind_said[-6:])
                    + "Build or pull the image locally first (`docker images` must list it), "
                    "or fix --floe-load-image / floe_load_images / FLOE_LOAD_IMAGES.")

    def _create(self, cluster: KindCluster, kind: Path, kubeconfig: Path) -> None:
        name = self.settings.cluster_name
        failed: subprocess.CalledProcessError | None = None
        with self.progress.step(f"create kind cluster {name!r}"):
            with _stderr_tail() as kind_said:
                try:
                    cluster.create()
                except subprocess.CalledProcessError as exc:
                    failed = exc
            if failed is not None:
                self.cluster = None  # kind failed and cleaned up itself: nothing of ours
                if kubeconfig.exists() and not kubeconfig.stat().st_size:
                    kubeconfig.unlink()  # pytest-kind touched it before creating
                raise InfrastructureError(
                    f"`kind create cluster --name {name}` failed (exit {failed.returncode}) "
                    f"with {kind}:\n"
                    + "".join(f"  | {line}\n" for line in kind_said[-12:])
                    + "If no container engine runs here, install Docker or Podman; to use an "
                    "existing cluster instead, set KUBECONFIG."
                )


def delete_kind_cluster(record: ClusterRecord, progress: Progress) -> None:
    """Delete the kind cluster a run created (from any process of the run)."""
    from pytest_kind import KindCluster

    cluster = KindCluster(str(record.kind_name), kubeconfig=Path(str(record.kubeconfig)),
                          kind_path=Path(str(record.kind_path)),
                          kubectl_path=Path(str(record.kubectl_path)))
    with progress.step(f"delete kind cluster {record.kind_name!r}"):
        cluster.delete()


def contain_pytest_kind(config: pytest.Config) -> None:
    """pytest-kind is the library we drive kind with, and its options are ours; its own
    ``kind_cluster`` fixture (which downloads kind v0.17 unverified and writes ``.pytest-kind/``
    into the working directory) is not. Its plugin module is already imported and its
    registration is replayed to the fixture manager, so the fixture is taken off the module
    for this run (put back at unconfigure): it can neither be used by accident nor create a
    second cluster beside ours."""
    module = sys.modules.get("pytest_kind.plugin")
    fixture = getattr(module, "kind_cluster", None)
    if module is not None and fixture is not None:
        delattr(module, "kind_cluster")
        config.add_cleanup(lambda: setattr(module, "kind_cluster", fixture))


def make_state_dir(state_dir: Path) -> None:
    """Our state directory (a kept cluster's admin kubeconfig lives there), with a
    ``.gitignore`` that keeps all of it out of git: ``git add -A`` never commits a key."""
    state_dir.mkdir(parents=True, exist_ok=True)
    ignore = state_dir / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# floe-testing's state (a kind cluster's kubeconfig): never commit "
                          "it\n*\n")


def _kind_cluster(name: str, state_dir: Path, **options: Any) -> KindCluster:
    """pytest-kind's ``KindCluster``, with its scratch folder (``.pytest-kind/NAME``, which it
    creates relative to the working directory) inside our state directory instead of the
    user's project."""
    from pytest_kind import KindCluster

    make_state_dir(state_dir)
    with chdir(state_dir):  # session start: no other thread of ours runs yet
        cluster = KindCluster(name, **options)
    cluster.path = (state_dir / cluster.path).resolve()
    return cluster


def _kept_cluster_access(kubeconfig: Path) -> ClusterAccess | None:
    """Access through the kubeconfig an earlier run of this project wrote for the cluster, if
    that cluster still answers to it (its certificates are the cluster's own, so a new
    cluster of the same name does not); else None, and kind is asked as usual. This spares a
    warm rerun kind's ``get clusters`` and ``export kubeconfig`` (about 1.5 s)."""
    from floe_testing.cluster.kubeconfig import connect

    if not kubeconfig.is_file() or not kubeconfig.stat().st_size:
        return None
    try:
        return connect(kubeconfig, "the kept cluster's kubeconfig", timeout=2.0)
    except FloeTestingError:
        return None


def _export_kubeconfig(kind: Path, name: str, kubeconfig: Path) -> None:
    """Write the admin kubeconfig of an existing kind cluster (0600)."""
    kubeconfig.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([str(kind), "export", "kubeconfig", "--name", name,
                           "--kubeconfig", str(kubeconfig)],
                          capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise InfrastructureError(
            f"kind cluster {name!r} exists but `kind export kubeconfig --name {name}` failed "
            f"(exit {done.returncode}): {done.stderr.strip()[-500:] or 'no output'}")


def _kind_clusters(kind: Path) -> set[str]:
    from floe_testing.cluster.kind_binary import INSTALL_HINT

    try:
        out = subprocess.run([str(kind), "get", "clusters"], capture_output=True, text=True,
                             timeout=60, check=False).stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InfrastructureError(f"could not run {kind}: {exc}.\n{INSTALL_HINT}") from None
    return {line.strip() for line in out.splitlines() if line.strip()}


@contextmanager
def _stderr_tail() -> Iterator[list[str]]:
    """Collect what child processes write to fd 2 (pytest-kind runs kind without capturing
    it), so a failure can quote kind's own words; everything is echoed afterwards."""
    lines: list[str] = []
    with tempfile.TemporaryFile() as sink:
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            data = sink.read()
            os.write(2, data)
            lines.extend(line for line in data.decode(errors="replace").splitlines() if line)
