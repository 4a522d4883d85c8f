"""Plugin options resolved once, with one precedence: command line > ini > env > default."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, NamedTuple

import pytest

from floe_testing.cluster.options import (
    ARTIFACTS,
    CHART_NAMESPACE,
    CHART_SET,
    CHART_VALUES,
    CLUSTER_NAME,
    DEFAULT_CLUSTER_NAME,
    DEFAULT_READY_TIMEOUT,
    EXTRA_MANIFESTS,
    HELM_BIN,
    IMAGE_OVERRIDES,
    KIND_CONFIG,
    LOAD_IMAGES,
    MANIFESTS,
    PYTEST_KIND_DEFAULT_NAME,
    READY_TIMEOUT,
)
from floe_testing.errors import ConfigError
from floe_testing.location import in_cluster_mode, running_as_shard
from floe_testing.naming import is_dns_label
from floe_testing.option_values import (
    Given,
    Setting,
    every_given,
    first_given,
    positive_number,
    resolved,
)

if TYPE_CHECKING:
    from floe_testing.cluster.charts import ChartValues, RenderSettings


class ClusterSettings(NamedTuple):  # a NamedTuple: made on every run, cheaper than a dataclass
    """Everything the cluster session needs to know, already validated."""

    cluster_name: str
    keep_cluster: bool
    kubeconfig: Path | None
    kubeconfig_source: str | None
    #: ``--kind-image`` (None: the node image pinned with kind, :attr:`kind_image`)
    kind_image_option: str | None
    kind_bin: str | None
    kubectl: Path
    manifests_dir: Path
    manifests_source: str = "default"
    extra_manifests: tuple[Path, ...] = ()
    load_images: tuple[str, ...] = ()
    image_overrides: Mapping[str, str] = MappingProxyType({})
    ready_timeout: float = DEFAULT_READY_TIMEOUT
    #: where failure artifacts go (``--floe-artifacts``); None: nowhere
    artifacts_dir: Path | None = None

    in_cluster: bool = False
    #: in a shard pod of ``--floe-in-cluster``: the stack is the outer run's, never applied or
    #: deleted here
    stack_provided: bool = False
    state_dir: Path = Path(".pytest-kind")
    #: charts and kustomizations (README "Your own stack")
    chart_values: Mapping[str, ChartValues] = MappingProxyType({})
    helm_bin: str | None = None
    #: where helm_bin was given (``--floe-helm-bin``, ``ini floe_helm_bin``, ``env ...``)
    helm_bin_source: str = ""
    kind_config: Path | None = None

    def render_settings(self) -> RenderSettings:
        """What rendering the stack's charts and kustomizations needs."""
        from floe_testing.cluster.charts import RenderSettings
        from floe_testing.endpoint import DEFAULT_K8S_NAMESPACE

        return RenderSettings(DEFAULT_K8S_NAMESPACE, helm_bin=self.helm_bin,
                              helm_bin_source=self.helm_bin_source, kubectl=self.kubectl,
                              values=self.chart_values)

    @property
    def kind_image(self) -> str:
        """The node image a created kind cluster runs (``--kind-image``, else kind's pin)."""
        from floe_testing.cluster.kind_binary import KIND_NODE_IMAGE

        return self.kind_image_option or KIND_NODE_IMAGE

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


def parse_image_overrides(entries: Iterable[str], source: str) -> dict[str, str]:
    """``FROM=TO`` entries into a mapping; a malformed entry names ``source``."""
    mapping: dict[str, str] = {}
    for raw in entries:
        entry = raw.strip()
        if not entry:
            continue
        old, sep, new = entry.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise ConfigError(
                f"{source}: image override {entry!r} is not of the form FROM=TO "
                "(e.g. postgres:16.4=registry.local/postgres:16.4)"
            )
        mapping[old.strip()] = new.strip()
    return mapping


def _path(config: pytest.Config, value: object) -> Path:
    """A path given on the command line or in an env var, made absolute against the directory
    pytest was started in, once: a test that changes directory must not change which kubectl
    or kubeconfig a later step (a forward restarting, the cluster started on first need)
    uses."""
    return config.invocation_params.dir / Path(str(value)).expanduser()


def _given_path(config: pytest.Config, given: Given, rootdir: Path) -> Path:
    """A path from the one precedence: an ini value relative to the rootdir (where the ini
    file is), one from the command line or env relative to where pytest was started."""
    return (rootdir / Path(str(given.value)).expanduser() if given.source.startswith("ini")
            else _path(config, given.value))


def find_kubectl(kubectl: Path) -> Path:
    """The settings' kubectl, checked: a path (``--kind-kubectl-bin``) must exist; the bare
    name is looked up on PATH; a clear error when there is none."""
    if str(kubectl) != kubectl.name:
        if not kubectl.is_file():
            raise ConfigError(f"--kind-kubectl-bin names {kubectl}, which does not exist")
        return kubectl
    found = shutil.which(str(kubectl))
    if not found:
        raise ConfigError(
            "kubectl was not found on PATH; install it (https://kubernetes.io/docs/tasks/tools/) "
            "or pass --kind-kubectl-bin"
        )
    return Path(found)


#: Entries of --floe-load-image that name an image archive rather than an image reference.
_ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz")


def _manifests_dir(config: pytest.Config, rootdir: Path) -> tuple[Path, str]:
    """The base manifests: named (option > ini > env), else the project's ``manifests/``, else
    the stack packaged with floe-testing. A named directory must exist."""
    named = first_given(config, MANIFESTS)
    if named is not None:
        return (_existing_dir(rootdir / str(named.value), named.source, "Manifests directory"),
                named.source)
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
    """Where failure artifacts go (command line > ini > env), an output like ``--junitxml``:
    relative to the directory pytest was started in (the ini's: to the rootdir); it must be
    a directory that can be created or written to. None: no artifacts."""
    given = first_given(config, ARTIFACTS)
    if given is None:
        return None
    from floe_testing.writable import cannot_create_under

    path = _given_path(config, given, rootdir)
    problem = f"{path} is a file" if path.is_file() else cannot_create_under(path / "summary.txt")
    if problem is not None:
        raise ConfigError(f"failure artifacts directory {path} (from {given.source}) cannot be "
                          f"written: {problem}. Name another directory.")
    return path


def _load_image(rootdir: Path, entry: str, source: str) -> str:
    """An image archive (must exist; made absolute) or an image reference, as given."""
    if entry.endswith(_ARCHIVE_SUFFIXES) or entry.startswith(("/", "./", "../")):
        path = rootdir / entry
        if not path.is_file():
            raise ConfigError(f"image archive {path} does not exist (from {source}); build it "
                              "(e.g. `docker save IMAGE -o FILE`) or fix the path.")
        return str(path)
    return entry


def _chart_settings(config: pytest.Config, rootdir: Path) -> dict[str, ChartValues]:
    """Per chart: values files (must exist), ``--set`` entries and a namespace, each in
    precedence order (env, ini, option: helm lets the later win), with their sources. Nothing
    is imported when no chart is configured (this runs on every pytest run)."""
    files: dict[str, list[Path]] = {}
    sets: dict[str, list[str]] = {}
    namespaces: dict[str, str] = {}
    sources: dict[str, list[str]] = {}

    def chart(given: Given, sep: str, form: str) -> tuple[str, str]:
        entry = str(given.value)
        name, found, rest = entry.partition(sep)
        if not found or not name.strip() or not rest.strip():
            raise ConfigError(f"{given.source}: {entry!r} is not of the form {form}")
        where = sources.setdefault(name.strip(), [])
        if given.source not in where:
            where.append(given.source)
        return name.strip(), rest.strip()

    for given in every_given(config, CHART_VALUES, ","):
        name, path = chart(given, "=", "CHART=FILE (e.g. floe-platform=values-test.yaml)")
        if not (rootdir / path).is_file():
            raise ConfigError(f"values file {rootdir / path} does not exist (from "
                              f"{given.source}); fix the path or remove the setting.")
        files.setdefault(name, []).append(rootdir / path)
    for given in every_given(config, CHART_SET, ","):
        name, assignment = chart(given, ":",
                                 "CHART:KEY=VALUE (e.g. floe-platform:minio.replicas=1)")
        if "=" not in assignment:
            raise ConfigError(f"{given.source}: {given.value!r} is not of the form "
                              "CHART:KEY=VALUE")
        sets.setdefault(name, []).append(assignment)
    for given in every_given(config, CHART_NAMESPACE, ","):
        name, namespace = chart(given, "=", "CHART=NAMESPACE")
        if not is_dns_label(namespace):
            raise ConfigError(f"{given.source}: namespace {namespace!r} of chart {name!r} is "
                              "not a DNS-1123 label (lowercase letters, digits and '-')")
        namespaces[name] = namespace  # env, ini, command line: the last wins
    if not sources:
        return {}
    from floe_testing.cluster.charts import ChartValues

    return {name: ChartValues(tuple(files.get(name, ())), tuple(sets.get(name, ())),
                              namespaces.get(name), tuple(where))
            for name, where in sources.items()}


def _kind_config(config: pytest.Config, rootdir: Path) -> Path | None:
    """``--kind-config`` > ini ``floe_kind_config`` > env ``FLOE_KIND_CONFIG``; must exist."""
    given = first_given(config, KIND_CONFIG)
    if given is None:
        return None
    path = rootdir / str(given.value)
    if not path.is_file():
        raise ConfigError(f"kind config {path} does not exist (from {given.source}); fix the "
                          "path or remove the setting.")
    return path


def load_settings(config: pytest.Config, *, resolve_kubectl: bool = True) -> ClusterSettings:
    """Resolve every option; invalid values raise :class:`ConfigError` naming the source.

    ``resolve_kubectl=False`` checks everything but the kubectl binary, which only a run that
    uses a cluster needs (its session finds it, :func:`find_kubectl`): the plugin validates
    that way at configure time, on every run.
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

    named = first_given(config, CLUSTER_NAME)
    if named is not None and named.value == PYTEST_KIND_DEFAULT_NAME:  # pytest-kind's default
        named = first_given(config, Setting(ini=CLUSTER_NAME.ini, env=CLUSTER_NAME.env))
    name = str(named.value) if named is not None else DEFAULT_CLUSTER_NAME

    manifests_dir, manifests_source = _manifests_dir(config, rootdir)
    extra_manifests = tuple(
        _existing_dir(rootdir / str(g.value), g.source, "extra manifests directory")
        for g in every_given(config, EXTRA_MANIFESTS))
    load_images = tuple(_load_image(rootdir, str(g.value), g.source)
                        for g in every_given(config, LOAD_IMAGES, ","))
    overrides: dict[str, str] = {}
    for given in every_given(config, IMAGE_OVERRIDES, ","):  # env, ini, command line: last wins
        entries = str(given.value).split() if given.source.startswith("env") else [
            str(given.value)]
        overrides.update(parse_image_overrides(entries, given.source))
    ready_timeout = resolved(config, READY_TIMEOUT, positive_number("a number of seconds"),
                             DEFAULT_READY_TIMEOUT)

    # kind names its nodes and containers after the cluster, and a name such as ``../x``
    # would become a path in pytest-kind's state directory
    if not is_dns_label(str(name)):
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
    kubectl_bin = _opt(config, "kind_kubectl_bin")
    kubectl = _path(config, kubectl_bin) if kubectl_bin else Path("kubectl")
    helm_bin = first_given(config, HELM_BIN)
    return ClusterSettings(
        cluster_name=str(name),
        keep_cluster=bool(_opt(config, "keep_cluster")),
        kubeconfig=kubeconfig,
        kubeconfig_source=source,
        kind_image_option=str(_opt(config, "kind_image") or "") or None,
        kind_bin=str(_path(config, kind_bin)) if kind_bin else None,
        kubectl=find_kubectl(kubectl) if resolve_kubectl else kubectl,
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
        chart_values=_chart_settings(config, rootdir),
        helm_bin=str(_given_path(config, helm_bin, rootdir)) if helm_bin else None,
        helm_bin_source=helm_bin.source if helm_bin else "",
        kind_config=_kind_config(config, rootdir),
    )
