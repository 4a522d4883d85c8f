"""The services floe-testing knows: each declared once (:mod:`.declaration`), the built-ins in
a package of their own here (``postgres``, ``minio``, ``polaris``, ``duckdb``, ``dagster``: the
declaration and its fixtures in the package, its config and helper in modules beside them).

Adding a built-in takes its package, its manifest and its extra in ``pyproject.toml``: every
list of built-ins (the plugin's fixtures, the public names, the client libraries, the secret
env variables) is derived from :func:`builtin_services`.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from floe_testing.services.declaration import ServiceDeclaration


def builtin_service_modules() -> list[ModuleType]:
    """The built-in services' packages, in name order (each holds ``SERVICE`` and its
    fixtures)."""
    here = Path(__file__).parent
    return [importlib.import_module(f"{__name__}.{name}")
            for name in sorted(entry.name for entry in os.scandir(here)
                               if (here / entry.name / "__init__.py").is_file())]


def builtin_services() -> list[ServiceDeclaration]:
    """The built-in services' declarations."""
    return [module.SERVICE for module in builtin_service_modules()]
