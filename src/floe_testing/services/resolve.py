"""A declared service's config fixture: the run's service directory answers (env endpoint, or
the cluster: forward or DNS name); a service from the cluster first requests ``floe_cluster``,
so pytest orders the cluster's teardown after every fixture that uses the service."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from floe_testing.errors import FloeTestingError, fail
from floe_testing.service_directory import SERVICE_DIRECTORY
from floe_testing.services.configs import check_cluster_mode_env, config_from_env

if TYPE_CHECKING:
    import pytest

    from floe_testing.services.declaration import ServiceDeclaration


def resolve_config(request: pytest.FixtureRequest, declaration: ServiceDeclaration) -> Any:
    """The config fixture's body: from env alone when the service's endpoint variable is set,
    else from the cluster (after ``floe_cluster``); errors are one screen."""
    try:
        if declaration.endpoint_from_env():
            return config_from_env(declaration)
        check_cluster_mode_env(declaration)  # before any cluster work
        request.getfixturevalue("floe_cluster")
        return request.config.stash[SERVICE_DIRECTORY].config_from_cluster(declaration)
    except FloeTestingError as exc:
        fail(str(exc))
