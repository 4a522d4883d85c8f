"""Finding the helm binary (only a run whose manifests hold a chart needs it): the one given
(``--floe-helm-bin``, ini ``floe_helm_bin`` or ``FLOE_HELM_BIN``, resolved by the settings' one
precedence), then ``helm`` on PATH, else a pinned release downloaded, checked against its
published sha256 and cached, as kind is (``kind_binary``)."""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from floe_testing.cluster.kind_binary import (
    _platform,
    default_cache_dir,
    download_verified,
    executable,
)
from floe_testing.errors import ConfigError, InfrastructureError

#: Helm release downloaded when none is installed (charts are rendered with ``helm template``)
HELM_VERSION = "v3.21.4"
#: Published sha256 of the release archives (``helm-<version>-<os>-<arch>.tar.gz.sha256sum``)
HELM_SHA256 = {
    ("linux", "amd64"): "61f88ab166748cb19604d7884cb100ae9ccb13804ddeb98e08af167eacbb6a14",
    ("linux", "arm64"): "b54c04b4e0b2540bbdc08c17a121dab70e9a2ed0de5705528fec68a5fd3b85a7",
    ("darwin", "amd64"): "9173d05edf9592c6be1d0412ffafd935448dfc7a63c2bc732b8c67e55503e8a8",
    ("darwin", "arm64"): "6e0bf5eb6daafc2b1ec34bb5ba04ef103f3afc16192fb19805c2924d7ea1033f",
}
HELM_DOWNLOAD_URL = "https://get.helm.sh/helm-{version}-{os}-{arch}.tar.gz"
HELM_INSTALL_HINT = (
    "Install Helm 3 (https://helm.sh/docs/intro/install/), or name it with --floe-helm-bin / "
    "FLOE_HELM_BIN (FLOE_HELM_DOWNLOAD_URL names a mirror of the pinned release)."
)


@dataclass(frozen=True)
class HelmBinary:
    """The helm executable to render charts with and where it came from."""

    path: Path
    source: str


def resolve_helm_binary(helm_bin: str | None, source: str = "--floe-helm-bin", *,
                        cache_dir: Path | None = None,
                        download_url: str | None = None) -> HelmBinary:
    """The helm given (``source`` says where: ``--floe-helm-bin``, ``ini floe_helm_bin``,
    ``env FLOE_HELM_BIN``), then ``helm`` on PATH, then the pinned download (verified
    archive, the binary extracted next to it)."""
    if helm_bin:
        return HelmBinary(executable(Path(helm_bin), source, HELM_INSTALL_HINT), source)
    if on_path := shutil.which("helm"):
        return HelmBinary(Path(on_path), "PATH")
    os_name, arch = _platform()
    expected = HELM_SHA256.get((os_name, arch))
    if expected is None:
        raise InfrastructureError(f"helm was not found and no pinned helm {HELM_VERSION} "
                                  f"checksum exists for {os_name}/{arch}.\n{HELM_INSTALL_HINT}")
    url = download_url or os.environ.get("FLOE_HELM_DOWNLOAD_URL") or HELM_DOWNLOAD_URL.format(
        version=HELM_VERSION, os=os_name, arch=arch)
    cache = cache_dir or default_cache_dir()
    binary = cache / f"helm-{HELM_VERSION}-{os_name}-{arch}"
    if not binary.is_file():
        archive = download_verified(url, expected, cache / f"helm-{HELM_VERSION}-{os_name}-"
                                    f"{arch}.tar.gz", tool="helm", hint=HELM_INSTALL_HINT,
                                    url_env="FLOE_HELM_DOWNLOAD_URL")
        _extract_helm(archive, f"{os_name}-{arch}/helm", binary)
    return HelmBinary(binary, f"downloaded {HELM_VERSION}")


def _extract_helm(archive: Path, member: str, target: Path) -> None:
    """The one binary of the verified archive, written atomically (no other member is read,
    so a crafted path in the archive cannot land anywhere)."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            source = tar.extractfile(member)
            if source is None:
                raise KeyError(member)
            fd, name = tempfile.mkstemp(prefix=".helm-", dir=target.parent)
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(source, out)
    except (KeyError, tarfile.TarError) as exc:
        raise ConfigError(f"{archive} holds no {member} ({exc}); delete it to download "
                          "again.") from None
    Path(name).chmod(0o755)
    os.replace(name, target)
