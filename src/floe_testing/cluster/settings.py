"""Plugin options resolved once, with one precedence: command line > ini > env > default."""

from __future__ import annotations

import os
import re
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
from floe_testing.in_cluster import running_as_shard
from floe_testing.service_directory import in_cluster_mode
from floe_testing.writable import cannot_create_under


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
    manifests_source: str = "default"
    extra_manifests: tuple[Path, ...] = ()
    load_images: tuple[str, ...] = ()
    image_overrides: dict[str, str] = field(default_factory=dict)
    ready_timeout: float = DEFAULT_READY_TIMEOUT
    #: where failure artifacts go (``--floe-artifacts``); None: nowhere
    artifacts_dir: Path | None = None

    in_cluster: bool = False
    #: in a shard pod of ``--floe-in-cluster``: the stack is the outer run's, never applied or
    #: deleted here
    stack_provided: bool = False
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


def _path(config: pytest.Config, value: object) -> Path:
    """A path given on the command line or in an env var, made absolute against the directory
    pytest was started in, once: a test that changes directory must not change which kubectl
    or kubeconfig a later step (a forward restarting, the cluster started on first need)
    uses."""
    return config.invocation_params.dir / Path(str(value)).expanduser()


def find_kubectl(config: pytest.Config) -> Path:
    """kubectl: ``--kind-kubectl-bin``, else the one on PATH; a clear error when none."""
    named = _opt(config, "kind_kubectl_bin")
    if named:
        path = _path(config, named)
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


#: DNS-1123 label: kind names its nodes and containers after the cluster, and a name such as
#: ``../x`` would become a path in pytest-kind's state directory.
_CLUSTER_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
#: Entries of --floe-load-image that name an image archive rather than an image reference.
_ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz")


def _manifests_dir(config: pytest.Config, rootdir: Path) -> tuple[Path, str]:
    """The base manifests: named (option > ini > env), else the project's ``manifests/``, else
    the stack packaged with floe-testing. A named directory must exist."""
    for value, source in ((_opt(config, "floe_manifests"), "--floe-manifests"),
                          (config.getini("floe_manifests"), "ini floe_manifests"),
                          (os.environ.get("FLOE_MANIFESTS"), "env FLOE_MANIFESTS")):
        if value:
            return _existing_dir(rootdir / str(value), source, "Manifests directory"), source
    project = rootdir / "manifests"
    if project.is_dir():
        return project, "the project's manifests/"
    from floe_testing.stack import PACKAGED_MANIFESTS

    return PACKAGED_MANIFESTS, "the stack packaged with floe-testing"


def _existing_dir(path: Path, source: str, what: str) -> Path:
    if not path.is_dir():
        raise ConfigError(f"{what} {path} does not exist (from {source}); fix the path or "
                          "remove the setting.")
    return path


def _artifacts_dir(config: pytest.Config, rootdir: Path) -> Path | None:
    """Where failure artifacts go: named (option > ini > env), an output like
    ``--junitxml``: relative to the directory pytest was started in (the ini's: to the
    rootdir); it must be a directory that can be created or written to. None: none."""
    base = config.invocation_params.dir
    for value, source, relative_to in (
            (_opt(config, "floe_artifacts"), "--floe-artifacts", base),
            (config.getini("floe_artifacts"), "ini floe_artifacts", rootdir),
            (os.environ.get("FLOE_ARTIFACTS"), "env FLOE_ARTIFACTS", base)):
        if value:
            path = relative_to / Path(str(value)).expanduser()
            problem = (f"{path} is a file" if path.is_file() else
                       cannot_create_under(path / "summary.txt"))
            if problem is not None:
                raise ConfigError(f"failure artifacts directory {path} (from {source}) cannot "
                                  f"be written: {problem}. Name another directory.")
            return path
    return None


def _listed(config: pytest.Config, option: str, name: str, env: str,
            sep: str) -> list[tuple[str, str]]:
    """Entries of a repeatable option, its ini key (one per line) and its env var (``sep``),
    each with where it came from; all three add up."""
    found = [(e, f"env {env}") for e in os.environ.get(env, "").split(sep) if e.strip()]
    found += [(str(e), f"ini {name}") for e in config.getini(name) if str(e).strip()]
    named = _opt(config, name)
    found += [(str(e), option) for e in (named if isinstance(named, list) else [])
              if str(e).strip()]
    return [(e.strip(), source) for e, source in found]


def _extra_manifests(config: pytest.Config) -> list[tuple[str, str]]:
    return _listed(config, "--floe-extra-manifests", "floe_extra_manifests",
                   "FLOE_EXTRA_MANIFESTS", os.pathsep)


def _load_image(rootdir: Path, entry: str, source: str) -> str:
    """An image archive (must exist; made absolute) or an image reference, as given."""
    if entry.endswith(_ARCHIVE_SUFFIXES) or entry.startswith(("/", "./", "../")):
        path = rootdir / entry
        if not path.is_file():
            raise ConfigError(f"image archive {path} does not exist (from {source}); build it "
                              "(e.g. `docker save IMAGE -o FILE`) or fix the path.")
        return str(path)
    return entry


def load_settings(config: pytest.Config, *, resolve_kubectl: bool = True) -> ClusterSettings:
    """Resolve every option; invalid values raise :class:`ConfigError` naming the source.

    ``resolve_kubectl=False`` checks everything but the kubectl binary, which only a run that
    uses a cluster needs: the plugin validates that way at configure time, on every run.
    """
    rootdir = Path(str(config.rootpath))

    named_kubeconfig = _opt(config, "kubeconfig")
    kubeconfig: Path | None = None
    source: str | None = None
    if named_kubeconfig:
        kubeconfig, source = _path(config, named_kubeconfig), "--kubeconfig"
    elif os.environ.get("KUBECONFIG"):
        from floe_testing.cluster.kubeconfig import first_kubeconfig_path
        kubeconfig = first_kubeconfig_path(os.environ["KUBECONFIG"],
                                           config.invocation_params.dir)
        source = "KUBECONFIG"

    name = _opt(config, "cluster_name")
    if not name or name == PYTEST_KIND_DEFAULT_NAME:
        name = (config.getini("floe_cluster_name") or os.environ.get("FLOE_CLUSTER_NAME")
                or DEFAULT_CLUSTER_NAME)

    manifests_dir, manifests_source = _manifests_dir(config, rootdir)
    extra_manifests = tuple(_existing_dir(rootdir / path, source, "extra manifests directory")
                            for path, source in _extra_manifests(config))
    listed_images = _listed(config, "--floe-load-image", "floe_load_images", "FLOE_LOAD_IMAGES",
                            ",")
    load_images = tuple(_load_image(rootdir, entry, source) for entry, source in listed_images)

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

    if not _CLUSTER_NAME.match(str(name)):
        raise ConfigError(f"cluster name {name!r} is not a DNS-1123 label (lowercase letters, "
                          "digits and '-', at most 63); set --cluster-name, ini "
                          "floe_cluster_name or FLOE_CLUSTER_NAME to e.g. floe-test.")
    in_cluster = in_cluster_mode(kubeconfig)
    stack_provided = running_as_shard()
    if load_images and not stack_provided and (kubeconfig is not None or in_cluster):
        raise ConfigError(
            f"{load_images[0]!r} is to be loaded into a kind cluster (--floe-load-image, ini "
            "floe_load_images, env FLOE_LOAD_IMAGES), but the cluster is reused "
            f"({source or 'in-cluster'}): load the image into its nodes yourself "
            "and drop the setting, or unset KUBECONFIG to let floe-testing create a kind cluster.")
    kind_bin = _opt(config, "kind_bin")
    return ClusterSettings(
        cluster_name=str(name),
        keep_cluster=bool(_opt(config, "keep_cluster")),
        kubeconfig=kubeconfig,
        kubeconfig_source=source,
        kind_image=str(_opt(config, "kind_image") or KIND_NODE_IMAGE),
        kind_bin=str(_path(config, kind_bin)) if kind_bin else None,
        kubectl=find_kubectl(config) if resolve_kubectl else Path("kubectl"),
        manifests_dir=manifests_dir,
        manifests_source=manifests_source,
        extra_manifests=extra_manifests,
        load_images=load_images,
        image_overrides=overrides,
        ready_timeout=ready_timeout,
        artifacts_dir=_artifacts_dir(config, rootdir),
        in_cluster=in_cluster,
        stack_provided=stack_provided,
        state_dir=rootdir / ".pytest-kind",
    )
