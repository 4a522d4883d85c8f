"""Finding the kind binary: option, env, PATH, else a pinned, checksum-verified download."""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from floe_testing.errors import ConfigError, InfrastructureError

#: kind release downloaded when no kind is installed (pytest-kind pins the stale v0.17.0).
KIND_VERSION = "v0.33.0"
#: Published sha256 of the release binaries (``kind-<os>-<arch>.sha256sum``).
KIND_SHA256 = {
    ("linux", "amd64"): "aee6151561422756b764a4ae28e7f44cda5af5a9eead3cc9985112b1de8d8e0d",
    ("linux", "arm64"): "20022bee6cfcd5086cb7234d218e3454e6090022f2a8f55d1fa7fcf42c3867a2",
}
#: Node image built for KIND_VERSION, pinned by digest as kind's release notes require.
KIND_NODE_IMAGE = (
    "kindest/node:v1.37.0@sha256:a1ed56cfb0e7b93589bdf97c8cd566405a265939e3620fc4f5de89adff580ae5"
)
DOWNLOAD_URL = "https://github.com/kubernetes-sigs/kind/releases/download/{version}/kind-{os}-{arch}"
INSTALL_HINT = (
    "Install kind (https://kind.sigs.k8s.io/docs/user/quick-start/#installation) and a container "
    "engine (Docker or Podman), pass --kind-bin / set KIND_PATH, or set KUBECONFIG to reuse an "
    "existing cluster."
)


class ChecksumError(InfrastructureError):
    """A downloaded binary does not match its published checksum; it was not installed."""


@dataclass(frozen=True)
class KindBinary:
    """The kind executable to use and where it came from (for the header line)."""

    path: Path
    source: str


def _platform() -> tuple[str, str]:
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        machine, machine
    )
    return platform.system().lower(), arch


def default_cache_dir() -> Path:
    """Per-user cache (``$XDG_CACHE_HOME/floe-testing``), shared by all projects."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "floe-testing"


def executable(path: Path, named_by: str, install_hint: str = INSTALL_HINT) -> Path:
    """``path`` named by ``named_by`` (an option, ini key or env var), checked: an existing
    executable file, made absolute."""
    if not path.is_file():
        raise ConfigError(f"{named_by} names {path}, which does not exist. {install_hint}")
    if not os.access(path, os.X_OK):
        raise ConfigError(f"{named_by} names {path}, which is not executable (chmod +x it).")
    # absolute: a relative "./kind" would otherwise be looked up on PATH when it is run
    return path.absolute()


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download_verified(url: str, expected_sha256: str, target: Path, *, attempts: int = 3,
                      tool: str = "kind", hint: str = INSTALL_HINT,
                      url_env: str = "FLOE_KIND_DOWNLOAD_URL") -> Path:
    """Download ``url`` to ``target`` atomically, only if its sha256 matches.

    Network errors are retried with backoff; a checksum mismatch is not (the same bytes would
    come again) and leaves nothing at ``target``. A file lock makes parallel sessions share
    one download. ``tool``, ``hint`` and ``url_env`` word the errors (kind's by default; the
    Helm download shares this code).
    """
    # imported here: settings read KIND_NODE_IMAGE from this module on every pytest run
    from filelock import FileLock
    from tenacity import (
        Retrying,
        retry_if_exception_type,
        stop_after_attempt,
        wait_exponential,
    )

    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock", timeout=300):
        if target.is_file() and sha256_of(target) == expected_sha256:
            return target
        retrying = Retrying(
            stop=stop_after_attempt(attempts),
            wait=wait_exponential(multiplier=0.5, max=4),
            retry=retry_if_exception_type((urllib.error.URLError, TimeoutError, ConnectionError)),
            reraise=True,
        )
        try:
            tmp_path = retrying(_fetch_to_temp, url, target.parent, url_env)
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            where = "--kind-bin, KIND_PATH, PATH" if tool == "kind" else "option, env, PATH"
            raise InfrastructureError(
                f"{tool} was not found ({where}) and downloading {url} failed "
                f"after {attempts} attempts: {reason}.\n{hint}"
            ) from None
        actual = sha256_of(tmp_path)
        if actual != expected_sha256:
            tmp_path.unlink(missing_ok=True)
            raise ChecksumError(
                f"Checksum mismatch for {url}: expected sha256 {expected_sha256}, got {actual}. "
                "The file was discarded. A proxy or mirror may be serving a different file."
            )
        tmp_path.chmod(0o755)
        os.replace(tmp_path, target)
        return target


def _fetch_to_temp(url: str, directory: Path, url_env: str = "FLOE_KIND_DOWNLOAD_URL") -> Path:
    if not url.startswith(("https://", "http://")):
        raise ConfigError(f"download URL {url!r} must be http(s) ({url_env})")
    fd, name = tempfile.mkstemp(prefix=".download-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out, \
                urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - checked above
            shutil.copyfileobj(response, out)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def resolve_kind_binary(
    kind_bin: str | None, *, cache_dir: Path | None = None, download_url: str | None = None
) -> KindBinary:
    """``--kind-bin``, then ``KIND_PATH``, then ``kind`` on PATH, then the pinned download."""
    if kind_bin:
        return KindBinary(executable(Path(kind_bin), "--kind-bin"), "--kind-bin")
    if env_path := os.environ.get("KIND_PATH"):
        return KindBinary(executable(Path(env_path), "KIND_PATH"), "KIND_PATH")
    if on_path := shutil.which("kind"):
        return KindBinary(Path(on_path), "PATH")
    os_name, arch = _platform()
    expected = KIND_SHA256.get((os_name, arch))
    if expected is None:
        raise InfrastructureError(
            f"kind was not found and no pinned kind {KIND_VERSION} checksum exists for "
            f"{os_name}/{arch}.\n{INSTALL_HINT}"
        )
    url = download_url or os.environ.get("FLOE_KIND_DOWNLOAD_URL") or DOWNLOAD_URL.format(
        version=KIND_VERSION, os=os_name, arch=arch
    )
    target = (cache_dir or default_cache_dir()) / f"kind-{KIND_VERSION}-{os_name}-{arch}"
    return KindBinary(download_verified(url, expected, target), f"downloaded {KIND_VERSION}")
