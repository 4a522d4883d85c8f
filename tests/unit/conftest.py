"""Shared fixtures of the unit tier: pytester, clean service env, real local sockets."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

# pytester comes from the project's root conftest.py (pytest_plugins may only be declared
# there once a root conftest exists).

SERVICE_ENV_PREFIXES = ("POSTGRES_", "MINIO_", "POLARIS_", "DAGSTER_", "DUCKDB_")


@pytest.fixture
def clean_service_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No POSTGRES_*/MINIO_*/POLARIS_*/DAGSTER_*/DUCKDB_* variable leaks in from the shell."""
    for name in list(os.environ):
        if name.upper().startswith(SERVICE_ENV_PREFIXES):
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A 127.0.0.1 port that refuses connections: bound (so nobody else takes it), not
    listening."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


@pytest.fixture
def tcp_listener() -> Iterator[int]:
    """A real TCP server socket on 127.0.0.1 (the kernel accepts connections into its
    backlog, which is all a reachability check needs)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()
