"""Registration of floe's command-line and ini options (kept import-light: loaded always).

Cluster options are pytest-kind's own (``--cluster-name``, ``--keep-cluster``,
``--kubeconfig``, ``--kind-image``, ``--kind-bin``, ``--kind-kubectl-bin``): pytest-kind
registers them, and registering them again would clash. With its plugin blocked
(``-p no:pytest-kind``, which spares every run pytest-kind's import) they are registered here,
with the same names, destinations and defaults.
"""

from __future__ import annotations

import pytest

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
    group.addoption("--floe-manifests", dest="floe_manifests", metavar="DIR", default=None,
                    help="directory of Kubernetes manifests to apply (ini floe_manifests, env "
                         "FLOE_MANIFESTS; default: <rootdir>/manifests if it exists, else the "
                         "stack packaged with floe-testing)")
    group.addoption("--floe-extra-manifests", dest="floe_extra_manifests", action="append",
                    default=[], metavar="DIR",
                    help="more components applied beside the manifests; a document with the "
                         "kind, namespace and name of one there replaces it; repeatable (ini "
                         "floe_extra_manifests, env FLOE_EXTRA_MANIFESTS, ':'-separated)")
    group.addoption("--floe-load-image", dest="floe_load_images", action="append", default=[],
                    metavar="IMAGE|ARCHIVE",
                    help="load a locally built image (or an image archive .tar) into the kind "
                         "cluster before applying; repeatable (ini floe_load_images, env "
                         "FLOE_LOAD_IMAGES, comma-separated)")
    group.addoption("--floe-image-override", dest="floe_image_overrides", action="append",
                    default=[], metavar="FROM=TO",
                    help="rewrite an image reference in the manifests before applying; "
                         "repeatable. A FROM ending in '/' rewrites a registry prefix "
                         "(ini floe_image_overrides, env FLOE_IMAGE_OVERRIDES)")
    group.addoption("--floe-ready-timeout", dest="floe_ready_timeout", type=float,
                    default=None, metavar="SECONDS",
                    help="how long each workload may take to become ready (ini "
                         f"floe_ready_timeout, env FLOE_READY_TIMEOUT; default "
                         f"{DEFAULT_READY_TIMEOUT:.0f})")
    group.addoption("--floe-artifacts", dest="floe_artifacts", metavar="DIR", default=None,
                    help="write the cluster side of failures to DIR for CI to upload: per "
                         "failed test that used cluster services, its services' pod logs "
                         "(previous containers' too), events and object state; the whole "
                         "stack's once when the run fails; secrets masked (ini "
                         "floe_artifacts, env FLOE_ARTIFACTS)")
    _add_in_cluster_options(parser)
    parser.addini("floe_manifests", "directory of manifests, relative to rootdir")
    parser.addini("floe_extra_manifests", "more manifests directories, one per line",
                  type="linelist")
    parser.addini("floe_load_images", "images or image archives to load into the kind cluster, "
                  "one per line", type="linelist")
    parser.addini("floe_image_overrides", "image overrides, one FROM=TO per line", type="linelist")
    parser.addini("floe_ready_timeout", "seconds each workload may take to become ready")
    parser.addini("floe_cluster_name", "kind cluster name (default floe-test)")
    parser.addini("floe_artifacts", "directory for failure artifacts, relative to the rootdir")


def _add_in_cluster_options(parser: pytest.Parser) -> None:
    """``--floe-in-cluster`` and its companions (README "Running inside the cluster")."""
    group = parser.getgroup("floe-testing")
    group.addoption("--floe-in-cluster", dest="floe_in_cluster", action="store_true",
                    default=None,
                    help="run the selected tests inside the cluster, as Jobs of pods on "
                         "--floe-runner-image, and report them here (ini floe_in_cluster, env "
                         "FLOE_IN_CLUSTER)")
    group.addoption("--floe-shards", dest="floe_shards", type=int, default=None, metavar="N",
                    help="with --floe-in-cluster: split the tests across N pods (ini "
                         "floe_shards, env FLOE_SHARDS; default 1)")
    group.addoption("--floe-runner-image", dest="floe_runner_image", default=None,
                    metavar="IMAGE",
                    help="with --floe-in-cluster: the image the pods run, holding the "
                         "project's dependencies and floe-testing (ini floe_runner_image, env "
                         "FLOE_RUNNER_IMAGE)")
    group.addoption("--floe-shard-timeout", dest="floe_shard_timeout", type=float,
                    default=None, metavar="SECONDS",
                    help="with --floe-in-cluster: Kubernetes ends a shard's pod after this "
                         "long (ini floe_shard_timeout, env FLOE_SHARD_TIMEOUT; default 3600)")
    group.addoption("--floe-ship-file", dest="floe_ship_file", action="append", default=[],
                    metavar="PATTERN",
                    help="with --floe-in-cluster: also ship files matching this .gitignore-"
                         "style pattern to the pods (only what git tracks travels otherwise, and "
                         "nothing that looks like a secret unless named here); repeatable (ini "
                         "floe_ship_files, env FLOE_SHIP_FILES, os.pathsep-separated)")
    parser.addini("floe_in_cluster", "run the tests inside the cluster (true/false)")
    parser.addini("floe_shards", "number of pods the tests are split across")
    parser.addini("floe_runner_image", "image of the test pods")
    parser.addini("floe_shard_timeout", "seconds a shard's pod may run")
    parser.addini("floe_ship_files", "files shipped to the pods beyond what git tracks, one "
                  ".gitignore-style pattern per line", type="linelist")


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
