"""Benchmarks against a real cluster: port-forward setup, cold session, warm rerun."""

from __future__ import annotations

import base64
import http.client
import re
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pykube
import yaml
from bench_common import (
    BenchResult,
    Figure,
    Stopwatch,
    clean_env,
    kill_own_port_forwards,
    log,
    quiet_fds,
    run,
    timed_run,
)
from pytest_kind import KindCluster

from floe_testing.cluster.kind_binary import KIND_NODE_IMAGE
from floe_testing.cluster.kubeconfig import connect
from floe_testing.cluster.manifests import WORKLOAD_KINDS, with_image_overrides
from floe_testing.cluster.port_forward import PortForward
from floe_testing.cluster.progress import Progress
from floe_testing.cluster.session import ClusterSession
from floe_testing.cluster.settings import ClusterSettings
from floe_testing.cluster.sources import load_manifests
from floe_testing.polling import NotReady, PollingConfig, wait_for_condition
from floe_testing.service_requirement import ServiceRequirement
from floe_testing.services import builtin_services

HTTP_SERVICE = "web"
READY_TIMEOUT = 300.0


# -- the cluster under test ---------------------------------------------------------------------


@dataclass(frozen=True)
class Stack:
    """What the manifests define: namespaces, one requirement per Service, workloads."""

    files: list[Path]
    namespaces: list[str]
    services: list[ServiceRequirement]
    workloads: list[tuple[str, str, str]]  # kind, name, namespace

    def service(self, name: str) -> ServiceRequirement:
        for req in self.services:
            if req.name == name:
                return req
        raise LookupError(f"the manifests define no Service {name!r}")


@dataclass
class Cluster:
    """The cluster the benchmarks run on: created with ``kind`` (and deleted again) unless a
    kubeconfig names an existing one, which is only ever used, never deleted."""

    kubectl: Path
    manifests: Path
    overrides: dict[str, str]
    workdir: Path
    kind_bin: Path | None = None
    reuse_kubeconfig: Path | None = None
    name: str = "floe-test"
    created: bool = False
    create_seconds: float | None = None
    _api: pykube.HTTPClient | None = field(default=None, repr=False)
    _stack: Stack | None = field(default=None, repr=False)

    @property
    def mode(self) -> str:
        return "reuse" if self.reuse_kubeconfig is not None else "kind"

    @property
    def kubeconfig(self) -> Path:
        if self.reuse_kubeconfig is not None:
            return self.reuse_kubeconfig
        # where the plugin's kind mode looks for it (relative to the working directory)
        return self.workdir / ".pytest-kind" / self.name / "kubeconfig"

    def acquire(self) -> None:
        """Create the kind cluster (or export the kubeconfig of one that exists)."""
        if self.mode == "kind":
            assert self.kind_bin is not None
            self.kubeconfig.parent.mkdir(parents=True, exist_ok=True)
            clusters = run([self.kind_bin, "get", "clusters"]).stdout.split()
            if self.name in clusters:
                log(f"kind cluster {self.name!r} exists: exporting its kubeconfig (not deleted "
                    "at the end)")
                run([self.kind_bin, "export", "kubeconfig", "--name", self.name,
                     "--kubeconfig", self.kubeconfig])
            else:
                log(f"creating kind cluster {self.name!r} with {self.kind_bin}")
                self.created = True  # ours from now on: an interrupted create is deleted too
                with Stopwatch() as sw:
                    run([self.kind_bin, "create", "cluster", "--name", self.name,
                         "--kubeconfig", self.kubeconfig], timeout=900)
                self.create_seconds = sw.elapsed
                log(f"cluster created in {sw.elapsed:.1f} s")
        self._api = connect(self.kubeconfig, "benchmark kubeconfig").api

    def with_manifests(self, manifests: Path, overrides: dict[str, str]) -> Cluster:
        """The same cluster seen through another stack (never created or deleted by it)."""
        return replace(self, manifests=manifests, overrides=overrides, created=False,
                       _stack=None)

    def release(self) -> None:
        """Delete the cluster if this run created it."""
        if self.created and self.kind_bin is not None:
            log(f"deleting kind cluster {self.name!r}")
            run([self.kind_bin, "delete", "cluster", "--name", self.name, "--kubeconfig",
                 self.kubeconfig], check=False, timeout=300)
            self.created = False

    @property
    def api_ready(self) -> bool:
        return self._api is not None

    @property
    def api(self) -> pykube.HTTPClient:
        assert self._api is not None, "acquire() first"
        return self._api

    def stack(self) -> Stack:
        if self._stack is None:
            docs = load_manifests(self.manifests)
            services = []
            for doc in docs:
                if doc.kind == "Service":
                    port = int(doc.obj["spec"]["ports"][0]["port"])
                    services.append(ServiceRequirement(
                        name=doc.name, port=port, namespace=doc.namespace or "default"))
            self._stack = Stack(
                files=self._rewrite(docs),
                namespaces=[d.name for d in docs if d.kind == "Namespace"],
                services=services,
                workloads=[(d.kind, d.name, d.namespace or "default") for d in docs
                           if d.kind in WORKLOAD_KINDS])
        return self._stack

    def _rewrite(self, docs: list[Any]) -> list[Path]:
        """The manifests with image overrides applied, one file per source file (what a
        Makefile-era project would have had in its repository)."""
        out = self.workdir / f"rewritten-{self.manifests.parent.name}-{self.manifests.name}"
        out.mkdir(parents=True, exist_ok=True)
        by_file: dict[Path, list[dict[str, Any]]] = {}
        for doc in docs:
            by_file.setdefault(doc.path, []).append(with_image_overrides(doc, self.overrides))
        files = []
        for source, objs in sorted(by_file.items()):
            target = out / source.name
            target.write_text(yaml.safe_dump_all(objs, sort_keys=False), encoding="utf-8")
            files.append(target)
        return files

    def settings(self, *, kind_mode: bool, keep: bool) -> ClusterSettings:
        """Plugin settings for this cluster: reuse via the kubeconfig, or the kind path."""
        return ClusterSettings(
            cluster_name=self.name, keep_cluster=keep,
            kubeconfig=None if kind_mode else self.kubeconfig,
            kubeconfig_source=None if kind_mode else "--kubeconfig",
            kind_image_option=KIND_NODE_IMAGE,
            kind_bin=str(self.kind_bin) if kind_mode and self.kind_bin else None,
            kubectl=self.kubectl, manifests_dir=self.manifests,
            image_overrides=dict(self.overrides), ready_timeout=READY_TIMEOUT)

    def kubectl_cmd(self, *args: str) -> list[str]:
        return [str(self.kubectl), "--kubeconfig", str(self.kubeconfig), *args]

    def delete_namespaces(self) -> float:
        """Delete the stack's namespaces and wait until they are gone; seconds taken."""
        with Stopwatch() as sw:
            for name in self.stack().namespaces:
                ns = pykube.Namespace.objects(self.api).get_or_none(name=name)
                if ns is not None and not ns.obj["metadata"].get("deletionTimestamp"):
                    ns.delete()

            def gone() -> bool:
                left = [n for n in self.stack().namespaces
                        if pykube.Namespace.objects(self.api).get_or_none(name=n) is not None]
                if left:
                    raise NotReady(f"namespaces still terminating: {left}")
                return True

            wait_for_condition(gone, PollingConfig(timeout=READY_TIMEOUT, interval=0.25,
                                                   description="stack namespaces to be gone"))
        return sw.elapsed

    def kind_cluster(self) -> Any:
        """pytest-kind's handle on this cluster (never created or deleted through it)."""
        return KindCluster("bench", kubeconfig=self.kubeconfig, kubectl_path=self.kubectl,
                           kind_path=self.kind_bin or Path("kind"))

    def makefile_apply_and_wait(self) -> None:
        """The sequential baseline: ``kubectl apply -f`` per file, then per workload
        ``kubectl rollout status`` (``kubectl wait`` for Jobs and Pods)."""
        for path in self.stack().files:
            run(self.kubectl_cmd("apply", "-f", str(path)))
        for kind, name, namespace in self.stack().workloads:
            timeout = f"--timeout={READY_TIMEOUT:.0f}s"
            if kind == "Job":
                cmd = ["wait", "--for=condition=complete", f"job/{name}", timeout]
            elif kind == "Pod":
                cmd = ["wait", "--for=condition=Ready", f"pod/{name}", timeout]
            else:
                cmd = ["rollout", "status", f"{kind.lower()}/{name}", timeout]
            run(self.kubectl_cmd(*cmd, "-n", namespace), timeout=READY_TIMEOUT + 30)


class RecordingProgress(Progress):
    """The plugin's progress lines, kept for a per-step breakdown."""

    _STEP = re.compile(r"^(.*) \((\d+\.\d+)s\)$")

    def __init__(self) -> None:
        super().__init__(None)
        self.lines: list[str] = []

    def line(self, text: str) -> None:
        self.lines.append(text)
        super().line(text)

    def ready_times(self) -> dict[str, float]:
        """Per workload: seconds from the start of the wait until it was ready."""
        found = {}
        for text in self.lines:
            match = self._STEP.match(text)
            if match and text.startswith("ready: "):
                found[match.group(1).removeprefix("ready: ")] = float(match.group(2))
        return found

    def steps(self) -> dict[str, float]:
        """connect / create / apply / wait / forward durations (forwards run in parallel:
        the longest counts)."""
        names = {"connect to cluster": "connect", "create kind cluster": "kind create",
                 "reuse kind cluster": "kind reuse", "apply ": "apply",
                 "port-forward ": "forward"}
        found: dict[str, float] = {}
        for text in self.lines:
            match = self._STEP.match(text)
            if not match or text.startswith("ready: "):
                continue
            step = match.group(1)
            key = next((v for k, v in names.items() if step.startswith(k)), None)
            if key is None and step.endswith("workloads ready"):
                key = "wait ready"
            if key is not None:
                found[key] = max(found.get(key, 0.0), float(match.group(2)))
        return found


def _record_steps(result: BenchResult, figures: dict[str, Figure], prefix: str,
                  progress: RecordingProgress) -> None:
    for step, seconds in progress.steps().items():
        if step not in figures:
            figures[step] = result.figure(f"{prefix}: step '{step}'", "s")
        figures[step].samples.append(seconds)


def _http_answered(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/")
        conn.getresponse().read()
        return True
    finally:
        conn.close()


def _await_http(port: int) -> None:
    wait_for_condition(lambda: _http_answered(port), PollingConfig(
        timeout=60.0, interval=0.1, description=f"HTTP answer on 127.0.0.1:{port}"))


def _tcp_ok(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass


# -- 1. port-forward setup ----------------------------------------------------------------------


def bench_port_forward(result: BenchResult, cluster: Cluster, runs: int) -> None:
    """Request to first answered HTTP GET through a forward: ours vs pytest-kind."""
    runs = runs or 5
    web = cluster.stack().service(HTTP_SERVICE)
    log("port-forward: applying the stack and waiting for it (kubectl)")
    cluster.makefile_apply_and_wait()
    ours = result.figure("ours: PortForward.start + GET", "s",
                         f"svc/{web.name}:{web.port}, kubectl binds port 0")
    ours_start = result.figure("ours: PortForward.start alone", "s")
    theirs = result.figure("pytest-kind: port_forward + GET", "s",
                           "random port, time.sleep(1) per try")
    bare = result.figure("bare kubectl port-forward + GET", "s",
                         "the floor: kubectl's own announcement, then one GET")
    kind = cluster.kind_cluster()
    for i in range(runs):
        log(f"port-forward: run {i + 1}/{runs}")
        bare.samples.append(_bare_kubectl_forward(cluster, web.namespace, web.name, web.port))
        start = time.perf_counter()
        forward = PortForward(cluster.kubectl, cluster.kubeconfig, web.namespace,
                              f"svc/{web.name}", web.port)
        try:
            port = forward.start()
            started = time.perf_counter()
            _await_http(port)
            done = time.perf_counter()
        finally:
            forward.stop()
        ours.samples.append(done - start)
        ours_start.samples.append(started - start)

        start = time.perf_counter()
        try:
            with quiet_fds(), kind.port_forward(f"service/{web.name}", web.port,
                                                "-n", web.namespace) as kind_port:
                _await_http(kind_port)
                done = time.perf_counter()
        finally:
            kill_own_port_forwards()
        theirs.samples.append(done - start)
    ratio = theirs.median / ours.median
    result.target("pytest-kind / ours (median setup time)", ratio, ">=", 20.0, "x",
                  detail=f"ours {ours.median:.3f} s, pytest-kind {theirs.median:.3f} s")
    result.target("ours / bare kubectl (median setup time)", ours.median / bare.median, "<=",
                  1.2, "x", detail=f"ours {ours.median:.3f} s, bare {bare.median:.3f} s")


def _bare_kubectl_forward(cluster: Cluster, namespace: str, service: str, port: int) -> float:
    """Seconds from starting ``kubectl port-forward`` to a first answered GET, reading the port
    from kubectl's own announcement: the floor any forward built on kubectl can reach."""
    import subprocess

    start = time.perf_counter()
    proc = subprocess.Popen(
        cluster.kubectl_cmd("--namespace", namespace, "port-forward", "--address",
                             "127.0.0.1", f"svc/{service}", f":{port}"),
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            found = re.search(r"Forwarding from 127\.0\.0\.1:(\d+) -> ", line)
            if found:
                _await_http(int(found.group(1)))
                return time.perf_counter() - start
        raise RuntimeError(f"kubectl port-forward svc/{service} exited {proc.wait()}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# -- 2. cold session ----------------------------------------------------------------------------


def _ours_cold(cluster: Cluster, reqs: set[ServiceRequirement],
               ) -> tuple[float, RecordingProgress]:
    progress = RecordingProgress()
    session = ClusterSession(cluster.settings(kind_mode=False, keep=False), progress, reqs)
    try:
        start = time.perf_counter()
        session.provision(reqs)
        elapsed = time.perf_counter() - start
        for forward in session.forwards.values():  # check, not timed
            assert forward.local_port is not None
            _tcp_ok(forward.local_port)
    finally:
        session.close()
    return elapsed, progress


def _baseline_cold(cluster: Cluster) -> float:
    kind = cluster.kind_cluster()
    start = time.perf_counter()
    try:
        cluster.makefile_apply_and_wait()
        with ExitStack() as forwards:
            with quiet_fds():
                for req in cluster.stack().services:
                    forwards.enter_context(kind.port_forward(
                        f"service/{req.name}", req.port, "-n", req.namespace))
            elapsed = time.perf_counter() - start
    finally:
        kill_own_port_forwards()
    return elapsed


def bench_cold_session(result: BenchResult, cluster: Cluster, runs: int,
                       ratio: float = 1.5) -> None:
    """Namespace absent -> every Service applied, ready and forwarded."""
    runs = runs or 3
    stack = cluster.stack()
    reqs = set(stack.services)
    names = ", ".join(sorted(r.name for r in reqs))
    ours = result.figure(f"ours: provision({names})", "s", "reuse mode, parallel waits")
    base = result.figure("baseline: kubectl apply/rollout + pytest-kind forwards", "s",
                         "sequential, Makefile era")
    slowest_ready = result.figure("ours: longest per-workload readiness", "s",
                                  "on_ready time of the slowest workload in the run")
    alone = {r.name: result.figure(f"ours: provision({r.name}) alone", "s") for r in reqs}
    steps: dict[str, Figure] = {}
    deletion = result.figure("namespace deletion (between runs, not counted)", "s")
    deletion.samples.append(cluster.delete_namespaces())
    for i in range(runs):
        log(f"cold session: run {i + 1}/{runs} (ours)")
        elapsed, progress = _ours_cold(cluster, reqs)
        ours.samples.append(elapsed)
        ready = progress.ready_times()
        slowest_ready.samples.append(max(ready.values()))
        _record_steps(result, steps, "ours", progress)
        result.info.setdefault("ours_progress_lines", []).append(progress.lines)
        deletion.samples.append(cluster.delete_namespaces())
        log(f"cold session: run {i + 1}/{runs} (baseline)")
        base.samples.append(_baseline_cold(cluster))
        deletion.samples.append(cluster.delete_namespaces())
        for req in sorted(reqs, key=lambda r: r.name):
            log(f"cold session: run {i + 1}/{runs} ({req.name} alone)")
            elapsed, _ = _ours_cold(cluster, {req})
            alone[req.name].samples.append(elapsed)
            deletion.samples.append(cluster.delete_namespaces())
    slowest_alone = max(fig.median for fig in alone.values())
    result.target("ours <= longest per-workload readiness + 2 s", ours.median, "<=",
                  slowest_ready.median + 2.0, "s",
                  detail=f"longest readiness {slowest_ready.median:.2f} s")
    result.target("ours <= slowest service provisioned alone + 2 s", ours.median, "<=",
                  slowest_alone + 2.0, "s", detail=f"slowest alone {slowest_alone:.2f} s")
    result.target("baseline / ours", base.median / ours.median, ">=", ratio, "x",
                  detail=f"ours {ours.median:.2f} s, baseline {base.median:.2f} s")


# -- 3. warm rerun ------------------------------------------------------------------------------

WARM_TEST = '''\
def test_select_one(postgres_connection):
    with postgres_connection.cursor() as cur:
        cur.execute("SELECT 1")
        assert cur.fetchone() == (1,)
'''

WARM_STACK_TEST = '''\
def test_every_service(postgres_connection, minio_client, polaris_catalog, dagster_client):
    with postgres_connection.cursor() as cur:
        cur.execute("SELECT 1")
        assert cur.fetchone() == (1,)
    assert minio_client.bucket_exists("floe-iceberg")
    assert polaris_catalog.list_namespaces()
    assert dagster_client is not None
'''


@contextmanager
def postgres_forward(cluster: Cluster) -> Iterator[tuple[int, dict[str, Any]]]:
    """A forward to the stack's postgres and its settings (from the manifests' Secret)."""
    with env_endpoints(cluster, ("postgres",)) as (_, found):
        settings = found["postgres"]
        yield int(settings["port"]), settings


@contextmanager
def env_endpoints(cluster: Cluster, keys: tuple[str, ...],
                  ) -> Iterator[tuple[dict[str, str], dict[str, dict[str, Any]]]]:
    """Forwards to these stack services, the env vars that point the fixtures at them (env
    endpoint mode: no cluster work), and each service's settings."""
    env: dict[str, str] = {}
    found: dict[str, dict[str, Any]] = {}
    with ExitStack() as stack:
        for key in keys:
            service = next(s for s in builtin_services() if s.name == key)
            req = cluster.stack().service(service.service)
            forward = PortForward(cluster.kubectl, cluster.kubeconfig, req.namespace,
                                  f"svc/{req.name}", req.port)
            stack.callback(forward.stop)
            port = forward.start()
            data: dict[str, str] = {}
            if service.secret is not None:
                secret = pykube.Secret.objects(cluster.api, namespace=req.namespace)\
                    .get_by_name(service.secret)
                data = {k: base64.b64decode(v).decode() for k, v in secret.obj["data"].items()}
            found[key] = service.values_from_cluster("127.0.0.1", port, data)
            env.update({f"{key.upper()}_{name.upper()}": str(value)
                        for name, value in found[key].items()})
        if "polaris" in found and "minio" in found:  # table data through the MinIO forward
            env["POLARIS_S3_ENDPOINT"] = env["MINIO_ENDPOINT"]
        yield env, found


def bench_warm_rerun(result: BenchResult, cluster: Cluster, runs: int,
                     services: tuple[str, ...] = ("postgres",), target: float = 2.0) -> None:
    """Second and later runs on a kept cluster whose stack is already up: one test using
    ``services`` (postgres alone, or the whole stack)."""
    runs = runs or 3
    kind_mode = cluster.mode == "kind"
    suite = cluster.workdir / f"warm-suite-{'-'.join(services)}"
    suite.mkdir(exist_ok=True)
    (suite / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (suite / "test_warm.py").write_text(WARM_TEST if services == ("postgres",)
                                        else WARM_STACK_TEST, encoding="utf-8")
    args: list[str] = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                       "--keep-cluster", "--floe-manifests", str(cluster.manifests),
                       "--floe-ready-timeout", f"{READY_TIMEOUT:.0f}"]
    for old, new in cluster.overrides.items():
        args += ["--floe-image-override", f"{old}={new}"]
    env = clean_env()
    if kind_mode:
        assert cluster.kind_bin is not None
        args += ["--kind-bin", str(cluster.kind_bin)]
    else:
        env["KUBECONFIG"] = str(cluster.kubeconfig)
    args.append(str(suite))

    log("warm rerun: first run (applies the stack, keeps everything)")
    first, _ = timed_run(args, cwd=cluster.workdir, env=env)
    result.figure("subprocess: first run (apply + wait, kept)", "s").samples.append(first)
    uses = ", ".join(services)
    sub = result.figure(f"subprocess: pytest --keep-cluster ({cluster.mode} mode)", "s",
                        f"wall time, 1 test using {uses}")
    sub_env = result.figure("subprocess: same test, service env vars (no cluster work)", "s",
                            f"{uses} reached through already-open forwards")
    inproc = result.figure("in-process: start + provision + forward", "s",
                           f"ClusterSession, {cluster.mode} mode, keep_cluster")
    inproc_start = result.figure("in-process: start (choose + connect cluster)", "s")
    inproc_prov = result.figure("in-process: provision (apply unchanged, ready, forward)", "s")
    steps: dict[str, Figure] = {}
    by_name = {s.name: s for s in builtin_services()}
    reqs = {cluster.stack().service(by_name[key].service) for key in services}
    with env_endpoints(cluster, services) as (service_env, _):
        env_direct = {**env, **service_env}
        for i in range(runs):
            log(f"warm rerun: run {i + 1}/{runs}")
            elapsed, _ = timed_run(args, cwd=cluster.workdir, env=env)
            sub.samples.append(elapsed)
            elapsed, _ = timed_run(args, cwd=cluster.workdir, env=env_direct)
            sub_env.samples.append(elapsed)
            progress = RecordingProgress()
            session = ClusterSession(cluster.settings(kind_mode=kind_mode, keep=True),
                                     progress, reqs)
            try:
                t0 = time.perf_counter()
                session.start()
                t1 = time.perf_counter()
                session.provision(reqs)
                t2 = time.perf_counter()
            finally:
                session.close()
            inproc.samples.append(t2 - t0)
            inproc_start.samples.append(t1 - t0)
            inproc_prov.samples.append(t2 - t1)
            _record_steps(result, steps, "in-process", progress)
            result.info.setdefault("inprocess_progress_lines", []).append(progress.lines)
    overhead = sub.median - sub_env.median
    result.figure("subprocess overhead (cluster run - env run)", "s",
                  "difference of medians").samples.append(overhead)
    result.target("warm session (in-process start + provision + forward)", inproc.median, "<",
                  target, "s", detail=f"{cluster.mode} mode on a kept cluster")
    result.target("warm subprocess overhead vs. env-configured run", overhead, "<", target, "s",
                  detail=f"{sub.median:.2f} s - {sub_env.median:.2f} s")
    log("warm rerun: deleting the kept stack")
    cluster.delete_namespaces()


@contextmanager
def cluster_postgres(cluster: Cluster) -> Iterator[tuple[Any, str]]:
    """The stack's postgres (applied if needed) as a PostgresConfig, for the isolation bench."""
    from floe_testing.services.postgres.config import PostgresConfig

    cluster.makefile_apply_and_wait()
    with postgres_forward(cluster) as (port, settings):
        yield PostgresConfig(**settings), f"cluster postgres via port-forward 127.0.0.1:{port}"


__all__ = ["Cluster", "bench_cold_session", "bench_port_forward", "bench_warm_rerun",
           "cluster_postgres"]
