"""The in-cluster run's options, resolved once: command line > ini > env > default."""

from __future__ import annotations

from typing import NamedTuple

import pytest

from floe_testing.errors import ConfigError
from floe_testing.in_cluster.options import (
    DEFAULT_SHARD_TIMEOUT,
    IN_CLUSTER,
    RUNNER_IMAGE,
    SHARD_TIMEOUT,
    SHARDS,
    SHIP_FILES,
)
from floe_testing.location import running_as_shard
from floe_testing.option_values import (
    as_flag,
    as_text,
    every_given,
    positive_number,
    resolved,
)

#: a ConfigMap holds at most 1 MiB; the shard lists and metadata need the rest
DEFAULT_CODE_LIMIT = 900 * 1024


#: the run's in-cluster settings (read at configure)
IN_CLUSTER_SETTINGS = pytest.StashKey["InClusterSettings"]()
#: the worst exit code of the run's shards (set by the runner, applied at session finish)
SHARD_EXIT = pytest.StashKey[int]()


class InClusterSettings(NamedTuple):  # made on every run: cheaper than a dataclass
    """Whether the tests run in pods, how many, on which image (already validated)."""

    enabled: bool = False
    shards: int = 1
    runner_image: str = ""
    shard_timeout: float = DEFAULT_SHARD_TIMEOUT
    code_limit: int = DEFAULT_CODE_LIMIT
    #: ``.gitignore``-style patterns of files shipped to the pods although git does not track
    #: them or they look like secrets (``--floe-ship-file``)
    ship_files: tuple[str, ...] = ()


def load_in_cluster_settings(config: pytest.Config) -> InClusterSettings:
    """Resolve the options; a missing runner image or a bad number raises
    :class:`~floe_testing.errors.ConfigError` naming its source. Inside a shard pod the run is
    never sent to the cluster again, whatever the project's ini says."""
    enabled = resolved(config, IN_CLUSTER, as_flag, False)
    shards = int(resolved(config, SHARDS, positive_number("a whole number of shards",
                                                          integer=True), 1.0))
    timeout = resolved(config, SHARD_TIMEOUT, positive_number("a number of seconds"),
                       DEFAULT_SHARD_TIMEOUT)
    image = resolved(config, RUNNER_IMAGE, as_text, "")
    if running_as_shard():
        return InClusterSettings()
    if enabled and not image:
        raise ConfigError(
            "--floe-in-cluster runs the tests in pods, on an image holding your project's "
            f"dependencies and floe-testing: name it with {RUNNER_IMAGE.describe()}. README "
            "\"Running inside the cluster\" shows how to build one.")
    if enabled and config.getoption("numprocesses", None):
        raise ConfigError(
            "--floe-in-cluster runs the tests in pods, not in local xdist workers: drop -n here "
            "(to use xdist inside each pod, set PYTEST_ADDOPTS='-n auto' in the runner image).")
    return InClusterSettings(enabled=enabled, shards=shards, runner_image=image,
                             shard_timeout=timeout,
                             ship_files=tuple(str(g.value) for g in every_given(config,
                                                                                SHIP_FILES)))
