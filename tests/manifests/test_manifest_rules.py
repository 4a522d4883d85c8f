"""001-FR-027: static rules for the default stack in ``manifests/`` (no cluster needed).

The documents are read the way the plugin reads them (``load_manifests``/``components``), and
checked against what the fixtures expect (``stack_services``, the config models) and what the
plugin's readiness wait and a Kubernetes 1.20 API server accept.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from floe_testing.cluster.manifests import (
    WORKLOAD_KINDS,
    ManifestDoc,
    components,
    with_dependencies,
)
from floe_testing.cluster.sources import load_manifests
from floe_testing.endpoint import DEFAULT_K8S_NAMESPACE
from floe_testing.services import builtin_services
from floe_testing.services.configs import config_class
from floe_testing.services.polaris.config import PolarisConfig
from floe_testing.stack import PACKAGED_MANIFESTS

SERVICES = {s.name: s for s in builtin_services() if s.in_cluster}

pytestmark = pytest.mark.requirement("001-FR-027")

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = PACKAGED_MANIFESTS
DOCS = load_manifests(MANIFESTS)
PART_OF = "floe-test"

#: (apiVersion, kind) pairs a Kubernetes 1.20 API server serves that the stack may use.
#: batch/v1 CronJob (1.21) and policy/v1 (1.21) are deliberately absent.
K8S_1_20_KINDS = {
    ("v1", kind) for kind in ("Namespace", "ResourceQuota", "LimitRange", "Secret", "ConfigMap",
                              "Service", "ServiceAccount", "PersistentVolumeClaim", "Pod")
} | {
    ("apps/v1", "Deployment"), ("apps/v1", "StatefulSet"), ("apps/v1", "DaemonSet"),
    ("batch/v1", "Job"),
    ("rbac.authorization.k8s.io/v1", "Role"), ("rbac.authorization.k8s.io/v1", "RoleBinding"),
}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|KEY|TOKEN|CREDENTIAL", re.IGNORECASE)
VAR_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")
EXPECTED_COMPONENTS = {
    "00-namespace": set(), "postgres": set(), "minio": set(), "polaris": {"minio"},
    "dagster": {"postgres"},
}
STACK_BUCKETS = {"floe-warehouse", "floe-iceberg", "floe-artifacts"}


# -- helpers -------------------------------------------------------------------------------

def pod_spec(doc: ManifestDoc) -> dict[str, Any]:
    spec = doc.obj.get("spec", {})
    return spec if doc.kind == "Pod" else spec["template"]["spec"]


def workloads() -> list[ManifestDoc]:
    return [d for d in DOCS if d.kind in WORKLOAD_KINDS]


def containers(doc: ManifestDoc, *, init: bool = True) -> Iterator[tuple[str, dict[str, Any]]]:
    spec = pod_spec(doc)
    keys = ("initContainers", "containers") if init else ("containers",)
    for key in keys:
        for container in spec.get(key) or []:
            yield key, container


def all_containers() -> list[tuple[ManifestDoc, str, dict[str, Any]]]:
    return [(doc, key, c) for doc in workloads() for key, c in containers(doc)]


def cid(item: tuple[ManifestDoc, str, dict[str, Any]]) -> str:
    doc, key, container = item
    return f"{doc.component}:{doc.kind}/{doc.name}/{key}/{container['name']}"


def secrets() -> dict[tuple[str, str], dict[str, str]]:
    """(namespace, name) -> decoded data of every Secret in the manifests."""
    found = {}
    for doc in DOCS:
        if doc.kind == "Secret":
            data = {k: base64.b64decode(v).decode() for k, v in (doc.obj.get("data") or {}).items()}
            data.update({k: str(v) for k, v in (doc.obj.get("stringData") or {}).items()})
            found[(doc.namespace or "default", doc.name)] = data
    return found


def configmaps() -> dict[tuple[str, str], dict[str, str]]:
    return {(d.namespace or "default", d.name): dict(d.obj.get("data") or {})
            for d in DOCS if d.kind == "ConfigMap"}


def find(kind: str, name: str, namespace: str = DEFAULT_K8S_NAMESPACE) -> ManifestDoc:
    matches = [d for d in DOCS
               if d.kind == kind and d.name == name and (d.namespace or "default") == namespace]
    assert matches, f"no {kind} {namespace}/{name} in {MANIFESTS}"
    return matches[0]


def container_named(doc: ManifestDoc, name: str) -> dict[str, Any]:
    for _, container in containers(doc):
        if container["name"] == name:
            return container
    raise AssertionError(f"{doc.where()} has no container {name!r}")


def resolved_env(doc: ManifestDoc, container: dict[str, Any]) -> dict[str, str]:
    """The container's environment as Kubernetes builds it: envFrom, then env in order, with
    Secret/ConfigMap references read from the manifests and ``$(VAR)`` expanded."""
    namespace = doc.namespace or "default"
    all_secrets, all_configmaps = secrets(), configmaps()
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        if "secretRef" in source:
            env.update(all_secrets[(namespace, source["secretRef"]["name"])])
        if "configMapRef" in source:
            env.update(all_configmaps[(namespace, source["configMapRef"]["name"])])
    for var in container.get("env") or []:
        ref = var.get("valueFrom") or {}
        if "secretKeyRef" in ref:
            env[var["name"]] = all_secrets[(namespace, ref["secretKeyRef"]["name"])][
                ref["secretKeyRef"]["key"]]
        elif "configMapKeyRef" in ref:
            env[var["name"]] = all_configmaps[(namespace, ref["configMapKeyRef"]["name"])][
                ref["configMapKeyRef"]["key"]]
        else:
            env[var["name"]] = VAR_REF.sub(
                lambda m: env.get(m.group(1), m.group(0)), str(var.get("value", "")))
    return env


def token_in(value: str, text: str) -> bool:
    """``value`` occurs in ``text`` as a whole token (not inside a longer identifier)."""
    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(value)}(?![A-Za-z0-9_])", text) is not None


# -- structure ------------------------------------------------------------------------------

def test_components_and_their_dependencies() -> None:
    comps = components(DOCS)
    assert {n: c.depends_on for n, c in comps.items()} == EXPECTED_COMPONENTS
    assert [n for n, c in comps.items() if c.always] == ["00-namespace"]
    kinds = {d.kind for d in comps["00-namespace"].docs}
    assert kinds == {"Namespace", "ResourceQuota", "LimitRange"}


def test_every_object_is_in_the_stack_namespace_and_labelled() -> None:
    for doc in DOCS:
        if doc.kind != "Namespace":
            assert doc.namespace == DEFAULT_K8S_NAMESPACE, f"{doc.where()}: namespace"
        labels = doc.obj["metadata"].get("labels") or {}
        assert labels.get("app.kubernetes.io/part-of") == PART_OF, f"{doc.where()}: part-of"
        assert labels.get("app.kubernetes.io/name"), f"{doc.where()}: app.kubernetes.io/name"
    for doc in workloads():
        template = (doc.obj["metadata"] if doc.kind == "Pod"
                    else doc.obj["spec"]["template"]["metadata"])
        labels = template.get("labels") or {}
        assert labels.get("app.kubernetes.io/part-of") == PART_OF, f"{doc.where()}: pod labels"
        assert labels.get("app.kubernetes.io/name"), f"{doc.where()}: pod labels"


def test_only_api_versions_served_by_kubernetes_1_20() -> None:
    for doc in DOCS:
        pair = (doc.obj["apiVersion"], doc.kind)
        assert pair in K8S_1_20_KINDS, f"{doc.where()}: {pair} is not in the 1.20 set"


def test_pod_specs_have_no_service_links() -> None:
    for doc in workloads():
        assert pod_spec(doc).get("enableServiceLinks") is False, (
            f"{doc.where()}: set enableServiceLinks: false (service-link env vars such as "
            "POSTGRES_PORT=tcp://... break the config models)")


# -- containers -----------------------------------------------------------------------------

@pytest.mark.parametrize("item", all_containers(), ids=cid)
def test_image_is_pinned_and_pulled_if_not_present(
        item: tuple[ManifestDoc, str, dict[str, Any]]) -> None:
    _, _, container = item
    image = container["image"]
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = last.partition(":")[2]
    assert digest or tag, f"{image}: no tag or digest"
    assert tag != "latest", f"{image}: 'latest' is not a pin"
    assert container.get("imagePullPolicy") == "IfNotPresent"


@pytest.mark.parametrize("item", all_containers(), ids=cid)
def test_resources_are_requested_and_limited(
        item: tuple[ManifestDoc, str, dict[str, Any]]) -> None:
    _, _, container = item
    resources = container.get("resources") or {}
    for part in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(resources.get(part) or {}), f"resources.{part}"


@pytest.mark.parametrize(
    "doc", [d for d in workloads() if d.kind != "Job"], ids=lambda d: d.where())
def test_long_running_containers_have_readiness_and_no_liveness_probe(doc: ManifestDoc) -> None:
    # Jobs are ready when they complete (the plugin waits for that); a liveness restart would
    # show as CrashLoopBackOff, which the plugin's readiness wait rightly treats as fatal.
    for _, container in containers(doc, init=False):
        assert container.get("readinessProbe"), f"{container['name']}: readinessProbe"
        assert "livenessProbe" not in container, f"{container['name']}: livenessProbe"


@pytest.mark.parametrize(
    "doc", [d for d in workloads() if d.kind == "Job"], ids=lambda d: d.where())
def test_jobs_retry_as_new_pods_and_are_bounded(doc: ManifestDoc) -> None:
    # restartPolicy OnFailure restarts in place, which shows as CrashLoopBackOff
    assert pod_spec(doc)["restartPolicy"] == "Never"
    assert doc.obj["spec"].get("activeDeadlineSeconds")
    assert doc.obj["spec"].get("backoffLimit") is not None


def test_requests_fit_the_quota_and_containers_the_limit_range() -> None:
    def cpu(value: str) -> float:
        return float(value[:-1]) / 1000 if value.endswith("m") else float(value)

    def mem(value: str) -> float:
        units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
        return float(value[:-2]) * units[value[-2:]] if value[-2:] in units else float(value)

    parse = {"cpu": cpu, "memory": mem}
    quota = find("ResourceQuota", "floe-test-quota").obj["spec"]["hard"]
    [limits] = find("LimitRange", "floe-test-limits").obj["spec"]["limits"]
    total = {("requests", r): 0.0 for r in parse} | {("limits", r): 0.0 for r in parse}
    for doc in workloads():
        if doc.kind == "Deployment":
            # a rolling update's surge pod would not fit the quota on top of the running one
            assert doc.obj["spec"].get("strategy", {}).get("type") == "Recreate", doc.where()
        replicas = doc.obj["spec"].get("replicas", 1) if doc.kind != "Job" else 1
        for part in ("requests", "limits"):
            for res, conv in parse.items():
                main = sum(conv(c["resources"][part][res]) for _, c in containers(doc, init=False))
                init = max([conv(c["resources"][part][res])
                            for where, c in containers(doc) if where == "initContainers"]
                           or [0.0])
                total[(part, res)] += replicas * max(main, init)
        for _, container in containers(doc):
            for res, conv in parse.items():
                assert conv(container["resources"]["limits"][res]) <= conv(limits["max"][res]), (
                    f"{doc.where()} {container['name']}: {res} limit above the LimitRange max")
    for (part, res), used in total.items():
        assert used <= parse[res](str(quota[f"{part}.{res}"])), (
            f"the stack's {part}.{res} ({used}) exceed the ResourceQuota")


# -- secrets --------------------------------------------------------------------------------

def test_secret_looking_env_vars_are_never_literal() -> None:
    # A secret-looking variable is either read from a Secret, or composed only of $(VAR)
    # references (to variables defined before it) joined by separators: no literal text.
    for doc, _, container in all_containers():
        defined: set[str] = set()
        for var in container.get("env") or []:
            if SECRET_NAME.search(var["name"]) and "valueFrom" not in var:
                value = str(var.get("value", ""))
                refs = set(VAR_REF.findall(value))
                rest = re.sub(r"[,:;@/ ]", "", VAR_REF.sub("", value))
                composed = bool(refs) and refs <= defined and not rest
                assert composed, (
                    f"{doc.where()} {container['name']}: env {var['name']} has a literal value; "
                    "use secretKeyRef, or compose it only from $(VAR) references")
            if SECRET_NAME.search(var["name"]) and "valueFrom" in var:
                assert "secretKeyRef" in var["valueFrom"], (
                    f"{doc.where()} {container['name']}: {var['name']} must come from a Secret")
            defined.add(var["name"])


def test_secret_values_appear_only_in_their_secrets() -> None:
    sensitive = {value for data in secrets().values() for key, value in data.items()
                 if SECRET_NAME.search(key)}
    assert sensitive
    for doc in DOCS:
        if doc.kind == "Secret":
            continue
        text = json.dumps(doc.obj)
        for value in sensitive:
            assert value not in text, f"{doc.where()} repeats a Secret's value"


def test_configmaps_hold_no_secret_value() -> None:
    values = {value for data in secrets().values() for value in data.values()}
    for (namespace, name), data in configmaps().items():
        for key, text in data.items():
            for value in values:
                assert not token_in(value, text), (
                    f"ConfigMap {namespace}/{name} key {key} contains the Secret value "
                    f"{'*' * len(value)}: reference the Secret (env) instead")


def test_every_secret_and_configmap_reference_resolves() -> None:
    all_secrets, all_configmaps = secrets(), configmaps()
    for doc, _, container in all_containers():
        ns = doc.namespace or "default"
        where = f"{doc.where()} {container['name']}"
        for source in container.get("envFrom") or []:
            if "secretRef" in source:
                assert (ns, source["secretRef"]["name"]) in all_secrets, where
            if "configMapRef" in source:
                assert (ns, source["configMapRef"]["name"]) in all_configmaps, where
        for var in container.get("env") or []:
            ref = var.get("valueFrom") or {}
            for kind, known in (("secretKeyRef", all_secrets),
                                ("configMapKeyRef", all_configmaps)):
                if kind in ref:
                    target = ref[kind]
                    assert (ns, target["name"]) in known, f"{where}: {target['name']} missing"
                    assert target["key"] in known[(ns, target["name"])], (
                        f"{where}: {target['name']} has no key {target['key']}")
    for doc in workloads():
        ns = doc.namespace or "default"
        for volume in pod_spec(doc).get("volumes") or []:
            if "secret" in volume:
                assert (ns, volume["secret"]["secretName"]) in all_secrets, doc.where()
            if "configMap" in volume:
                assert (ns, volume["configMap"]["name"]) in all_configmaps, doc.where()
        mounted = {v["name"] for v in pod_spec(doc).get("volumes") or []}
        for _, container in containers(doc):
            for mount in container.get("volumeMounts") or []:
                assert mount["name"] in mounted, f"{doc.where()}: volume {mount['name']}"


def test_references_stay_within_a_component_and_its_dependencies() -> None:
    # the plugin applies a component with its depends-on closure only: a Secret or ConfigMap
    # from any other file would be missing when that component is applied on its own
    comps = components(DOCS)
    always = {n for n, c in comps.items() if c.always}
    for name, comp in comps.items():
        reachable = with_dependencies({name}, comps) | always
        defined = {(d.kind, d.name) for c in reachable for d in comps[c].docs}
        for doc in comp.docs:
            if doc.kind not in WORKLOAD_KINDS:
                continue
            spec = pod_spec(doc)
            refs: set[tuple[str, str]] = set()
            for volume in spec.get("volumes") or []:
                if "secret" in volume:
                    refs.add(("Secret", volume["secret"]["secretName"]))
                if "configMap" in volume:
                    refs.add(("ConfigMap", volume["configMap"]["name"]))
            for _, container in containers(doc):
                for source in container.get("envFrom") or []:
                    if "secretRef" in source:
                        refs.add(("Secret", source["secretRef"]["name"]))
                    if "configMapRef" in source:
                        refs.add(("ConfigMap", source["configMapRef"]["name"]))
                for var in container.get("env") or []:
                    ref = var.get("valueFrom") or {}
                    if "secretKeyRef" in ref:
                        refs.add(("Secret", ref["secretKeyRef"]["name"]))
                    if "configMapKeyRef" in ref:
                        refs.add(("ConfigMap", ref["configMapKeyRef"]["name"]))
            missing = refs - defined
            assert not missing, (f"{doc.where()} uses {sorted(missing)}, defined outside "
                                 f"component {name!r} and its depends-on {sorted(reachable)}")


# -- what the fixtures expect ---------------------------------------------------------------

def serving_pod(service: ManifestDoc) -> tuple[ManifestDoc, dict[str, Any]]:
    """The workload whose pod template the Service selects, and that pod template."""
    selector = service.obj["spec"]["selector"]
    for doc in workloads():
        if doc.kind == "Job" or doc.namespace != service.namespace:
            continue
        labels = doc.obj["spec"]["template"]["metadata"]["labels"]
        if selector.items() <= labels.items():
            return doc, doc.obj["spec"]["template"]["spec"]
    raise AssertionError(f"{service.where()}: its selector {selector} matches no workload")


@pytest.mark.parametrize("key", sorted(SERVICES))
def test_each_stack_service_exists_with_its_ports(key: str) -> None:
    expected = SERVICES[key]
    service = find("Service", expected.service, expected.namespace)
    ports = {p["port"]: p for p in service.obj["spec"]["ports"]}
    assert {expected.port, *expected.extra_ports} <= ports.keys()
    _, pod = serving_pod(service)
    container_ports = {(p.get("name"), p["containerPort"])
                       for c in pod["containers"] for p in c.get("ports") or []}
    for port in ports.values():
        target = port.get("targetPort", port["port"])
        assert any(target in pair for pair in container_ports), (
            f"{service.where()}: targetPort {target} is no container port of the pod")


@pytest.mark.parametrize("key", sorted(k for k, s in SERVICES.items() if s.secret))
def test_fixture_secrets_exist_and_make_a_valid_config(key: str) -> None:
    service = SERVICES[key]
    name = service.secret
    assert name is not None
    data = secrets().get((service.namespace, name))
    assert data is not None, f"Secret {service.namespace}/{name} is not in {MANIFESTS}"
    assert {*service.credentials.values(), *service.values.values()} <= data.keys(), \
        f"{name} lacks keys the declaration names"
    found = service.values_from_cluster("127.0.0.1", service.port, data)
    credential_fields = {"postgres": {"user", "password", "database"},
                         "minio": {"access_key", "secret_key"},
                         "polaris": {"credential"}}[key]
    assert credential_fields <= found.keys(), f"{name} lacks keys the fixture reads"
    config_class(service)(**found)  # validates like the fixture does


def test_servers_use_exactly_the_fixture_credentials() -> None:
    pg = secrets()[(DEFAULT_K8S_NAMESPACE, "postgres-credentials")]
    postgres = find("Deployment", "postgres")
    env = resolved_env(postgres, container_named(postgres, "postgres"))
    assert {k: env.get(k) for k in pg} == pg

    minio_secret = secrets()[(DEFAULT_K8S_NAMESPACE, "minio-credentials")]
    minio = find("Deployment", "minio")
    env = resolved_env(minio, container_named(minio, "minio"))
    assert env.get("MINIO_ROOT_USER") == minio_secret["MINIO_ROOT_USER"]
    assert env.get("MINIO_ROOT_PASSWORD") == minio_secret["MINIO_ROOT_PASSWORD"]

    pol = secrets()[(DEFAULT_K8S_NAMESPACE, "polaris-credentials")]
    polaris = find("Deployment", "polaris")
    env = resolved_env(polaris, container_named(polaris, "polaris"))
    realm, client_id, client_secret = env["POLARIS_BOOTSTRAP_CREDENTIALS"].split(",")
    assert (client_id, client_secret) == (pol["POLARIS_CLIENT_ID"], pol["POLARIS_CLIENT_SECRET"])
    assert env["POLARIS_REALM_CONTEXT_REALMS"] == realm
    # Polaris reaches MinIO with MinIO's own credentials
    assert env["AWS_ACCESS_KEY_ID"] == minio_secret["MINIO_ROOT_USER"]
    assert env["AWS_SECRET_ACCESS_KEY"] == minio_secret["MINIO_ROOT_PASSWORD"]


def test_dagster_uses_the_postgres_credentials_and_a_created_database() -> None:
    pg = secrets()[(DEFAULT_K8S_NAMESPACE, "postgres-credentials")]
    dagster = find("Deployment", "dagster-webserver")
    env = resolved_env(dagster, container_named(dagster, "dagster-webserver"))
    assert env["DAGSTER_PG_USERNAME"] == pg["POSTGRES_USER"]
    assert env["DAGSTER_PG_PASSWORD"] == pg["POSTGRES_PASSWORD"]
    assert env["DAGSTER_PG_HOST"].startswith(f"postgres.{DEFAULT_K8S_NAMESPACE}.")
    init_sql = "\n".join(configmaps()[(DEFAULT_K8S_NAMESPACE, "postgres-init")].values())
    assert re.search(rf"CREATE DATABASE {re.escape(env['DAGSTER_PG_DB'])};", init_sql)
    postgres = find("Deployment", "postgres")
    mounts = {m["mountPath"]: m["name"]
              for m in container_named(postgres, "postgres")["volumeMounts"]}
    volumes = {v["name"]: v for v in pod_spec(postgres)["volumes"]}
    init = volumes[mounts["/docker-entrypoint-initdb.d"]]
    assert init["configMap"]["name"] == "postgres-init"


def test_polaris_catalog_is_the_fixture_warehouse() -> None:
    pol = secrets()[(DEFAULT_K8S_NAMESPACE, "polaris-credentials")]
    expected = pol.get("POLARIS_WAREHOUSE") or PolarisConfig.model_fields["warehouse"].default
    job = find("Job", "polaris-bootstrap")
    env = resolved_env(job, container_named(job, "bootstrap"))
    assert env["POLARIS_WAREHOUSE"] == expected, (
        "the bootstrap Job creates a catalog the polaris_catalog fixture does not use")
    assert (env["POLARIS_CLIENT_ID"], env["POLARIS_CLIENT_SECRET"]) == (
        pol["POLARIS_CLIENT_ID"], pol["POLARIS_CLIENT_SECRET"])
    polaris = find("Deployment", "polaris")
    server_env = resolved_env(polaris, container_named(polaris, "polaris"))
    assert env["POLARIS_REALM"] == server_env["POLARIS_REALM_CONTEXT_REALMS"]
    svc = f"polaris.{DEFAULT_K8S_NAMESPACE}.svc.cluster.local"
    assert env["POLARIS_URL"] == f"http://{svc}:{SERVICES['polaris'].port}"
    assert env["POLARIS_HEALTH_URL"].startswith(f"http://{svc}:8182/")
    minio = SERVICES["minio"]
    assert env["POLARIS_S3_ENDPOINT_INTERNAL"] == (
        f"http://{minio.dns_name}:{minio.port}")
    assert env["POLARIS_STORAGE_BUCKET"] in STACK_BUCKETS


def test_bucket_job_creates_the_stack_buckets_idempotently() -> None:
    job = find("Job", "minio-buckets")
    container = container_named(job, "create-buckets")
    args = container["args"]
    assert "mb" in args
    assert "--ignore-existing" in args
    alias_buckets = {a.split("/", 1)[1] for a in args if "/" in a and not a.startswith("/")}
    assert alias_buckets == STACK_BUCKETS
    minio_secret = secrets()[(DEFAULT_K8S_NAMESPACE, "minio-credentials")]
    env = resolved_env(job, container)
    [host] = [v for k, v in env.items() if k.startswith("MC_HOST_")]
    minio = SERVICES["minio"]
    assert host == (f"http://{minio_secret['MINIO_ROOT_USER']}:"
                    f"{minio_secret['MINIO_ROOT_PASSWORD']}@{minio.dns_name}:{minio.port}")


def test_secret_values_are_strings() -> None:
    for doc in DOCS:
        if doc.kind == "Secret":
            for key, value in (doc.obj.get("stringData") or {}).items():
                assert isinstance(value, str), f"{doc.where()}: {key} must be a quoted string"


def test_no_object_is_defined_twice() -> None:
    counts: dict[tuple[str, str, str], int] = {}
    for doc in DOCS:
        key = (doc.kind, doc.namespace or "default", doc.name)
        counts[key] = counts.get(key, 0) + 1
    assert [k for k, n in counts.items() if n > 1] == []
