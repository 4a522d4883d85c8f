"""A declared service's config fixture: the run's service directory answers (env endpoint, or
the cluster: forward or DNS name); a service from the cluster first requests ``floe_cluster``,
so pytest orders the cluster's teardown after every fixture that uses the service."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from floe_testing.errors import FloeTestingError, fail
from floe_testing.service_directory import SERVICE_DIRECTORY
from floe_testing.services.configs import check_cluster_mode_env

if TYPE_CHECKING:
    import pytest

    from floe_testing.services.declaration import ServiceDeclaration


def resolve_config(request: pytest.FixtureRequest, declaration: ServiceDeclaration) -> Any:
    """The config fixture's body; errors are one screen."""
    try:
        if not declaration.endpoint_from_env():
            check_cluster_mode_env(declaration)  # before any cluster work
            request.getfixturevalue("floe_cluster")
        return request.config.stash[SERVICE_DIRECTORY].config(declaration)
    except FloeTestingError as exc:
        fail(str(exc))
