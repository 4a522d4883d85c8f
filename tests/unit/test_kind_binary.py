"""Finding kind: --kind-bin > KIND_PATH > PATH > a checksum-verified download, served here by a
real local HTTP server."""

from __future__ import annotations

import hashlib
import http.server
import os
import stat
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from floe_testing.cluster import kind_binary
from floe_testing.cluster.kind_binary import (
    KIND_VERSION,
    ChecksumError,
    download_verified,
    resolve_kind_binary,
)
from floe_testing.errors import ConfigError, InfrastructureError

pytestmark = pytest.mark.unit

PAYLOAD = b"#!/bin/sh\necho 'kind v0.0.0-fake'\n"
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


def _fake_kind(directory: Path, name: str = "kind", mode: int = 0o755) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text("#!/bin/sh\necho fake kind\n")
    path.chmod(mode)
    return path


@pytest.fixture
def no_kind_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """PATH is an empty directory (no kind), KIND_PATH and FLOE_KIND_DOWNLOAD_URL unset."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("KIND_PATH", raising=False)
    monkeypatch.delenv("FLOE_KIND_DOWNLOAD_URL", raising=False)
    return empty


# -- resolution order ------------------------------------------------------------------------


@pytest.mark.requirement("001-FR-002")
def test_resolution_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cli = _fake_kind(tmp_path / "cli")
    env = _fake_kind(tmp_path / "env")
    on_path = _fake_kind(tmp_path / "path-bin")
    monkeypatch.setenv("PATH", str(tmp_path / "path-bin"))
    monkeypatch.setenv("KIND_PATH", str(env))

    found = resolve_kind_binary(str(cli))
    assert (found.path, found.source) == (cli, "--kind-bin")

    found = resolve_kind_binary(None)
    assert (found.path, found.source) == (env, "KIND_PATH")

    monkeypatch.delenv("KIND_PATH")
    found = resolve_kind_binary(None)
    assert (found.path, found.source) == (on_path, "PATH")


@pytest.mark.requirement("001-FR-002")
def test_non_executable_kind_on_path_is_skipped(
    no_kind_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_kind(no_kind_env, mode=0o644)
    good = _fake_kind(tmp_path / "later")
    monkeypatch.setenv("PATH", f"{no_kind_env}{os.pathsep}{good.parent}")
    assert resolve_kind_binary(None).path == good


@pytest.mark.requirement("001-FR-053")
@pytest.mark.parametrize("option", ["--kind-bin", "KIND_PATH"])
def test_named_kind_that_does_not_exist(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, option: str
) -> None:
    missing = tmp_path / "nope" / "kind"
    _fake_kind(tmp_path / "path-bin")  # a kind on PATH must not be used instead
    monkeypatch.setenv("PATH", str(tmp_path / "path-bin"))
    if option == "KIND_PATH":
        monkeypatch.setenv("KIND_PATH", str(missing))
    with pytest.raises(ConfigError) as info:
        resolve_kind_binary(str(missing) if option == "--kind-bin" else None)
    message = str(info.value)
    assert message.startswith(f"{option} names {missing}")
    assert "does not exist" in message


@pytest.mark.requirement("001-FR-053")
@pytest.mark.parametrize("option", ["--kind-bin", "KIND_PATH"])
def test_named_kind_that_is_not_executable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, option: str
) -> None:
    plain = _fake_kind(tmp_path / "x", mode=0o644)
    monkeypatch.setenv("KIND_PATH", str(plain))
    with pytest.raises(ConfigError) as info:
        resolve_kind_binary(str(plain) if option == "--kind-bin" else None)
    message = str(info.value)
    assert option in message
    assert str(plain) in message
    assert "not executable" in message


# -- download against a real local HTTP server ----------------------------------------------


@dataclass
class FakeReleaseServer:
    """What the handler serves and what it saw."""

    url: str
    payload: bytes = PAYLOAD
    failures_before_success: int = 0
    requests: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def release_server() -> Iterator[FakeReleaseServer]:
    state = FakeReleaseServer(url="")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with state.lock:
                state.requests.append(self.path)
                failing = state.failures_before_success > 0
                if failing:
                    state.failures_before_success -= 1
            if failing:
                self.send_error(500, "try again")
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(state.payload)))
            self.end_headers()
            self.wfile.write(state.payload)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/kind-linux-amd64"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(".kind-download-"))


@pytest.mark.requirement("001-FR-002")
def test_download_installs_verified_executable_then_hits_cache(
    release_server: FakeReleaseServer, tmp_path: Path
) -> None:
    target = tmp_path / "cache" / "kind-test"
    assert download_verified(release_server.url, PAYLOAD_SHA, target, attempts=3) == target
    assert target.read_bytes() == PAYLOAD
    assert target.stat().st_mode & stat.S_IXUSR
    assert os.access(target, os.X_OK)
    assert _leftovers(target.parent) == []
    assert len(release_server.requests) == 1

    assert download_verified(release_server.url, PAYLOAD_SHA, target, attempts=3) == target
    assert len(release_server.requests) == 1  # cache hit: no request


@pytest.mark.requirement("001-FR-002")
def test_corrupt_cached_file_is_replaced(
    release_server: FakeReleaseServer, tmp_path: Path
) -> None:
    target = tmp_path / "kind-test"
    target.write_bytes(b"truncated")
    download_verified(release_server.url, PAYLOAD_SHA, target, attempts=1)
    assert target.read_bytes() == PAYLOAD
    assert len(release_server.requests) == 1


@pytest.mark.requirement("001-FR-002")
def test_checksum_mismatch_leaves_nothing_and_is_not_retried(
    release_server: FakeReleaseServer, tmp_path: Path
) -> None:
    release_server.payload = b"something else entirely"
    target = tmp_path / "cache" / "kind-test"
    with pytest.raises(ChecksumError) as info:
        download_verified(release_server.url, PAYLOAD_SHA, target, attempts=3)
    assert isinstance(info.value, InfrastructureError)
    message = str(info.value)
    assert release_server.url in message
    assert PAYLOAD_SHA in message
    assert hashlib.sha256(b"something else entirely").hexdigest() in message
    assert not target.exists()
    assert _leftovers(target.parent) == []
    assert len(release_server.requests) == 1


@pytest.mark.requirement("001-FR-002")
def test_server_errors_are_retried(release_server: FakeReleaseServer, tmp_path: Path) -> None:
    release_server.failures_before_success = 2
    target = tmp_path / "kind-test"
    assert download_verified(release_server.url, PAYLOAD_SHA, target, attempts=3) == target
    assert target.read_bytes() == PAYLOAD
    assert len(release_server.requests) == 3
    assert _leftovers(tmp_path) == []


@pytest.mark.requirement("001-FR-053")
def test_persistent_server_errors_give_up_with_install_hint(
    release_server: FakeReleaseServer, tmp_path: Path
) -> None:
    release_server.failures_before_success = 10
    with pytest.raises(InfrastructureError) as info:
        download_verified(release_server.url, PAYLOAD_SHA, tmp_path / "kind-test", attempts=2)
    assert len(release_server.requests) == 2
    assert "after 2 attempts" in str(info.value)
    assert not (tmp_path / "kind-test").exists()
    assert _leftovers(tmp_path) == []


@pytest.mark.requirement("001-FR-053")
def test_unreachable_download_fails_fast_saying_what_to_do(
    closed_port: int, tmp_path: Path
) -> None:
    url = f"http://127.0.0.1:{closed_port}/kind"
    start = time.monotonic()
    with pytest.raises(InfrastructureError) as info:
        download_verified(url, PAYLOAD_SHA, tmp_path / "kind-test", attempts=3)
    assert time.monotonic() - start < 10
    message = str(info.value)
    assert url in message
    assert "after 3 attempts" in message
    assert "Install kind" in message
    assert "KUBECONFIG" in message
    assert "--kind-bin" in message
    assert _leftovers(tmp_path) == []


@pytest.mark.requirement("001-FR-053")
def test_non_http_download_url_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="FLOE_KIND_DOWNLOAD_URL"):
        download_verified("file:///etc/hostname", PAYLOAD_SHA, tmp_path / "kind", attempts=1)


@pytest.mark.requirement("001-FR-002")
def test_resolve_downloads_and_verifies_against_the_pinned_checksum(
    no_kind_env: Path, release_server: FakeReleaseServer, tmp_path: Path
) -> None:
    """The fake binary is not the pinned release, so the pinned checksum rejects it."""
    cache = tmp_path / "cache"
    with pytest.raises(ChecksumError):
        resolve_kind_binary(None, cache_dir=cache, download_url=release_server.url)
    assert release_server.requests == ["/kind-linux-amd64"]
    assert [p.name for p in cache.iterdir() if not p.name.endswith(".lock")] == []


@pytest.mark.requirement("001-FR-002")
def test_resolve_installs_into_cache_and_reuses_it(
    no_kind_env: Path,
    release_server: FakeReleaseServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    os_arch = kind_binary._platform()
    monkeypatch.setitem(kind_binary.KIND_SHA256, os_arch, PAYLOAD_SHA)  # pin the fake release
    cache = tmp_path / "cache"
    found = resolve_kind_binary(None, cache_dir=cache, download_url=release_server.url)
    assert found.source == f"downloaded {KIND_VERSION}"
    assert found.path == cache / f"kind-{KIND_VERSION}-{os_arch[0]}-{os_arch[1]}"
    assert os.access(found.path, os.X_OK)
    assert _leftovers(cache) == []

    monkeypatch.setenv("FLOE_KIND_DOWNLOAD_URL", release_server.url + "-unused")
    again = resolve_kind_binary(None, cache_dir=cache)
    assert again.path == found.path
    assert len(release_server.requests) == 1


@pytest.mark.requirement("001-FR-002")
def test_resolve_takes_download_url_from_env(
    no_kind_env: Path,
    release_server: FakeReleaseServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(kind_binary.KIND_SHA256, kind_binary._platform(), PAYLOAD_SHA)
    monkeypatch.setenv("FLOE_KIND_DOWNLOAD_URL", release_server.url)
    found = resolve_kind_binary(None, cache_dir=tmp_path)
    assert found.path.read_bytes() == PAYLOAD
    assert release_server.requests == ["/kind-linux-amd64"]
