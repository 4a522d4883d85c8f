"""Loading a kubeconfig and proving its cluster answers, quickly and with a clear error."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

import pykube
import requests
import yaml

from floe_testing.errors import ConfigError, InfrastructureError

REACHABILITY_TIMEOUT = 5.0
_WHAT_A_KUBECONFIG_IS = ("A kubeconfig has apiVersion: v1, kind: Config, clusters, contexts, "
                         "users and current-context; `kind get kubeconfig` or `kubectl config "
                         "view --raw` print one.")


@dataclass(frozen=True)
class ClusterAccess:
    """A kubeconfig path with its client, and what to call it in messages."""

    path: Path
    context: str
    server: str
    api: pykube.HTTPClient

    def describe(self) -> str:
        """``context <name> (server <url>)`` for header lines and errors."""
        return f"context {self.context!r} (server {self.server})"


def first_kubeconfig_path(value: str, base: Path | None = None) -> Path:
    """The first existing entry of a ``KUBECONFIG``-style path list (kubectl merges them);
    relative entries are taken relative to ``base`` (default: the current directory)."""
    entries = [(base or Path.cwd()) / Path(p).expanduser() for p in value.split(os.pathsep)
               if p]
    for entry in entries:
        if entry.exists():
            return entry
    return entries[0] if entries else Path(value)


def load_kubeconfig(path: Path, named_by: str, context: str | None = None) -> pykube.KubeConfig:
    """Parse the kubeconfig, failing with the file and the variable/option that named it."""
    if path.is_dir():
        raise ConfigError(f"{named_by} names {path}, which is a directory, not a kubeconfig file.")
    if not path.is_file():
        raise ConfigError(f"{named_by} names {path}, which does not exist.")
    try:
        empty = yaml.safe_load(path.read_bytes()) is None
    except (OSError, yaml.YAMLError):
        empty = False  # said below, with pykube's reading of it
    if empty:
        raise ConfigError(
            f"{named_by} names {path}, which is empty (no YAML document in it). "
            f"{_WHAT_A_KUBECONFIG_IS}")
    try:
        config = pykube.KubeConfig.from_file(str(path))
    except OSError as exc:
        raise ConfigError(f"{named_by} names {path}, which cannot be read: {exc}.") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{named_by} names {path}, which is not a valid kubeconfig (not UTF-8 text: "
            f"{exc.reason} at byte {exc.start})") from None
    except (yaml.YAMLError, KeyError, TypeError, pykube.exceptions.PyKubeError) as exc:
        raise ConfigError(
            f"{named_by} names {path}, which is not a valid kubeconfig: {exc}") from None
    doc = getattr(config, "doc", None)
    missing = ([k for k in ("clusters", "contexts", "users") if not isinstance(doc.get(k), list)]
               if isinstance(doc, dict) else ["a mapping at the top"])
    if isinstance(doc, dict) and context is None and not doc.get("current-context"):
        missing.append("current-context")
    if missing:
        raise ConfigError(
            f"{named_by} names {path}, which is YAML but not a kubeconfig: it lacks "
            f"{', '.join(missing)} ({_WHAT_A_KUBECONFIG_IS[0].lower()}"
            f"{_WHAT_A_KUBECONFIG_IS[1:-1]}).")
    if context is not None:
        try:
            config.set_current_context(context)
        except pykube.exceptions.PyKubeError as exc:
            raise ConfigError(f"context {context!r} not found in {path}: {exc}") from None
    return config


def connect(path: Path, named_by: str, timeout: float = REACHABILITY_TIMEOUT) -> ClusterAccess:
    """Load the kubeconfig and call ``/version``; fail within ``timeout`` seconds if it does not
    answer, naming the context and server."""
    return _reachable(load_kubeconfig(path, named_by), path, named_by, timeout)


def connect_in_cluster(timeout: float = REACHABILITY_TIMEOUT) -> ClusterAccess:
    """Inside a pod: the pod's service account, the cluster the tests run in."""
    try:
        config = pykube.KubeConfig.from_service_account()
    except (OSError, pykube.exceptions.PyKubeError) as exc:
        raise ConfigError(
            "KUBERNETES_SERVICE_HOST is set but the pod's service account cannot be read "
            f"({exc}); mount a token or set KUBECONFIG") from None
    return _reachable(config, Path("/var/run/secrets/kubernetes.io/serviceaccount"),
                      "the pod's service account", timeout)


def _reachable(config: pykube.KubeConfig, path: Path, named_by: str,
               timeout: float) -> ClusterAccess:
    try:
        server = str(config.cluster["server"])
        context = str(config.current_context)
    except (KeyError, TypeError, pykube.exceptions.PyKubeError) as exc:
        raise ConfigError(f"{named_by} names {path}, which has no usable context: {exc}") from None
    api = pykube.HTTPClient(config, timeout=timeout)
    try:
        response = api.session.get(f"{api.url}/version", timeout=timeout)
        response.raise_for_status()
    except requests.RequestException as exc:
        raise InfrastructureError(
            f"The cluster in {path} ({named_by}) is unreachable: context {context!r}, server "
            f"{server}: {type(exc).__name__}: {_first_line(exc)}.\nStart that cluster, fix "
            f"{named_by}, or unset it to let floe-testing create a kind cluster."
        ) from None
    return ClusterAccess(path=path, context=context, server=server,
                         api=pykube.HTTPClient(config, timeout=30))


def restrict_permissions(path: Path) -> None:
    """Make a kubeconfig we wrote owner-only (it holds cluster-admin credentials)."""
    if path.exists() and stat.S_IMODE(path.stat().st_mode) & 0o077:
        path.chmod(0o600)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
