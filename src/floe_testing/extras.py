"""Which optional extra installs each service's client library, and the one message when it is
missing.

The core install is the provisioner alone (pytest, pytest-kind, pykube-ng, pydantic, ...), so a
PostgreSQL-only project does not pull pyarrow, DuckDB or Dagster; each client comes with its
extra (``floe-testing[postgres]``, ...) and a fixture or service helper whose library is absent
says exactly what to install instead of raising a bare ``ModuleNotFoundError``.
"""

from __future__ import annotations

import importlib.util
import sys

from floe_testing.errors import ConfigError

#: extra -> (the module its client imports, the distribution that provides it)
CLIENT_LIBRARIES: dict[str, tuple[str, str]] = {
    "postgres": ("psycopg2", "psycopg2-binary (or psycopg2)"),
    "minio": ("minio", "minio"),
    "polaris": ("pyiceberg", "pyiceberg[pyarrow]"),
    "duckdb": ("duckdb", "duckdb"),
    "dagster": ("dagster_graphql", "dagster-graphql"),
}


def install_command(*extras: str) -> str:
    """The pip command that installs the clients of ``extras``."""
    return f"pip install 'floe-testing[{','.join(extras)}]'"


def require_client(extra: str, user: str) -> None:
    """Raise a :class:`ConfigError` naming the pip command when ``extra``'s client library is
    not importable; ``user`` is what needs it (a fixture or helper name)."""
    module, distribution = CLIENT_LIBRARIES[extra]
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a broken or half-imported package: not usable
        found = False
    if not found:
        raise ConfigError(
            f"{user} needs the {module!r} module ({distribution}), which is not installed in "
            f"this environment ({sys.executable}). Install it with: {install_command(extra)} "
            f"(or {install_command('all')} for every service).")
