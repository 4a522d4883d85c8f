"""Bootstrap of the stack's Apache Polaris: the catalog the fixtures use and the grants they need.

The ``polaris-bootstrap`` Job of ``manifests/polaris.yaml`` (beside this file) runs it with a plain
``python`` image: a verbatim copy of it is the ``polaris_bootstrap.py`` key of the
``polaris-bootstrap-script`` ConfigMap (``tests/manifests`` fails when the copy differs; run
``python tests/manifests/sync_bootstrap_script.py`` to refresh it). It therefore uses only the
standard library and imports nothing from ``floe_testing``.

Steps, each idempotent (HTTP 409 "already exists" counts as done), against the Polaris
management API (``spec/polaris-management-service.yml``):

1. wait until ``/q/health/ready`` on the management port answers 200;
2. ``POST /api/catalog/v1/oauth/tokens``: a token for the bootstrap principal (client
   credentials, scope ``PRINCIPAL_ROLE:ALL``);
3. ``POST /api/management/v1/catalogs``: an INTERNAL catalog on S3 (MinIO), base location
   ``s3://<bucket>/<catalog>``, path-style access, its allowed locations that prefix alone
   (Polaris refuses a catalog whose locations overlap another's: a whole-bucket catalog would
   leave no room for a second one in the bucket), purges enabled (the fixtures purge tables);
4. ``POST .../catalogs/{catalog}/catalog-roles``: a catalog role;
5. ``PUT .../catalogs/{catalog}/catalog-roles/{role}/grants``: ``CATALOG_MANAGE_CONTENT``;
6. ``PUT .../principal-roles/{principal_role}/catalog-roles/{catalog}``: the catalog role is
   assigned to the principal role of the bootstrap principal (``service_admin``).

Every request names the realm (header ``Polaris-Realm``) from ``POLARIS_REALM``: the stack's
Secret defines it once, for the server and this Job (unset: no header, the server's default
realm). A realm the server does not serve is a 404 ``MissingOrInvalidRealm``, reported naming
``POLARIS_REALM``.

Only ``endpointInternal`` is set on the storage configuration: Polaris reaches MinIO (S3 and
its STS, which vends each client short-lived credentials scoped to the table) at its in-cluster
address. No client-visible ``endpoint`` is set, because Polaris would hand it to every client
and override the one the client configured: tests outside the cluster reach MinIO only through
a port-forward, so they set ``s3.endpoint`` themselves and use the vended credentials.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: Environment variables read by :meth:`BootstrapSettings.from_env` (the Job sets them).
ENV_API_URL = "POLARIS_URL"
ENV_HEALTH_URL = "POLARIS_HEALTH_URL"
ENV_REALM = "POLARIS_REALM"
ENV_CLIENT_ID = "POLARIS_CLIENT_ID"
ENV_CLIENT_SECRET = "POLARIS_CLIENT_SECRET"  # noqa: S105 - the name of a variable, not a value
ENV_CATALOG = "POLARIS_WAREHOUSE"
ENV_BUCKET = "POLARIS_STORAGE_BUCKET"
ENV_S3_ENDPOINT = "POLARIS_S3_ENDPOINT_INTERNAL"
ENV_S3_REGION = "POLARIS_S3_REGION"
ENV_CATALOG_ROLE = "POLARIS_CATALOG_ROLE"
ENV_PRINCIPAL_ROLE = "POLARIS_PRINCIPAL_ROLE"
ENV_READY_TIMEOUT = "POLARIS_READY_TIMEOUT"

REQUIRED_ENV = (ENV_API_URL, ENV_HEALTH_URL, ENV_CLIENT_ID, ENV_CLIENT_SECRET, ENV_CATALOG,
                ENV_BUCKET, ENV_S3_ENDPOINT)

DEFAULT_REGION = "us-east-1"
DEFAULT_CATALOG_ROLE = "floe_content_manager"
#: Principal role Polaris gives the bootstrap principal of a realm.
DEFAULT_PRINCIPAL_ROLE = "service_admin"
DEFAULT_SCOPE = "PRINCIPAL_ROLE:ALL"
PRIVILEGE = "CATALOG_MANAGE_CONTENT"
REALM_HEADER = "Polaris-Realm"

TOKEN_PATH = "/api/catalog/v1/oauth/tokens"  # noqa: S105 - a URL path
MANAGEMENT_PATH = "/api/management/v1"

DONE = "created"
ALREADY = "already present"


class BootstrapError(RuntimeError):
    """A bootstrap step failed; the message names the step, the URL and Polaris' answer."""


@dataclass(frozen=True)
class BootstrapSettings:
    """Where Polaris is, who bootstraps it, and what the catalog looks like."""

    api_url: str
    health_url: str
    client_id: str
    client_secret: str
    catalog: str
    bucket: str
    s3_endpoint: str
    #: empty: no realm header (the server's default realm)
    realm: str = ""
    s3_region: str = DEFAULT_REGION
    catalog_role: str = DEFAULT_CATALOG_ROLE
    principal_role: str = DEFAULT_PRINCIPAL_ROLE
    scope: str = DEFAULT_SCOPE
    ready_timeout: float = 300.0
    ready_interval: float = 1.0
    request_timeout: float = 10.0

    def __repr__(self) -> str:
        return (f"BootstrapSettings(api_url={self.api_url!r}, catalog={self.catalog!r}, "
                f"realm={self.realm!r}, client_id=<set>, client_secret=<hidden>)")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> BootstrapSettings:
        """BootstrapSettings from environment variables; every missing required one is named."""
        missing = [name for name in REQUIRED_ENV if not env.get(name)]
        if missing:
            raise BootstrapError(
                "missing environment variable(s) " + ", ".join(missing)
                + " (the polaris-bootstrap Job sets them; see manifests/polaris.yaml)"
            )
        timeout_text = env.get(ENV_READY_TIMEOUT) or "300"
        try:
            ready_timeout = float(timeout_text)
        except ValueError:
            raise BootstrapError(
                f"{ENV_READY_TIMEOUT}={timeout_text!r} is not a number of seconds"
            ) from None
        return cls(
            api_url=env[ENV_API_URL].rstrip("/"),
            health_url=env[ENV_HEALTH_URL],
            client_id=env[ENV_CLIENT_ID],
            client_secret=env[ENV_CLIENT_SECRET],
            catalog=env[ENV_CATALOG],
            bucket=env[ENV_BUCKET],
            s3_endpoint=env[ENV_S3_ENDPOINT],
            realm=env.get(ENV_REALM) or "",
            s3_region=env.get(ENV_S3_REGION) or DEFAULT_REGION,
            catalog_role=env.get(ENV_CATALOG_ROLE) or DEFAULT_CATALOG_ROLE,
            principal_role=env.get(ENV_PRINCIPAL_ROLE) or DEFAULT_PRINCIPAL_ROLE,
            ready_timeout=ready_timeout,
        )


@dataclass(frozen=True)
class Reply:
    """Status and decoded body (JSON when it parses, else text) of one HTTP exchange."""

    status: int
    body: Any


def _check_url(url: str) -> None:
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise BootstrapError(f"{url!r} is not an http(s) URL")


def _decode(raw: bytes) -> Any:
    text = raw.decode("utf-8", errors="replace")
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def http(method: str, url: str, *, headers: Mapping[str, str] | None = None,
         body: bytes | None = None, timeout: float = 10.0) -> Reply:
    """One request; HTTP error statuses are returned, connection failures raise ``OSError``."""
    _check_url(url)
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url, data=body, method=method, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return Reply(response.status, _decode(response.read()))
    except urllib.error.HTTPError as exc:
        if exc.fp is None:
            return Reply(exc.code, None)
        with exc:
            return Reply(exc.code, _decode(exc.read()))


def _message(reply: Reply) -> str:
    body = reply.body
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return f"{error.get('type', 'error')}: {error['message']}"
        if body.get("error_description"):
            return str(body["error_description"])
    return str(body)[:500] if body is not None else "(empty body)"


def wait_until_ready(url: str, *, timeout: float, interval: float = 1.0,
                     request_timeout: float = 5.0,
                     clock: Callable[[], float] = time.monotonic,
                     pause: Callable[[float], object] | None = None) -> int:
    """Poll ``url`` until it answers 200; the number of attempts, or an error at ``timeout``."""
    wait = pause if pause is not None else threading.Event().wait
    deadline = clock() + timeout
    attempts = 0
    last = "no attempt made"
    while True:
        attempts += 1
        try:
            reply = http("GET", url, timeout=request_timeout)
        except OSError as exc:  # refused, DNS not yet resolvable, timeout
            last = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
        else:
            if reply.status == 200:
                return attempts
            last = f"HTTP {reply.status}: {_message(reply)}"
        if clock() >= deadline:
            raise BootstrapError(
                f"Polaris is not ready: {url} did not answer 200 within {timeout:.0f}s "
                f"({attempts} attempts); last answer: {last}"
            )
        wait(interval)


class PolarisAdmin:
    """The management calls the bootstrap needs, bound to one Polaris and realm."""

    def __init__(self, api_url: str, realm: str, *, timeout: float = 10.0) -> None:
        self.api_url = api_url.rstrip("/")
        self.realm = realm
        self.timeout = timeout
        self.token: str | None = None

    def _headers(self, content_type: str) -> dict[str, str]:
        headers = {"Accept": "application/json", "Content-Type": content_type}
        if self.realm:
            headers[REALM_HEADER] = self.realm
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def _management(self, method: str, path: str, payload: Mapping[str, Any],
                    step: str) -> str:
        if self.token is None:
            raise BootstrapError(f"{step}: no token; call get_token first")
        url = self.api_url + MANAGEMENT_PATH + path
        reply = http(method, url, headers=self._headers("application/json"),
                     body=json.dumps(payload).encode(), timeout=self.timeout)
        if reply.status in (200, 201, 204):
            return DONE
        if reply.status == 409:
            return ALREADY
        raise BootstrapError(f"{step}: {method} {url} answered HTTP {reply.status}: "
                             f"{_message(reply)}")

    def get_token(self, client_id: str, client_secret: str, scope: str = DEFAULT_SCOPE) -> str:
        """A bearer token from the OAuth2 client-credentials endpoint; kept for later calls."""
        url = self.api_url + TOKEN_PATH
        form = urllib.parse.urlencode({
            "grant_type": "client_credentials", "client_id": client_id,
            "client_secret": client_secret, "scope": scope,
        }).encode()
        self.token = None
        reply = http("POST", url, headers=self._headers("application/x-www-form-urlencoded"),
                     body=form, timeout=self.timeout)
        token = reply.body.get("access_token") if isinstance(reply.body, dict) else None
        if reply.status == 404 and "MissingOrInvalidRealm" in _message(reply):
            raise BootstrapError(
                f"token: POST {url} answered HTTP 404: {_message(reply)}: Polaris does not "
                f"serve realm {self.realm or '(its default)'!r} (check {ENV_REALM} against "
                f"the server's POLARIS_REALM_CONTEXT_REALMS and POLARIS_BOOTSTRAP_CREDENTIALS)"
            )
        if reply.status != 200 or not isinstance(token, str) or not token:
            raise BootstrapError(
                f"token: POST {url} answered HTTP {reply.status}: {_message(reply)} (check "
                f"{ENV_CLIENT_ID}/{ENV_CLIENT_SECRET} against POLARIS_BOOTSTRAP_CREDENTIALS)"
            )
        self.token = token
        return token

    def create_catalog(self, catalog: str, *, bucket: str, s3_endpoint: str,
                       region: str) -> str:
        """An INTERNAL S3 catalog at ``s3://<bucket>/<catalog>``; created or already present."""
        body = {"catalog": catalog_definition(catalog, bucket=bucket, s3_endpoint=s3_endpoint,
                                              region=region)}
        return self._management("POST", "/catalogs", body, f"catalog {catalog}")

    def create_catalog_role(self, catalog: str, role: str) -> str:
        """A catalog role in ``catalog``."""
        path = f"/catalogs/{_seg(catalog)}/catalog-roles"
        return self._management("POST", path, {"catalogRole": {"name": role}},
                                f"catalog role {role} in {catalog}")

    def grant_catalog_privilege(self, catalog: str, role: str, privilege: str) -> str:
        """A catalog-level grant of ``privilege`` to the catalog role."""
        path = f"/catalogs/{_seg(catalog)}/catalog-roles/{_seg(role)}/grants"
        return self._management("PUT", path,
                                {"grant": {"type": "catalog", "privilege": privilege}},
                                f"grant {privilege} to {role}")

    def assign_catalog_role(self, principal_role: str, catalog: str, role: str) -> str:
        """The catalog role assigned to a principal role (so its principals hold it)."""
        path = f"/principal-roles/{_seg(principal_role)}/catalog-roles/{_seg(catalog)}"
        return self._management("PUT", path, {"catalogRole": {"name": role}},
                                f"assign {role} to principal role {principal_role}")


def _seg(name: str) -> str:
    return urllib.parse.quote(name, safe="")


def catalog_definition(catalog: str, *, bucket: str, s3_endpoint: str,
                       region: str) -> dict[str, Any]:
    """The ``Catalog`` object of the create request (see the module docstring): the catalog
    owns ``s3://<bucket>/<catalog>/`` and nothing else of the bucket."""
    location = f"s3://{bucket}/{catalog}"
    return {
        "type": "INTERNAL",
        "name": catalog,
        "properties": {
            "default-base-location": location,
            # the fixtures purge tables after each test; Polaris refuses purges by default
            "polaris.config.drop-with-purge.enabled": "true",
        },
        "storageConfigInfo": {
            "storageType": "S3",
            "allowedLocations": [f"{location}/"],
            "endpointInternal": s3_endpoint,
            "pathStyleAccess": True,
            "region": region,
        },
    }


def bootstrap(settings: BootstrapSettings, *,
              log: Callable[[str], object] = print,
              pause: Callable[[float], object] | None = None) -> dict[str, str]:
    """Run every step; what each one did (``created`` or ``already present``), by step."""
    attempts = wait_until_ready(settings.health_url, timeout=settings.ready_timeout,
                                interval=settings.ready_interval, pause=pause)
    log(f"Polaris ready at {settings.health_url} (after {attempts} attempt(s))")
    admin = PolarisAdmin(settings.api_url, settings.realm, timeout=settings.request_timeout)
    admin.get_token(settings.client_id, settings.client_secret, settings.scope)
    log(f"token obtained for realm {settings.realm or '(the default)'}")
    outcomes = {
        "catalog": admin.create_catalog(settings.catalog, bucket=settings.bucket,
                                        s3_endpoint=settings.s3_endpoint,
                                        region=settings.s3_region),
        "catalog role": admin.create_catalog_role(settings.catalog, settings.catalog_role),
        "grant": admin.grant_catalog_privilege(settings.catalog, settings.catalog_role,
                                               PRIVILEGE),
        "assignment": admin.assign_catalog_role(settings.principal_role, settings.catalog,
                                                settings.catalog_role),
    }
    log(f"catalog {settings.catalog}: {outcomes['catalog']}")
    log(f"catalog role {settings.catalog_role}: {outcomes['catalog role']}")
    log(f"grant {PRIVILEGE}: {outcomes['grant']}")
    log(f"catalog role assigned to principal role {settings.principal_role}: "
        f"{outcomes['assignment']}")
    return outcomes


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """Entry point of the Job: 0 when the catalog and grants are in place, else 1."""
    parser = argparse.ArgumentParser(
        prog="polaris_bootstrap",
        description="Create the stack's Polaris catalog and grants (idempotent). Settings come "
                    f"from the environment: {', '.join(REQUIRED_ENV)} (required).",
    )
    parser.parse_args(argv)
    try:
        settings = BootstrapSettings.from_env(os.environ if env is None else env)
        bootstrap(settings)
    except BootstrapError as exc:
        print(f"polaris bootstrap failed: {exc}", file=sys.stderr)
        return 1
    print("polaris bootstrap complete")
    return 0


if __name__ == "__main__":
    sys.exit(main())
