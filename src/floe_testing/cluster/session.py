"""The cluster session: the one object that brings the stack up lazily and tears it down.

It is the directory's :class:`~floe_testing.service_directory.ClusterProvider`. Nothing happens
at construction; the first ``endpoint()`` call picks the cluster (the pod's own in in-cluster
mode, a reused one named by a kubeconfig, or the run's kind cluster: ``kind``), brings up the
components every planned service needs (``stack``), and forwards their Services
(``forwards``). ``close()`` is the one teardown: forwards stopped, then what the run must
release released (``release``), or recorded for the xdist controller (``shared_run``).
"""

from __future__ import annotations

import base64
import subprocess
import threading
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

import pykube

from floe_testing.cluster.forwards import Forwards, ServiceKey
from floe_testing.cluster.kind import KindClusterOfRun
from floe_testing.cluster.kubeconfig import ClusterAccess, connect, connect_in_cluster
from floe_testing.cluster.port_forward import PortForward
from floe_testing.cluster.progress import Progress
from floe_testing.cluster.records import ClusterRecord
from floe_testing.cluster.release import manual_cleanup_hint, release
from floe_testing.cluster.settings import ClusterSettings, find_kubectl
from floe_testing.cluster.shared_run import SharedRun
from floe_testing.cluster.stack import Stack
from floe_testing.endpoint import Endpoint, dns_name
from floe_testing.errors import FloeTestingError, InfrastructureError

if TYPE_CHECKING:
    from floe_testing.redaction import SecretValues
    from floe_testing.service_requirement import ServiceRequirement


class ClusterSession:
    """Lazily provisioned cluster plus stack; see the module docstring.

    kubectl is found when the cluster is first needed (a run that needs none does not need
    kubectl either); ``secrets`` (the run's) learns every Secret's data the session reads, to
    mask it.
    """

    def __init__(self, settings: ClusterSettings, progress: Progress,
                 planned: set[ServiceRequirement] | None = None,
                 shared: SharedRun | None = None, *,
                 secrets: SecretValues | None = None) -> None:
        self.settings = settings
        self.progress = progress
        #: the services the selected tests need, brought up together at the first need
        self.planned = planned if planned is not None else set()
        self.shared = shared
        self.access: ClusterAccess | None = None
        self.stack = Stack(settings, progress, secrets)
        self._forwards = Forwards(progress)
        self._provisioned: set[ServiceRequirement] = set()
        self._kind: KindClusterOfRun | None = None
        self._kubectl_found = settings.in_cluster  # a pod never needs kubectl
        self._secrets = secrets
        self._lock = threading.RLock()
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

    @property
    def forwards(self) -> dict[ServiceKey, PortForward]:
        """The session's forwards by (Kubernetes namespace, Service, port)."""
        return self._forwards.by_key

    def _resolve_kubectl(self) -> None:
        """kubectl, found when the cluster is first needed (once; a clear error if none). In a
        pod it is never needed: no forwards, and the API is pykube's."""
        if not self._kubectl_found:
            self.settings = self.settings._replace(kubectl=find_kubectl(self.settings.kubectl))
            self.stack.settings = self.settings
            self._kubectl_found = True

    def start(self) -> ClusterAccess:
        """Choose and connect to the cluster once; print the header line."""
        with self._lock:
            if self._closed:
                raise InfrastructureError("the floe-testing cluster session is already closed")
            if self.access is None:
                self._resolve_kubectl()
                with self._shared_lock():
                    self.access = self._reuse() if self.settings.reuse else self._kind_cluster()
                if self.shared is not None:
                    self.shared.record_cluster(self.record())
            return self.access

    def record(self) -> ClusterRecord:
        """The cluster in use, as the end of the run needs it."""
        if self._kind is not None and self._kind.cluster is not None:
            return self._kind.record()
        s = self.settings
        return ClusterRecord("reuse", str(s.kubeconfig) if s.kubeconfig else None,
                             source=s.kubeconfig_source)

    def _shared_lock(self) -> AbstractContextManager[object]:
        """Under pytest-xdist, one worker at a time creates the cluster or applies."""
        return self.shared.lock() if self.shared is not None else nullcontext()

    def _reuse(self) -> ClusterAccess:
        if self.settings.kubeconfig is None:  # in-cluster mode: the pod's own cluster
            access = connect_in_cluster()
            self.progress.line(f"in-cluster: using the pod's cluster (server {access.server}); "
                               "services are reached through their DNS names")
            return access
        if self.settings.kind_config is not None:
            self.progress.line(f"kind config {self.settings.kind_config} not used: the cluster "
                               "is reused, not created")
        source = self.settings.kubeconfig_source or "kubeconfig"
        with self.progress.step(f"connect to cluster from {source} {self.settings.kubeconfig}"):
            access = connect(self.settings.kubeconfig, source)
        self.progress.line(f"using existing cluster {access.describe()} "
                           "(reused: never created or deleted)")
        return access

    def _kind_cluster(self) -> ClusterAccess:
        self._kind = KindClusterOfRun(self.settings, self.progress)
        return self._kind.connect()

    # -- services --------------------------------------------------------------------------

    def provision(self, requirements: Iterable[ServiceRequirement], *,
                  expose: bool = True) -> None:
        """Bring up the components these services need, then forward them (no forwards in
        in-cluster mode, where the Services' DNS names answer, nor with ``expose=False``, for
        a run whose tests run in pods). In a shard pod the stack is the outer run's: nothing
        is applied."""
        reqs = list(set(requirements))
        if self.settings.stack_provided:
            self.start()
            self._provisioned.update(reqs)
            return
        self._resolve_kubectl()  # a missing kubectl fails before anything else
        self.stack.components()  # a broken manifest fails before any cluster is created
        access = self.start()
        with self._shared_lock():
            self.stack.bring_up(access.api, reqs)
        if expose and not self.settings.in_cluster:
            try:
                self._forwards.open(self.settings.kubectl, access.path, reqs)
            finally:  # a service whose forward started is ready, whatever happened to others
                self._provisioned.update(r for r in reqs if r in self._forwards)
        self._provisioned.update(reqs)

    def provision_component(self, name: str) -> pykube.HTTPClient:
        """Bring up one manifest component (and what it depends on) without forwards, e.g. the
        release a chart's test hooks run against; the cluster's client."""
        self._resolve_kubectl()
        self.stack.components()  # a broken manifest fails before any cluster is created
        access = self.start()
        with self._shared_lock():
            self.stack.bring_up_component(access.api, name)
        return access.api

    def endpoint(self, service: str, port: int, namespace: str) -> Endpoint:
        """Provision on first use (all planned services at once), then the live address."""
        from floe_testing.service_requirement import ServiceRequirement

        req = ServiceRequirement(name=service, port=port, namespace=namespace)
        with self._lock:
            if req not in self._provisioned:
                self.provision(self.planned | {req} if not self._provisioned else {req})
        if self.settings.in_cluster:
            return Endpoint(dns_name(service, namespace), port, "the Service's DNS name", "dns")
        return self._forwards.endpoint(req)

    def serves(self, requirement: ServiceRequirement) -> bool:
        """True once this session brought the service up (a service given by env is not)."""
        return requirement in self._provisioned

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
        decoded = {k: base64.b64decode(v).decode() for k, v in data.items()}
        if self._secrets is not None:
            self._secrets.add_secret_data(decoded)
        return decoded

    def diagnosis_sections(self, requirements: Iterable[ServiceRequirement]
                           ) -> list[tuple[str, str]]:
        """A report section per service (for a failed test that used them): its pods'
        state, recent events and last log lines, so the server side of the failure is one
        scroll away. Nothing before the cluster has started, nor in a shard pod (which may not
        read other pods: the outer run adds the diagnosis to the reports it replays)."""
        if not self.started or self.settings.stack_provided:
            return []
        sections = []
        for requirement in sorted(requirements, key=lambda r: r.name):
            try:
                text = self.service_diagnosis(requirement.name, requirement.namespace)
            except Exception as exc:  # noqa: BLE001 - a diagnosis never hides the failure
                text = f"(no diagnosis: {type(exc).__name__}: {exc})"
            sections.append(
                (f"floe-testing: svc/{requirement.name} in {requirement.namespace}", text))
        return sections

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
        """The one teardown: stop forwards; release what must go (or, under xdist, record it
        for the controller). Safe to call again after an interrupt: each step is idempotent,
        and the session counts as closed only once all steps are done."""
        with self._lock:
            if self._closed:
                return
            self._forwards.stop()
            if self.shared is not None:
                # the xdist controller releases things once every worker is done
                self.shared.record_created(self.stack.created)
                self.stack.created = []
            elif self.access is not None or (self._kind is not None
                                             and self._kind.cluster is not None):
                try:
                    release(self.settings, self.record(), self.stack.created, self.progress)
                except (FloeTestingError, subprocess.CalledProcessError, OSError,
                        pykube.exceptions.PyKubeError) as exc:
                    self._closed = True
                    raise InfrastructureError(
                        f"teardown could not release the cluster: {exc}. "
                        f"{manual_cleanup_hint(self.settings)}") from None
            self._closed = True
