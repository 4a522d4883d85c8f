"""This project's own service, declared in one statement: Redis (the platform's cache), which
the packaged stack does not ship. Its manifest is stack/redis.yaml (listed in
floe_extra_manifests); floe-testing deploys it only for tests that use these fixtures,
forwards it, and masks its password."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from floe_testing import declare_service

if TYPE_CHECKING:
    import redis

    from floe_testing import EndpointConfig


def redis_client_for(config: EndpointConfig) -> Iterator[redis.Redis]:
    """A client that retries a command whose connection was cut (a restarted forward)."""
    import redis
    from redis.backoff import ExponentialBackoff
    from redis.retry import Retry

    client = redis.Redis(host=config.host, port=config.port,
                         password=config.password.get_secret_value(),
                         socket_timeout=10, socket_connect_timeout=5,
                         retry=Retry(ExponentialBackoff(cap=2), retries=5),
                         retry_on_error=[redis.ConnectionError, redis.TimeoutError])
    yield client
    client.close()


def answers(config: EndpointConfig) -> bool:
    import redis

    with redis.Redis(host=config.host, port=config.port, socket_timeout=5,
                     password=config.password.get_secret_value()) as client:
        return bool(client.ping())


redis_config, redis_client = declare_service(
    name="redis", service="redis", port=6379,
    secret="redis-credentials",  # noqa: S106 - the Secret's name, not a password
    credentials={"password": "REDIS_PASSWORD"}, scheme="redis",
    client=redis_client_for, health=answers, client_module="redis",
    install="pip install redis")
