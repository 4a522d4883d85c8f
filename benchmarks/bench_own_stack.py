"""A team's own stack: the example umbrella chart (examples/own-stack) brought up by us (render
with helm template, apply, hooks, parallel readiness, forwards) vs ``helm install --wait``
followed by the same forwards, side by side on the same cluster, alternating which goes first.
Figures only: the target (ours <= 1.0x helm's) is reported, never asserted."""

from __future__ import annotations

import time
from pathlib import Path

import pykube
from bench_cluster import Cluster, RecordingProgress, _record_steps
from bench_common import REPO, BenchResult, Figure, log, run

from floe_testing.cluster.charts import ChartValues
from floe_testing.cluster.forwards import Forwards
from floe_testing.cluster.kind_binary import KIND_NODE_IMAGE
from floe_testing.cluster.session import ClusterSession
from floe_testing.cluster.settings import ClusterSettings
from floe_testing.polling import NotReady, PollingConfig, wait_for_condition
from floe_testing.service_requirement import ServiceRequirement

CHART = REPO / "examples" / "own-stack" / "charts" / "floe-platform"
VALUES = CHART / "values-test.yaml"
NAMESPACE = "floe-test"
#: the Services the example's tests reach (one port each)
SERVICES = [ServiceRequirement(name=n, port=p, namespace=NAMESPACE) for n, p in (
    ("postgres", 5432), ("minio", 9000), ("polaris", 8181), ("dagster-webserver", 3000),
    ("jaeger", 16686))]
TIMEOUT = 600.0


def _settings(cluster: Cluster) -> ClusterSettings:
    return ClusterSettings(
        cluster_name=cluster.name, keep_cluster=False, kubeconfig=cluster.kubeconfig,
        kubeconfig_source="--kubeconfig", kind_image_option=KIND_NODE_IMAGE, kind_bin=None,
        kubectl=cluster.kubectl, manifests_dir=CHART, manifests_source="benchmark",
        ready_timeout=TIMEOUT, chart_values={"floe-platform": ChartValues((VALUES,))})


def _delete_namespace(api: pykube.HTTPClient) -> float:
    start = time.perf_counter()
    ns = pykube.Namespace.objects(api).get_or_none(name=NAMESPACE)
    if ns is not None and not ns.obj["metadata"].get("deletionTimestamp"):
        ns.delete()

    def gone() -> bool:
        if pykube.Namespace.objects(api).get_or_none(name=NAMESPACE) is not None:
            raise NotReady("terminating")
        return True

    wait_for_condition(gone, PollingConfig(timeout=TIMEOUT, interval=0.25,
                                           description=f"namespace {NAMESPACE} to be gone"))
    return time.perf_counter() - start


def _ours(cluster: Cluster) -> tuple[float, RecordingProgress]:
    progress = RecordingProgress()
    session = ClusterSession(_settings(cluster), progress, set(SERVICES))
    try:
        start = time.perf_counter()
        session.provision(SERVICES)
        elapsed = time.perf_counter() - start
    finally:
        session.close()  # reuse mode: what the run created goes (the namespace)
    return elapsed, progress


def _helm(cluster: Cluster, helm: Path) -> float:
    forwards = Forwards(RecordingProgress())
    start = time.perf_counter()
    try:
        run([helm, "install", "floe-platform", CHART, "--values", VALUES, "--namespace",
             NAMESPACE, "--create-namespace", "--wait", "--timeout", f"{TIMEOUT:.0f}s",
             "--kubeconfig", cluster.kubeconfig], timeout=TIMEOUT + 60)
        forwards.open(cluster.kubectl, cluster.kubeconfig, SERVICES)
        elapsed = time.perf_counter() - start
    finally:
        forwards.stop()
        run([helm, "uninstall", "floe-platform", "--namespace", NAMESPACE, "--kubeconfig",
             cluster.kubeconfig], check=False, timeout=300)
    return elapsed


def bench_own_stack(result: BenchResult, cluster: Cluster, runs: int, helm: Path) -> None:
    """See the module docstring."""
    runs = runs or 3
    ours = result.figure("ours: render + apply + hooks + ready + 5 forwards", "s",
                         "examples/own-stack chart, values-test.yaml")
    theirs = result.figure("helm install --wait + the same 5 forwards", "s",
                           "same chart and values, same cluster")
    deletion = result.figure("namespace deletion (between runs, not counted)", "s")
    steps: dict[str, Figure] = {}
    deletion.samples.append(_delete_namespace(cluster.api))
    for i in range(runs):
        order = ("ours", "helm") if i % 2 == 0 else ("helm", "ours")
        for who in order:
            log(f"own-stack: run {i + 1}/{runs} ({who})")
            if who == "ours":
                elapsed, progress = _ours(cluster)
                ours.samples.append(elapsed)
                _record_steps(result, steps, "ours", progress)
                result.info.setdefault("ours_progress_lines", []).append(progress.lines)
            else:
                theirs.samples.append(_helm(cluster, helm))
            deletion.samples.append(_delete_namespace(cluster.api))
    result.target("ours / helm install --wait (+ forwards)", ours.median / theirs.median, "<=",
                  1.0, "x", detail=f"ours {ours.median:.2f} s, helm {theirs.median:.2f} s")
