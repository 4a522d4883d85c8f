"""The options of ``--floe-in-cluster`` (README "Running inside the cluster"): each setting
declared once, registered from that declaration and resolved with the one precedence
(:mod:`floe_testing.option_values`). Imported on every run: pytest only."""

from __future__ import annotations

import pytest

from floe_testing.option_values import Setting

IN_CLUSTER = Setting("--floe-in-cluster", "floe_in_cluster", "FLOE_IN_CLUSTER")
SHARDS = Setting("--floe-shards", "floe_shards", "FLOE_SHARDS")
RUNNER_IMAGE = Setting("--floe-runner-image", "floe_runner_image", "FLOE_RUNNER_IMAGE")
SHARD_TIMEOUT = Setting("--floe-shard-timeout", "floe_shard_timeout", "FLOE_SHARD_TIMEOUT")
SHIP_FILES = Setting("--floe-ship-file", "floe_ship_files", "FLOE_SHIP_FILES")
DEFAULT_SHARD_TIMEOUT = 3600.0


def add_in_cluster_options(parser: pytest.Parser) -> None:
    """``--floe-in-cluster`` and its companions, with their ini keys."""
    group = parser.getgroup("floe-testing")
    group.addoption(IN_CLUSTER.option, dest=IN_CLUSTER.dest, action="store_true", default=None,
                    help="run the selected tests inside the cluster, as Jobs of pods on "
                         f"--floe-runner-image, and report them here (ini {IN_CLUSTER.ini}, env "
                         f"{IN_CLUSTER.env})")
    group.addoption(SHARDS.option, dest=SHARDS.dest, default=None, metavar="N",
                    help="with --floe-in-cluster: split the tests across N pods (ini "
                         f"{SHARDS.ini}, env {SHARDS.env}; default 1)")
    group.addoption(RUNNER_IMAGE.option, dest=RUNNER_IMAGE.dest, default=None, metavar="IMAGE",
                    help="with --floe-in-cluster: the image the pods run, holding the "
                         f"project's dependencies and floe-testing (ini {RUNNER_IMAGE.ini}, env "
                         f"{RUNNER_IMAGE.env})")
    group.addoption(SHARD_TIMEOUT.option, dest=SHARD_TIMEOUT.dest, default=None,
                    metavar="SECONDS",
                    help="with --floe-in-cluster: Kubernetes ends a shard's pod after this "
                         f"long (ini {SHARD_TIMEOUT.ini}, env {SHARD_TIMEOUT.env}; default "
                         f"{DEFAULT_SHARD_TIMEOUT:.0f})")
    group.addoption(SHIP_FILES.option, dest=SHIP_FILES.dest, action="append", default=[],
                    metavar="PATTERN",
                    help="with --floe-in-cluster: also ship files matching this .gitignore-"
                         "style pattern to the pods (only what git tracks travels otherwise, and "
                         "nothing that looks like a secret unless named here); repeatable (ini "
                         f"{SHIP_FILES.ini}, env {SHIP_FILES.env}, os.pathsep-separated)")
    parser.addini(IN_CLUSTER.ini, "run the tests inside the cluster (true/false)")
    parser.addini(SHARDS.ini, "number of pods the tests are split across")
    parser.addini(RUNNER_IMAGE.ini, "image of the test pods")
    parser.addini(SHARD_TIMEOUT.ini, "seconds a shard's pod may run")
    parser.addini(SHIP_FILES.ini, "files shipped to the pods beyond what git tracks, one "
                  ".gitignore-style pattern per line", type="linelist")
