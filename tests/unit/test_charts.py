"""Charts and kustomizations as components, without a cluster: rendering with the real helm and
kubectl (values, subcharts, packaged charts, namespaces), hooks read and ordered as Helm does,
render errors on one screen before any cluster work, the chart settings, and finding helm."""

from __future__ import annotations

import hashlib
import http.server
import io
import shutil
import subprocess
import tarfile
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from floe_testing.cluster import helm_binary
from floe_testing.cluster.charts import (
    ChartValues,
    Hook,
    RenderSettings,
    parse_hook,
)
from floe_testing.cluster.helm_binary import HelmBinary, resolve_helm_binary
from floe_testing.cluster.hooks import hooks_of
from floe_testing.cluster.kind_binary import ChecksumError
from floe_testing.cluster.manifests import (
    Component,
    ManifestDoc,
    ManifestError,
    components,
)
from floe_testing.cluster.releases import describe_changes, release_digests
from floe_testing.cluster.settings import load_settings
from floe_testing.cluster.sources import load_layers, load_manifests
from floe_testing.errors import ConfigError

pytestmark = pytest.mark.unit

CHARTS = Path(__file__).resolve().parents[1] / "charts"


def render(values: dict[str, ChartValues] | None = None) -> RenderSettings:
    return RenderSettings("floe-test", values=values or {})


@pytest.fixture(scope="module")
def helm() -> Path:
    """The helm this machine renders with (.ci/prepare installs it): a clear failure if none."""
    found = shutil.which("helm")
    if not found:
        pytest.fail("helm is not on PATH: run .ci/prepare (it builds Helm v3.21.4)",
                    pytrace=False)
    return Path(found)


def chart(tmp_path: Path, templates: dict[str, str], *, name: str = "demo",
          values: str = "", chart_yaml: str = "") -> Path:
    """A chart directory written from strings."""
    root = tmp_path / name
    (root / "templates").mkdir(parents=True)
    (root / "Chart.yaml").write_text(f"apiVersion: v2\nname: {name}\nversion: 0.1.0\n"
                                     + chart_yaml)
    (root / "values.yaml").write_text(values)
    for file, text in templates.items():
        (root / "templates" / file).write_text(textwrap.dedent(text))
    return root


# -- rendering ------------------------------------------------------------------------------


@pytest.mark.requirement("001-FR-065")
def test_a_chart_is_one_component_rendered_with_its_subchart_and_hooks(helm: Path) -> None:
    docs = load_layers(CHARTS / "hooked", render=render())
    comps = components(docs)
    assert list(comps) == ["hooked"]
    hooked = comps["hooked"]
    assert hooked.is_chart
    assert hooked.origin is not None
    assert hooked.origin.chart == "hooked-0.1.0"
    assert hooked.origin.namespace == "floe-test"
    assert sorted(f"{d.kind}/{d.name}" for d in hooked.docs) == [
        "ConfigMap/hooked-sidecar", "Deployment/hooked-web", "Namespace/floe-test",
        "Service/hooked-web"]
    # every namespaced object is in the release namespace; the path is the template file
    assert {d.namespace for d in hooked.docs if d.kind != "Namespace"} == {"floe-test"}
    sidecar = next(d for d in hooked.docs if d.name == "hooked-sidecar")
    assert sidecar.path == CHARTS / "hooked" / "charts" / "sidecar" / "templates" / "config.yaml"
    hooks = {d.name: d.hook for d in hooked.hooks}
    assert hooks["hooked-migrate"] == Hook(("pre-install", "pre-upgrade"), 5, ("hook-succeeded",))
    assert hooks["hooked-settings"] == Hook(("pre-install", "pre-upgrade"), -5, ())
    assert hooks["hooked-test-greeting"] is not None
    assert hooks["hooked-test-greeting"].policies == ("before-hook-creation", "hook-succeeded")
    assert hooks["hooked-check"] is not None
    assert hooks["hooked-check"].policies == (
        "before-hook-creation",)
    # the workload reads the hook's ConfigMap: its pod template carries that config's digest
    web = next(d for d in hooked.docs if d.kind == "Deployment")
    assert "floe-testing.dev/config-digest" in web.obj["spec"]["template"]["metadata"][
        "annotations"]


@pytest.mark.requirement("001-FR-065")
def test_values_files_then_set_values_later_wins(helm: Path, tmp_path: Path) -> None:
    first = tmp_path / "a.yaml"
    first.write_text("greeting: from-a\nextra: true\n")
    second = tmp_path / "b.yaml"
    second.write_text("greeting: from-b\n")

    def greeting(values: ChartValues) -> tuple[str, bool]:
        docs = load_manifests(CHARTS / "hooked", render({"hooked": values}))
        settings = next(d for d in docs if d.name == "hooked-settings")
        return settings.obj["data"]["GREETING"], any(d.name == "hooked-extra" for d in docs)

    assert greeting(ChartValues()) == ("hello", False)  # the chart's own values
    assert greeting(ChartValues((first, second))) == ("from-b", True)
    assert greeting(ChartValues((second, first))) == ("from-a", True)
    assert greeting(ChartValues((first,), ("greeting=from-set",))) == ("from-set", True)


@pytest.mark.requirement("001-FR-065")
def test_namespace_setting_and_packaged_chart(helm: Path, tmp_path: Path) -> None:
    subprocess.run([str(helm), "package", str(CHARTS / "hooked"), "-d", str(tmp_path)],
                   check=True, capture_output=True, timeout=60)
    assert (tmp_path / "hooked-0.1.0.tgz").is_file()
    (tmp_path / "plain.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
                                         "  name: plain\n")
    docs = load_layers(tmp_path, render=render({"hooked": ChartValues(namespace="team-a")}))
    comps = components(docs)
    assert sorted(comps) == ["hooked", "plain"]
    assert {d.namespace for d in comps["hooked"].docs if d.kind != "Namespace"} == {"team-a"}
    # the release namespace is created with the release
    assert [d.name for d in comps["hooked"].docs if d.kind == "Namespace"] == ["team-a"]
    assert comps["plain"].docs[0].namespace is None  # plain manifests are left as they are


@pytest.mark.requirement("001-FR-066")
def test_hooks_are_ordered_as_helm_orders_them() -> None:
    def hook(kind: str, name: str, weight: int, events: str = "pre-install") -> ManifestDoc:
        return ManifestDoc(Path("t.yaml"), 0, {"apiVersion": "v1", "kind": kind,
                                               "metadata": {"name": name}},
                           hook=Hook(tuple(events.split(",")), weight))

    docs = [hook("Job", "b-job", 0), hook("ConfigMap", "z-config", 0),
            hook("Secret", "a-secret", 0), hook("Job", "first", -10),
            hook("ConfigMap", "later", 10), hook("Job", "post", -99, "post-install"),
            hook("Job", "both", 3, "pre-install,pre-upgrade")]
    # weight first; equal weights by name (Helm's hookByWeight), whatever the kind
    assert [d.name for d in hooks_of(docs, "pre-install")] == [
        "first", "a-secret", "b-job", "z-config", "both", "later"]
    assert [d.name for d in hooks_of(docs, "pre-upgrade")] == ["both"]
    assert [d.name for d in hooks_of(docs, "post-install")] == ["post"]


@pytest.mark.requirement("001-FR-066")
@pytest.mark.parametrize(("annotations", "expected"), [
    ({}, None),
    ({"helm.sh/hook": " Pre-Install , post-upgrade"},
     Hook(("pre-install", "post-upgrade"), 0, ())),
    ({"helm.sh/hook": "test-success", "helm.sh/hook-weight": "-3"}, Hook(("test",), -3, ())),
    ({"helm.sh/hook": "post-install", "helm.sh/hook-weight": "heavy",
      "helm.sh/hook-delete-policy": "hook-succeeded, hook-failed"},
     Hook(("post-install",), 0, ("hook-succeeded", "hook-failed"))),
    ({"helm.sh/hook": "pre-install,crd-install"}, False),  # unknown event: Helm skips it
    # the weight as Go's strconv.Atoi reads it: a sign and digits, nothing else, else 0
    ({"helm.sh/hook": "pre-install", "helm.sh/hook-weight": "+7"}, Hook(("pre-install",), 7, ())),
    ({"helm.sh/hook": "pre-install", "helm.sh/hook-weight": " 5"}, Hook(("pre-install",), 0, ())),
    ({"helm.sh/hook": "pre-install", "helm.sh/hook-weight": "1_0"}, Hook(("pre-install",), 0, ())),
    ({"helm.sh/hook": "pre-install", "helm.sh/hook-weight": "9" * 20},
     Hook(("pre-install",), 0, ())),
    ({"helm.sh/hook": "pre-install", "helm.sh/hook-weight": "-"}, Hook(("pre-install",), 0, ())),
])
def test_hook_annotations_are_read_as_helm_reads_them(annotations: dict[str, str],
                                                       expected: Hook | bool | None) -> None:
    assert parse_hook({"metadata": {"annotations": annotations}}) == expected


# -- render errors: one screen, before any cluster ---------------------------------------------


@pytest.mark.requirement("001-FR-065")
@pytest.mark.parametrize("case", ["template", "required", "values-file", "subchart"])
def test_a_chart_that_does_not_render_names_chart_file_and_helms_words(
        helm: Path, tmp_path: Path, case: str) -> None:
    templates = {"cm.yaml": """
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: cm}
        data:
          password: {{ required "db.password is required" .Values.db.password }}
    """}
    values = "db:\n  password: s3cret-value\n"
    settings = ChartValues()
    if case == "template":
        templates["broken.yaml"] = "value: {{ .Values.nothing.here }}\n"
        expected = ["template file: " + str(tmp_path / "demo" / "templates" / "broken.yaml"),
                    "nil pointer evaluating"]
    elif case == "required":
        values = "db: {}\n"
        expected = ["template file: " + str(tmp_path / "demo" / "templates" / "cm.yaml"),
                    "db.password is required"]
    elif case == "values-file":
        bad = tmp_path / "values-test.yaml"
        bad.write_text("db: [unclosed\n")
        settings = ChartValues((bad,))
        expected = [f"values file: {bad}", "failed to parse"]
    else:
        # the chart declares a dependency that is not vendored in its charts/
        expected = ["missing in charts/ directory: postgresql", "helm dependency build"]
    root = chart(tmp_path, templates, values=values, chart_yaml=(
        "dependencies:\n  - name: postgresql\n    version: 1.0.0\n" if case == "subchart"
        else ""))
    with pytest.raises(ManifestError) as caught:
        load_layers(root, render=render({"demo": settings}))
    message = str(caught.value)
    assert message.startswith(f"chart 'demo' ({root}) does not render:")
    for text in expected:
        assert text in message, message
    assert "Traceback" not in message
    assert len(message.splitlines()) < 12


@pytest.mark.requirement("001-FR-065", "001-FR-053")
def test_render_error_stops_the_run_before_any_cluster(pytester: pytest.Pytester,
                                                       helm: Path) -> None:
    root = chart(pytester.path / "deploy", {
        "cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"
                   "data: {a: {{ .Values.missing.key }}}\n"}, name="platform")
    pytester.makepyfile(test_it="def test_it(floe_cluster):\n    raise AssertionError('no')\n")
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--kind-bin=/nonexistent/kind",
        f"--floe-manifests={root.parent}", "test_it.py", timeout=120)
    out = result.stdout.str()
    result.assert_outcomes(errors=1)
    assert f"chart 'platform' ({root}) does not render:" in out
    assert f"template file: {root / 'templates' / 'cm.yaml'}" in out
    assert "using kind cluster" not in out
    assert "/nonexistent/kind" not in out
    assert not (pytester.path / ".pytest-kind").exists()


@pytest.mark.requirement("001-FR-065", "001-FR-053")
def test_chart_settings_naming_no_chart_fail(helm: Path) -> None:
    with pytest.raises(ManifestError, match=r"--floe-chart-set names chart 'platfrom', but "
                                            r"the manifests hold the charts \['hooked'\]"):
        load_layers(CHARTS / "hooked", render=render(
            {"platfrom": ChartValues(set_values=("a=1",), sources=("--floe-chart-set",))}))


@pytest.mark.requirement("001-FR-053")
@pytest.mark.parametrize(("args", "culprit"), [
    (("--floe-chart-values=hooked",), "--floe-chart-values: 'hooked' is not of the form "
                                      "CHART=FILE"),
    (("--floe-chart-values=hooked=nope.yaml",), "nope.yaml does not exist (from "
                                                "--floe-chart-values)"),
    (("--floe-chart-set=hooked:noequals",), "--floe-chart-set: 'hooked:noequals' is not of the "
                                            "form CHART:KEY=VALUE"),
    (("--floe-chart-namespace=hooked=Team_A",), "namespace 'Team_A' of chart 'hooked' is not "
                                                "a DNS-1123 label"),
    (("--kind-config=kind.yaml",), "kind config"),
])
def test_bad_chart_and_kind_settings_fail_at_start_up(pytester: pytest.Pytester,
                                                      args: tuple[str, ...], culprit: str) -> None:
    pytester.makepyfile(test_plain="def test_plain():\n    assert True\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=60)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert culprit in result.stderr.str()
    assert "Traceback" not in result.stderr.str()


# -- kustomize -----------------------------------------------------------------------------


@pytest.mark.requirement("001-FR-068")
def test_a_kustomization_is_one_component() -> None:
    docs = load_layers(CHARTS / "kustomized", render=render())
    comps = components(docs)
    assert list(comps) == ["kustomized"]
    names = sorted(f"{d.kind}/{d.name}" for d in comps["kustomized"].docs)
    assert names[1:] == ["Deployment/kz-web", "Namespace/floe-test", "Service/kz-web"]
    assert names[0].startswith("ConfigMap/kz-greeting-")  # generated, hashed name
    web = next(d for d in comps["kustomized"].docs if d.kind == "Deployment")
    assert web.namespace == "floe-test"
    assert web.obj["spec"]["template"]["spec"]["containers"][0]["envFrom"][0][
        "configMapRef"]["name"] == names[0].split("/")[1]
    assert web.path == CHARTS / "kustomized" / "kustomization.yaml"


@pytest.mark.requirement("001-FR-068", "001-FR-053")
def test_a_kustomization_that_does_not_render(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources:\n  - missing.yaml\n")
    with pytest.raises(ManifestError) as caught:
        load_layers(tmp_path, render=render())
    message = str(caught.value)
    assert message.startswith(f"kustomization {tmp_path} does not render:")
    assert "missing.yaml" in message
    assert "Fix kustomization.yaml" in message


# -- finding helm ----------------------------------------------------------------------------


def _fake_helm(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "helm"
    path.write_text("#!/bin/sh\necho fake helm\n")
    path.chmod(0o755)
    return path


@pytest.mark.requirement("001-FR-065")
def test_helm_resolution_order(monkeypatch: pytest.MonkeyPatch, pytester: pytest.Pytester,
                               tmp_path: Path) -> None:
    """Option > ini > env (the settings' one precedence, each named as given), then PATH."""
    option, ini, env, on_path = (_fake_helm(tmp_path / d) for d in ("opt", "ini", "env", "path"))
    monkeypatch.setenv("PATH", str(on_path.parent))
    monkeypatch.setenv("FLOE_HELM_BIN", str(env))

    def helm(*args: str, ini_value: Path | None = None) -> HelmBinary:
        pytester.makeini("[pytest]\n" + (f"floe_helm_bin = {ini_value}\n" if ini_value else ""))
        settings = load_settings(pytester.parseconfigure(*args), resolve_kubectl=False)
        return resolve_helm_binary(settings.helm_bin, settings.helm_bin_source)

    assert helm(f"--floe-helm-bin={option}", ini_value=ini) == HelmBinary(option, "--floe-helm-bin")
    assert helm(ini_value=ini) == HelmBinary(ini, "ini floe_helm_bin")
    assert helm() == HelmBinary(env, "env FLOE_HELM_BIN")
    monkeypatch.delenv("FLOE_HELM_BIN")
    assert helm().source == "PATH"
    monkeypatch.setenv("FLOE_HELM_BIN", str(tmp_path / "missing" / "helm"))
    with pytest.raises(ConfigError, match=r"env FLOE_HELM_BIN names .*missing/helm, which does "
                                          r"not exist\. Install Helm 3"):
        helm()


@pytest.fixture
def archive_server(tmp_path: Path) -> Iterator[tuple[str, bytes]]:
    """A local server of a helm release archive (``linux-amd64/helm`` inside)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        payload = b"#!/bin/sh\necho 'helm from the archive'\n"
        info = tarfile.TarInfo("linux-amd64/helm")
        info.size, info.mode = len(payload), 0o755
        tar.addfile(info, io.BytesIO(payload))
    body = buffer.getvalue()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/helm.tar.gz", body
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.requirement("001-FR-065")
def test_pinned_helm_is_downloaded_verified_and_extracted(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        archive_server: tuple[str, bytes]) -> None:
    url, body = archive_server
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("FLOE_HELM_BIN", raising=False)
    monkeypatch.setattr(helm_binary, "_platform", lambda: ("linux", "amd64"))
    monkeypatch.setitem(helm_binary.HELM_SHA256, ("linux", "amd64"), "0" * 64)
    with pytest.raises(ChecksumError):
        resolve_helm_binary(None, cache_dir=tmp_path / "cache", download_url=url)
    assert not [p for p in (tmp_path / "cache").iterdir() if not p.name.endswith(".lock")]

    monkeypatch.setitem(helm_binary.HELM_SHA256, ("linux", "amd64"),
                        hashlib.sha256(body).hexdigest())
    found = resolve_helm_binary(None, cache_dir=tmp_path / "cache", download_url=url)
    assert found.source == f"downloaded {helm_binary.HELM_VERSION}"
    assert subprocess.run([str(found.path)], capture_output=True, text=True, timeout=10,
                          check=True).stdout == "helm from the archive\n"


@pytest.mark.requirement("001-FR-051", "001-FR-065")
def test_a_cluster_wide_kind_is_recorded_without_the_namespace_its_manifest_gave() -> None:
    """A chart's cluster-scoped custom kind (a ClusterIssuer, say) gets the release's namespace
    in its manifest (only the built-in cluster-wide kinds are known before the cluster is):
    the record of what the run created must not put it inside that namespace, or it would be
    left behind when the namespace goes with the run (objects in it are not deleted one by
    one)."""
    import pykube

    from floe_testing.cluster.records import ObjectRef

    meta = {"name": "letsencrypt", "namespace": "floe-test"}
    cluster_wide = type("ClusterIssuer", (pykube.objects.APIObject,),
                        {"version": "cert-manager.io/v1", "endpoint": "clusterissuers",
                         "kind": "ClusterIssuer"})
    issuer = cluster_wide(None, {"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer",
                                 "metadata": dict(meta)})
    assert ObjectRef.of(issuer) == ObjectRef("cert-manager.io/v1", "ClusterIssuer",
                                             "letsencrypt", "")
    config = pykube.ConfigMap(None, {"apiVersion": "v1", "kind": "ConfigMap",
                                     "metadata": dict(meta)})
    assert ObjectRef.of(config).namespace == "floe-test"


@pytest.mark.requirement("001-FR-067")
def test_an_upgrade_says_what_changed_and_names_a_secret_generated_on_each_render() -> None:
    before = {"Deployment/web": "a1", "Secret/token": "b1", "ConfigMap/old": "c1"}
    now = {"Deployment/web": "a2", "Secret/token": "b1", "ConfigMap/new": "d1"}
    assert describe_changes(before, now) == (
        "changed: Deployment/web; new: ConfigMap/new; no longer rendered: ConfigMap/old")
    only_secret = describe_changes({"Secret/token": "b1", "Deployment/web": "a1"},
                                   {"Secret/token": "b2", "Deployment/web": "a1"})
    assert only_secret.startswith("changed: Secret/token; if this says so on every run")
    assert "pin them in your values file" in only_secret
    many = describe_changes({}, {f"ConfigMap/c{i}": "x" for i in range(6)})
    assert many == "new: ConfigMap/c0, ConfigMap/c1, ConfigMap/c2, ConfigMap/c3 and 2 more"
    assert describe_changes({"Secret/a": "1"}, {"Secret/a": "1"}) == (
        "values or templates changed")


def test_release_digests_change_with_what_is_sent_and_name_each_object() -> None:
    def release(greeting: str) -> Component:
        def doc(kind: str, name: str, data: dict[str, str]) -> ManifestDoc:
            return ManifestDoc(Path("chart.yaml"), 0, {
                "apiVersion": "v1", "kind": kind,
                "metadata": {"name": name, "namespace": "floe-test"}, "data": data})
        return Component("web", docs=[doc("ConfigMap", "settings", {"greeting": greeting}),
                                      doc("Secret", "token", {"t": "dG9rZW4="})])

    first, first_each = release_digests(release("hello"), {})
    again, again_each = release_digests(release("hello"), {})
    second, second_each = release_digests(release("changed"), {})
    assert (first, first_each) == (again, again_each)
    assert first != second
    assert set(first_each) == {"ConfigMap/settings", "Secret/token"}
    assert first_each["Secret/token"] == second_each["Secret/token"]
    assert describe_changes(first_each, second_each) == "changed: ConfigMap/settings"
