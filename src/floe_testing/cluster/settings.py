"""Plugin options resolved once, with one precedence: command line > ini > env > default."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from floe_testing.cluster.kind_binary import KIND_NODE_IMAGE
from floe_testing.cluster.manifests import parse_image_overrides
from floe_testing.cluster.options import (
    DEFAULT_CLUSTER_NAME,
    DEFAULT_READY_TIMEOUT,
    PYTEST_KIND_DEFAULT_NAME,
)
from floe_testing.errors import ConfigError


@dataclass(frozen=True)
class ClusterSettings:
    """Everything the cluster session needs to know, already validated."""

    cluster_name: str
    keep_cluster: bool
    kubeconfig: Path | None
    kubeconfig_source: str | None
    kind_image: str
    kind_bin: str | None
    kubectl: Path
    manifests_dir: Path
    image_overrides: dict[str, str] = field(default_factory=dict)
    ready_timeout: float = DEFAULT_READY_TIMEOUT

    in_cluster: bool = False
    state_dir: Path = Path(".pytest-kind")

    @property
    def reuse(self) -> bool:
        """True when an existing cluster is named, or we run inside one: it is never created
        or deleted."""
        return self.kubeconfig is not None or self.in_cluster


def _opt(config: pytest.Config, name: str) -> object:
    try:
        return config.getoption(name)
    except ValueError:  # pytest-kind disabled: its options do not exist
        return None


def _float(value: str, source: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{source}: {value!r} is not a number of seconds") from None
    if number <= 0:
        raise ConfigError(f"{source}: {value!r} must be positive")
    return number


def _kubectl(config: pytest.Config) -> Path:
    named = _opt(config, "kind_kubectl_bin")
    if named:
        path = Path(str(named))
        if not path.is_file():
            raise ConfigError(f"--kind-kubectl-bin names {path}, which does not exist")
        return path
    found = shutil.which("kubectl")
    if not found:
        raise ConfigError(
            "kubectl was not found on PATH; install it (https://kubernetes.io/docs/tasks/tools/) "
            "or pass --kind-kubectl-bin"
        )
    return Path(found)


def load_settings(config: pytest.Config) -> ClusterSettings:
    """Resolve every option; invalid values raise :class:`ConfigError` naming the source."""
    rootdir = Path(str(config.rootpath))

    named_kubeconfig = _opt(config, "kubeconfig")
    kubeconfig: Path | None = None
    source: str | None = None
    if named_kubeconfig:
        kubeconfig, source = Path(str(named_kubeconfig)), "--kubeconfig"
    elif os.environ.get("KUBECONFIG"):
        from floe_testing.cluster.kubeconfig import first_kubeconfig_path
        kubeconfig, source = first_kubeconfig_path(os.environ["KUBECONFIG"]), "KUBECONFIG"

    name = _opt(config, "cluster_name")
    if not name or name == PYTEST_KIND_DEFAULT_NAME:
        name = (config.getini("floe_cluster_name") or os.environ.get("FLOE_CLUSTER_NAME")
                or DEFAULT_CLUSTER_NAME)

    manifests = (_opt(config, "floe_manifests") or config.getini("floe_manifests")
                 or os.environ.get("FLOE_MANIFESTS") or "manifests")
    manifests_dir = Path(str(manifests))
    if not manifests_dir.is_absolute():
        manifests_dir = rootdir / manifests_dir

    overrides = parse_image_overrides(
        os.environ.get("FLOE_IMAGE_OVERRIDES", "").replace(",", " ").split(),
        "env FLOE_IMAGE_OVERRIDES")
    overrides.update(parse_image_overrides(config.getini("floe_image_overrides"),
                                           "ini floe_image_overrides"))
    overrides.update(parse_image_overrides(
        [str(v) for v in config.getoption("floe_image_overrides") or []],
        "--floe-image-override"))

    timeout_cli = _opt(config, "floe_ready_timeout")
    if timeout_cli is not None:
        ready_timeout = _float(str(timeout_cli), "--floe-ready-timeout")
    elif config.getini("floe_ready_timeout"):
        ready_timeout = _float(str(config.getini("floe_ready_timeout")), "ini floe_ready_timeout")
    elif os.environ.get("FLOE_READY_TIMEOUT"):
        ready_timeout = _float(os.environ["FLOE_READY_TIMEOUT"], "env FLOE_READY_TIMEOUT")
    else:
        ready_timeout = DEFAULT_READY_TIMEOUT

    kind_bin = _opt(config, "kind_bin")
    return ClusterSettings(
        cluster_name=str(name),
        keep_cluster=bool(_opt(config, "keep_cluster")),
        kubeconfig=kubeconfig,
        kubeconfig_source=source,
        kind_image=str(_opt(config, "kind_image") or KIND_NODE_IMAGE),
        kind_bin=str(kind_bin) if kind_bin else None,
        kubectl=_kubectl(config),
        manifests_dir=manifests_dir,
        image_overrides=overrides,
        ready_timeout=ready_timeout,
        in_cluster=kubeconfig is None and bool(os.environ.get("KUBERNETES_SERVICE_HOST")),
        state_dir=rootdir / ".pytest-kind",
    )
