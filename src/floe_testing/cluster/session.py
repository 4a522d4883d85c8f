"""The cluster session: the one object that brings the stack up lazily and tears it down.

It implements :class:`floe_testing.service_directory.ClusterProvider`. Nothing happens at
construction; the first ``endpoint()`` call picks the cluster (reuse or kind), applies the
components the selected tests need, waits for them in parallel and forwards their Services.
"""

from __future__ import annotations

import base64
import os
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, chdir, contextmanager, nullcontext
from pathlib import Path
from typing import Any

import pykube
from pytest_kind import KindCluster

from floe_testing.cluster.apply import apply_document
from floe_testing.cluster.kind_binary import INSTALL_HINT, resolve_kind_binary
from floe_testing.cluster.kubeconfig import (
    ClusterAccess,
    connect,
    connect_in_cluster,
    restrict_permissions,
)
from floe_testing.cluster.manifests import (
    WORKLOAD_KINDS,
    Component,
    ManifestDoc,
    apply_order,
    components,
    load_layers,
    with_dependencies,
)
from floe_testing.cluster.port_forward import PortForward
from floe_testing.cluster.progress import Progress
from floe_testing.cluster.readiness import Workload, wait_ready
from floe_testing.cluster.settings import ClusterSettings
from floe_testing.cluster.shared_run import SharedRun
from floe_testing.errors import FloeTestingError, InfrastructureError
from floe_testing.models import ServiceRequirement
from floe_testing.service_directory import FORWARD, Endpoint, dns_name

ServiceKey = tuple[str, str, int]  # namespace, service, port


class ClusterSession:
    """Lazily provisioned cluster plus stack; see the module docstring."""

    def __init__(self, settings: ClusterSettings, progress: Progress,
                 planned: Iterable[ServiceRequirement] = (),
                 shared: SharedRun | None = None) -> None:
        self.settings = settings
        self.progress = progress
        self.planned = set(planned)
        self.shared = shared
        self.access: ClusterAccess | None = None
        self.kind: KindCluster | None = None
        self.forwards: dict[ServiceKey, PortForward] = {}
        self._lock = threading.RLock()
        self._docs: list[ManifestDoc] | None = None
        self._components: dict[str, Component] = {}
        self._applied: set[str] = set()
        self._created: list[dict[str, str]] = []
        self._closed = False

    # -- cluster -------------------------------------------------------------------------

    @property
    def started(self) -> bool:
        """True once a cluster has been chosen and connected to."""
        return self.access is not None

    @property
    def api(self) -> pykube.HTTPClient:
        """pykube client for the session's cluster (starts it if needed)."""
        return self.start().api

    @property
    def kubeconfig(self) -> Path:
        """Path of the kubeconfig in use."""
        return self.start().path

    def start(self) -> ClusterAccess:
        """Choose and connect to the cluster once; print the header line."""
        with self._lock:
            if self._closed:
                raise InfrastructureError("the floe-testing cluster session is already closed")
            if self.access is None:
                with self._shared_lock():
                    self.access = self._reuse() if self.settings.reuse else self._kind()
                if self.shared is not None:
                    self.shared.record_cluster(cluster_info(self.settings, self.kind))
            return self.access

    def _shared_lock(self) -> AbstractContextManager[object]:
        """Under pytest-xdist, one worker at a time creates the cluster or applies."""
        return self.shared.lock() if self.shared is not None else nullcontext()

    def _reuse(self) -> ClusterAccess:
        if self.settings.kubeconfig is None:  # inside a pod: services by DNS, no forwards
            access = connect_in_cluster()
            self.progress.line(f"in-cluster: using the pod's cluster (server {access.server}); "
                               "services are reached through their DNS names")
            return access
        source = self.settings.kubeconfig_source or "kubeconfig"
        with self.progress.step(f"connect to cluster from {source} {self.settings.kubeconfig}"):
            access = connect(self.settings.kubeconfig, source)
        self.progress.line(f"using existing cluster {access.describe()} "
                           "(reused: never created or deleted)")
        return access

    def _kind(self) -> ClusterAccess:
        s = self.settings
        kind = resolve_kind_binary(s.kind_bin)
        kubeconfig = s.state_dir / s.cluster_name / "kubeconfig"
        kubeconfig.parent.mkdir(parents=True, exist_ok=True)
        cluster = _kind_cluster(s.cluster_name, s.state_dir, kubeconfig=kubeconfig,
                                image=s.kind_image, kind_path=kind.path, kubectl_path=s.kubectl)
        kept = _kept_cluster_access(kubeconfig)
        if kept is not None:  # a kept cluster answers with the kubeconfig kind wrote for it
            self.progress.line(f"using kind cluster {s.cluster_name!r} (reuse, kept by an "
                               f"earlier run; keep={'yes' if s.keep_cluster else 'no'})")
            self.kind = cluster
            self._load_images(cluster, kind.path)
            return kept
        exists = s.cluster_name in _kind_clusters(kind.path)  # fails before we own anything
        verb = "reuse" if exists else "create"
        self.progress.line(f"using kind cluster {s.cluster_name!r} ({verb}; kind {kind.path} "
                           f"from {kind.source}; keep={'yes' if s.keep_cluster else 'no'})")
        self.kind = cluster  # from here on, an interrupt means: delete what may exist
        if exists:  # kept by an earlier run, maybe from another directory: ask kind for access
            with self.progress.step(f"export kubeconfig of kind cluster {s.cluster_name!r}"):
                _export_kubeconfig(kind.path, s.cluster_name, kubeconfig)
        else:
            self._create(cluster, kind.path, kubeconfig)
        restrict_permissions(kubeconfig)
        self._load_images(cluster, kind.path)
        return connect(kubeconfig, f"kind cluster {s.cluster_name!r} kubeconfig")

    def _load_images(self, cluster: KindCluster, kind: Path) -> None:
        """Put the project's locally built images into the kind node (kind's own commands:
        ``load docker-image`` through pytest-kind, ``load image-archive`` for archives)."""
        for image in self.settings.load_images:
            archive = Path(image).is_absolute()
            failed: subprocess.CalledProcessError | None = None
            with self.progress.step(f"load {'image archive' if archive else 'image'} {image} "
                                    f"into kind cluster {cluster.name!r}"), \
                    _stderr_tail() as kind_said:
                try:
                    if archive:
                        subprocess.run([str(kind), "load", "image-archive", "--name",
                                        cluster.name, image], check=True, timeout=600)
                    else:
                        cluster.load_docker_image(image)
                except subprocess.CalledProcessError as exc:
                    failed = exc
            if failed is not None:
                raise InfrastructureError(
                    f"kind could not load {image!r} into cluster {cluster.name!r} (exit "
                    f"{failed.returncode}):\n"
                    + "".join(f"  | {line}\n" for line in kind_said[-6:])
                    + "Build or pull the image locally first (`docker images` must list it), "
                    "or fix --floe-load-image / floe_load_images / FLOE_LOAD_IMAGES.")

    def _create(self, cluster: KindCluster, kind: Path, kubeconfig: Path) -> None:
        name = self.settings.cluster_name
        failed: subprocess.CalledProcessError | None = None
        with self.progress.step(f"create kind cluster {name!r}"):
            with _stderr_tail() as kind_said:
                try:
                    cluster.create()
                except subprocess.CalledProcessError as exc:
                    failed = exc
            if failed is not None:
                self.kind = None  # kind failed and cleaned up itself: nothing of ours
                if kubeconfig.exists() and not kubeconfig.stat().st_size:
                    kubeconfig.unlink()  # pytest-kind touched it before creating
                raise InfrastructureError(
                    f"`kind create cluster --name {name}` failed (exit {failed.returncode}) "
                    f"with {kind}:\n"
                    + "".join(f"  | {line}\n" for line in kind_said[-12:])
                    + "If no container engine runs here, install Docker or Podman; to use an "
                    "existing cluster instead, set KUBECONFIG."
                )

    # -- manifests -----------------------------------------------------------------------

    def _load(self) -> dict[str, Component]:
        if self._docs is None:
            s = self.settings
            self._docs = load_layers(s.manifests_dir, s.extra_manifests)
            self.progress.line(f"manifests from {s.manifests_source}: {s.manifests_dir}"
                               + "".join(f" + {extra}" for extra in s.extra_manifests))
            self._components = components(self._docs)
        return self._components

    def component_of(self, service: str, namespace: str) -> str | None:
        """The manifest component that defines this Service, if any."""
        for comp in self._load().values():
            for name, ns, _ in comp.services():
                if name == service and (ns or "default") == namespace:
                    return comp.name
        return None

    def provision(self, requirements: Iterable[ServiceRequirement]) -> None:
        """Apply the components these services need (with dependencies), wait, forward."""
        comps = self._load()  # a broken manifest fails before any cluster is created
        access = self.start()
        reqs = set(requirements)
        wanted = {c for c in (self.component_of(r.name, r.namespace) for r in reqs) if c}
        wanted |= {name for name, comp in comps.items() if comp.always}
        todo = sorted(with_dependencies(wanted, comps) - self._applied)
        if todo:
            docs = apply_order(d for name in todo for d in comps[name].docs)
            with self._shared_lock():
                self._apply(access.api, docs)
                self._applied.update(todo)
                workloads = [Workload(d.kind, d.name, d.namespace or "default")
                             for d in docs if d.kind in WORKLOAD_KINDS]
                self._wait(access.api, workloads)
        if not self.settings.in_cluster:
            self._forward([r for r in reqs if _key(r) not in self.forwards])

    def _apply(self, api: pykube.HTTPClient, docs: list[ManifestDoc]) -> None:
        counts = {"created": 0, "updated": 0, "unchanged": 0}
        with self.progress.step(f"apply {len(docs)} manifest documents") as _:
            for doc in docs:
                applied = apply_document(api, doc, self.settings.image_overrides)
                counts[applied.outcome] += 1
                if applied.outcome == "created":
                    self._created.append(object_ref(applied.obj))
        self.progress.line("manifests: " + ", ".join(f"{n} {k}" for k, n in counts.items()))

    def _wait(self, api: pykube.HTTPClient, workloads: list[Workload]) -> None:
        if not workloads:
            return
        with self.progress.step(f"{len(workloads)} workloads ready"):
            wait_ready(api, workloads, timeout=self.settings.ready_timeout,
                       on_ready=lambda w, t: self.progress.line(f"ready: {w} ({t:.2f}s)"))

    # -- forwards ------------------------------------------------------------------------

    def _forward(self, reqs: list[ServiceRequirement]) -> None:
        if not reqs:
            return
        access = self.start()

        def start_one(req: ServiceRequirement) -> PortForward:
            forward = PortForward(self.settings.kubectl, access.path, req.namespace,
                                  f"svc/{req.name}", req.port)
            with self.progress.step(f"port-forward {forward}") as _:
                forward.start()
            return forward

        with ThreadPoolExecutor(max_workers=min(8, len(reqs)),
                                thread_name_prefix="floe-forward") as pool:
            results = list(pool.map(start_one, reqs))
        for req, forward in zip(reqs, results, strict=True):
            self.forwards[_key(req)] = forward
            self.progress.line(f"forwarded {forward} -> 127.0.0.1:{forward.local_port}")

    # -- ServiceProvider ------------------------------------------------------------------

    def endpoint(self, service: str, port: int, namespace: str) -> Endpoint:
        """Provision on first use (all planned services at once), then the live address."""
        req = ServiceRequirement(name=service, port=port, namespace=namespace)
        with self._lock:
            if _key(req) not in self.forwards:
                self.provision(self.planned | {req} if not self._applied else {req})
            if self.settings.in_cluster:
                return Endpoint(dns_name(service, namespace), port, "the Service's DNS name")
            forward = self.forwards[_key(req)]
        local = forward.ensure_alive()
        return Endpoint("127.0.0.1", local, f"{FORWARD} of svc/{service} in {namespace}")

    def secret_data(self, name: str, namespace: str) -> Mapping[str, str]:
        """Decoded data of a Secret, read from the cluster (the manifests own the values)."""
        api = self.start().api
        try:
            secret = pykube.Secret.objects(api, namespace=namespace).get_by_name(name)
        except pykube.exceptions.ObjectDoesNotExist:
            raise InfrastructureError(
                f"Secret {namespace}/{name} does not exist in the cluster; the manifests must "
                "define it (it holds the credentials the fixtures use)."
            ) from None
        data = secret.obj.get("data") or {}
        return {k: base64.b64decode(v).decode() for k, v in data.items()}

    def service_diagnosis(self, service: str, namespace: str) -> str:
        """The state of the pods behind a Service: phase, containers, recent events, last log
        lines (what a failed test's report shows next to its traceback)."""
        from floe_testing.cluster.readiness import diagnose

        api = self.start().api
        svc = pykube.Service.objects(api, namespace=namespace).get_or_none(name=service)
        if svc is None:
            return f"Service {namespace}/{service} does not exist (any more)"
        selector = svc.obj.get("spec", {}).get("selector") or {}
        pods = list(pykube.Pod.objects(api, namespace=namespace).filter(selector=selector))
        if not pods:
            return f"no pod matches the selector {selector} of Service {namespace}/{service}"
        return "\n".join(diagnose(api, pod, log_lines=10) for pod in pods)

    # -- teardown ------------------------------------------------------------------------

    def close(self) -> None:
        """Stop forwards; remove what must go. Safe to call again after an interrupt: each
        step is idempotent and the session counts as closed only once all steps are done."""
        with self._lock:
            if self._closed:
                return
            if self.forwards:  # in parallel: each waits for its kubectl to exit
                with ThreadPoolExecutor(max_workers=len(self.forwards),
                                        thread_name_prefix="floe-forward-stop") as pool:
                    list(pool.map(PortForward.stop, list(self.forwards.values())))
            if self.forwards:
                self.progress.line(f"stopped {len(self.forwards)} port-forwards")
            self.forwards.clear()
            if self.shared is not None:
                # the xdist controller removes things once every worker is done
                self.shared.record_created(self._created)
                self._created = []
            elif self.access is not None or self.kind is not None:
                try:
                    release(self.settings, cluster_info(self.settings, self.kind),
                            self._created, self.progress)
                except (FloeTestingError, subprocess.CalledProcessError, OSError,
                        pykube.exceptions.PyKubeError) as exc:
                    self._closed = True
                    raise InfrastructureError(f"teardown could not release the cluster: {exc}. "
                                              f"{_manual_cleanup_hint(self.settings)}") from None
            self._closed = True


def _manual_cleanup_hint(settings: ClusterSettings) -> str:
    if settings.reuse:
        return "Check the reused cluster for objects labelled floe-testing.dev/run-id."
    return f"Remove it by hand: kind delete cluster --name {settings.cluster_name}"


def cluster_info(settings: ClusterSettings, kind: KindCluster | None) -> dict[str, Any]:
    """What a later process needs to release the cluster: mode, name, binaries, kubeconfig."""
    if kind is None:
        return {"mode": "reuse",
                "kubeconfig": str(settings.kubeconfig) if settings.kubeconfig else None,
                "source": settings.kubeconfig_source}
    return {"mode": "kind", "name": kind.name, "kind_path": str(kind.kind_path),
            "kubectl_path": str(kind.kubectl_path), "kubeconfig": str(kind.kubeconfig_path)}


def object_ref(obj: pykube.objects.APIObject) -> dict[str, str]:
    """Enough to find an object again from another process."""
    return {"apiVersion": obj.version, "kind": obj.kind, "name": obj.name,
            "namespace": obj.obj["metadata"].get("namespace") or ""}


def release(settings: ClusterSettings, info: dict[str, Any] | None,
            created: list[dict[str, str]], progress: Progress) -> None:
    """End of run: delete the kind cluster unless kept; on a reused cluster, delete what the
    run created unless kept. Never deletes a reused cluster."""
    if info is None:
        return
    if settings.keep_cluster:
        if info["mode"] == "kind":
            progress.line(f"kept kind cluster {info['name']!r} (--keep-cluster); the next run "
                          "reuses it")
        return
    if info["mode"] == "kind":
        kind = KindCluster(info["name"], kubeconfig=Path(info["kubeconfig"]),
                           kind_path=Path(info["kind_path"]),
                           kubectl_path=Path(info["kubectl_path"]))
        with progress.step(f"delete kind cluster {info['name']!r}"):
            kind.delete()
        return
    if created:
        access = (connect(Path(info["kubeconfig"]), info.get("source") or "kubeconfig")
                  if info["kubeconfig"] else connect_in_cluster())
        _delete_created(access.api, created, progress)


def _delete_created(api: pykube.HTTPClient, created: list[dict[str, str]],
                    progress: Progress) -> None:
    """Newest first; objects inside a namespace the run created go with the namespace."""
    namespaces = {r["name"] for r in created if r["kind"] == "Namespace"}
    doomed = [r for r in reversed(created)
              if r["kind"] == "Namespace" or r["namespace"] not in namespaces]
    with progress.step(f"delete {len(doomed)} objects created by this run "
                       f"(namespaces: {', '.join(sorted(namespaces)) or 'none'})"):
        for ref in doomed:
            cls = pykube.object_factory(api, ref["apiVersion"], ref["kind"])
            metadata = {"name": ref["name"], **({"namespace": ref["namespace"]}
                                                if ref["namespace"] else {})}
            cls(api, {"metadata": metadata}).delete(propagation_policy="Background")


@contextmanager
def _stderr_tail() -> Iterator[list[str]]:
    """Collect what child processes write to fd 2 (pytest-kind runs kind without capturing
    it), so a failure can quote kind's own words; everything is echoed afterwards."""
    lines: list[str] = []
    with tempfile.TemporaryFile() as sink:
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            data = sink.read()
            os.write(2, data)
            lines.extend(line for line in data.decode(errors="replace").splitlines() if line)


def _key(req: ServiceRequirement) -> ServiceKey:
    return (req.namespace, req.name, req.port)


def _kind_cluster(name: str, state_dir: Path, **options: Any) -> KindCluster:
    """pytest-kind's ``KindCluster``, with its scratch folder (``.pytest-kind/NAME``, which it
    creates relative to the working directory) inside our state directory instead of the
    user's project."""
    state_dir.mkdir(parents=True, exist_ok=True)
    with chdir(state_dir):  # session start: no other thread of ours runs yet
        cluster = KindCluster(name, **options)
    cluster.path = (state_dir / cluster.path).resolve()
    return cluster


def _kept_cluster_access(kubeconfig: Path) -> ClusterAccess | None:
    """Access through the kubeconfig an earlier run of this project wrote for the cluster, if
    that cluster still answers to it (its certificates are the cluster's own, so a new
    cluster of the same name does not); else None, and kind is asked as usual. This spares a
    warm rerun kind's ``get clusters`` and ``export kubeconfig`` (about 1.5 s)."""
    if not kubeconfig.is_file() or not kubeconfig.stat().st_size:
        return None
    try:
        return connect(kubeconfig, "the kept cluster's kubeconfig", timeout=2.0)
    except FloeTestingError:
        return None


def _export_kubeconfig(kind: Path, name: str, kubeconfig: Path) -> None:
    """Write the admin kubeconfig of an existing kind cluster (0600)."""
    kubeconfig.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([str(kind), "export", "kubeconfig", "--name", name,
                           "--kubeconfig", str(kubeconfig)],
                          capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise InfrastructureError(
            f"kind cluster {name!r} exists but `kind export kubeconfig --name {name}` failed "
            f"(exit {done.returncode}): {done.stderr.strip()[-500:] or 'no output'}")


def _kind_clusters(kind: Path) -> set[str]:
    try:
        out = subprocess.run([str(kind), "get", "clusters"], capture_output=True, text=True,
                             timeout=60, check=False).stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InfrastructureError(f"could not run {kind}: {exc}.\n{INSTALL_HINT}") from None
    return {line.strip() for line in out.splitlines() if line.strip()}
