"""Registration of floe's command-line and ini options (kept import-light: loaded always).

Cluster options are pytest-kind's own (``--cluster-name``, ``--keep-cluster``,
``--kubeconfig``, ``--kind-image``, ``--kind-bin``, ``--kind-kubectl-bin``); registering
them again would clash, so only floe-specific options are added here.
"""

from __future__ import annotations

import pytest

DEFAULT_CLUSTER_NAME = "floe-test"
PYTEST_KIND_DEFAULT_NAME = "pytest-kind"
DEFAULT_READY_TIMEOUT = 300.0


def add_options(parser: pytest.Parser) -> None:
    """Register floe's cluster options and ini keys."""
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
    parser.addini("floe_manifests", "directory of manifests, relative to rootdir")
    parser.addini("floe_extra_manifests", "more manifests directories, one per line",
                  type="linelist")
    parser.addini("floe_load_images", "images or image archives to load into the kind cluster, "
                  "one per line", type="linelist")
    parser.addini("floe_image_overrides", "image overrides, one FROM=TO per line", type="linelist")
    parser.addini("floe_ready_timeout", "seconds each workload may take to become ready")
    parser.addini("floe_cluster_name", "kind cluster name (default floe-test)")
