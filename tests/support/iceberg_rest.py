"""An Iceberg REST catalog test double over pyiceberg's ``SqlCatalog`` (sqlite + ``file://``).

No Polaris (or other REST catalog) can be installed here, so this serves the subset of the
Iceberg REST API that pyiceberg's ``RestCatalog`` uses, laid out like Polaris:

* ``{base}/v1/config?warehouse=W`` answers ``overrides: {prefix: W}``, so every catalog call
  goes to ``{base}/v1/W/...``; an unknown warehouse is a 404;
* ``{base}/v1/oauth/tokens`` checks ``client_id``/``client_secret`` (client_credentials grant)
  and issues a bearer token; every other endpoint requires a token it issued (401 otherwise);
* namespaces: list, create, load, exists (HEAD), drop, update properties;
* tables: list, create, load, exists (HEAD), drop (``purgeRequested`` purges files), commit;
* views: list (always empty);
* the Polaris rules the fixtures must meet, off unless a test turns them on (so the fixtures'
  messages are tested here; the stack's Polaris stand-in enforces them for real, see
  tests/images/polaris): operations refused with Polaris' 403 (``forbidden``), purges refused
  unless ``purge_enabled`` (the catalog property is in ``/v1/config``'s defaults), Polaris
  generic tables (``{base}/polaris/v1/{prefix}/namespaces/{ns}/generic-tables``) that keep a
  namespace from being dropped, and realms (header ``Polaris-Realm``; an unknown one is 404
  ``MissingOrInvalidRealm``).

Errors use the REST spec's ``{"error": {"message", "type", "code"}}`` body with the status
codes pyiceberg maps to its exceptions (404 NoSuch*, 409 AlreadyExists/NotEmpty/CommitFailed,
400 BadRequest, 401 NotAuthorized). Catalog calls are serialised by one lock: this is a test
double, and sqlite prefers a single writer.
"""

from __future__ import annotations

import json
import secrets
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from pydantic import ValidationError
from pyiceberg.catalog.rest import CreateTableRequest
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import (
    CommitFailedException,
    NamespaceAlreadyExistsError,
    NamespaceNotEmptyError,
    NoSuchNamespaceError,
    NoSuchTableError,
    TableAlreadyExistsError,
)
from pyiceberg.partitioning import UNPARTITIONED_PARTITION_SPEC
from pyiceberg.table import CommitTableRequest, Table
from pyiceberg.table.sorting import UNSORTED_SORT_ORDER
from pyiceberg.typedef import Identifier

from images.polaris.polaris_standin import PolarisError
from images.polaris.polaris_standin import operation as polaris_operation

#: The catalog property without which Polaris refuses purges, and its realm header.
PURGE_SETTING = "polaris.config.drop-with-purge.enabled"
REALM_HEADER = "Polaris-Realm"

#: pyiceberg's default separator between namespace levels in a path segment (``%1F``).
NAMESPACE_SEPARATOR = "\x1f"

#: Endpoints advertised in ``/v1/config``; pyiceberg refuses calls to endpoints not listed.
ENDPOINTS = [
    "GET /v1/{prefix}/namespaces",
    "POST /v1/{prefix}/namespaces",
    "GET /v1/{prefix}/namespaces/{namespace}",
    "HEAD /v1/{prefix}/namespaces/{namespace}",
    "DELETE /v1/{prefix}/namespaces/{namespace}",
    "POST /v1/{prefix}/namespaces/{namespace}/properties",
    "GET /v1/{prefix}/namespaces/{namespace}/tables",
    "POST /v1/{prefix}/namespaces/{namespace}/tables",
    "GET /v1/{prefix}/namespaces/{namespace}/tables/{table}",
    "HEAD /v1/{prefix}/namespaces/{namespace}/tables/{table}",
    "POST /v1/{prefix}/namespaces/{namespace}/tables/{table}",
    "DELETE /v1/{prefix}/namespaces/{namespace}/tables/{table}",
    "GET /v1/{prefix}/namespaces/{namespace}/views",
]


class RestError(Exception):
    """An error answered in the Iceberg REST error format."""

    def __init__(self, status: HTTPStatus, kind: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message


#: pyiceberg exceptions raised by SqlCatalog and the REST error each one becomes.
_ERRORS: list[tuple[type[Exception], HTTPStatus, str]] = [
    (NoSuchNamespaceError, HTTPStatus.NOT_FOUND, "NoSuchNamespaceException"),
    (NoSuchTableError, HTTPStatus.NOT_FOUND, "NoSuchTableException"),
    (NamespaceAlreadyExistsError, HTTPStatus.CONFLICT, "AlreadyExistsException"),
    (TableAlreadyExistsError, HTTPStatus.CONFLICT, "AlreadyExistsException"),
    (NamespaceNotEmptyError, HTTPStatus.CONFLICT, "NamespaceNotEmptyException"),
    (CommitFailedException, HTTPStatus.CONFLICT, "CommitFailedException"),
    (ValidationError, HTTPStatus.BAD_REQUEST, "BadRequestException"),
    (ValueError, HTTPStatus.BAD_REQUEST, "BadRequestException"),
]


@dataclass
class Reply:
    """What a route answers: a status and a JSON body (None for an empty body)."""

    status: HTTPStatus
    body: Any = None


@dataclass
class IcebergRestCatalog:
    """The catalog state behind the HTTP layer: credentials, tokens and the SqlCatalog."""

    root: Path
    warehouse: str
    client_id: str
    client_secret: str = field(repr=False)
    catalog: SqlCatalog = field(init=False)
    tokens: set[str] = field(default_factory=set, repr=False)
    lock: threading.RLock = field(default_factory=threading.RLock)
    #: Polaris operations (``CREATE_NAMESPACE``, ...) refused with Polaris' 403
    forbidden: set[str] = field(default_factory=set)
    #: ``polaris.config.drop-with-purge.enabled`` of the catalog
    purge_enabled: bool = True
    #: realms served (header Polaris-Realm; absent means the first); empty: no realm check
    realms: tuple[str, ...] = ()
    #: Polaris generic tables: namespace -> name -> table
    generic: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    #: Polaris operations that get no answer (a catalog that hangs after the probe) until
    #: ``released`` is set (at the server's stop)
    hangs: set[str] = field(default_factory=set)
    released: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        data = self.root / "warehouse"
        data.mkdir(parents=True, exist_ok=True)
        self.catalog = SqlCatalog(
            self.warehouse,
            uri=f"sqlite:///{self.root / 'catalog.db'}",
            warehouse=data.as_uri(),
        )

    @property
    def data_dir(self) -> Path:
        """Where table data and metadata files are written (``file://`` warehouse)."""
        return self.root / "warehouse"

    # -- auth ---------------------------------------------------------------------------------

    def issue_token(self, form: dict[str, list[str]]) -> Reply:
        grant = form.get("grant_type", [""])[0]
        if grant != "client_credentials":
            return Reply(
                HTTPStatus.BAD_REQUEST,
                {"error": "unsupported_grant_type",
                 "error_description": f"grant_type {grant!r} is not supported"},
            )
        given_id = form.get("client_id", [""])[0]
        given_secret = form.get("client_secret", [""])[0]
        if not (
            secrets.compare_digest(given_id, self.client_id)
            and secrets.compare_digest(given_secret, self.client_secret)
        ):
            return Reply(
                HTTPStatus.UNAUTHORIZED,
                {"error": "invalid_client",
                 "error_description": "The client_id or client_secret is not valid"},
            )
        token = secrets.token_urlsafe(24)
        with self.lock:
            self.tokens.add(token)
        return Reply(
            HTTPStatus.OK,
            {"access_token": token, "token_type": "bearer", "expires_in": 3600,
             "issued_token_type": "urn:ietf:params:oauth:token-type:access_token"},
        )

    def check_token(self, authorization: str | None) -> None:
        scheme, _, token = (authorization or "").partition(" ")
        with self.lock:
            known = token in self.tokens
        if scheme.lower() != "bearer" or not known:
            raise RestError(
                HTTPStatus.UNAUTHORIZED, "NotAuthorizedException",
                "Missing or invalid bearer token: get one from /v1/oauth/tokens",
            )

    # -- routes -------------------------------------------------------------------------------

    def config(self, query: dict[str, list[str]]) -> Reply:
        warehouse = query.get("warehouse", [""])[0]
        if not warehouse:
            raise RestError(HTTPStatus.BAD_REQUEST, "BadRequestException",
                            "Please specify a warehouse")
        self._check_warehouse(warehouse)
        defaults = {PURGE_SETTING: "true"} if self.purge_enabled else {}
        return Reply(
            HTTPStatus.OK,
            {"defaults": defaults, "overrides": {"prefix": warehouse}, "endpoints": ENDPOINTS},
        )

    # -- Polaris' rules (off unless a test sets them) -----------------------------------------

    def check_realm(self, realm: str | None) -> None:
        if self.realms and (realm or self.realms[0]) not in self.realms:
            raise RestError(HTTPStatus.NOT_FOUND, "MissingOrInvalidRealm",
                            "Missing or invalid realm")

    def authorize(self, operation: str) -> None:
        """Polaris' 403 for an operation the test marked as not granted; no answer (until the
        server stops) for one it marked as hanging."""
        if operation in self.hangs:
            self.released.wait(120)
            raise RestError(HTTPStatus.SERVICE_UNAVAILABLE, "ServiceUnavailableException",
                            "stopped while hanging")
        if operation in self.forbidden:
            raise RestError(
                HTTPStatus.FORBIDDEN, "ForbiddenException",
                f"Principal '{self.client_id}' with activated PrincipalRoles '[service_admin]' "
                f"and activated grants via '[catalog_admin, service_admin]' is not authorized "
                f"for op {operation}")

    def generic_tables(self, method: str, segments: list[str], body: bytes) -> Reply:
        """``{prefix}/namespaces/{ns}/generic-tables[/{name}]``."""
        self._check_warehouse(segments[0])
        with self.lock:
            match (method, segments[1:]):
                case ("GET", ["namespaces", ns, "generic-tables"]):
                    self.authorize("LIST_TABLES")
                    self._require_namespace(_ns(ns))
                    names = sorted(self.generic.get(ns, {}))
                    return Reply(HTTPStatus.OK, {"identifiers": [
                        {"namespace": list(_ns(ns)), "name": n} for n in names]})
                case ("POST", ["namespaces", ns, "generic-tables"]):
                    self.authorize("CREATE_TABLE_DIRECT")
                    self._require_namespace(_ns(ns))
                    table = _json(body)
                    self.generic.setdefault(ns, {})[str(table["name"])] = table
                    return Reply(HTTPStatus.OK, {"table": table})
                case ("DELETE", ["namespaces", ns, "generic-tables", name]):
                    self.authorize("DROP_TABLE_WITHOUT_PURGE")
                    if self.generic.get(ns, {}).pop(name, None) is None:
                        raise RestError(HTTPStatus.NOT_FOUND, "NoSuchTableException",
                                        f"Generic table does not exist: {ns}.{name}")
                    return Reply(HTTPStatus.NO_CONTENT)
        raise RestError(HTTPStatus.NOT_FOUND, "NotFoundException", "No such endpoint")

    def _check_warehouse(self, warehouse: str) -> None:
        if warehouse != self.warehouse:
            raise RestError(HTTPStatus.NOT_FOUND, "NotFoundException",
                            f"Unable to find warehouse {warehouse}")

    def dispatch(
        self, method: str, segments: list[str], query: dict[str, list[str]], body: bytes
    ) -> Reply:
        """Route ``/v1/{prefix}/...`` (``segments`` start after ``v1``) to a catalog call."""
        if not segments:
            raise RestError(HTTPStatus.NOT_FOUND, "NotFoundException", "No such endpoint")
        self._check_warehouse(segments[0])
        rest = segments[1:]
        self.authorize(_operation(method, rest, query))
        with self.lock:
            match (method, rest):
                case ("GET", ["namespaces"]):
                    return self.list_namespaces(query)
                case ("POST", ["namespaces"]):
                    return self.create_namespace(_json(body))
                case ("GET", ["namespaces", ns]):
                    return self.load_namespace(_ns(ns))
                case ("HEAD", ["namespaces", ns]):
                    exists = self.catalog.namespace_exists(_ns(ns))
                    return Reply(HTTPStatus.NO_CONTENT if exists else HTTPStatus.NOT_FOUND)
                case ("DELETE", ["namespaces", ns]):
                    if self.generic.get(ns) or self.catalog.list_namespaces(_ns(ns)):
                        raise RestError(HTTPStatus.CONFLICT, "NamespaceNotEmptyException",
                                        f"Namespace {ns} is not empty")
                    self.catalog.drop_namespace(_ns(ns))
                    return Reply(HTTPStatus.NO_CONTENT)
                case ("POST", ["namespaces", ns, "properties"]):
                    return self.update_namespace(_ns(ns), _json(body))
                case ("GET", ["namespaces", ns, "tables"]):
                    return self.list_tables(_ns(ns))
                case ("POST", ["namespaces", ns, "tables"]):
                    return self.create_table(_ns(ns), body)
                case ("GET", ["namespaces", ns, "tables", table]):
                    return _table_reply(self.catalog.load_table((*_ns(ns), table)))
                case ("HEAD", ["namespaces", ns, "tables", table]):
                    exists = self.catalog.table_exists((*_ns(ns), table))
                    return Reply(HTTPStatus.NO_CONTENT if exists else HTTPStatus.NOT_FOUND)
                case ("POST", ["namespaces", ns, "tables", table]):
                    return self.commit(_ns(ns), table, body)
                case ("DELETE", ["namespaces", ns, "tables", table]):
                    purge = query.get("purgeRequested", ["false"])[0].lower() == "true"
                    if purge and not self.purge_enabled:
                        raise RestError(
                            HTTPStatus.FORBIDDEN, "ForbiddenException",
                            f"Unable to purge entity: {table}. To enable this feature, set the "
                            f"Polaris configuration DROP_WITH_PURGE_ENABLED or the catalog "
                            f"configuration {PURGE_SETTING}")
                    drop = self.catalog.purge_table if purge else self.catalog.drop_table
                    drop((*_ns(ns), table))
                    return Reply(HTTPStatus.NO_CONTENT)
                case ("GET", ["namespaces", ns, "views"]):
                    self._require_namespace(_ns(ns))
                    return Reply(HTTPStatus.OK, {"identifiers": []})
        raise RestError(HTTPStatus.NOT_FOUND, "NotFoundException",
                        f"No endpoint {method} /v1/{'/'.join(segments)}")

    def _require_namespace(self, namespace: Identifier) -> None:
        if not self.catalog.namespace_exists(namespace):
            raise NoSuchNamespaceError(f"Namespace does not exist: {'.'.join(namespace)}")

    def list_namespaces(self, query: dict[str, list[str]]) -> Reply:
        parent = _ns(query["parent"][0]) if query.get("parent") else ()
        if parent:
            self._require_namespace(parent)
        found = self.catalog.list_namespaces(parent)
        return Reply(HTTPStatus.OK, {"namespaces": [list(ns) for ns in found]})

    def create_namespace(self, payload: dict[str, Any]) -> Reply:
        namespace = tuple(payload.get("namespace") or ())
        if not namespace:
            raise RestError(HTTPStatus.BAD_REQUEST, "BadRequestException", "Empty namespace")
        properties = {str(k): str(v) for k, v in (payload.get("properties") or {}).items()}
        self.catalog.create_namespace(namespace, properties)
        return Reply(HTTPStatus.OK, {"namespace": list(namespace), "properties": properties})

    def load_namespace(self, namespace: Identifier) -> Reply:
        properties = self.catalog.load_namespace_properties(namespace)
        return Reply(HTTPStatus.OK, {"namespace": list(namespace), "properties": properties})

    def update_namespace(self, namespace: Identifier, payload: dict[str, Any]) -> Reply:
        summary = self.catalog.update_namespace_properties(
            namespace, set(payload.get("removals") or []), payload.get("updates") or {}
        )
        return Reply(
            HTTPStatus.OK,
            {"removed": summary.removed, "updated": summary.updated, "missing": summary.missing},
        )

    def list_tables(self, namespace: Identifier) -> Reply:
        self._require_namespace(namespace)
        identifiers = [
            {"namespace": list(ident[:-1]), "name": ident[-1]}
            for ident in self.catalog.list_tables(namespace)
        ]
        return Reply(HTTPStatus.OK, {"identifiers": identifiers})

    def create_table(self, namespace: Identifier, body: bytes) -> Reply:
        payload = _json(body)
        # The client leaves out None-valued fields that the model declares without defaults.
        for optional in ("location", "partition-spec", "write-order"):
            payload.setdefault(optional, None)
        request = CreateTableRequest.model_validate(payload)
        if request.stage_create:
            raise RestError(HTTPStatus.BAD_REQUEST, "BadRequestException",
                            "stage-create is not supported by this test double")
        table = self.catalog.create_table(
            (*namespace, request.name),
            schema=request.table_schema,
            location=request.location,
            partition_spec=request.partition_spec or UNPARTITIONED_PARTITION_SPEC,
            sort_order=request.write_order or UNSORTED_SORT_ORDER,
            properties=request.properties,
        )
        return _table_reply(table)

    def commit(self, namespace: Identifier, table: str, body: bytes) -> Reply:
        request = CommitTableRequest.model_validate_json(body)
        current = self.catalog.load_table((*namespace, table))
        response = self.catalog.commit_table(current, request.requirements, request.updates)
        return Reply(HTTPStatus.OK, json.loads(response.model_dump_json()))


def _operation(method: str, rest: list[str], query: dict[str, list[str]]) -> str:
    """Polaris' name of an Iceberg REST call (``PolarisAuthorizableOperation``), as the stack's
    Polaris stand-in names it (pyiceberg always asks for vended credentials)."""
    try:
        return polaris_operation(method, rest, query, b"", True)
    except PolarisError:
        return f"{method} {'/'.join(rest)}"


def _json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"{}")
    except json.JSONDecodeError as exc:
        raise RestError(
            HTTPStatus.BAD_REQUEST, "BadRequestException", f"Invalid JSON: {exc}"
        ) from exc
    if not isinstance(data, dict):
        raise RestError(HTTPStatus.BAD_REQUEST, "BadRequestException", "Expected a JSON object")
    return data


def _ns(segment: str) -> Identifier:
    """A namespace path segment (already percent-decoded) as an identifier tuple."""
    return tuple(segment.split(NAMESPACE_SEPARATOR))


def _table_reply(table: Table) -> Reply:
    """A ``LoadTableResult`` (pyiceberg's ``TableResponse``) for ``table``."""
    return Reply(HTTPStatus.OK, {
        "metadata-location": table.metadata_location,
        "metadata": json.loads(table.metadata.model_dump_json()),
        "config": {},
    })


def _handler_class(state: IcebergRestCatalog, base_path: str) -> type[BaseHTTPRequestHandler]:
    """A request handler bound to ``state``, serving under ``base_path`` (e.g. /api/catalog)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the test output is not the place for an access log."""

        def _send(self, reply: Reply) -> None:
            payload = b"" if reply.body is None else json.dumps(reply.body).encode()
            self.send_response(reply.status)
            if payload:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if payload and self.command != "HEAD":
                self.wfile.write(payload)

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _handle(self) -> None:
            parts = urlsplit(self.path)
            query = parse_qs(parts.query, keep_blank_values=True)
            body = self._body()
            try:
                self._send(self._route(parts.path, query, body))
            except RestError as exc:
                self._send(_error(exc.status, exc.kind, exc.message))
            except Exception as exc:
                self._send(_mapped_error(exc))

        def _route(self, path: str, query: dict[str, list[str]], body: bytes) -> Reply:
            state.check_realm(self.headers.get(REALM_HEADER))
            generic = base_path + "/polaris/v1/"
            if path.startswith(generic):
                state.check_token(self.headers.get("Authorization"))
                segments = [unquote(s) for s in path[len(generic):].strip("/").split("/")]
                return state.generic_tables(self.command, segments, body)
            if not path.startswith(base_path + "/v1/"):
                raise RestError(HTTPStatus.NOT_FOUND, "NotFoundException",
                                f"Not under {base_path}/v1: {path}")
            raw = path[len(base_path) + len("/v1/"):].strip("/")
            segments = [unquote(s) for s in raw.split("/")] if raw else []
            if self.command == "POST" and segments == ["oauth", "tokens"]:
                form = parse_qs(body.decode(), keep_blank_values=True)
                return state.issue_token(form)
            state.check_token(self.headers.get("Authorization"))
            if self.command == "GET" and segments == ["config"]:
                return state.config(query)
            return state.dispatch(self.command, segments, query, body)

        do_GET = do_POST = do_DELETE = do_HEAD = _handle

    return Handler


def _error(status: HTTPStatus, kind: str, message: str) -> Reply:
    return Reply(status, {"error": {"message": message, "type": kind, "code": int(status)}})


def _mapped_error(exc: Exception) -> Reply:
    for exc_type, status, kind in _ERRORS:
        if isinstance(exc, exc_type):
            return _error(status, kind, str(exc))
    return _error(HTTPStatus.INTERNAL_SERVER_ERROR, "ServerErrorException",
                  f"{type(exc).__name__}: {exc}")


@dataclass
class IcebergRestServer:
    """The catalog served over HTTP in a background thread, under ``base_path``."""

    warehouse: str = "floe_it_warehouse"
    client_id: str = "floe-it-client"
    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(16), repr=False)
    base_path: str = "/api/catalog"
    host: str = "127.0.0.1"
    root: Path | None = None
    state: IcebergRestCatalog | None = None
    _server: ThreadingHTTPServer | None = field(default=None, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)

    @property
    def uri(self) -> str:
        """The catalog URI a client is given (what ``POLARIS_URI`` is set to)."""
        assert self._server is not None, "start() first"
        return f"http://{self.host}:{self._server.server_address[1]}{self.base_path}"

    @property
    def credential(self) -> str:
        """``client_id:client_secret`` as ``POLARIS_CREDENTIAL`` carries it."""
        return f"{self.client_id}:{self.client_secret}"

    def env(self) -> dict[str, str]:
        """The ``POLARIS_*`` variables that point a run at this catalog."""
        return {"POLARIS_URI": self.uri, "POLARIS_WAREHOUSE": self.warehouse,
                "POLARIS_CREDENTIAL": self.credential, "POLARIS_SCOPE": "PRINCIPAL_ROLE:ALL"}

    @property
    def rules(self) -> IcebergRestCatalog:
        """The catalog state whose Polaris rules a test turns on (``forbidden``, ...)."""
        assert self.state is not None, "start() first"
        return self.state

    def start(self) -> None:
        """Create the sqlite catalog in a temp dir and serve it on a free port."""
        self.root = Path(tempfile.mkdtemp(prefix="floe-it-iceberg-"))
        self.state = IcebergRestCatalog(
            self.root, self.warehouse, self.client_id, self.client_secret
        )
        self._server = ThreadingHTTPServer((self.host, 0), _handler_class(self.state,
                                                                          self.base_path))
        self._server.daemon_threads = True
        serve: Callable[[], None] = self._server.serve_forever
        self._thread = threading.Thread(target=serve, name="iceberg-rest", daemon=True)
        self._thread.start()

    def namespace_exists(self, namespace: str) -> bool:
        """Server-side view (no HTTP, no token): does the catalog still hold ``namespace``?"""
        assert self.state is not None, "start() first"
        with self.state.lock:
            return bool(self.state.catalog.namespace_exists(namespace))

    def tables_in(self, namespace: str) -> list[Identifier]:
        """Server-side view of the tables registered under ``namespace`` (none if it is gone)."""
        assert self.state is not None, "start() first"
        with self.state.lock:
            if not self.state.catalog.namespace_exists(namespace):
                return []
            return list(self.state.catalog.list_tables(namespace))

    def data_files(self, namespace: str) -> list[Path]:
        """Parquet data files left under the namespace's directory of the warehouse."""
        assert self.state is not None, "start() first"
        return sorted((self.state.data_dir / namespace).rglob("*.parquet"))

    def stop(self) -> None:
        """Stop serving, close the catalog and remove its files. Idempotent."""
        if self.state is not None:
            self.state.released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self.state is not None:
            self.state.catalog.engine.dispose()
            self.state = None
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None
