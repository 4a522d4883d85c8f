"""The session's forwards: one :class:`PortForward` per needed service port, started together,
each keeping its local address until the session ends."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from floe_testing.cluster.port_forward import PortForward, PortForwardError
from floe_testing.endpoint import Endpoint
from floe_testing.errors import FloeTestingError

if TYPE_CHECKING:
    from floe_testing.cluster.progress import Progress
    from floe_testing.service_requirement import ServiceRequirement

ServiceKey = tuple[str, str, int]  # Kubernetes namespace, Service, port


def key_of(requirement: ServiceRequirement) -> ServiceKey:
    return (requirement.namespace, requirement.name, requirement.port)


class Forwards:
    """The forwards of a session, by (Kubernetes namespace, Service, port)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.by_key: dict[ServiceKey, PortForward] = {}

    def __contains__(self, requirement: ServiceRequirement) -> bool:
        return key_of(requirement) in self.by_key

    def open(self, kubectl: Path, kubeconfig: Path,
             requirements: list[ServiceRequirement]) -> None:
        """Start a forward per requirement not forwarded yet, in parallel. When some cannot
        start, those that did are kept (stopped with the others at the session's end; asked
        for again, they are not started twice) and the failures are raised, in the order of
        ``requirements``."""
        todo = [r for r in requirements if r not in self]
        if not todo:
            return

        def start_one(req: ServiceRequirement) -> PortForward:
            forward = PortForward(kubectl, kubeconfig, req.namespace, f"svc/{req.name}", req.port)
            with self.progress.step(f"port-forward {forward}"):
                forward.start()
            return forward

        with ThreadPoolExecutor(max_workers=min(8, len(todo)),
                                thread_name_prefix="floe-forward") as pool:
            futures = [pool.submit(start_one, req) for req in todo]
        failures: list[BaseException] = []
        for req, future in zip(todo, futures, strict=True):
            error = future.exception()
            if error is not None:
                failures.append(error)
                continue
            forward = future.result()
            self.by_key[key_of(req)] = forward
            self.progress.line(f"forwarded {forward} -> 127.0.0.1:{forward.local_port}")
        if not failures:
            return
        if len(failures) > 1 and all(isinstance(e, FloeTestingError) for e in failures):
            raise PortForwardError("\n".join(str(e) for e in failures))
        raise failures[0]

    def endpoint(self, requirement: ServiceRequirement) -> Endpoint:
        """The forward's address, once its kubectl forwards (a restart may be under way)."""
        local = self.by_key[key_of(requirement)].ensure_alive()
        return Endpoint("127.0.0.1", local,
                        f"port-forward of svc/{requirement.name} in {requirement.namespace}",
                        "forward")

    def stop(self) -> None:
        """Stop every forward, in parallel (each waits for its kubectl to exit)."""
        if not self.by_key:
            return
        with ThreadPoolExecutor(max_workers=len(self.by_key),
                                thread_name_prefix="floe-forward-stop") as pool:
            list(pool.map(PortForward.stop, list(self.by_key.values())))
        self.progress.line(f"stopped {len(self.by_key)} port-forwards")
        self.by_key.clear()
