"""A declared service's config class and its config from env, with the checks that keep a
server of the user's from being mixed into the cluster's.

The config class is the declaration's own (imported on first use: pydantic is heavy), or one
generated from the declaration (:mod:`.generic`, once per declaration). A config read from env
remembers where its address came from: the env variable, or the default (the Service's DNS
name), so messages name what to change.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from floe_testing.endpoint import Endpoint
from floe_testing.errors import ConfigError
from floe_testing.services.declaration import ServiceDeclaration, import_path

if TYPE_CHECKING:
    from floe_testing.services.settings import ServiceSettings


def config_class(declaration: ServiceDeclaration) -> type[ServiceSettings]:
    """The declaration's config model (imported or generated on first use)."""
    if declaration.config:
        cls: type[ServiceSettings] = import_path(declaration.config)
        return cls
    if "config" not in declaration.generated:
        from floe_testing.services.generic import endpoint_config_class

        declaration.generated["config"] = endpoint_config_class(declaration)
    generated: type[ServiceSettings] = declaration.generated["config"]
    return generated


def config_from_env(declaration: ServiceDeclaration) -> Any:
    """The config from env variables alone, remembering where its address came from."""
    config = config_class(declaration).resolve()
    if not declaration.in_cluster:
        return config
    host, port = declaration.address(config)
    if declaration.endpoint_env in os.environ:
        return config.reached_through(Endpoint(host, port, f"from env {declaration.endpoint_env}",
                                               "env"))
    return config.reached_through(Endpoint(
        host, port, f"the default (the Service's DNS name; set {declaration.endpoint_env} to "
                    "use another server)", "dns"))


def check_cluster_mode_env(declaration: ServiceDeclaration) -> None:
    """Refuse env variables that would mix a server of the user's into the cluster's service.

    Without its endpoint variable (``POSTGRES_HOST``, ...) a service comes from the cluster,
    address and credentials alike. ``POSTGRES_PORT`` or ``POSTGRES_PASSWORD`` exported alone
    (a compose ``.env``, say) would otherwise point the forward's host at another port or log
    in with another password, silently; an empty endpoint variable would silently mean "the
    cluster". Both are errors that say what to do.
    """
    endpoint = declaration.endpoint_env
    if endpoint in os.environ and not os.environ[endpoint].strip():
        raise ConfigError(
            f"{endpoint} is set but empty. Unset it to use the cluster's "
            f"{declaration.service}, or set it to the address of your server.")
    stray = [name for name in (declaration.env_var(f) for f in declaration.fields_from_cluster)
             if name in os.environ and name != endpoint]
    if stray:
        raise ConfigError(
            f"{', '.join(stray)} {'is' if len(stray) == 1 else 'are'} set but "
            f"{endpoint} is not. Without {endpoint} the cluster "
            f"provides {declaration.service} (its address, and credentials from its Secret), "
            f"and {'this' if len(stray) == 1 else 'these'} would be mixed into it. Set "
            f"{endpoint} to use your own server, or unset {', '.join(stray)}.")
