"""Reading Polaris' refusals: the messages Polaris writes (its source and docs), and the
privilege table the fixtures quote agreeing with the one the stack's Polaris stand-in
enforces (``tests/images/polaris/polaris_standin.py``, a stdlib payload that cannot import
the package)."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from floe_testing.services.polaris.config import PolarisConfig
from floe_testing.services.polaris.rules import (
    OPERATION_PRIVILEGES,
    explain_forbidden,
    is_realm_refusal,
    parse_refusal,
    unusable_hint,
)
from images.polaris import polaris_standin

pytestmark = pytest.mark.unit

#: PolarisAuthorizerImpl.authorizeOrThrow, as Polaris' getting-started guide shows it
POLARIS_403 = ("ForbiddenException: Principal 'quickstart_user' with activated PrincipalRoles "
               "'[]' and activated grants via '[quickstart_catalog_role, quickstart_user_role]'"
               " is not authorized for op LOAD_TABLE_WITH_READ_DELEGATION")
#: the Ranger authorizer's shorter form
RANGER_403 = "ForbiddenException: Principal 'etl' is not authorized for op 'CREATE_NAMESPACE'"


def config(**changes: object) -> PolarisConfig:
    values: dict[str, object] = {"uri": "http://polaris.example:8181/api/catalog",
                                 "warehouse": "lake", "credential": SecretStr("id:s3cr3t-x")}
    values.update(changes)
    return PolarisConfig(**values)


def test_polaris_refusals_are_read_in_both_forms() -> None:
    refusal = parse_refusal(POLARIS_403)
    assert refusal is not None
    assert refusal.principal == "quickstart_user"
    assert refusal.operation == "LOAD_TABLE_WITH_READ_DELEGATION"
    assert refusal.grants == "[quickstart_catalog_role, quickstart_user_role]"
    assert refusal.privileges == ("TABLE_READ_DATA",)
    ranger = parse_refusal(RANGER_403)
    assert ranger is not None
    assert (ranger.principal, ranger.operation) == ("etl", "CREATE_NAMESPACE")
    assert parse_refusal("ForbiddenException: Unable to purge entity: t. ...") is None


def test_a_refusal_says_who_what_needs_which_privilege_and_how_to_grant() -> None:
    message = explain_forbidden(POLARIS_403, config=config(), action="load table lake.t")
    first, rest = message.split("\n", 1)
    assert "principal 'quickstart_user'" in first
    assert "op LOAD_TABLE_WITH_READ_DELEGATION" in first
    assert "TABLE_READ_DATA" in first
    assert "catalog 'lake'" in first
    assert "CATALOG_MANAGE_CONTENT" in rest
    assert "/api/management/v1/catalogs/lake/catalog-roles/" in rest
    assert "s3cr3t-x" not in message
    unknown = explain_forbidden("ForbiddenException: nope", config=config(), action="list")
    assert "nope" in unknown
    assert "CATALOG_MANAGE_CONTENT" in unknown


def test_a_realm_refusal_points_at_polaris_realm() -> None:
    error = RuntimeError("RESTError: MissingOrInvalidRealm: Missing or invalid realm")
    assert is_realm_refusal(error)
    assert "'ELSEWHERE' (POLARIS_REALM" in unusable_hint(config(realm="ELSEWHERE"), error)
    assert "default realm" in unusable_hint(config(), error)
    assert "POLARIS_CREDENTIAL" in unusable_hint(config(), RuntimeError("invalid_client"))


def test_the_fixtures_quote_the_privileges_the_stand_in_enforces() -> None:
    for operation, privileges in OPERATION_PRIVILEGES.items():
        assert polaris_standin.NEEDS[operation] == privileges, operation
