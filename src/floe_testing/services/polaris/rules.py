"""What Apache Polaris enforces, as the Polaris fixtures meet it: one owner for reading Polaris'
refusals and for cleaning up within its rules.

Polaris answers what a plain Iceberg REST catalog never does (seen against Polaris 1.4.1 with
MinIO; the rules are Polaris' own source, ``PolarisAuthorizerImpl``, ``RbacOperationSemantics``,
``RealmContextFilter``, ``IcebergCatalog.dropTableLike``):

* **RBAC**: 403 ``Principal 'P' with activated PrincipalRoles '[...]' and activated grants via
  '[...]' is not authorized for op OP``. Each operation needs privileges on the catalog (or a
  namespace or table in it) through a catalog role assigned to one of the principal's
  principal roles. The ``catalog_admin`` role Polaris creates with a catalog carries
  ``CATALOG_MANAGE_ACCESS`` and ``CATALOG_MANAGE_METADATA``, not the data privileges a client
  asking for vended credentials needs; ``CATALOG_MANAGE_CONTENT`` covers them all, and the
  stack's bootstrap grants it. :func:`explain_forbidden` turns the 403 into one screen naming
  the principal, the operation, the privilege and how to grant it.
* **Purge**: ``DELETE .../tables/T?purgeRequested=true`` is refused (403 ``Unable to purge
  entity``) unless the catalog sets ``polaris.config.drop-with-purge.enabled``.
  :func:`drop_namespace_with_tables` then drops the table without purging, finishes the
  namespace, and fails naming the setting; a purge refused for a missing privilege
  (``DROP_TABLE_WITH_PURGE`` needs ``TABLE_WRITE_DATA``) likewise, then fails with the 403.
* **Generic tables** (Polaris' ``/polaris/v1/{prefix}/namespaces/{ns}/generic-tables``) are
  not listed among a namespace's Iceberg tables, yet keep the namespace from being dropped;
  the cleanup drops them too, and child namespaces (which keep it too) first.
* **Realms**: a realm the server does not serve (header ``Polaris-Realm``) gets 404
  ``MissingOrInvalidRealm``, on the token request already; :func:`unusable_hint` names
  ``POLARIS_REALM``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from floe_testing.errors import CleanupError, InfrastructureError

if TYPE_CHECKING:
    from pyiceberg.catalog.rest import RestCatalog

    from floe_testing.services.polaris.config import PolarisConfig

#: The header Polaris reads the realm from (``polaris.realm-context.header-name``).
REALM_HEADER = "Polaris-Realm"
#: The catalog property without which Polaris refuses every purge.
PURGE_SETTING = "polaris.config.drop-with-purge.enabled"
#: The privilege the stack's bootstrap grants: every content operation, data access included.
CONTENT_PRIVILEGE = "CATALOG_MANAGE_CONTENT"

#: Privileges each catalog operation needs (Polaris' ``RbacOperationSemantics``), for those a
#: fixture or a typical test performs.
OPERATION_PRIVILEGES: dict[str, tuple[str, ...]] = {
    "LIST_NAMESPACES": ("NAMESPACE_LIST",),
    "CREATE_NAMESPACE": ("NAMESPACE_CREATE",),
    "LOAD_NAMESPACE_METADATA": ("NAMESPACE_READ_PROPERTIES",),
    "NAMESPACE_EXISTS": ("NAMESPACE_LIST",),
    "DROP_NAMESPACE": ("NAMESPACE_DROP",),
    "UPDATE_NAMESPACE_PROPERTIES": ("NAMESPACE_WRITE_PROPERTIES",),
    "LIST_TABLES": ("TABLE_LIST",),
    "CREATE_TABLE_DIRECT": ("TABLE_CREATE",),
    "CREATE_TABLE_DIRECT_WITH_WRITE_DELEGATION": ("TABLE_CREATE", "TABLE_WRITE_DATA"),
    "CREATE_TABLE_STAGED": ("TABLE_CREATE",),
    "CREATE_TABLE_STAGED_WITH_WRITE_DELEGATION": ("TABLE_CREATE", "TABLE_WRITE_DATA"),
    "REGISTER_TABLE": ("TABLE_CREATE",),
    "LOAD_TABLE": ("TABLE_READ_PROPERTIES",),
    "LOAD_TABLE_WITH_READ_DELEGATION": ("TABLE_READ_DATA",),
    "LOAD_TABLE_WITH_WRITE_DELEGATION": ("TABLE_WRITE_DATA",),
    "UPDATE_TABLE": ("TABLE_WRITE_PROPERTIES",),
    "DROP_TABLE_WITHOUT_PURGE": ("TABLE_DROP",),
    "DROP_TABLE_WITH_PURGE": ("TABLE_DROP", "TABLE_WRITE_DATA"),
    "TABLE_EXISTS": ("TABLE_LIST",),
    "RENAME_TABLE": ("TABLE_DROP", "TABLE_LIST", "TABLE_CREATE"),
    "COMMIT_TRANSACTION": ("TABLE_WRITE_PROPERTIES", "TABLE_CREATE"),
    "LIST_VIEWS": ("VIEW_LIST",),
    "CREATE_VIEW": ("VIEW_CREATE",),
    "LOAD_VIEW": ("VIEW_READ_PROPERTIES",),
    "DROP_VIEW": ("VIEW_DROP",),
}

_FORBIDDEN = re.compile(
    r"Principal '(?P<principal>[^']*)'"
    r"(?: with activated PrincipalRoles '(?P<roles>[^']*)'"
    r" and activated grants via '(?P<grants>[^']*)')?"
    r" is not authorized for op '?(?P<operation>[A-Z_]+)'?")
_PURGE_REFUSED = "Unable to purge entity"
_REALM_REFUSED = "MissingOrInvalidRealm"


@dataclass(frozen=True)
class Refusal:
    """Polaris' 403 for a missing privilege, as its message states it."""

    principal: str
    operation: str
    principal_roles: str = ""
    grants: str = ""

    @property
    def privileges(self) -> tuple[str, ...]:
        """What the operation needs (empty for an operation not in the table)."""
        return OPERATION_PRIVILEGES.get(self.operation, ())


def parse_refusal(message: str) -> Refusal | None:
    """The refusal in a Polaris 403 message, or None when it is not one."""
    found = _FORBIDDEN.search(message)
    if found is None:
        return None
    return Refusal(principal=found["principal"], operation=found["operation"],
                   principal_roles=found["roles"] or "", grants=found["grants"] or "")


def is_purge_refusal(error: BaseException) -> bool:
    """Polaris refused a purge because the catalog does not enable it."""
    return _is_forbidden(error) and _PURGE_REFUSED in str(error)


def is_realm_refusal(error: BaseException | str) -> bool:
    """Polaris does not serve the realm the request named (404 ``MissingOrInvalidRealm``)."""
    return _REALM_REFUSED in str(error)


def _is_forbidden(error: BaseException) -> bool:
    from pyiceberg.exceptions import ForbiddenError

    return isinstance(error, ForbiddenError)


def explain_forbidden(error: BaseException | str, *, config: PolarisConfig, action: str) -> str:
    """One screen for a 403: who was refused what, what it needs and how the stack grants it."""
    text = str(error)
    first = (text.strip().splitlines() or [""])[0]
    refusal = parse_refusal(text)
    catalog = config.warehouse
    if refusal is None:
        head = f"Polaris refused to {action} in catalog {catalog!r} at {config.uri}: {first}"
    else:
        roles = f"principal roles {refusal.principal_roles}" if refusal.principal_roles \
            else "its principal roles"
        grants = f", grants via {refusal.grants}" if refusal.grants else ""
        needs = (" + ".join(refusal.privileges) if refusal.privileges
                 else "a privilege on the catalog")
        head = (f"Polaris refused to {action} in catalog {catalog!r} at {config.uri}: "
                f"principal {refusal.principal!r} ({roles}{grants}) is not authorized for "
                f"op {refusal.operation}, which needs {needs} on the catalog, or "
                f"{CONTENT_PRIVILEGE}, which includes every content privilege.")
    return (
        f"{head}\n"
        f"Grant it: the stack's bootstrap (Job polaris-bootstrap) grants {CONTENT_PRIVILEGE} on "
        f"the catalog to a catalog role assigned to the principal role service_admin of the "
        f"bootstrap principal. On a Polaris of your own (POLARIS_URI), grant "
        f"{CONTENT_PRIVILEGE} on catalog {catalog!r} to a catalog role "
        f"(PUT /api/management/v1/catalogs/{catalog}/catalog-roles/ROLE/grants) and assign that "
        f"role to a principal role of this principal (PUT /api/management/v1/principal-roles/"
        f"PRINCIPAL_ROLE/catalog-roles/{catalog}); the token scope ({config.scope}, "
        f"POLARIS_SCOPE) must activate that principal role. The catalog_admin role Polaris "
        f"creates lacks the data privileges (TABLE_WRITE_DATA) that vended credentials need.")


def unusable_hint(config: PolarisConfig, error: BaseException) -> str:
    """What to check when the catalog cannot be reached or authenticated against."""
    if is_realm_refusal(error):
        realm = f"the realm {config.realm!r}" if config.realm else "the server's default realm"
        return (f"{realm} (POLARIS_REALM, sent as header {REALM_HEADER}) is one this Polaris "
                "serves (its POLARIS_REALM_CONTEXT_REALMS); the credential must belong to that "
                "realm (POLARIS_BOOTSTRAP_CREDENTIALS lists realm,client_id,secret).")
    return ("that the URI is the catalog's REST endpoint and answers, and that the warehouse "
            "and credential are known to it (POLARIS_URI, POLARIS_WAREHOUSE, "
            "POLARIS_CREDENTIAL, POLARIS_REALM, or your polaris_config fixture).")


@contextmanager
def polaris_refusals(config: PolarisConfig, action: str) -> Iterator[None]:
    """Around catalog calls a fixture makes: a 403 names the privilege, and any other refusal
    (a wrong realm, a 401 once the token is refused) or a catalog that stops answering is one
    screen (an :class:`InfrastructureError`) instead of pyiceberg's traceback."""
    from pyiceberg.exceptions import ForbiddenError

    from floe_testing.errors import FloeTestingError
    from floe_testing.services.helper import raise_unusable

    try:
        yield
    except ForbiddenError as exc:
        raise InfrastructureError(explain_forbidden(exc, config=config, action=action)) from None
    except FloeTestingError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever the catalog (or the wire) said
        raise_unusable(f"Polaris (asked to {action})", config, config.uri, exc,
                       unusable_hint(config, exc))


# -- generic tables ----------------------------------------------------------------------------

#: between the levels of a namespace in a REST path (the Iceberg REST spec's unit separator)
NAMESPACE_SEPARATOR = "\x1f"


def _generic_tables_url(catalog: RestCatalog, namespace: str, name: str | None = None) -> str:
    prefix = quote(str(catalog.properties.get("prefix", "")), safe="")
    url = (f"{catalog.uri.rstrip('/')}/polaris/v1/{prefix}/namespaces/"
           f"{quote(namespace, safe='')}/generic-tables")
    return url if name is None else f"{url}/{quote(name, safe='')}"


def _session(catalog: RestCatalog) -> Any:
    """The catalog's authenticated HTTP session (token, realm header, timeouts)."""
    return catalog._session


def list_generic_tables(catalog: RestCatalog, namespace: str) -> list[str]:
    """Names of the Polaris generic tables in ``namespace``; none on a catalog without the
    generic-tables API (a plain Iceberg REST catalog answers 404, or 501 when disabled)."""
    names: list[str] = []
    token: str | None = None
    while True:
        params = {"pageToken": token} if token else {}
        response = _session(catalog).get(_generic_tables_url(catalog, namespace), params=params)
        if response.status_code in (400, 404, 405, 501):
            return names
        _raise_for(response)
        body = response.json()
        names += [str(ident["name"]) for ident in body.get("identifiers") or []]
        token = body.get("next-page-token")
        if not token:
            return names


def drop_generic_table(catalog: RestCatalog, namespace: str, name: str) -> None:
    """Drop one generic table (already gone counts as dropped)."""
    response = _session(catalog).delete(_generic_tables_url(catalog, namespace, name))
    if response.status_code != 404:
        _raise_for(response)


def _raise_for(response: Any) -> None:
    """Raise for a failed generic-tables call as pyiceberg would: a 403 is its
    ``ForbiddenError`` carrying Polaris' message (so the refusal is explained alike)."""
    if response.status_code < 400:
        return
    from pyiceberg.exceptions import ForbiddenError, RESTError

    try:
        error = response.json()["error"]
        text = f"{error['type']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        text = f"HTTP {response.status_code}: {response.text[:300]}"
    raise (ForbiddenError if response.status_code == 403 else RESTError)(text)


# -- cleanup -----------------------------------------------------------------------------------


def drop_namespace_with_tables(catalog: RestCatalog, namespace: str | tuple[str, ...]) -> None:
    """Drop every child namespace (as Polaris refuses to drop a namespace that has any), every
    Iceberg table (purging its data), view and Polaris generic table in ``namespace``, then
    the namespace. A purge Polaris refuses, because the catalog does not enable it or the
    principal lacks ``TABLE_WRITE_DATA``, gets its table dropped without purge, so the
    namespace still goes; then this fails naming the setting (or raises the 403, which
    :func:`polaris_refusals` explains)."""
    from pyiceberg.catalog import Catalog

    unpurged: list[tuple[str, str]] = []
    forbidden: list[BaseException] = []
    _drop_tree(catalog, Catalog.identifier_to_tuple(namespace), unpurged, forbidden)
    if forbidden:
        raise forbidden[0]
    if unpurged:
        tables = ", ".join(f"{name} ({where})" if where else name for name, where in unpurged)
        warehouse = catalog.properties.get("warehouse", "")
        raise CleanupError(
            f"Polaris refused to purge the data of {len(unpurged)} table(s) of namespace "
            f"{'.'.join(Catalog.identifier_to_tuple(namespace))!r}: catalog {warehouse!r} "
            f"does not set {PURGE_SETTING}. They were dropped without purge and the namespace "
            f"dropped, but their data and metadata files remain: {tables}.\nFix: set the "
            f"catalog property {PURGE_SETTING}=true (PUT /api/management/v1/catalogs/"
            f"{warehouse} with it in properties; the stack's bootstrap creates its catalog "
            f"with it), or remove those files yourself.")


def _drop_tree(catalog: RestCatalog, namespace: tuple[str, ...],
               unpurged: list[tuple[str, str]], forbidden: list[BaseException]) -> None:
    """:func:`drop_namespace_with_tables` for one namespace, its children first."""
    for listed in catalog.list_namespaces(namespace):
        child = tuple(listed)
        if len(child) > len(namespace) and child[:len(namespace)] == namespace:
            _drop_tree(catalog, child, unpurged, forbidden)
    for identifier in catalog.list_tables(namespace):
        try:
            catalog.purge_table(identifier)
        except Exception as exc:
            if is_purge_refusal(exc):
                unpurged.append((".".join(identifier), _location(catalog, identifier)))
            elif _is_forbidden(exc) and "DROP_TABLE_WITH_PURGE" in str(exc):
                forbidden.append(exc)
            else:
                raise
            catalog.drop_table(identifier)
    for identifier in catalog.list_views(namespace):
        catalog.drop_view(identifier)
    path = NAMESPACE_SEPARATOR.join(namespace)
    for name in list_generic_tables(catalog, path):
        drop_generic_table(catalog, path, name)
    catalog.drop_namespace(namespace)


def _location(catalog: RestCatalog, identifier: tuple[str, ...]) -> str:
    """Where a table's files are (best effort: only for the message)."""
    try:
        return str(catalog.load_table(identifier).location())
    except Exception:  # noqa: BLE001 - the message works without it
        return ""
