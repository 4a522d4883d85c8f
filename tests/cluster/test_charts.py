"""Charts, hooks, kustomizations and the kind config for real, on localkube (kind path): the
chart tests/charts/hooked installed, rerun unchanged and upgraded on a kept cluster, with its
test hooks as pytest items; a failing hook; a kustomization; a kind config reaching the cluster
creation and a kept cluster with another config refused."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from .conftest import cluster_args, is_up, port_forward_pids

pytestmark = [pytest.mark.cluster]

CHARTS = Path(__file__).resolve().parents[1] / "charts"
TOKEN = "hooked-token-Qx81vLm3Zp"  # the value of the chart's pre-install Secret

WEB_TEST = """
    import urllib.request

    def test_web(floe_cluster):
        # a chart's Service, reached through the run's forward
        endpoint = floe_cluster.endpoint("{service}", 80, "floe-test")
        body = urllib.request.urlopen(f"http://{{endpoint.host}}:{{endpoint.port}}/",
                                      timeout=10).read()
        assert b"hello from localkube busybox" in body
"""


def _kubectl(kubeconfig: Path, *args: str) -> str:
    done = subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), "-n", "floe-test",
                           *args], capture_output=True, text=True, timeout=60, check=False)
    return done.stdout + done.stderr


def _names(kubeconfig: Path, kind: str) -> set[str]:
    out = _kubectl(kubeconfig, "get", kind, "-o", "name")
    return {line.split("/", 1)[1] for line in out.split() if "/" in line}


def _web_generation(kubeconfig: Path) -> int:
    """The generation of the release's Deployment: it grows with each change of its spec."""
    return int(_kubectl(kubeconfig, "get", "deployment", "hooked-web", "-o",
                        "jsonpath={.metadata.generation}").strip())


def _order(out: str, *texts: str) -> None:
    """Each text appears in the output, in this order."""
    at = -1
    for text in texts:
        found = out.find(text, at + 1)
        assert found > at, f"{text!r} missing or out of order in:\n{out}"
        at = found


@pytest.mark.requirement("001-FR-065", "001-FR-066", "001-FR-067", "001-FR-026")
def test_chart_release_hooks_test_hooks_and_reruns_on_a_kept_cluster(
        pytester: pytest.Pytester, no_cluster: None) -> None:
    shutil.copytree(CHARTS / "hooked", pytester.path / "deploy" / "hooked")
    pytester.makepyfile(test_web=textwrap.dedent(WEB_TEST.format(service="hooked-web")))
    pytester.makepyfile(test_secret=textwrap.dedent("""
        from pathlib import Path

        def test_shows_the_charts_secret(floe_cluster):
            # the chart's Secret value reaches a failure message: it must be masked
            raise AssertionError(Path("deploy/hooked/templates/hooks-pre.yaml").read_text())
    """))
    kubeconfig = pytester.path / ".pytest-kind" / "floe-test" / "kubeconfig"

    def run(*extra: str) -> pytest.RunResult:
        return pytester.runpytest_subprocess(*cluster_args(
            "-s", "--keep-cluster", *extra,
            manifests=pytester.path / "deploy"), timeout=900)

    # 1. install: pre-install hooks by weight, the objects, readiness, post-install hooks;
    #    the chart's two test pods are tests of the run (its test ConfigMap is not: it is
    #    what one of them reads)
    first = run("-v")
    first.assert_outcomes(passed=3, failed=1)
    out = first.stdout.str()
    _order(out, "release 'hooked' (chart hooked-0.1.0, namespace floe-test): install",
           "pre-install hook ConfigMap/hooked-settings of 'hooked', weight -5",
           "pre-install hook Secret/hooked-token of 'hooked' (",
           "pre-install hook Job/hooked-migrate of 'hooked', weight 5 (",
           "apply ", "ready: Deployment/hooked-web in floe-test",
           "post-install hook Job/hooked-check of 'hooked' (")
    first.stdout.fnmatch_lines(["*deploy/hooked/Chart.yaml::hooked-test-web PASSED*",
                                "*deploy/hooked/Chart.yaml::hooked-test-greeting PASSED*"])
    assert TOKEN not in out, "the chart's Secret was not masked"
    assert "API_TOKEN: ***" in out
    assert "deploy/hooked/charts/sidecar/Chart.yaml" not in out  # a subchart has no tests
    # delete policies: hook-succeeded gone, the default (before-hook-creation) kept
    jobs = _names(kubeconfig, "jobs")
    assert "hooked-check" in jobs, jobs
    assert "hooked-migrate" not in jobs, jobs
    pods = _names(kubeconfig, "pods")
    assert "hooked-test-web" in pods, pods
    assert "hooked-test-greeting" not in pods, pods
    assert "hooked-test-expectation" not in _names(kubeconfig, "configmaps")
    record = json.loads(_kubectl(kubeconfig, "get", "configmap",
                                 "floe-testing-release-hooked", "-o", "json"))
    assert record["metadata"]["labels"]["floe-testing.dev/release"] == "hooked"
    assert "hooked-sidecar" in record["data"]["objects"]
    generation = _web_generation(kubeconfig)

    # 2. the same chart and values again: nothing changes, no hook runs; -k selects a test hook
    second = run("-k", "test_web or hooked-test-web")
    second.assert_outcomes(passed=2)
    out = second.stdout.str()
    assert "release 'hooked' (chart hooked-0.1.0, namespace floe-test): unchanged" in out
    second.stdout.fnmatch_lines(["*manifests: 0 created, 0 updated, * unchanged*"])
    assert " hook " not in out.replace("test hook", ""), out
    assert _web_generation(kubeconfig) == generation

    # 3. changed values: an upgrade; only what changed is updated, the workload reading the
    #    changed hook ConfigMap restarts, a newly rendered object is created
    third = run("--floe-chart-set=hooked:greeting=changed", "--floe-chart-set=hooked:extra=true",
                "-k", "not shows_the_charts_secret")
    third.assert_outcomes(passed=3)
    out = third.stdout.str()
    _order(out, "release 'hooked' (chart hooked-0.1.0, namespace floe-test): upgrade",
           "pre-upgrade hook ConfigMap/hooked-settings of 'hooked', weight -5",
           "pre-upgrade hook Job/hooked-migrate of 'hooked', weight 5",
           "manifests: 2 created, 1 updated,",
           "post-upgrade hook Job/hooked-check of 'hooked'")
    assert "new: ConfigMap/hooked-extra, ConfigMap/hooked-extra-kept" in out, out
    assert "pre-install" not in out
    assert "Secret/hooked-token" not in out
    assert {"hooked-extra", "hooked-extra-kept"} <= _names(kubeconfig, "configmaps")
    assert _web_generation(kubeconfig) > generation, "the workload kept the old ConfigMap"
    greeting = _kubectl(kubeconfig, "exec", "deploy/hooked-web", "--", "sh", "-c",
                        "echo $GREETING")
    assert greeting.strip() == "changed", greeting

    # 4. the object dropped again is deleted; a failing test hook fails its item with the
    #    pod's diagnosis; the last run (not kept) deletes the cluster
    fourth = pytester.runpytest_subprocess(*cluster_args(
        "-s", "--floe-chart-set=hooked:greeting=changed",
        "--floe-chart-set=hooked:testExpects=wrong", "-k", "hooked-test",
        manifests=pytester.path / "deploy"), timeout=900)
    fourth.assert_outcomes(passed=1, failed=1)
    out = fourth.stdout.str()
    assert "release 'hooked': deleted ConfigMap/hooked-extra (no longer rendered)" in out
    assert "deleted ConfigMap/hooked-extra-kept" not in out, "helm.sh/resource-policy: keep"
    fourth.stdout.fnmatch_lines([
        "*chart 'hooked': test hook Pod/hooked-test-greeting (*tests.yaml) failed:*",
        "*pod hooked-test-greeting: phase Failed*",
        "*greeting is 'changed', expected 'wrong'*",
    ])
    assert not is_up()
    assert not port_forward_pids()


@pytest.mark.requirement("001-FR-066", "001-FR-008", "001-FR-051")
def test_failing_pre_install_hook_fails_the_run_at_once_with_its_diagnosis(
        pytester: pytest.Pytester, no_cluster: None) -> None:
    shutil.copytree(CHARTS / "failing-hook", pytester.path / "deploy" / "failing-hook")
    pytester.makepyfile(test_web=textwrap.dedent(WEB_TEST.format(service="failing-hook-web")))
    started = time.monotonic()
    result = pytester.runpytest_subprocess(*cluster_args(
        "-s", manifests=pytester.path / "deploy"), timeout=600)
    seconds = time.monotonic() - started
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    result.stdout.fnmatch_lines([
        "*chart 'failing-hook': pre-install hook Job/failing-hook-migrate (*all.yaml) failed:*",
        "*Job/failing-hook-migrate in floe-test failed: BackoffLimitExceeded*",
        "*container migrate (*): terminated Error* (exit code 3)*",
        "*cannot migrate: schema v7 missing*",
    ])
    assert not re.search(r"manifests: \d+ created", out), "objects applied after a failed hook"
    assert "Deployment/failing-hook-web" not in out
    assert seconds < 120, f"a failed hook must fail the run at once, took {seconds:.0f}s"
    assert not is_up()
    assert not port_forward_pids()


KIND_CONFIG = """\
# one node, as localkube runs; the settings it cannot honour are named by its kind stand-in
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
  - role: control-plane
    extraPortMappings:
      - {containerPort: 30080, hostPort: 30080}
"""


@pytest.mark.requirement("001-FR-068", "001-FR-069")
def test_kustomization_on_a_cluster_created_with_a_kind_config(
        pytester: pytest.Pytester, no_cluster: None) -> None:
    shutil.copytree(CHARTS / "kustomized", pytester.path / "deploy" / "kustomized")
    pytester.makepyfile(test_web=textwrap.dedent(WEB_TEST.format(service="kz-web")))
    (pytester.path / "kind.yaml").write_text(KIND_CONFIG)
    first = pytester.runpytest_subprocess(*cluster_args(
        "-s", "--keep-cluster", "--kind-config=kind.yaml", manifests=pytester.path / "deploy"),
        timeout=600)
    first.assert_outcomes(passed=1)
    out = first.stdout.str() + first.stderr.str()
    assert re.search(r"create kind cluster 'floe-test' with kind config \S*kind.yaml", out), out
    assert "extraPortMappings" in out  # the stand-in says what it does not apply
    first.stdout.fnmatch_lines(["*ready: Deployment/kz-web in floe-test (*s)"])
    state = Path(os.environ.get("LOCALKUBE_STATE", "/tmp/localkube"))
    assert (state / "kind-config.yaml").read_text() == KIND_CONFIG

    # the kept cluster is not reused with another config: the run says so and leaves it
    (pytester.path / "kind.yaml").write_text(KIND_CONFIG.replace("30080", "30081"))
    second = pytester.runpytest_subprocess(*cluster_args(
        "-s", "--kind-config=kind.yaml", manifests=pytester.path / "deploy"), timeout=600)
    second.assert_outcomes(errors=1)
    second.stdout.fnmatch_lines([
        "*kind cluster 'floe-test' (kept by an earlier run) was created with another kind "
        "config, this run asks for the kind config *kind.yaml* It is not reused: delete it "
        "(kind delete cluster --name floe-test)*"])
    assert is_up(), "a kept cluster must not be deleted when it is refused"


@pytest.mark.requirement("001-FR-065", "001-FR-050")
def test_a_chart_under_xdist_is_released_once_for_every_worker(
        pytester: pytest.Pytester, no_cluster: None) -> None:
    """Two workers need the chart's Service at once: one releases it (hooks and all) while
    the other waits, then both reach it; the controller ends the cluster once."""
    shutil.copytree(CHARTS / "hooked", pytester.path / "deploy" / "hooked")
    source = textwrap.dedent(WEB_TEST.format(service="hooked-web"))
    for index in range(4):
        pytester.makepyfile(**{f"test_web_{index}": source})
    result = pytester.runpytest_subprocess(*cluster_args(
        "-n", "2", "-k", "test_web", manifests=pytester.path / "deploy"), timeout=900)
    result.assert_outcomes(passed=4)
    out = result.stdout.str()
    assert out.count("delete kind cluster 'floe-test'") == 1, out
    assert not is_up()
    assert not port_forward_pids()
