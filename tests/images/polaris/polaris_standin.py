"""Stand-in for the ``apache/polaris`` image where Polaris itself cannot be built.

Polaris publishes no runnable server on Maven Central, and the modules a Quarkus build of it
needs are not served there (see tests/images/README.md). So this image runs Apache Iceberg's
own REST catalog server (``org.apache.iceberg:iceberg-open-api``, the real catalog: tables,
commits, metadata and data files on MinIO through S3FileIO), one per catalog, behind Polaris'
contract, and enforces Polaris' rules wherever a client of the stack meets them (each rule
names the Polaris 1.7 source it follows):

* ports 8181 (``/api/catalog``, ``/api/management/v1``) and 8182 (``/q/health/ready``);
* **realms** (``RealmContextFilter``, ``DefaultRealmContextResolver``): header
  ``Polaris-Realm`` (``POLARIS_REALM_CONTEXT_HEADER_NAME``) names one of
  ``POLARIS_REALM_CONTEXT_REALMS``, absent means the first; any other is 404
  ``MissingOrInvalidRealm`` on every request, the token request included;
* **principals** (``JWTBroker``): each realm's ``root`` principal from
  ``POLARIS_BOOTSTRAP_CREDENTIALS`` (``realm,client_id,client_secret;...``) with principal role
  ``service_admin``; OAuth2 client credentials with scope ``PRINCIPAL_ROLE:ALL`` or
  ``PRINCIPAL_ROLE:<name> ...`` (the principal roles the token activates); tokens hold to
  their realm;
* **RBAC** (``PolarisAuthorizerImpl``, ``RbacOperationSemantics``): every catalog operation
  needs its privileges through a catalog role assigned to an activated principal role, with
  Polaris' super-privileges (``CATALOG_MANAGE_CONTENT`` includes every content privilege,
  ``CATALOG_MANAGE_METADATA`` all but the data ones); else 403 ``Principal '...' with activated
  PrincipalRoles '[...]' and activated grants via '[...]' is not authorized for op OP``. A
  catalog gets ``catalog_admin`` (``CATALOG_MANAGE_ACCESS``, ``CATALOG_MANAGE_METADATA``),
  assigned to ``service_admin``. Management calls need ``SERVICE_MANAGE_ACCESS`` (the
  ``service_admin`` role), catalog-role and grant calls ``CATALOG_MANAGE_ACCESS``. Only
  catalog-level grants are evaluated;
* **catalogs** (``PolarisAdminService``, ``CatalogEntity``): S3 only, ``default-base-location``
  within ``allowedLocations``, and 400 ``ValidationException`` when a location overlaps
  another catalog's; a catalog is dropped only when empty;
* **purge** (``IcebergCatalog.dropTableLike``): 403 ``Unable to purge entity`` unless the
  catalog sets ``polaris.config.drop-with-purge.enabled``;
* **generic tables** (``GenericTableCatalogHandler``): ``/api/catalog/polaris/v1/{prefix}/
  namespaces/{ns}/generic-tables``, kept here; a namespace holding one is not empty;
* **credential vending** (``AwsCredentialsStorageIntegration``): with
  ``X-Iceberg-Access-Delegation: vended-credentials`` a table's create and load carry keys from
  MinIO's STS ``AssumeRole`` (the server's own MinIO keys, ``AWS_ACCESS_KEY_ID``/
  ``AWS_SECRET_ACCESS_KEY``) with a session policy scoped to the table's locations (read, list;
  write with ``TABLE_WRITE_DATA``), a session token and a 1 h expiry, in ``config`` and
  ``storage-credentials``;
* ``/v1/config?warehouse=<catalog>``: the catalog's properties as defaults, its name as prefix.

Stdlib only: it runs on the image's Debian Python.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import http.client
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ElementTree
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: Polaris' ports (quarkus.http.port, quarkus.management.port: the same env vars move them)
API_PORT = int(os.environ.get("QUARKUS_HTTP_PORT") or 8181)
MANAGEMENT_PORT = int(os.environ.get("QUARKUS_MANAGEMENT_PORT") or 8182)
FIRST_BACKEND_PORT = int(os.environ.get("POLARIS_STANDIN_BACKEND_PORT") or 8190)
BACKEND_JAR = os.environ.get("ICEBERG_REST_JAR", "/opt/iceberg-rest/iceberg-open-api.jar")
BACKEND_START_TIMEOUT = 90.0
CATALOG_PREFIX = "/api/catalog"
GENERIC_PREFIX = "/api/catalog/polaris/v1/"
MANAGEMENT_PREFIX = "/api/management/v1"
ROOT_PRINCIPAL = "root"
SERVICE_ADMIN = "service_admin"
CATALOG_ADMIN = "catalog_admin"
PURGE_SETTING = "polaris.config.drop-with-purge.enabled"
LEGACY_PURGE_SETTING = "drop-with-purge.enabled"
#: STORAGE_CREDENTIAL_DURATION_SECONDS
CREDENTIAL_SECONDS = 3600
#: STORAGE_CREDENTIAL_CACHE_DURATION_SECONDS
CREDENTIAL_CACHE_SECONDS = 1800
DELEGATION_HEADER = "X-Iceberg-Access-Delegation"

# -- RBAC: Polaris' privileges, operations and super-privileges --------------------------------

CONTENT, METADATA = "CATALOG_MANAGE_CONTENT", "CATALOG_MANAGE_METADATA"
MANAGE_ACCESS, SERVICE_ACCESS = "CATALOG_MANAGE_ACCESS", "SERVICE_MANAGE_ACCESS"

#: privilege -> the granted privileges that confer it (PolarisAuthorizerImpl.SUPER_PRIVILEGES)
SUPER: dict[str, set[str]] = {
    "NAMESPACE_CREATE": {CONTENT, METADATA, "NAMESPACE_FULL_METADATA"},
    "TABLE_CREATE": {CONTENT, METADATA, "TABLE_FULL_METADATA"},
    "VIEW_CREATE": {CONTENT, METADATA, "VIEW_FULL_METADATA"},
    "NAMESPACE_DROP": {CONTENT, METADATA, "NAMESPACE_FULL_METADATA"},
    "TABLE_DROP": {CONTENT, METADATA, "TABLE_FULL_METADATA"},
    "VIEW_DROP": {CONTENT, METADATA, "VIEW_FULL_METADATA"},
    "NAMESPACE_LIST": {CONTENT, METADATA, "NAMESPACE_CREATE", "NAMESPACE_FULL_METADATA",
                       "NAMESPACE_READ_PROPERTIES", "NAMESPACE_WRITE_PROPERTIES"},
    "TABLE_LIST": {CONTENT, METADATA, "TABLE_CREATE", "TABLE_FULL_METADATA", "TABLE_READ_DATA",
                   "TABLE_READ_PROPERTIES", "TABLE_WRITE_DATA", "TABLE_WRITE_PROPERTIES"},
    "VIEW_LIST": {CONTENT, METADATA, "VIEW_CREATE", "VIEW_FULL_METADATA",
                  "VIEW_READ_PROPERTIES", "VIEW_WRITE_PROPERTIES"},
    "NAMESPACE_READ_PROPERTIES": {CONTENT, METADATA, "NAMESPACE_FULL_METADATA",
                                  "NAMESPACE_WRITE_PROPERTIES"},
    "TABLE_READ_PROPERTIES": {CONTENT, METADATA, "TABLE_FULL_METADATA", "TABLE_READ_DATA",
                              "TABLE_WRITE_DATA", "TABLE_WRITE_PROPERTIES"},
    "VIEW_READ_PROPERTIES": {CONTENT, METADATA, "VIEW_FULL_METADATA", "VIEW_WRITE_PROPERTIES"},
    "NAMESPACE_WRITE_PROPERTIES": {CONTENT, METADATA, "NAMESPACE_FULL_METADATA"},
    "TABLE_WRITE_PROPERTIES": {CONTENT, METADATA, "TABLE_FULL_METADATA", "TABLE_WRITE_DATA"},
    "VIEW_WRITE_PROPERTIES": {CONTENT, METADATA, "VIEW_FULL_METADATA"},
    "TABLE_READ_DATA": {CONTENT, "TABLE_WRITE_DATA"},
    "TABLE_WRITE_DATA": {CONTENT},
    "NAMESPACE_FULL_METADATA": {CONTENT, METADATA},
    "TABLE_FULL_METADATA": {CONTENT, METADATA},
    "VIEW_FULL_METADATA": {CONTENT, METADATA},
    METADATA: {CONTENT},
    "CATALOG_READ_PROPERTIES": {CONTENT, METADATA, "CATALOG_FULL_METADATA",
                                "CATALOG_WRITE_PROPERTIES", SERVICE_ACCESS},
    "CATALOG_ROLE_CREATE": {MANAGE_ACCESS, "CATALOG_ROLE_FULL_METADATA"},
    "CATALOG_ROLE_DROP": {MANAGE_ACCESS, "CATALOG_ROLE_FULL_METADATA"},
    "CATALOG_ROLE_LIST": {MANAGE_ACCESS, "CATALOG_ROLE_CREATE", "CATALOG_ROLE_FULL_METADATA"},
    "CATALOG_ROLE_LIST_GRANTS": {MANAGE_ACCESS},
    "CATALOG_MANAGE_GRANTS_ON_SECURABLE": {MANAGE_ACCESS},
    "CATALOG_ROLE_MANAGE_GRANTS_ON_SECURABLE": {MANAGE_ACCESS},
}

#: operation -> privileges it needs (RbacOperationSemantics)
NEEDS: dict[str, tuple[str, ...]] = {
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
    "REPLACE_VIEW": ("VIEW_WRITE_PROPERTIES",),
    "DROP_VIEW": ("VIEW_DROP",),
    "VIEW_EXISTS": ("VIEW_LIST",),
    "RENAME_VIEW": ("VIEW_DROP", "VIEW_LIST", "VIEW_CREATE"),
    "REPORT_READ_METRICS": ("TABLE_READ_DATA",),
    "GET_CATALOG": ("CATALOG_READ_PROPERTIES",),
    "CREATE_CATALOG_ROLE": ("CATALOG_ROLE_CREATE",),
    "LIST_CATALOG_ROLES": ("CATALOG_ROLE_LIST",),
    "DELETE_CATALOG_ROLE": ("CATALOG_ROLE_DROP",),
    "LIST_GRANTS_FOR_CATALOG_ROLE": ("CATALOG_ROLE_LIST_GRANTS",),
    "ADD_CATALOG_GRANT_TO_CATALOG_ROLE": ("CATALOG_MANAGE_GRANTS_ON_SECURABLE",),
    "REVOKE_CATALOG_GRANT_FROM_CATALOG_ROLE": ("CATALOG_MANAGE_GRANTS_ON_SECURABLE",),
    "ASSIGN_CATALOG_ROLE_TO_PRINCIPAL_ROLE": ("CATALOG_ROLE_MANAGE_GRANTS_ON_SECURABLE",),
}
#: the catalog-level privileges a grant may name (PolarisPrivilege, type "catalog")
CATALOG_PRIVILEGES = (set(SUPER) | {CONTENT, MANAGE_ACCESS, "CATALOG_FULL_METADATA",
                                    "CATALOG_WRITE_PROPERTIES", "CATALOG_LIST_GRANTS",
                                    "CATALOG_ATTACH_POLICY", "CATALOG_DETACH_POLICY",
                                    "POLICY_CREATE", "POLICY_READ", "POLICY_WRITE",
                                    "POLICY_DROP", "POLICY_LIST", "POLICY_ATTACH",
                                    "POLICY_DETACH", "NAMESPACE_ATTACH_POLICY",
                                    "TABLE_ATTACH_POLICY", "TABLE_MANAGE_STRUCTURE"}) - {
    SERVICE_ACCESS}


def grants_confer(granted: set[str], needed: str) -> bool:
    return needed in granted or bool(SUPER.get(needed, set()) & granted)


class PolarisError(Exception):
    """An error answered in Polaris' (Iceberg REST's) error model."""

    def __init__(self, code: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.code, self.kind, self.message = code, kind, message

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.kind, "code": self.code}}


def forbidden(message: str) -> PolarisError:
    return PolarisError(403, "ForbiddenException", message)


def not_found(message: str) -> PolarisError:
    return PolarisError(404, "NotFoundException", message)


def bad_request(message: str) -> PolarisError:
    return PolarisError(400, "BadRequestException", message)


def java_set(names: set[str]) -> str:
    return "[" + ", ".join(sorted(names)) + "]"


def slash(location: str) -> str:
    return location if location.endswith("/") else location + "/"


def within(location: str, parent: str) -> bool:
    """StorageLocation.isChildOf: ``location`` is ``parent`` or below it."""
    return slash(location).startswith(slash(parent))


# -- state ---------------------------------------------------------------------------------------


class Catalog:
    """One catalog: its definition, roles, generic tables and the Iceberg REST server behind."""

    def __init__(self, definition: dict[str, Any], port: int) -> None:
        self.definition = definition
        self.name = str(definition["name"])
        self.port = port
        #: catalog role -> catalog-level privileges granted to it
        self.roles: dict[str, set[str]] = {CATALOG_ADMIN: {MANAGE_ACCESS, METADATA}}
        #: namespace (dotted) -> generic table name -> GenericTable
        self.generic: dict[str, dict[str, dict[str, Any]]] = {}
        self.credentials: dict[tuple[str, ...], tuple[float, dict[str, str]]] = {}
        props = self.properties
        storage = self.storage
        self.region = storage.get("region") or os.environ.get("AWS_REGION", "us-east-1")
        self.endpoint = storage.get("endpointInternal") or storage.get("endpoint") or ""
        env = {
            **os.environ,
            "CATALOG_REST_PORT": str(port),
            "CATALOG_WAREHOUSE": props.get("default-base-location", ""),
            "CATALOG_IO__IMPL": "org.apache.iceberg.aws.s3.S3FileIO",
            "CATALOG_S3_ENDPOINT": self.endpoint,
            "CATALOG_S3_PATH__STYLE__ACCESS": str(bool(storage.get("pathStyleAccess"))).lower(),
            "CATALOG_S3_ACCESS__KEY__ID": os.environ.get("AWS_ACCESS_KEY_ID", ""),
            "CATALOG_S3_SECRET__ACCESS__KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", ""),
            "CATALOG_CLIENT_REGION": self.region,
            "AWS_REGION": self.region,
            # the server's JDBC catalog is an in-memory SQLite database per connection: with
            # its default pool of 2, concurrent requests (two shards, xdist workers) reach a
            # second, empty database ("Failed to get table"). One connection serialises them.
            "CATALOG_CLIENTS": "1",
        }
        self.process = subprocess.Popen(["java", "-jar", BACKEND_JAR], env=env, text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.started = threading.Event()
        threading.Thread(target=self._relay_output, daemon=True).start()

    @property
    def properties(self) -> dict[str, str]:
        return dict(self.definition.get("properties") or {})

    @property
    def storage(self) -> dict[str, Any]:
        return dict(self.definition.get("storageConfigInfo") or {})

    @property
    def locations(self) -> list[str]:
        """PolarisAdminService.getCatalogLocations: base location and allowed locations."""
        found = {slash(self.properties.get("default-base-location", ""))}
        found |= {slash(str(loc)) for loc in self.storage.get("allowedLocations") or []}
        return sorted(found - {"/"})

    @property
    def purge_enabled(self) -> bool:
        props = self.properties
        value = props.get(PURGE_SETTING, props.get(LEGACY_PURGE_SETTING, "false"))
        return str(value).lower() == "true"

    def _relay_output(self) -> None:
        """Echo the server's log (the pod's log) and notice the line Jetty prints once it
        listens; set ``started`` then, or when the server exits."""
        assert self.process.stdout is not None
        for line in self.process.stdout:
            sys.stdout.write(line)
            if "Started Server" in line:
                self.started.set()
        self.started.set()  # exited: wait_ready sees it at once

    def wait_ready(self) -> bool:
        """True once the server said it started and answers ``/v1/config``."""
        if not self.started.wait(BACKEND_START_TIMEOUT) or self.process.poll() is not None:
            return False
        try:
            return backend(self.port, "GET", "/v1/config")[0] == 200
        except OSError:
            return False

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


class Realm:
    """One realm's principals, principal roles and catalogs."""

    def __init__(self, name: str) -> None:
        self.name = name
        #: guards everything below (management calls change it, every call reads it)
        self.lock = threading.RLock()
        #: principal -> {"clientId", "clientSecret", "roles": set of principal roles}
        self.principals: dict[str, dict[str, Any]] = {}
        #: principal role -> {(catalog, catalog role)}
        self.principal_roles: dict[str, set[tuple[str, str]]] = {SERVICE_ADMIN: set()}
        self.catalogs: dict[str, Catalog] = {}
        #: catalogs whose server is starting (their name and locations are taken)
        self.pending: dict[str, Catalog] = {}

    def principal_by_client(self, client_id: str) -> str | None:
        for name, principal in self.principals.items():
            if principal["clientId"] == client_id:
                return name
        return None


class Session:
    """What a bearer token stands for: a principal of a realm and its activated roles."""

    def __init__(self, realm: str, principal: str, scopes: set[str]) -> None:
        self.realm, self.principal, self.scopes = realm, principal, scopes


class State:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        names = [r.strip() for r in os.environ.get("POLARIS_REALM_CONTEXT_REALMS",
                                                   "POLARIS").split(",") if r.strip()]
        self.realm_names = names or ["POLARIS"]
        self.header = os.environ.get("POLARIS_REALM_CONTEXT_HEADER_NAME", "Polaris-Realm")
        self.realms = {name: Realm(name) for name in self.realm_names}
        for realm, client_id, secret in _bootstrap_credentials(
                os.environ.get("POLARIS_BOOTSTRAP_CREDENTIALS", "")):
            if realm in self.realms:
                self.realms[realm].principals[ROOT_PRINCIPAL] = {
                    "clientId": client_id, "clientSecret": secret, "roles": {SERVICE_ADMIN}}
        self.tokens: dict[str, Session] = {}
        self.next_port = FIRST_BACKEND_PORT

    def stop(self) -> None:
        for realm in self.realms.values():
            for catalog in realm.catalogs.values():
                catalog.process.terminate()


def _bootstrap_credentials(value: str) -> list[tuple[str, str, str]]:
    """``realm,client_id,client_secret[;...]``."""
    found = []
    for entry in value.split(";"):
        parts = [p.strip() for p in entry.split(",")]
        if len(parts) == 3 and all(parts):
            found.append((parts[0], parts[1], parts[2]))
    return found


# -- MinIO's STS ---------------------------------------------------------------------------------


def assume_role(endpoint: str, region: str, policy: dict[str, Any]) -> dict[str, str]:
    """Short-lived keys from the STS ``AssumeRole`` at ``endpoint`` (MinIO), narrowed by the
    session ``policy``: the request Polaris' AwsCredentialsStorageIntegration makes, signed
    (SigV4, service ``sts``) with the server's own keys."""
    parts = urllib.parse.urlsplit(endpoint)
    body = urllib.parse.urlencode({
        "Action": "AssumeRole", "Version": "2011-06-15",
        "DurationSeconds": str(CREDENTIAL_SECONDS), "RoleSessionName": "polaris",
        "Policy": json.dumps(policy, separators=(",", ":")),
    }).encode()
    now = datetime.datetime.now(datetime.UTC)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    payload_hash = hashlib.sha256(body).hexdigest()
    headers = {"content-type": "application/x-www-form-urlencoded; charset=utf-8",
               "host": parts.netloc, "x-amz-content-sha256": payload_hash,
               "x-amz-date": amz_date}
    signed = ";".join(sorted(headers))
    canonical = "\n".join(["POST", "/", "", *(f"{k}:{headers[k]}" for k in sorted(headers)), "",
                           signed, payload_hash])
    scope = f"{day}/{region}/sts/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + os.environ.get("AWS_SECRET_ACCESS_KEY", "")).encode()
    for part in (day, region, "sts", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={os.environ.get('AWS_ACCESS_KEY_ID', '')}/{scope}, "
        f"SignedHeaders={signed}, Signature={signature}")
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = cls(parts.hostname or "", parts.port, timeout=30)
    try:
        conn.request("POST", "/", body=body, headers=headers)
        response = conn.getresponse()
        raw = response.read()
    finally:
        conn.close()
    if response.status != 200:
        raise PolarisError(500, "ServerErrorException",
                           f"STS AssumeRole at {endpoint} answered {response.status}: "
                           f"{raw[:300]!r}")
    found = {el.tag.rsplit("}", 1)[-1]: (el.text or "")
             for el in ElementTree.fromstring(raw).iter()}
    expires = datetime.datetime.strptime(found["Expiration"][:19], "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=datetime.UTC)
    return {"s3.access-key-id": found["AccessKeyId"],
            "s3.secret-access-key": found["SecretAccessKey"],
            "s3.session-token": found["SessionToken"],
            "s3.session-token-expires-at-ms": str(int(expires.timestamp() * 1000))}


def session_policy(locations: list[str], write: bool) -> dict[str, Any]:
    """AwsCredentialsStorageIntegration.policyString: objects under each location readable
    (and writable), listing only below them, the buckets' locations."""
    objects, buckets, prefixes = [], set(), {}
    for location in locations:
        parts = urllib.parse.urlsplit(location)
        path = parts.path.strip("/")
        objects.append(f"arn:aws:s3:::{parts.netloc}/{path}/*")
        buckets.add(parts.netloc)
        prefixes.setdefault(parts.netloc, []).append(f"{path}/*")
    statements: list[dict[str, Any]] = []
    if write:
        statements.append({"Effect": "Allow", "Action": ["s3:PutObject", "s3:DeleteObject"],
                           "Resource": objects})
    for bucket in sorted(buckets):
        statements.append({"Effect": "Allow", "Action": ["s3:ListBucket"],
                           "Resource": [f"arn:aws:s3:::{bucket}"],
                           "Condition": {"StringLike": {"s3:prefix": prefixes[bucket]}}})
        statements.append({"Effect": "Allow", "Action": ["s3:GetBucketLocation"],
                           "Resource": [f"arn:aws:s3:::{bucket}"]})
    statements.append({"Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion"],
                       "Resource": objects})
    return {"Version": "2012-10-17", "Statement": statements}


def vended(catalog: Catalog, locations: list[str], write: bool) -> dict[str, str]:
    """The storage config a delegated table load carries (cached like Polaris' 30 min)."""
    storage = catalog.storage
    config = {"client.region": catalog.region}
    if storage.get("pathStyleAccess"):
        config["s3.path-style-access"] = "true"
    if storage.get("endpoint"):
        config["s3.endpoint"] = str(storage["endpoint"])
    if storage.get("stsUnavailable"):
        return config
    key = (*sorted(locations), str(write))
    cached = catalog.credentials.get(key)
    if cached is None or cached[0] < time.monotonic():
        endpoint = storage.get("stsEndpoint") or catalog.endpoint
        keys = assume_role(endpoint, catalog.region, session_policy(locations, write))
        cached = (time.monotonic() + CREDENTIAL_CACHE_SECONDS, keys)
        catalog.credentials[key] = cached
    return {**config, **cached[1]}


def table_locations(metadata: dict[str, Any]) -> list[str]:
    """StorageUtil.getLocationsUsedByTable: the location and its data/metadata paths."""
    props = metadata.get("properties") or {}
    found = {metadata.get("location", "")}
    for name in ("write.data.path", "write.metadata.path"):
        if props.get(name):
            found.add(props[name])
    return sorted(loc.rstrip("/") for loc in found if loc)


# -- HTTP ----------------------------------------------------------------------------------------


def backend(port: int, method: str, path: str, body: bytes = b"",
            headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body or None, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def make_handler(state: State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            sys.stderr.write(f"{self.command} {self.path} -> {args[1] if len(args) > 1 else ''}\n")

        def _reply(self, code: int, payload: Any | None = None, raw: bytes | None = None) -> None:
            data = raw if raw is not None else (b"" if payload is None
                                                 else json.dumps(payload).encode())
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def do_GET(self) -> None:
            self._route()

        do_POST = do_PUT = do_DELETE = do_HEAD = do_GET

        def _route(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.server.server_port == MANAGEMENT_PORT:  # type: ignore[attr-defined]
                if url.path in ("/q/health/ready", "/q/health/live", "/q/health"):
                    return self._reply(200, {"status": "UP", "checks": []})
                return self._reply(404, not_found(url.path).body())
            try:
                status, payload, raw = self._dispatch(url, body)
            except PolarisError as exc:
                status, payload, raw = exc.code, exc.body(), None
            except Exception as exc:  # the client gets an answer, the pod's log a line
                sys.stderr.write(f"stand-in error on {self.command} {self.path}: {exc!r}\n")
                status, payload, raw = 500, PolarisError(
                    500, "ServerErrorException", f"{type(exc).__name__}: {exc}").body(), None
            self._reply(status, payload, raw)

        def _dispatch(self, url: urllib.parse.SplitResult,
                      body: bytes) -> tuple[int, Any, bytes | None]:
            realm = self._realm()
            if url.path == f"{CATALOG_PREFIX}/v1/oauth/tokens" and self.command == "POST":
                code, payload = token(state, realm, body)
                return code, payload, None
            session = self._session(realm)
            if url.path.startswith(MANAGEMENT_PREFIX + "/"):
                code, payload = management(state, realm, session, self.command,
                                           url.path[len(MANAGEMENT_PREFIX):], body)
                return code, payload, None
            if url.path == f"{CATALOG_PREFIX}/v1/config":
                return 200, config(realm, url.query), None
            if url.path.startswith(GENERIC_PREFIX):
                code, payload = generic_tables(realm, session, self.command,
                                               url.path[len(GENERIC_PREFIX):], body)
                return code, payload, None
            if url.path.startswith(f"{CATALOG_PREFIX}/v1/"):
                return catalog_api(realm, session, self.command, url.path[len(CATALOG_PREFIX):],
                                   url.query, body, dict(self.headers.items()))
            raise not_found(url.path)

        def _realm(self) -> Realm:
            name = self.headers.get(state.header) or state.realm_names[0]
            found = state.realms.get(name)
            if found is None:
                sys.stderr.write(f"Error resolving realm context: Unknown realm: {name}\n")
                raise PolarisError(404, "MissingOrInvalidRealm", "Missing or invalid realm")
            return found

        def _session(self, realm: Realm) -> Session:
            auth = self.headers.get("Authorization", "")
            with state.lock:
                session = state.tokens.get(auth[7:]) if auth.startswith("Bearer ") else None
            if session is None or session.realm != realm.name:
                raise PolarisError(401, "NotAuthorizedException", "Unauthorized")
            return session

    return Handler


# -- OAuth2 --------------------------------------------------------------------------------------


def token(state: State, realm: Realm, body: bytes) -> tuple[int, Any]:
    """JWTBroker.generateFromClientSecrets (client credentials)."""
    form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode()).items()}
    client, secret = form.get("client_id", ""), form.get("client_secret", "")
    scope = form.get("scope", "")

    def error(code: int, kind: str, description: str) -> tuple[int, Any]:
        return code, {"error": kind, "error_description": description}

    if not client or not secret:
        return error(400, "invalid_client", "The Client is invalid")
    if form.get("grant_type") != "client_credentials":
        return error(400, "invalid_grant", "The grant is invalid")
    scopes = set(scope.split(" ")) if scope else set()
    if not scopes or any(not s.startswith("PRINCIPAL_ROLE:") or s == "PRINCIPAL_ROLE:"
                         for s in scopes):
        return error(400, "invalid_scope", "The scope is invalid")
    with realm.lock:
        name = realm.principal_by_client(client)
        known = name is not None and hmac.compare_digest(
            realm.principals[name]["clientSecret"], secret)
    if name is None or not known:
        return error(401, "unauthorized_client", "The client is not authorized")
    issued = secrets.token_urlsafe(24)
    with state.lock:
        state.tokens[issued] = Session(realm.name, name, scopes)
    return 200, {"access_token": issued, "token_type": "bearer", "expires_in": 3600,
                 "issued_token_type": "urn:ietf:params:oauth:token-type:access_token"}


# -- authorization -------------------------------------------------------------------------------


def activated_roles(realm: Realm, session: Session) -> set[str]:
    """The principal roles the token activates (DefaultAuthenticator)."""
    assigned = set(realm.principals.get(session.principal, {}).get("roles", set()))
    if "PRINCIPAL_ROLE:ALL" in session.scopes:
        return assigned
    return assigned & {s.split(":", 1)[1] for s in session.scopes}


def authorize(realm: Realm, session: Session, operation: str,
              catalog: Catalog | None = None) -> None:
    """403 (Polaris' message) unless the activated grants confer every privilege of
    ``operation`` on ``catalog`` (or, without one, the service: SERVICE_MANAGE_ACCESS)."""
    with realm.lock:
        roles = activated_roles(realm, session)
        via = set(roles)
        granted: set[str] = set()
        if SERVICE_ADMIN in roles:
            granted.add(SERVICE_ACCESS)
        if catalog is not None:
            for role in roles:
                for catalog_name, catalog_role in realm.principal_roles.get(role, set()):
                    if catalog_name == catalog.name and catalog_role in catalog.roles:
                        via.add(catalog_role)
                        granted |= catalog.roles[catalog_role]
    needed = NEEDS.get(operation, (SERVICE_ACCESS,))
    if all(grants_confer(granted, privilege) for privilege in needed):
        return
    raise forbidden(
        f"Principal '{session.principal}' with activated PrincipalRoles '{java_set(roles)}' "
        f"and activated grants via '{java_set(via)}' is not authorized for op {operation}")


# -- management API ------------------------------------------------------------------------------


def management(state: State, realm: Realm, session: Session, method: str, path: str,
               body: bytes) -> tuple[int, Any]:
    parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/")]
    payload = json.loads(body) if body else {}
    if (method, parts) == ("POST", ["catalogs"]):
        authorize(realm, session, "CREATE_CATALOG")
        return create_catalog(state, realm, payload.get("catalog") or {})
    with realm.lock:
        match (method, parts):
            case ("GET", ["catalogs"]):
                authorize(realm, session, "LIST_CATALOGS")
                return 200, {"catalogs": [c.definition for c in realm.catalogs.values()]}
            case ("GET", ["catalogs", name]):
                catalog = find_catalog(realm, name)
                authorize(realm, session, "GET_CATALOG", catalog)
                return 200, catalog.definition
            case ("DELETE", ["catalogs", name]):
                authorize(realm, session, "DELETE_CATALOG")
                return delete_catalog(realm, find_catalog(realm, name))
            case ("GET", ["catalogs", name, "catalog-roles"]):
                catalog = find_catalog(realm, name)
                authorize(realm, session, "LIST_CATALOG_ROLES", catalog)
                return 200, {"roles": [{"name": r} for r in sorted(catalog.roles)]}
            case ("POST", ["catalogs", name, "catalog-roles"]):
                catalog = find_catalog(realm, name)
                authorize(realm, session, "CREATE_CATALOG_ROLE", catalog)
                role = str((payload.get("catalogRole") or {}).get("name") or "")
                if not role:
                    raise bad_request("catalogRole name is required")
                if role in catalog.roles:
                    raise PolarisError(409, "AlreadyExistsException",
                                       f"Cannot create CatalogRole {role} in {name}. "
                                       "CatalogRole already exists or resolution failed")
                catalog.roles[role] = set()
                return 201, {"name": role, "properties": {}}
            case ("DELETE", ["catalogs", name, "catalog-roles", role]):
                catalog = find_catalog(realm, name)
                authorize(realm, session, "DELETE_CATALOG_ROLE", catalog)
                find_role(catalog, role)
                if role == CATALOG_ADMIN:
                    raise bad_request(f"CatalogRole {role} cannot be dropped")
                del catalog.roles[role]
                for assigned in realm.principal_roles.values():
                    assigned.discard((name, role))
                return 204, None
            case ("GET", ["catalogs", name, "catalog-roles", role, "grants"]):
                catalog = find_catalog(realm, name)
                authorize(realm, session, "LIST_GRANTS_FOR_CATALOG_ROLE", catalog)
                return 200, {"grants": [{"type": "catalog", "privilege": p}
                                        for p in sorted(find_role(catalog, role))]}
            case ("PUT" | "POST", ["catalogs", name, "catalog-roles", role, "grants"]):
                catalog = find_catalog(realm, name)
                revoke = method == "POST"
                authorize(realm, session, "REVOKE_CATALOG_GRANT_FROM_CATALOG_ROLE" if revoke
                          else "ADD_CATALOG_GRANT_TO_CATALOG_ROLE", catalog)
                privileges = find_role(catalog, role)
                grant = payload.get("grant") or {}
                privilege = str(grant.get("privilege") or "")
                if grant.get("type") != "catalog" or privilege not in CATALOG_PRIVILEGES:
                    raise bad_request(f"Unsupported grant {grant} (this stand-in evaluates "
                                      "catalog-level grants only)")
                (privileges.discard if revoke else privileges.add)(privilege)
                return 201, None
            case ("POST", ["principals"]):
                authorize(realm, session, "CREATE_PRINCIPAL")
                name = str((payload.get("principal") or {}).get("name") or "")
                if not name:
                    raise bad_request("principal name is required")
                if name in realm.principals:
                    raise PolarisError(409, "AlreadyExistsException",
                                       f"Cannot create Principal {name}. Principal already "
                                       "exists or resolution failed")
                credentials = {"clientId": secrets.token_hex(8),
                               "clientSecret": secrets.token_hex(16)}
                realm.principals[name] = {**credentials, "roles": set()}
                return 201, {"principal": {"name": name, "clientId": credentials["clientId"],
                                           "properties": {}},
                             "credentials": credentials}
            case ("DELETE", ["principals", name]):
                authorize(realm, session, "DELETE_PRINCIPAL")
                if name == ROOT_PRINCIPAL or realm.principals.pop(name, None) is None:
                    raise not_found(f"Principal {name} not found")
                return 204, None
            case ("PUT", ["principals", name, "principal-roles"]):
                authorize(realm, session, "ASSIGN_PRINCIPAL_ROLE")
                role = str((payload.get("principalRole") or {}).get("name") or "")
                if name not in realm.principals or role not in realm.principal_roles:
                    raise not_found(f"Principal {name} or principal role {role} not found")
                realm.principals[name]["roles"].add(role)
                return 201, None
            case ("POST", ["principal-roles"]):
                authorize(realm, session, "CREATE_PRINCIPAL_ROLE")
                role = str((payload.get("principalRole") or {}).get("name") or "")
                if not role:
                    raise bad_request("principalRole name is required")
                if role in realm.principal_roles:
                    raise PolarisError(409, "AlreadyExistsException",
                                       f"Cannot create PrincipalRole {role}. PrincipalRole "
                                       "already exists or resolution failed")
                realm.principal_roles[role] = set()
                return 201, {"name": role, "properties": {}}
            case ("DELETE", ["principal-roles", role]):
                authorize(realm, session, "DELETE_PRINCIPAL_ROLE")
                if role == SERVICE_ADMIN or realm.principal_roles.pop(role, None) is None:
                    raise not_found(f"PrincipalRole {role} not found")
                for principal in realm.principals.values():
                    principal["roles"].discard(role)
                return 204, None
            case ("PUT", ["principal-roles", principal_role, "catalog-roles", name]):
                catalog = find_catalog(realm, name)
                authorize(realm, session, "ASSIGN_CATALOG_ROLE_TO_PRINCIPAL_ROLE", catalog)
                role = str((payload.get("catalogRole") or {}).get("name") or "")
                find_role(catalog, role)
                if principal_role not in realm.principal_roles:
                    raise not_found(f"PrincipalRole {principal_role} not found")
                realm.principal_roles[principal_role].add((name, role))
                return 201, None
    raise not_found(f"{method} {MANAGEMENT_PREFIX}{path}")


def find_catalog(realm: Realm, name: str) -> Catalog:
    catalog = realm.catalogs.get(name)
    if catalog is None:
        raise not_found(f"Catalog {name} not found")
    return catalog


def find_role(catalog: Catalog, role: str) -> set[str]:
    privileges = catalog.roles.get(role)
    if privileges is None:
        raise not_found(f"CatalogRole {role} not found in catalog {catalog.name}")
    return privileges


def create_catalog(state: State, realm: Realm, definition: dict[str, Any]) -> tuple[int, Any]:
    """PolarisAdminService.createCatalog and CatalogEntity's validation."""
    name = str(definition.get("name") or "")
    if not name:
        raise bad_request("catalog name is required")
    storage = definition.get("storageConfigInfo") or {}
    if storage.get("storageType") != "S3":
        raise bad_request(f"Unsupported storage type: {storage.get('storageType')} (this "
                          "stand-in serves S3 catalogs)")
    base = str((definition.get("properties") or {}).get("default-base-location") or "")
    if not base:
        raise bad_request("default-base-location is required")
    allowed = [str(loc) for loc in storage.get("allowedLocations") or []]
    if allowed and not any(within(base, loc) for loc in allowed):
        raise bad_request(f"default-base-location '{base}' is not within any of the allowed "
                          f"locations {java_set(set(allowed))}")
    if not allowed:
        storage = {**storage, "allowedLocations": [base]}
        definition = {**definition, "storageConfigInfo": storage}
    definition = {**definition, "type": definition.get("type", "INTERNAL")}
    with realm.lock:
        if name in realm.catalogs or name in realm.pending:
            raise PolarisError(409, "AlreadyExistsException",
                               f"Cannot create Catalog {name}. Catalog already exists or "
                               "resolution failed")
        new = {slash(base), *(slash(loc) for loc in allowed)}
        for other in [*realm.catalogs.values(), *realm.pending.values()]:
            if any(within(a, b) or within(b, a) for a in new for b in other.locations):
                raise PolarisError(400, "ValidationException",
                                   f"Cannot create Catalog {name}. One or more of its locations "
                                   "overlaps with an existing catalog")
        with state.lock:
            port = state.next_port
            state.next_port += 1
        catalog = Catalog(definition, port)
        realm.pending[name] = catalog
    try:
        ready = catalog.wait_ready()  # seconds: no lock held meanwhile
    finally:
        with realm.lock:
            del realm.pending[name]
            if ready:
                realm.catalogs[name] = catalog
                realm.principal_roles[SERVICE_ADMIN].add((name, CATALOG_ADMIN))
    if not ready:
        catalog.stop()
        raise PolarisError(503, "ServiceUnavailableException",
                           "the Iceberg REST server did not start")
    return 201, definition


def delete_catalog(realm: Realm, catalog: Catalog) -> tuple[int, Any]:
    """A catalog is dropped only when it holds no namespace and no role but catalog_admin."""
    status, raw = backend(catalog.port, "GET", "/v1/namespaces")
    namespaces = json.loads(raw).get("namespaces") if status == 200 else None
    if namespaces or set(catalog.roles) - {CATALOG_ADMIN}:
        raise bad_request(f"Catalog {catalog.name} cannot be dropped, it is not empty")
    threading.Thread(target=catalog.stop, daemon=True).start()
    del realm.catalogs[catalog.name]
    for assigned in realm.principal_roles.values():
        for entry in [e for e in assigned if e[0] == catalog.name]:
            assigned.discard(entry)
    return 204, None


# -- Iceberg REST catalog API --------------------------------------------------------------------


def config(realm: Realm, query: str) -> dict[str, Any]:
    """CatalogConfigHandler.getConfig."""
    warehouse = (urllib.parse.parse_qs(query).get("warehouse") or [""])[0]
    if not warehouse:
        raise bad_request("Please specify a warehouse")
    catalog = realm.catalogs.get(warehouse)
    if catalog is None:
        raise not_found(f"Unable to find warehouse {warehouse}")
    status, raw = backend(catalog.port, "GET", "/v1/config")
    served = json.loads(raw) if status == 200 else {}
    endpoints = list(served.get("endpoints") or [])
    endpoints += [f"{m} /polaris/v1/{{prefix}}/namespaces/{{namespace}}/generic-tables{tail}"
                  for m, tail in (("GET", ""), ("POST", ""), ("GET", "/{generic-table}"),
                                  ("DELETE", "/{generic-table}"))]
    return {"defaults": {**(served.get("defaults") or {}), **catalog.properties},
            "overrides": {"prefix": warehouse, "namespace-separator": "%1F"},
            "endpoints": endpoints}


def delegation(headers: dict[str, str]) -> bool:
    value = next((v for k, v in headers.items() if k.lower() == DELEGATION_HEADER.lower()), "")
    return "vended-credentials" in value


def operation(method: str, rest: list[str], query: dict[str, list[str]], body: bytes,
              delegated: bool) -> str:
    """The PolarisAuthorizableOperation of an Iceberg REST call (rest: after the prefix)."""
    match (method, rest):
        case ("GET", ["namespaces"]):
            return "LIST_NAMESPACES"
        case ("POST", ["namespaces"]):
            return "CREATE_NAMESPACE"
        case ("GET", ["namespaces", _]):
            return "LOAD_NAMESPACE_METADATA"
        case ("HEAD", ["namespaces", _]):
            return "NAMESPACE_EXISTS"
        case ("DELETE", ["namespaces", _]):
            return "DROP_NAMESPACE"
        case ("POST", ["namespaces", _, "properties"]):
            return "UPDATE_NAMESPACE_PROPERTIES"
        case ("GET", ["namespaces", _, "tables"]):
            return "LIST_TABLES"
        case ("POST", ["namespaces", _, "tables"]):
            staged = bool((json.loads(body or b"{}") or {}).get("stage-create"))
            base = "CREATE_TABLE_STAGED" if staged else "CREATE_TABLE_DIRECT"
            return base + ("_WITH_WRITE_DELEGATION" if delegated else "")
        case ("POST", ["namespaces", _, "register"]):
            return "REGISTER_TABLE"
        case ("GET", ["namespaces", _, "tables", _]) | \
             ("GET", ["namespaces", _, "tables", _, "credentials"]):
            return "LOAD_TABLE_WITH_READ_DELEGATION" if delegated or len(rest) == 5 \
                else "LOAD_TABLE"
        case ("HEAD", ["namespaces", _, "tables", _]):
            return "TABLE_EXISTS"
        case ("POST", ["namespaces", _, "tables", _]):
            return "UPDATE_TABLE"
        case ("POST", ["namespaces", _, "tables", _, "metrics"]):
            return "REPORT_READ_METRICS"
        case ("DELETE", ["namespaces", _, "tables", _]):
            purge = (query.get("purgeRequested") or ["false"])[0].lower() == "true"
            return "DROP_TABLE_WITH_PURGE" if purge else "DROP_TABLE_WITHOUT_PURGE"
        case ("POST", ["tables", "rename"]):
            return "RENAME_TABLE"
        case ("POST", ["transactions", "commit"]):
            return "COMMIT_TRANSACTION"
        case ("GET", ["namespaces", _, "views"]):
            return "LIST_VIEWS"
        case ("POST", ["namespaces", _, "views"]):
            return "CREATE_VIEW"
        case ("GET", ["namespaces", _, "views", _]):
            return "LOAD_VIEW"
        case ("HEAD", ["namespaces", _, "views", _]):
            return "VIEW_EXISTS"
        case ("POST", ["namespaces", _, "views", _]):
            return "REPLACE_VIEW"
        case ("DELETE", ["namespaces", _, "views", _]):
            return "DROP_VIEW"
        case ("POST", ["views", "rename"]):
            return "RENAME_VIEW"
    raise not_found(f"No endpoint {method} /v1/{{prefix}}/{'/'.join(rest)}")


def catalog_api(realm: Realm, session: Session, method: str, path: str, query: str,
                body: bytes, headers: dict[str, str]) -> tuple[int, Any, bytes | None]:
    parts = path.split("/")  # ["", "v1", prefix, ...]
    if len(parts) < 4:
        raise not_found(path)
    catalog = find_catalog(realm, urllib.parse.unquote(parts[2]))
    rest = [urllib.parse.unquote(p) for p in parts[3:]]
    params = urllib.parse.parse_qs(query)
    delegated = delegation(headers)
    op = operation(method, rest, params, body, delegated)
    write = False
    if op == "LOAD_TABLE_WITH_READ_DELEGATION":
        # IcebergCatalogHandler.authorizeLoadTable: the most the principal may, write first
        try:
            authorize(realm, session, "LOAD_TABLE_WITH_WRITE_DELEGATION", catalog)
            write = True
        except PolarisError:
            authorize(realm, session, op, catalog)
    else:
        authorize(realm, session, op, catalog)
        write = op.endswith("_WITH_WRITE_DELEGATION")
    if op == "DROP_TABLE_WITH_PURGE" and not catalog.purge_enabled:
        raise forbidden(f"Unable to purge entity: {rest[3]}. To enable this feature, set the "
                        f"Polaris configuration DROP_WITH_PURGE_ENABLED or the catalog "
                        f"configuration {PURGE_SETTING}")
    if op.startswith("CREATE_TABLE") and body:
        request = json.loads(body) or {}
        location = request.get("location")
        check_allowed(catalog, [location] if location else [],
                      f"{rest[1]}.{request.get('name', '')}")
    if op == "DROP_NAMESPACE" and catalog.generic.get(rest[1]):
        raise PolarisError(409, "NamespaceNotEmptyException",
                           f"Namespace {rest[1]} is not empty")
    credentials_only = op == "LOAD_TABLE_WITH_READ_DELEGATION" and len(rest) == 5
    forward = headers_for_backend(headers)
    # the server serves one catalog without a prefix; credentials come from the table itself
    backend_path = "/".join(["", "v1", *(parts[3:7] if credentials_only else parts[3:])])
    backend_method = "GET" if credentials_only else method
    status, raw = backend(catalog.port, backend_method,
                          backend_path + (f"?{query}" if query else ""), body, forward)
    vends = op == "LOAD_TABLE_WITH_READ_DELEGATION" or op.endswith("_WITH_WRITE_DELEGATION")
    if status != 200 or not raw or not vends:
        if op == "DROP_NAMESPACE" and status in (200, 204):
            catalog.generic.pop(rest[1], None)
        return status, None, raw
    reply = json.loads(raw)
    metadata = reply.get("metadata") or {}
    locations = table_locations(metadata)
    check_allowed(catalog, locations, f"{rest[1]}.{rest[3] if len(rest) > 3 else ''}")
    storage = vended(catalog, locations, write)
    if credentials_only:
        return 200, {"storage-credentials": [{"prefix": metadata.get("location", ""),
                                              "config": storage}]}, None
    reply["config"] = {**(reply.get("config") or {}), **storage}
    reply["storage-credentials"] = [{"prefix": metadata.get("location", ""), "config": storage}]
    return 200, reply, None


def headers_for_backend(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() in ("content-type", "accept")}


def check_allowed(catalog: Catalog, locations: list[str], identifier: str) -> None:
    """Table locations must lie within the catalog's allowed locations (403 like Polaris)."""
    allowed = [str(loc) for loc in catalog.storage.get("allowedLocations") or []]
    outside = [loc for loc in locations if not any(within(loc, a) for a in allowed)]
    if outside:
        raise forbidden(f"Invalid locations '{java_set(set(outside))}' for identifier "
                        f"'{identifier}': Location '{outside[0]}' is not in the list of allowed "
                        f"locations: {java_set(set(allowed))}")


# -- Polaris' generic tables ---------------------------------------------------------------------


def generic_tables(realm: Realm, session: Session, method: str, path: str,
                   body: bytes) -> tuple[int, Any]:
    """``{prefix}/namespaces/{ns}/generic-tables[/{name}]`` (GenericTableCatalogHandler)."""
    parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/")]
    if len(parts) < 4 or parts[1] != "namespaces" or parts[3] != "generic-tables":
        raise not_found(path)
    catalog = find_catalog(realm, parts[0])
    with realm.lock:
        return generic_table_call(realm, session, catalog, method, parts[2], parts[4:], body)


def generic_table_call(realm: Realm, session: Session, catalog: Catalog, method: str,
                       namespace: str, rest: list[str], body: bytes) -> tuple[int, Any]:
    tables = catalog.generic.setdefault(namespace, {})
    match (method, rest):
        case ("GET", []):
            authorize(realm, session, "LIST_TABLES", catalog)
            require_namespace(catalog, namespace)
            return 200, {"identifiers": [{"namespace": namespace.split("\x1f"), "name": n}
                                         for n in sorted(tables)], "next-page-token": None}
        case ("POST", []):
            authorize(realm, session, "CREATE_TABLE_DIRECT", catalog)
            require_namespace(catalog, namespace)
            request = json.loads(body or b"{}")
            name, table_format = request.get("name"), request.get("format")
            if not name or not table_format:
                raise bad_request("name and format are required")
            path = (f"/v1/namespaces/{urllib.parse.quote(namespace)}/tables/"
                    f"{urllib.parse.quote(name)}")
            exists = backend(catalog.port, "HEAD", path)[0] in (200, 204)
            if name in tables or exists:
                raise PolarisError(409, "AlreadyExistsException",
                                   f"Iceberg table, view, or generic table already exists: "
                                   f"{namespace}.{name}")
            if request.get("base-location"):
                check_allowed(catalog, [request["base-location"]], f"{namespace}.{name}")
            table = {k: request[k] for k in ("name", "format", "base-location", "doc",
                                             "properties") if k in request}
            tables[name] = table
            return 200, {"table": table}
        case ("GET", [name]):
            authorize(realm, session, "LOAD_TABLE", catalog)
            if name not in tables:
                raise PolarisError(404, "NoSuchTableException",
                                   f"Generic table does not exist: {namespace}.{name}")
            return 200, {"table": tables[name]}
        case ("DELETE", [name]):
            authorize(realm, session, "DROP_TABLE_WITHOUT_PURGE", catalog)
            if tables.pop(name, None) is None:
                raise PolarisError(404, "NoSuchTableException",
                                   f"Generic table does not exist: {namespace}.{name}")
            return 204, None
    raise not_found(f"{method} {GENERIC_PREFIX}.../namespaces/{namespace}/generic-tables")


def require_namespace(catalog: Catalog, namespace: str) -> None:
    found = backend(catalog.port, "HEAD", f"/v1/namespaces/{urllib.parse.quote(namespace)}")[0]
    if found not in (200, 204):
        raise PolarisError(404, "NoSuchNamespaceException",
                           f"Namespace does not exist: {namespace}")


def main() -> None:
    state = State()
    handler = make_handler(state)
    servers = [ThreadingHTTPServer(("0.0.0.0", port), handler)
               for port in (API_PORT, MANAGEMENT_PORT)]
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    principals = sum(len(r.principals) for r in state.realms.values())
    print(f"Polaris stand-in: API :{API_PORT}, management :{MANAGEMENT_PORT}, realms "
          f"{', '.join(state.realm_names)} (header {state.header}), {principals} bootstrap "
          f"principal(s)", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    finally:
        state.stop()
        for server in servers:
            server.shutdown()


if __name__ == "__main__":
    main()
