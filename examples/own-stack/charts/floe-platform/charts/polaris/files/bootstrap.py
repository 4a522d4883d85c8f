"""The team's catalog bootstrap: a catalog on MinIO and the grant its principal needs
(Polaris management API; 409 "already exists" counts as done, so it can run again)."""

import json
import os
import urllib.error
import urllib.parse
import urllib.request

API = os.environ["POLARIS_URL"]
if not API.startswith(("http://", "https://")):
    raise SystemExit(f"POLARIS_URL must be http(s), got {API!r}")
CATALOG = os.environ["POLARIS_WAREHOUSE"]
BUCKET = os.environ["BUCKET"]
ROLE = "platform_content_manager"


def call(method, path, body=None, token=None, form=False):
    data = urllib.parse.urlencode(body).encode() if form else json.dumps(body).encode()
    headers = {"Polaris-Realm": "POLARIS", "Accept": "application/json",
               "Content-Type": "application/x-www-form-urlencoded" if form
               else "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(  # noqa: S310 - API is http(s), checked above
        API + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310
            text = reply.read()
            return json.loads(text) if text else {}
    except urllib.error.HTTPError as exc:
        if exc.code == 409:
            print(f"{method} {path}: already present")
            return {}
        raise SystemExit(f"{method} {path}: HTTP {exc.code}: {exc.read()[:300]!r}") from None


token = call("POST", "/api/catalog/v1/oauth/tokens", {
    "grant_type": "client_credentials", "client_id": os.environ["POLARIS_CLIENT_ID"],
    "client_secret": os.environ["POLARIS_CLIENT_SECRET"], "scope": "PRINCIPAL_ROLE:ALL"},
    form=True)["access_token"]
management = "/api/management/v1"
location = f"s3://{BUCKET}/{CATALOG}"  # the catalog owns its prefix, nothing else
call("POST", f"{management}/catalogs", {"catalog": {
    "type": "INTERNAL", "name": CATALOG,
    "properties": {"default-base-location": location,
                   "polaris.config.drop-with-purge.enabled": "true"},
    "storageConfigInfo": {"storageType": "S3", "allowedLocations": [f"{location}/"],
                          "endpointInternal": os.environ["S3_ENDPOINT"],
                          "pathStyleAccess": True, "region": "us-east-1"}}}, token)
call("POST", f"{management}/catalogs/{CATALOG}/catalog-roles",
     {"catalogRole": {"name": ROLE}}, token)
call("PUT", f"{management}/catalogs/{CATALOG}/catalog-roles/{ROLE}/grants",
     {"grant": {"type": "catalog", "privilege": "CATALOG_MANAGE_CONTENT"}}, token)
call("PUT", f"{management}/principal-roles/service_admin/catalog-roles/{CATALOG}",
     {"catalogRole": {"name": ROLE}}, token)
print(f"catalog {CATALOG} ready on {location}/")
