"""The in-cluster run's options, resolved once: command line > ini > env > default."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest

from floe_testing.errors import ConfigError
from floe_testing.location import running_as_shard

DEFAULT_SHARD_TIMEOUT = 3600.0
#: a ConfigMap holds at most 1 MiB; the shard lists and metadata need the rest
DEFAULT_CODE_LIMIT = 900 * 1024
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


#: the run's in-cluster settings (read at configure)
IN_CLUSTER = pytest.StashKey["InClusterSettings"]()
#: the worst exit code of the run's shards (set by the runner, applied at session finish)
SHARD_EXIT = pytest.StashKey[int]()


@dataclass(frozen=True)
class InClusterSettings:
    """Whether the tests run in pods, how many, on which image (already validated)."""

    enabled: bool = False
    shards: int = 1
    runner_image: str = ""
    shard_timeout: float = DEFAULT_SHARD_TIMEOUT
    code_limit: int = DEFAULT_CODE_LIMIT
    #: ``.gitignore``-style patterns of files shipped to the pods although git does not track
    #: them or they look like secrets (``--floe-ship-file``)
    ship_files: tuple[str, ...] = ()


def _first(config: pytest.Config, option: str, ini: str, env: str) -> tuple[str, str] | None:
    """The first value given, with where it came from (option > ini > env)."""
    value = config.getoption(option.lstrip("-").replace("-", "_"), None)
    if value is not None and value is not False:
        return str(value), option
    ini_value = config.getini(ini)
    if ini_value not in (None, "", []):
        return str(ini_value), f"ini {ini}"
    if env in os.environ:
        return os.environ[env], f"env {env}"
    return None


def _listed(config: pytest.Config, option: str, ini: str, env: str) -> tuple[str, ...]:
    """Every entry of a repeatable option, its ini key (a line each) and its env var
    (``os.pathsep``-separated): they add up."""
    found = [e for e in os.environ.get(env, "").split(os.pathsep) if e.strip()]
    found += [str(e) for e in config.getini(ini) or [] if str(e).strip()]
    found += [str(e) for e in config.getoption(option.lstrip("-").replace("-", "_"), None) or []
              if str(e).strip()]
    return tuple(e.strip() for e in found)


def _flag(found: tuple[str, str] | None) -> bool:
    if found is None:
        return False
    value, source = found
    if value.strip().lower() in _TRUE:
        return True
    if value.strip().lower() in _FALSE:
        return False
    raise ConfigError(f"{source}: {value!r} is not a yes/no value; use true or false")


def _positive(found: tuple[str, str] | None, default: float, what: str, *,
              integer: bool = False) -> float:
    if found is None:
        return default
    value, source = found
    try:
        number = int(value) if integer else float(value)
    except ValueError:
        raise ConfigError(f"{source}: {value!r} is not {what}") from None
    if number < 1:
        raise ConfigError(f"{source}: {value!r} must be at least 1")
    return number


def load_in_cluster_settings(config: pytest.Config) -> InClusterSettings:
    """Resolve the options; a missing runner image or a bad number raises
    :class:`~floe_testing.errors.ConfigError` naming its source. Inside a shard pod the run is
    never sent to the cluster again, whatever the project's ini says."""
    enabled = _flag(_first(config, "--floe-in-cluster", "floe_in_cluster", "FLOE_IN_CLUSTER"))
    shards = int(_positive(_first(config, "--floe-shards", "floe_shards", "FLOE_SHARDS"), 1,
                           "a whole number of shards", integer=True))
    timeout = _positive(_first(config, "--floe-shard-timeout", "floe_shard_timeout",
                               "FLOE_SHARD_TIMEOUT"), DEFAULT_SHARD_TIMEOUT, "a number of seconds")
    image = _first(config, "--floe-runner-image", "floe_runner_image", "FLOE_RUNNER_IMAGE")
    if running_as_shard():
        return InClusterSettings()
    if enabled and (image is None or not image[0].strip()):
        raise ConfigError(
            "--floe-in-cluster runs the tests in pods, on an image holding your project's "
            "dependencies and floe-testing: name it with --floe-runner-image (ini "
            "floe_runner_image, env FLOE_RUNNER_IMAGE). README \"Running inside the cluster\" "
            "shows how to build one.")
    if enabled and config.getoption("numprocesses", None):
        raise ConfigError(
            "--floe-in-cluster runs the tests in pods, not in local xdist workers: drop -n here "
            "(to use xdist inside each pod, set PYTEST_ADDOPTS='-n auto' in the runner image).")
    return InClusterSettings(enabled=enabled, shards=shards,
                             runner_image=image[0].strip() if image else "",
                             shard_timeout=timeout,
                             ship_files=_listed(config, "--floe-ship-file", "floe_ship_files",
                                                "FLOE_SHIP_FILES"))
