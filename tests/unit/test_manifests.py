"""Reading manifests: documents, apply order, components, image overrides, desired objects."""

from __future__ import annotations

import copy
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from floe_testing.cluster.apply import HASH_ANNOTATION, MANAGED_BY_LABEL, desired_object
from floe_testing.cluster.manifests import (
    DEPENDS_ON_ANNOTATION,
    ManifestDoc,
    ManifestError,
    apply_order,
    components,
    images,
    rewrite_image,
    with_dependencies,
    with_image_overrides,
)
from floe_testing.cluster.settings import parse_image_overrides
from floe_testing.cluster.sources import load_layers, load_manifests
from floe_testing.errors import ConfigError

pytestmark = pytest.mark.unit


def _write(directory: Path, name: str, *docs: dict[str, Any]) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False), encoding="utf-8")
    return path


def _obj(kind: str, name: str, namespace: str | None = "floe-test", *,
         depends_on: str | None = None, **extra: Any) -> dict[str, Any]:
    api = {"Deployment": "apps/v1", "StatefulSet": "apps/v1", "Job": "batch/v1",
           "CronJob": "batch/v1"}.get(kind, "v1")
    metadata: dict[str, Any] = {"name": name}
    if namespace and kind != "Namespace":
        metadata["namespace"] = namespace
    if depends_on is not None:
        metadata["annotations"] = {DEPENDS_ON_ANNOTATION: depends_on}
    return {"apiVersion": api, "kind": kind, "metadata": metadata, **extra}


def _workload(kind: str, name: str, image: str, init_image: str | None = None,
              **kwargs: Any) -> dict[str, Any]:
    pod_spec: dict[str, Any] = {"containers": [{"name": "main", "image": image},
                                               {"name": "side", "image": "busybox:1.36"}]}
    if init_image:
        pod_spec["initContainers"] = [{"name": "init", "image": init_image}]
    template = {"metadata": {"labels": {"app": name}}, "spec": pod_spec}
    if kind == "Pod":
        spec: dict[str, Any] = pod_spec
    elif kind == "CronJob":
        spec = {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": template}}}
    else:
        spec = {"template": template}
    return _obj(kind, name, spec=spec, **kwargs)


def _doc(obj: dict[str, Any], index: int = 0) -> ManifestDoc:
    return ManifestDoc(Path("manifests/x.yaml"), index, obj)


# -- loading and order ---------------------------------------------------------------------


@pytest.mark.requirement("001-FR-006")
def test_extra_layer_replaces_documents_in_place_and_adds_components(tmp_path: Path) -> None:
    base, extra = tmp_path / "base", tmp_path / "extra"
    _write(base, "dagster.yaml", _obj("ConfigMap", "code", data={"v": "packaged"}),
           _workload("Deployment", "web", "web:1"))
    _write(base, "postgres.yaml", _workload("Deployment", "db", "db:1"))
    _write(extra, "my-code.yaml", _obj("ConfigMap", "code", data={"v": "mine"}))
    _write(extra, "reports.yaml", _workload("Deployment", "reports", "r:1", depends_on="postgres"))

    docs = load_layers(base, [extra])
    comps = components(docs)
    assert sorted(comps) == ["dagster", "postgres", "reports"]
    (code,) = [d for d in comps["dagster"].docs if d.kind == "ConfigMap"]
    assert code.obj["data"] == {"v": "mine"}, "the extra document replaced the packaged one"
    assert code.path == extra / "my-code.yaml"  # errors name the file it came from
    assert [d.name for d in docs] == ["code", "web", "db", "reports"]  # replaced in place
    assert comps["reports"].depends_on == {"postgres"}
    assert load_layers(base)[0].obj["data"] == {"v": "packaged"}


@pytest.mark.requirement("001-FR-006")
def test_apply_order_puts_referenced_kinds_first(tmp_path: Path) -> None:
    _write(tmp_path, "stack.yaml",
           _obj("Job", "bootstrap"), _obj("Deployment", "web"), _obj("Service", "web"),
           _obj("PersistentVolumeClaim", "data"), _obj("ConfigMap", "conf"),
           _obj("Secret", "creds"), _obj("Namespace", "floe-test"))
    _write(tmp_path, "a-first-file.yaml", _obj("Deployment", "api"), _obj("Secret", "api-creds"))
    ordered = [(d.kind, d.name) for d in apply_order(load_manifests(tmp_path))]
    kinds = [k for k, _ in ordered]

    def first(kind: str) -> int:
        return kinds.index(kind)

    def last(kind: str) -> int:
        return len(kinds) - 1 - kinds[::-1].index(kind)

    assert last("Namespace") < first("Secret")
    assert last("Namespace") < first("ConfigMap")
    assert max(last("Secret"), last("ConfigMap")) < first("PersistentVolumeClaim")
    assert last("PersistentVolumeClaim") < first("Service")
    assert last("Service") < first("Deployment")
    assert last("Deployment") < first("Job")
    # stable within a kind: files sorted by name, documents in file order
    assert [n for k, n in ordered if k == "Deployment"] == ["api", "web"]


@pytest.mark.requirement("001-FR-006")
def test_unlisted_kind_goes_after_services_before_workloads() -> None:
    docs = [_doc(_obj("Deployment", "d")), _doc(_obj("Certificate", "c")),
            _doc(_obj("Service", "s"))]
    assert [d.kind for d in apply_order(docs)] == ["Service", "Certificate", "Deployment"]


@pytest.mark.requirement("001-FR-006")
def test_loads_yaml_and_yml_recursively_skipping_empty_documents(tmp_path: Path) -> None:
    _write(tmp_path, "b.yml", _obj("ConfigMap", "two"))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.yaml").write_text(
        "---\n" + yaml.safe_dump(_obj("ConfigMap", "three")) + "---\n# only a comment\n")
    (tmp_path / "README.md").write_text("kind: not a manifest")
    _write(tmp_path, "a.yaml", _obj("ConfigMap", "one"))
    docs = load_manifests(tmp_path)
    assert [d.name for d in docs] == ["one", "two", "three"]
    assert docs[2].component == "c"


@pytest.mark.requirement("001-FR-053")
def test_missing_directory_names_the_option(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--floe-manifests"):
        load_manifests(tmp_path / "nope")


@pytest.mark.requirement("001-FR-053")
def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    _write(tmp_path, "a-fine.yaml", _obj("ConfigMap", "fine"))
    path.write_text(textwrap.dedent("""\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: ok
         bad: indentation
        data: {}
        """))
    with pytest.raises(ManifestError) as info:
        load_manifests(tmp_path)
    message = str(info.value)
    assert message.startswith(f"{path}: line 5, column 2 YAML syntax error")
    assert "a-fine.yaml" not in message


@pytest.mark.requirement("001-FR-053")
@pytest.mark.parametrize(
    ("second", "missing"),
    [
        ({"apiVersion": "v1", "metadata": {"name": "x"}}, "kind"),
        ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}, "metadata.name"),
        ({"apiVersion": "v1", "kind": "ConfigMap"}, "metadata.name"),
        ({"kind": "ConfigMap", "metadata": {"name": "x"}}, "apiVersion"),
    ],
)
def test_incomplete_document_names_file_and_index(
    tmp_path: Path, second: dict[str, Any], missing: str
) -> None:
    path = _write(tmp_path, "app.yaml", _obj("ConfigMap", "fine"), second)
    with pytest.raises(ManifestError) as info:
        load_manifests(tmp_path)
    message = str(info.value)
    assert f"{path} (document 1)" in message
    assert f"missing {missing}" in message


@pytest.mark.requirement("001-FR-053")
def test_non_mapping_document_names_file_and_index(tmp_path: Path) -> None:
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(ManifestError, match=r"list\.yaml \(document 0\): expected a mapping"):
        load_manifests(tmp_path)


# -- components ------------------------------------------------------------------------------


@pytest.fixture
def stack_dir(tmp_path: Path) -> Path:
    _write(tmp_path, "00-namespace.yaml", _obj("Namespace", "floe-test"),
           _obj("ResourceQuota", "quota"))
    _write(tmp_path, "postgres.yaml", _obj("Secret", "postgres-credentials"),
           _obj("Service", "postgres", spec={"ports": [{"port": 5432}]}),
           _workload("Deployment", "postgres", "postgres:16"))
    _write(tmp_path, "minio.yaml",
           _obj("Service", "minio", spec={"ports": [{"port": 9000}, {"port": 9001}]}),
           _workload("Deployment", "minio", "minio/minio", depends_on="postgres"))
    _write(tmp_path, "polaris.yaml",
           _obj("Service", "polaris", depends_on=" minio , postgres"),
           _workload("Deployment", "polaris", "apache/polaris"),
           _workload("Job", "polaris-bootstrap", "curl"))
    _write(tmp_path, "dagster.yaml", _obj("Service", "dagster-webserver"),
           _workload("Deployment", "dagster", "dagster"))
    return tmp_path


@pytest.mark.requirement("001-FR-006")
def test_components_group_by_file_with_dependencies(stack_dir: Path) -> None:
    comps = components(load_manifests(stack_dir))
    assert set(comps) == {"00-namespace", "postgres", "minio", "polaris", "dagster"}
    assert comps["minio"].depends_on == {"postgres"}
    assert comps["polaris"].depends_on == {"minio", "postgres"}
    assert comps["dagster"].depends_on == set()
    assert with_dependencies(["polaris"], comps) == {"polaris", "minio", "postgres"}
    assert with_dependencies(["minio"], comps) == {"minio", "postgres"}
    assert with_dependencies(["dagster"], comps) == {"dagster"}
    assert with_dependencies([], comps) == set()


@pytest.mark.requirement("001-FR-006")
def test_component_always_only_without_workloads(stack_dir: Path) -> None:
    comps = components(load_manifests(stack_dir))
    assert comps["00-namespace"].always is True
    assert not any(comps[name].always for name in ("postgres", "minio", "polaris", "dagster"))


@pytest.mark.requirement("001-FR-006")
def test_component_services_list_ports(stack_dir: Path) -> None:
    comps = components(load_manifests(stack_dir))
    assert list(comps["minio"].services()) == [("minio", "floe-test", [9000, 9001])]
    assert list(comps["00-namespace"].services()) == []


@pytest.mark.requirement("001-FR-053")
def test_unknown_dependency_names_component_and_known_ones(stack_dir: Path) -> None:
    _write(stack_dir, "trino.yaml", _workload("Deployment", "trino", "trino",
                                              depends_on="postgres,hive-metastore"))
    with pytest.raises(ManifestError) as info:
        components(load_manifests(stack_dir))
    message = str(info.value)
    assert "'trino'" in message
    assert "hive-metastore" in message
    assert "trino.yaml" in message
    assert "postgres" in message  # the known components are listed


@pytest.mark.requirement("001-FR-006")
def test_empty_annotations_are_no_dependencies(tmp_path: Path) -> None:
    """``annotations:`` left empty in YAML is null, not a mapping."""
    (tmp_path / "app.yaml").write_text(textwrap.dedent("""\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: app
          annotations:
          labels:
        """))
    docs = load_manifests(tmp_path)
    assert components(docs)["app"].depends_on == set()
    obj = desired_object(docs[0], {})
    assert obj["metadata"]["annotations"][HASH_ANNOTATION]
    assert obj["metadata"]["labels"][MANAGED_BY_LABEL[0]] == MANAGED_BY_LABEL[1]


# -- image overrides -----------------------------------------------------------------------


@pytest.mark.requirement("001-FR-011")
def test_parse_image_overrides() -> None:
    assert parse_image_overrides(
        ["postgres:16=mirror.local/postgres:16", "  ", " docker.io/ = mirror.local/ "], "env X"
    ) == {"postgres:16": "mirror.local/postgres:16", "docker.io/": "mirror.local/"}


@pytest.mark.requirement("001-FR-053")
@pytest.mark.parametrize("entry", ["postgres:16", "=mirror/x", "postgres:16=", " = "])
def test_bad_image_override_names_its_source_and_entry(entry: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_image_overrides(["ok=fine", entry], "ini floe_image_overrides")
    message = str(info.value)
    assert message.startswith("ini floe_image_overrides:")
    assert repr(entry.strip()) in message
    assert "FROM=TO" in message


@pytest.mark.requirement("001-FR-011")
@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("postgres:16", "registry.local/postgres:16.4"),  # exact
        ("docker.io/library/redis:7", "mirror.local/library/redis:7"),  # prefix
        ("docker.io/bitnami/minio:1", "bitnami-mirror.local/minio:1"),  # longest prefix wins
        ("docker.io/special:1", "pinned/special:2"),  # exact beats prefix
        ("quay.io/x:1", "quay.io/x:1"),  # untouched
        ("postgres:16-alpine", "postgres:16-alpine"),  # exact means exact
        ("docker.iox/y", "docker.iox/y"),  # prefix is a whole registry path segment
    ],
)
def test_rewrite_image(image: str, expected: str) -> None:
    overrides = {
        "postgres:16": "registry.local/postgres:16.4",
        "docker.io/": "mirror.local/",
        "docker.io/bitnami/": "bitnami-mirror.local/",
        "docker.io/special:1": "pinned/special:2",
    }
    assert rewrite_image(image, overrides) == expected


@pytest.mark.requirement("001-FR-011")
@pytest.mark.parametrize("kind", ["Deployment", "StatefulSet", "Job", "Pod", "CronJob"])
def test_with_image_overrides_rewrites_containers_and_init_containers(kind: str) -> None:
    obj = _workload(kind, "app", "docker.io/library/postgres:16",
                    init_image="docker.io/library/busybox:1")
    original = copy.deepcopy(obj)
    doc = _doc(obj)
    rewritten = with_image_overrides(doc, {"docker.io/": "mirror.local/",
                                           "busybox:1.36": "mirror.local/busybox:1.36"})
    assert sorted(images(rewritten)) == sorted([
        "mirror.local/library/busybox:1", "mirror.local/library/postgres:16",
        "mirror.local/busybox:1.36",
    ])
    assert doc.obj == original  # the loaded document is never modified
    assert sorted(images(doc.obj)) == sorted([
        "docker.io/library/busybox:1", "docker.io/library/postgres:16", "busybox:1.36",
    ])


@pytest.mark.requirement("001-FR-011")
def test_with_image_overrides_ignores_non_workloads() -> None:
    obj = _obj("ConfigMap", "c", data={"image": "docker.io/x"})
    assert with_image_overrides(_doc(obj), {"docker.io/": "m/"}) == obj


# -- desired object ------------------------------------------------------------------------


@pytest.mark.requirement("001-FR-006")
def test_desired_object_hash_is_stable_for_equal_documents() -> None:
    a = _doc(_workload("Deployment", "app", "postgres:16"))
    b = ManifestDoc(Path("elsewhere.yaml"), 3, _workload("Deployment", "app", "postgres:16"))
    overrides = {"postgres:16": "mirror/postgres:16"}
    hash_a = desired_object(a, overrides)["metadata"]["annotations"][HASH_ANNOTATION]
    assert hash_a == desired_object(b, dict(overrides))["metadata"]["annotations"][HASH_ANNOTATION]
    assert hash_a == desired_object(a, overrides)["metadata"]["annotations"][HASH_ANNOTATION]
    assert HASH_ANNOTATION not in (a.obj["metadata"].get("annotations") or {})


@pytest.mark.requirement("001-FR-011")
def test_desired_object_hash_changes_with_an_override_or_the_document() -> None:
    doc = _doc(_workload("Deployment", "app", "postgres:16"))

    def digest(d: ManifestDoc, overrides: dict[str, str]) -> str:
        value: str = desired_object(d, overrides)["metadata"]["annotations"][HASH_ANNOTATION]
        return value

    plain = digest(doc, {})
    mirrored = digest(doc, {"postgres:16": "mirror-a/postgres:16"})
    assert mirrored != plain
    assert digest(doc, {"postgres:16": "mirror-b/postgres:16"}) != mirrored
    assert digest(doc, {"unrelated:1": "x/unrelated:1"}) == plain
    changed = _workload("Deployment", "app", "postgres:16")
    changed["spec"]["replicas"] = 2
    assert digest(_doc(changed), {}) != plain


@pytest.mark.requirement("001-FR-006")
def test_desired_object_is_labelled_and_overridden() -> None:
    doc = _doc(_workload("Job", "boot", "docker.io/curl:8", depends_on="postgres"))
    obj = desired_object(doc, {"docker.io/": "mirror.local/"})
    assert obj["metadata"]["labels"][MANAGED_BY_LABEL[0]] == MANAGED_BY_LABEL[1]
    assert obj["metadata"]["annotations"][DEPENDS_ON_ANNOTATION] == "postgres"
    assert "mirror.local/curl:8" in images(obj)


@pytest.mark.requirement("001-FR-006")
def test_a_changed_config_map_changes_the_workloads_that_read_it() -> None:
    """Replacing the Dagster code location on a running stack must restart the webserver:
    its pod template carries the digest of what it reads, so its applied hash changes."""
    from floe_testing.cluster.manifests import CONFIG_DIGEST_ANNOTATION
    from floe_testing.cluster.sources import load_layers
    from floe_testing.stack import PACKAGED_MANIFESTS

    examples = Path(__file__).resolve().parents[2] / "examples" / "stack"

    def digests(extras: list[Path]) -> dict[str, str | None]:
        return {d.name: (d.obj["spec"]["template"].get("metadata") or {}).get(
                    "annotations", {}).get(CONFIG_DIGEST_ANNOTATION)
                for d in load_layers(PACKAGED_MANIFESTS, extras)
                if d.kind in ("Deployment", "Job")}

    packaged, with_examples = digests([]), digests([examples])
    assert packaged["dagster-webserver"] is not None
    assert with_examples["dagster-webserver"] != packaged["dagster-webserver"]
    assert with_examples["postgres"] == packaged["postgres"], "postgres reads nothing changed"
    assert digests([]) == packaged, "the digest is stable"
