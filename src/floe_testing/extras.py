"""The one message when a service's client library is missing.

The core install is the provisioner alone (pytest, pytest-kind, pykube-ng, pydantic, ...), so a
PostgreSQL-only project does not pull pyarrow, DuckDB or Dagster; each built-in's client comes
with its extra (``floe-testing[postgres]``, ...), and a declared service names the module its
client needs and the command that installs it. A fixture or helper whose library is absent
says exactly what to install instead of raising a bare ``ModuleNotFoundError``.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import TYPE_CHECKING

from floe_testing.errors import ConfigError

if TYPE_CHECKING:
    from floe_testing.services.declaration import ServiceDeclaration

#: installs every built-in service's client
INSTALL_ALL = "pip install 'floe-testing[all]'"


def require_client(declaration: ServiceDeclaration, user: str) -> None:
    """Raise a :class:`ConfigError` naming the install command when ``declaration``'s client
    module is not importable; ``user`` is what needs it (a fixture or helper name)."""
    module = declaration.client_module
    if not module:
        return
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a broken or half-imported package: not usable
        found = False
    if not found:
        also = f" (or {INSTALL_ALL} for every service)" if "floe-testing[" in (
            declaration.install) else ""
        raise ConfigError(
            f"{user} needs the {module!r} module, which is not installed in this environment "
            f"({sys.executable}). Install it with: {declaration.install or 'pip install ' + module}"
            f"{also}.")
