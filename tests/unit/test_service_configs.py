"""Service configs: data-model defaults, env loading, precedence, errors naming field and env
var, and secrets that never show up in any output."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from floe_testing.errors import ConfigError
from floe_testing.services.dagster.config import DagsterConfig
from floe_testing.services.duckdb.config import DuckDBConfig
from floe_testing.services.minio.config import MinIOConfig
from floe_testing.services.polaris.config import PolarisConfig
from floe_testing.services.postgres.config import PostgresConfig
from floe_testing.services.settings import ServiceSettings

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("clean_service_env")]

SECRET = "s3cr3t-XYZ-unit"


def _config_error(cls: type[ServiceSettings], **values: Any) -> str:
    with pytest.raises(ConfigError) as info:
        cls(**values)
    return str(info.value)


# -- defaults ------------------------------------------------------------------------------


@pytest.mark.requirement("001-FR-025")
@pytest.mark.parametrize(
    ("cls", "required", "expected"),
    [
        (
            PostgresConfig,
            {"password": "pw"},
            {"host": "postgres.floe-test.svc.cluster.local", "port": 5432, "database": "test",
             "user": "test"},
        ),
        (
            MinIOConfig,
            {"secret_key": "sk"},
            {"endpoint": "http://minio.floe-test.svc.cluster.local:9000",
             "access_key": "minioadmin", "secure": False},
        ),
        (
            PolarisConfig,
            {},
            {"uri": "http://polaris.floe-test.svc.cluster.local:8181/api/catalog",
             "warehouse": "test_warehouse"},
        ),
        (DuckDBConfig, {}, {"database": ":memory:", "read_only": False}),
        (
            DagsterConfig,
            {},
            {"host": "dagster-webserver.floe-test.svc.cluster.local", "port": 3000},
        ),
    ],
    ids=["postgres", "minio", "polaris", "duckdb", "dagster"],
)
def test_defaults_match_data_model(
    cls: type[ServiceSettings], required: dict[str, Any], expected: dict[str, Any]
) -> None:
    config = cls(**required)
    actual = {name: getattr(config, name) for name in expected}
    assert actual == expected


@pytest.mark.requirement("001-FR-026")
@pytest.mark.parametrize(
    ("cls", "field"),
    [(PostgresConfig, "password"), (MinIOConfig, "secret_key"), (PolarisConfig, "credential")],
)
def test_secret_fields_are_secretstr(cls: type[ServiceSettings], field: str) -> None:
    config = cls(**{field: SECRET})
    value = getattr(config, field)
    assert isinstance(value, SecretStr)
    assert value.get_secret_value() == SECRET


# -- env loading ---------------------------------------------------------------------------


@pytest.mark.requirement("001-FR-025")
@pytest.mark.parametrize(
    ("cls", "env", "field", "raw", "expected"),
    [
        (PostgresConfig, "POSTGRES_HOST", "host", "db.example", "db.example"),
        (PostgresConfig, "POSTGRES_PORT", "port", "15432", 15432),
        (PostgresConfig, "POSTGRES_DATABASE", "database", "other", "other"),
        (PostgresConfig, "POSTGRES_USER", "user", "alice", "alice"),
        (MinIOConfig, "MINIO_ENDPOINT", "endpoint", "https://s3.local:9443",
         "https://s3.local:9443"),
        (MinIOConfig, "MINIO_ACCESS_KEY", "access_key", "AKIA", "AKIA"),
        (MinIOConfig, "MINIO_SECURE", "secure", "true", True),
        (MinIOConfig, "MINIO_REGION", "region", "eu-west-1", "eu-west-1"),
        (PolarisConfig, "POLARIS_URI", "uri", "http://cat.local:1/api", "http://cat.local:1/api"),
        (PolarisConfig, "POLARIS_WAREHOUSE", "warehouse", "wh", "wh"),
        (PolarisConfig, "POLARIS_SCOPE", "scope", "PRINCIPAL_ROLE:x", "PRINCIPAL_ROLE:x"),
        (DuckDBConfig, "DUCKDB_DATABASE", "database", "/tmp/x.duckdb", "/tmp/x.duckdb"),
        (DagsterConfig, "DAGSTER_HOST", "host", "dagster.local", "dagster.local"),
        (DagsterConfig, "DAGSTER_PORT", "port", "3333", 3333),
    ],
)
def test_each_field_loads_from_its_env_var(
    monkeypatch: pytest.MonkeyPatch,
    cls: type[ServiceSettings],
    env: str,
    field: str,
    raw: str,
    expected: object,
) -> None:
    monkeypatch.setenv("POSTGRES_PASSWORD", "pw")
    monkeypatch.setenv("MINIO_SECRET_KEY", "sk")
    monkeypatch.setenv(env, raw)
    assert cls.env_var(field) == env
    assert getattr(cls(), field) == expected


@pytest.mark.requirement("001-FR-025")
@pytest.mark.parametrize(
    ("cls", "env", "field"),
    [
        (PostgresConfig, "POSTGRES_PASSWORD", "password"),
        (MinIOConfig, "MINIO_SECRET_KEY", "secret_key"),
        (PolarisConfig, "POLARIS_CREDENTIAL", "credential"),
    ],
)
def test_secrets_load_from_env(
    monkeypatch: pytest.MonkeyPatch, cls: type[ServiceSettings], env: str, field: str
) -> None:
    monkeypatch.setenv(env, SECRET)
    assert getattr(cls(), field).get_secret_value() == SECRET


@pytest.mark.requirement("001-FR-025")
def test_duckdb_read_only_from_env_with_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUCKDB_DATABASE", "/data/warehouse.duckdb")
    monkeypatch.setenv("DUCKDB_READ_ONLY", "1")
    config = DuckDBConfig()
    assert config.read_only is True
    assert config.database == "/data/warehouse.duckdb"


# -- precedence ----------------------------------------------------------------------------


@pytest.mark.requirement("001-FR-025")
def test_constructor_beats_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTGRES_HOST", "from-env")
    monkeypatch.setenv("POSTGRES_PORT", "1111")
    monkeypatch.setenv("POSTGRES_PASSWORD", "env-pw")
    config = PostgresConfig(host="from-ctor", password=SecretStr("ctor-pw"))
    assert config.host == "from-ctor"
    assert config.password.get_secret_value() == "ctor-pw"
    assert config.port == 1111  # not passed: env still applies


@pytest.mark.requirement("001-FR-025")
def test_env_beats_discovered_which_beats_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTGRES_HOST", "from-env")
    monkeypatch.setenv("POSTGRES_PASSWORD", "env-pw")
    discovered = {"host": "127.0.0.1", "port": 40001, "password": "cluster-pw", "user": "u1"}
    config = PostgresConfig.resolve(discovered=discovered)
    assert config.host == "from-env"
    assert config.password.get_secret_value() == "env-pw"
    assert config.port == 40001
    assert config.user == "u1"
    assert config.database == "test"  # neither env nor discovered: default


@pytest.mark.requirement("001-FR-025")
def test_resolve_without_env_takes_discovered_secret() -> None:
    config = MinIOConfig.resolve(
        discovered={"endpoint": "http://127.0.0.1:40002", "secret_key": "cluster-sk"}
    )
    assert config.endpoint == "http://127.0.0.1:40002"
    assert config.secret_key.get_secret_value() == "cluster-sk"
    assert config.netloc == "127.0.0.1:40002"
    assert config.access_key == "minioadmin"


# -- invalid values ------------------------------------------------------------------------


@pytest.mark.requirement("001-FR-025")
@pytest.mark.parametrize(
    ("cls", "env", "raw", "field"),
    [
        (PostgresConfig, "POSTGRES_PORT", "abc", "port"),
        (PostgresConfig, "POSTGRES_PORT", "70000", "port"),
        (PostgresConfig, "POSTGRES_PORT", "0", "port"),
        (DagsterConfig, "DAGSTER_PORT", "abc", "port"),
        (DagsterConfig, "DAGSTER_PORT", "70000", "port"),
        (MinIOConfig, "MINIO_ENDPOINT", "not a url", "endpoint"),
        (PolarisConfig, "POLARIS_URI", "ftp//x", "uri"),
        (MinIOConfig, "MINIO_SECURE", "maybe", "secure"),
    ],
)
def test_invalid_env_value_names_field_env_var_and_value(
    monkeypatch: pytest.MonkeyPatch, cls: type[ServiceSettings], env: str, raw: str, field: str
) -> None:
    monkeypatch.setenv("POSTGRES_PASSWORD", SECRET)
    monkeypatch.setenv("MINIO_SECRET_KEY", SECRET)
    monkeypatch.setenv(env, raw)
    message = _config_error(cls)
    assert f"- {field} " in message
    assert env in message
    assert repr(raw) in message
    assert SECRET not in message


@pytest.mark.requirement("001-FR-025")
def test_invalid_constructor_value_names_the_argument() -> None:
    message = _config_error(PostgresConfig, port=70000, password="pw")
    assert "port" in message
    assert "PostgresConfig(port=...)" in message


@pytest.mark.requirement("001-FR-025")
def test_duckdb_read_only_in_memory_names_field_and_env_var(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DUCKDB_READ_ONLY", "true")
    message = _config_error(DuckDBConfig)
    assert "read_only" in message
    assert "DUCKDB_READ_ONLY" in message
    assert "DUCKDB_DATABASE" in message  # the fix: give it a file


@pytest.mark.requirement("001-FR-025")
@pytest.mark.parametrize(
    ("cls", "env", "field"),
    [(PostgresConfig, "POSTGRES_PASSWORD", "password"), (MinIOConfig, "MINIO_SECRET_KEY",
                                                         "secret_key")],
)
def test_missing_required_secret_names_env_var(
    cls: type[ServiceSettings], env: str, field: str
) -> None:
    message = _config_error(cls)
    assert field in message
    assert env in message
    assert "required" in message.lower()


@pytest.mark.requirement("001-FR-053")
def test_kubernetes_service_link_value_gets_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTGRES_PASSWORD", "pw")
    monkeypatch.setenv("POSTGRES_PORT", "tcp://10.0.0.1:5432")
    message = _config_error(PostgresConfig)
    assert "POSTGRES_PORT" in message
    assert "service-link" in message
    assert "enableServiceLinks" in message


@pytest.mark.requirement("001-FR-053")
def test_every_bad_field_is_listed_in_one_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINIO_ENDPOINT", "not a url")
    message = _config_error(MinIOConfig)
    assert "MINIO_ENDPOINT" in message
    assert "MINIO_SECRET_KEY" in message


# -- secrets never shown -------------------------------------------------------------------


@pytest.mark.requirement("001-FR-026")
@pytest.mark.parametrize(
    ("cls", "env"),
    [
        (PostgresConfig, "POSTGRES_PASSWORD"),
        (MinIOConfig, "MINIO_SECRET_KEY"),
        (PolarisConfig, "POLARIS_CREDENTIAL"),
    ],
)
def test_secret_absent_from_repr_str_and_json(
    monkeypatch: pytest.MonkeyPatch, cls: type[ServiceSettings], env: str
) -> None:
    monkeypatch.setenv(env, SECRET)
    config = cls()
    for text in (repr(config), str(config), config.model_dump_json(), str(config.model_dump())):
        assert SECRET not in text


@pytest.mark.requirement("001-FR-026")
@pytest.mark.parametrize(
    ("cls", "secret_env", "bad_env", "bad_value"),
    [
        (PostgresConfig, "POSTGRES_PASSWORD", "POSTGRES_PORT", "abc"),
        (PostgresConfig, "POSTGRES_PASSWORD", "POSTGRES_PORT", "tcp://10.0.0.1:5432"),
        (MinIOConfig, "MINIO_SECRET_KEY", "MINIO_ENDPOINT", "not a url"),
        (PolarisConfig, "POLARIS_CREDENTIAL", "POLARIS_URI", "ftp//x"),
    ],
)
def test_secret_absent_from_error_about_another_field(
    monkeypatch: pytest.MonkeyPatch,
    cls: type[ServiceSettings],
    secret_env: str,
    bad_env: str,
    bad_value: str,
) -> None:
    monkeypatch.setenv(secret_env, SECRET)
    monkeypatch.setenv(bad_env, bad_value)
    message = _config_error(cls)
    assert bad_env in message
    assert SECRET not in message


@pytest.mark.requirement("001-FR-026")
@pytest.mark.parametrize(
    ("cls", "field", "bad"),
    [
        (PostgresConfig, "password", SECRET.encode() + b"\xff"),  # not valid UTF-8
        (PostgresConfig, "password", [SECRET]),
        (MinIOConfig, "secret_key", {"k": SECRET}),
        (PolarisConfig, "credential", 12345.5),
    ],
)
def test_secret_absent_from_error_about_the_secret_itself(
    cls: type[ServiceSettings], field: str, bad: object
) -> None:
    with pytest.raises(ConfigError) as info:
        cls(**{field: bad})
    message = str(info.value)
    assert field in message
    assert SECRET not in message
    assert "12345" not in message
    # the pydantic error (which carries the input) is not chained for display
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__ is True


@pytest.mark.requirement("001-FR-026")
def test_secret_env_value_not_echoed_when_another_source_is_invalid(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POSTGRES_PASSWORD", SECRET)
    with pytest.raises(ConfigError) as info:
        PostgresConfig.resolve(discovered={"port": "not-a-port"})
    message = str(info.value)
    assert "port" in message
    assert SECRET not in message
