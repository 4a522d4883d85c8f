"""Cluster tier: drives real pytest runs of the plugin against localkube (a real Kubernetes).

localkube (``../shared/localkube``, or ``$FLOE_LOCALKUBE``) stands in for kind on hosts
without Docker; its ``bin/kind`` is passed as ``--kind-bin`` so the kind code path runs
unchanged. The tier fails loudly, never skips, when localkube is missing or not usable.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STACK = Path(__file__).resolve().parent / "stack"
IMAGE_OVERRIDES = [
    "postgres:16.4=localhost/localkube/postgres:15",
    "busybox:1.35.0=localhost/localkube/busybox:1.35.0",
]


def localkube_dir() -> Path:
    """Where localkube lives; an actionable failure if it is not there."""
    path = Path(os.environ.get("FLOE_LOCALKUBE", REPO.parent / "shared" / "localkube"))
    if not (path / "localkube").is_file():
        pytest.fail(
            f"localkube not found at {path}: the cluster tier needs a real Kubernetes. Put "
            "shared/ beside the repo or set FLOE_LOCALKUBE, then run `localkube install && "
            "localkube build` (see .ci/prepare).", pytrace=False)
    if os.geteuid() != 0:
        pytest.fail("the cluster tier drives localkube, which needs root", pytrace=False)
    return path


def localkube(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the localkube CLI."""
    return subprocess.run([str(localkube_dir() / "localkube"), *args], capture_output=True,
                          text=True, check=check, timeout=600)


def is_up() -> bool:
    return localkube("status", check=False).returncode == 0


def port_forward_pids() -> list[int]:
    """PIDs of every ``kubectl port-forward`` process on the machine."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if len(cmd) > 1 and cmd[0].endswith(b"kubectl") and b"port-forward" in cmd:
                pids.append(int(entry.name))
    return pids


def cluster_args(*extra: str, manifests: Path = STACK) -> list[str]:
    """Options that point the plugin at localkube's kind stand-in and the tier's stack."""
    # "--opt=value": pytest counts a separate path-like value among the args it derives the
    # rootdir from, and the inner run would then pick up this repository's configuration
    args = ["-p", "no:cacheprovider", f"--kind-bin={localkube_dir() / 'bin' / 'kind'}",
            f"--floe-manifests={manifests}", "--floe-ready-timeout=180"]
    args += [f"--floe-image-override={override}" for override in IMAGE_OVERRIDES]
    return [*args, *extra]


@pytest.fixture
def no_cluster(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Start from no cluster (kind path) and prove nothing is left at the end."""
    monkeypatch.delenv("KUBECONFIG", raising=False)
    if is_up():
        localkube("down")
    yield
    leftover = port_forward_pids()
    up = is_up()
    if up:
        localkube("down")
    assert not leftover, f"kubectl port-forward processes left behind: {leftover}"


@pytest.fixture(scope="module")
def live_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A running localkube for tests that reuse a cluster through KUBECONFIG."""
    kubeconfig = tmp_path_factory.mktemp("kube") / "config"
    if is_up():
        localkube("down")
    localkube("up", "--kubeconfig", str(kubeconfig))
    try:
        yield kubeconfig
    finally:
        localkube("down", check=False)
