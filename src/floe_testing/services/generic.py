"""The config of a service declared without a config class of its own: its address (host,
port, scheme, path: ``url``) plus a ``SecretStr`` field per credential and a ``str`` field per
value of its Secret, loaded from env with the declaration's prefix (``JAEGER_HOST``, ...).
Built on first use (pydantic is heavy), once per declaration."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field, SecretStr, create_model
from pydantic_settings import SettingsConfigDict

from floe_testing.services.settings import EndpointConfig

if TYPE_CHECKING:
    from floe_testing.services.declaration import ServiceDeclaration


def endpoint_config_class(declaration: ServiceDeclaration) -> type[EndpointConfig]:
    """``<Name>Config``: :class:`EndpointConfig` with the declaration's defaults and fields."""
    fields: dict[str, Any] = {
        "host": (str, Field(default=declaration.dns_name if declaration.in_cluster
                            else "localhost", min_length=1)),
        "port": (int, Field(default=declaration.port or 1, ge=1, le=65535)),
        "scheme": (str, Field(default=declaration.scheme, min_length=1)),
        "path": (str, Field(default=declaration.path)),
    }
    fields.update({name: (SecretStr | None, Field(default=None))
                   for name in declaration.credentials})
    fields.update({name: (str | None, Field(default=None)) for name in declaration.values})
    name = "".join(part.capitalize() for part in declaration.name.split("_")) + "Config"
    prefixed = type(f"{name}Base", (EndpointConfig,),
                    {"model_config": SettingsConfigDict(env_prefix=declaration.prefix)})
    model: type[EndpointConfig] = create_model(
        name, __base__=prefixed,
        __doc__=f"Settings of the declared service {declaration.name!r} (env "
                f"{declaration.prefix}*).",
        **fields)
    return model
