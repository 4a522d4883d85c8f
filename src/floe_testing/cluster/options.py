"""Registration of floe's command-line and ini options (kept import-light: loaded always).

Cluster options are pytest-kind's own (``--cluster-name``, ``--keep-cluster``,
``--kubeconfig``, ``--kind-image``, ``--kind-bin``, ``--kind-kubectl-bin``): pytest-kind
registers them, and registering them again would clash. With its plugin blocked
(``-p no:pytest-kind``, which spares every run pytest-kind's import) they are registered here,
with the same names, destinations and defaults.
"""

from __future__ import annotations

import pytest

from floe_testing.option_values import Setting

MANIFESTS = Setting("--floe-manifests", "floe_manifests", "FLOE_MANIFESTS")
EXTRA_MANIFESTS = Setting("--floe-extra-manifests", "floe_extra_manifests",
                          "FLOE_EXTRA_MANIFESTS")
LOAD_IMAGES = Setting("--floe-load-image", "floe_load_images", "FLOE_LOAD_IMAGES",
                      option_dest="floe_load_images")
IMAGE_OVERRIDES = Setting("--floe-image-override", "floe_image_overrides",
                          "FLOE_IMAGE_OVERRIDES", option_dest="floe_image_overrides")
READY_TIMEOUT = Setting("--floe-ready-timeout", "floe_ready_timeout", "FLOE_READY_TIMEOUT")
#: pytest-kind's ``--cluster-name`` (whose default is pytest-kind's own name)
CLUSTER_NAME = Setting("--cluster-name", "floe_cluster_name", "FLOE_CLUSTER_NAME",
                       option_dest="cluster_name")
#: your own stack (README "Your own stack"): per-chart values, helm, the kind config
CHART_VALUES = Setting("--floe-chart-values", "floe_chart_values", "FLOE_CHART_VALUES")
CHART_SET = Setting("--floe-chart-set", "floe_chart_set", "FLOE_CHART_SET")
CHART_NAMESPACE = Setting("--floe-chart-namespace", "floe_chart_namespace",
                          "FLOE_CHART_NAMESPACE")
HELM_BIN = Setting("--floe-helm-bin", "floe_helm_bin", "FLOE_HELM_BIN")
KIND_CONFIG = Setting("--kind-config", "floe_kind_config", "FLOE_KIND_CONFIG",
                      option_dest="floe_kind_config")
ARTIFACTS = Setting("--floe-artifacts", "floe_artifacts", "FLOE_ARTIFACTS")

DEFAULT_CLUSTER_NAME = "floe-test"
PYTEST_KIND_DEFAULT_NAME = "pytest-kind"
DEFAULT_READY_TIMEOUT = 300.0


def add_options(parser: pytest.Parser, *, pytest_kind_blocked: bool = False) -> None:
    """Register floe's cluster options and ini keys; pytest-kind's cluster options too when
    its plugin is blocked (``-p no:pytest-kind``, which spares every run its import), so they
    keep working without it."""
    if pytest_kind_blocked:
        _add_pytest_kind_options(parser)
    group = parser.getgroup("floe-testing", "floe-testing cluster and services")
    group.addoption(MANIFESTS.option, dest=MANIFESTS.dest, metavar="DIR", default=None,
                    help="directory of Kubernetes manifests to apply (ini floe_manifests, env "
                         "FLOE_MANIFESTS; default: <rootdir>/manifests if it exists, else the "
                         "stack packaged with floe-testing)")
    group.addoption(EXTRA_MANIFESTS.option, dest=EXTRA_MANIFESTS.dest, action="append",
                    default=[], metavar="DIR",
                    help="more components applied beside the manifests; a document with the "
                         "kind, namespace and name of one there replaces it; repeatable (ini "
                         "floe_extra_manifests, env FLOE_EXTRA_MANIFESTS, ':'-separated)")
    group.addoption(LOAD_IMAGES.option, dest=LOAD_IMAGES.dest, action="append", default=[],
                    metavar="IMAGE|ARCHIVE",
                    help="load a locally built image (or an image archive .tar) into the kind "
                         "cluster before applying; repeatable (ini floe_load_images, env "
                         "FLOE_LOAD_IMAGES, comma-separated)")
    group.addoption(IMAGE_OVERRIDES.option, dest=IMAGE_OVERRIDES.dest, action="append",
                    default=[], metavar="FROM=TO",
                    help="rewrite an image reference in the manifests before applying; "
                         "repeatable. A FROM ending in '/' rewrites a registry prefix "
                         "(ini floe_image_overrides, env FLOE_IMAGE_OVERRIDES)")
    group.addoption(READY_TIMEOUT.option, dest=READY_TIMEOUT.dest, default=None,
                    metavar="SECONDS",
                    help="how long each workload may take to become ready (ini "
                         f"floe_ready_timeout, env FLOE_READY_TIMEOUT; default "
                         f"{DEFAULT_READY_TIMEOUT:.0f})")
    _add_own_stack_options(parser)
    group.addoption(ARTIFACTS.option, dest=ARTIFACTS.dest, metavar="DIR", default=None,
                    help="write the cluster side of failures to DIR for CI to upload: per "
                         "failed test that used cluster services, its services' pod logs "
                         "(previous containers' too), events and object state; the whole "
                         "stack's once when the run fails; secrets masked (ini "
                         "floe_artifacts, env FLOE_ARTIFACTS)")
    parser.addini(MANIFESTS.ini, "directory of manifests, relative to rootdir")
    parser.addini(EXTRA_MANIFESTS.ini, "more manifests directories, one per line",
                  type="linelist")
    parser.addini(LOAD_IMAGES.ini, "images or image archives to load into the kind cluster, "
                  "one per line", type="linelist")
    parser.addini(IMAGE_OVERRIDES.ini, "image overrides, one FROM=TO per line", type="linelist")
    parser.addini(READY_TIMEOUT.ini, "seconds each workload may take to become ready")
    parser.addini(CLUSTER_NAME.ini, "kind cluster name (default floe-test)")
    parser.addini(ARTIFACTS.ini, "directory for failure artifacts, relative to the rootdir")


def _add_own_stack_options(parser: pytest.Parser) -> None:
    """Charts, kustomizations and the kind config (README "Your own stack")."""
    group = parser.getgroup("floe-testing")
    group.addoption(CHART_VALUES.option, dest=CHART_VALUES.dest, action="append", default=[],
                    metavar="CHART=FILE",
                    help="a values file for the chart named CHART (its Chart.yaml name), after "
                         "the chart's own values; repeatable, later files win (ini "
                         "floe_chart_values, env FLOE_CHART_VALUES, comma-separated; env, then "
                         "ini, then these)")
    group.addoption(CHART_SET.option, dest=CHART_SET.dest, action="append", default=[],
                    metavar="CHART:KEY=VALUE",
                    help="one value for a chart, as helm --set; repeatable, wins over values "
                         "files (ini floe_chart_set, env FLOE_CHART_SET, comma-separated)")
    group.addoption(CHART_NAMESPACE.option, dest=CHART_NAMESPACE.dest, action="append",
                    default=[], metavar="CHART=NAMESPACE",
                    help="the namespace of a chart's release (default: the stack namespace "
                         "floe-test; created if missing) (ini floe_chart_namespace, env "
                         "FLOE_CHART_NAMESPACE)")
    group.addoption(HELM_BIN.option, dest=HELM_BIN.dest, default=None, metavar="PATH",
                    help="helm binary that renders charts (ini floe_helm_bin, env "
                         "FLOE_HELM_BIN; default: helm on PATH, else a pinned, "
                         "checksum-verified download)")
    group.addoption(KIND_CONFIG.option, dest=KIND_CONFIG.dest, default=None, metavar="FILE",
                    help="kind cluster config used when the run creates the kind cluster (ini "
                         "floe_kind_config, env FLOE_KIND_CONFIG)")
    parser.addini(CHART_VALUES.ini, "CHART=FILE values files, one per line", type="linelist")
    parser.addini(CHART_SET.ini, "CHART:KEY=VALUE chart values, one per line", type="linelist")
    parser.addini(CHART_NAMESPACE.ini, "CHART=NAMESPACE, one per line", type="linelist")
    parser.addini(HELM_BIN.ini, "helm binary that renders charts")
    parser.addini(KIND_CONFIG.ini, "kind cluster config file, relative to rootdir")


def _add_pytest_kind_options(parser: pytest.Parser) -> None:
    """pytest-kind's own cluster options (same names, destinations and defaults)."""
    group = parser.getgroup("kind")
    group.addoption("--cluster-name", default=PYTEST_KIND_DEFAULT_NAME,
                    help="Name of the Kubernetes kind cluster")
    group.addoption("--keep-cluster", action="store_true",
                    help="Keep the Kubernetes kind cluster (do not delete after test run)")
    group.addoption("--kubeconfig", default=None,
                    help="If provided, use the specified kubeconfig instead of the one "
                         "generated by the cluster")
    for name, what in (("--kind-image", "docker image"), ("--kind-bin", "kind binary"),
                       ("--kind-kubectl-bin", "kubectl binary")):
        group.addoption(name, default=None, action="store", type=str,
                        help=f"If provided, use the specified {what}")
