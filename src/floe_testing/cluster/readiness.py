"""Readiness of workloads, awaited in parallel, failing fast with a diagnosis.

pykube's ``Deployment.ready`` raises before ``status`` exists and ignores unavailable
replicas; the checks here read the status fields Kubernetes documents for each kind, and
look at the pods behind a workload so an image that cannot be pulled or a container in a
crash loop fails the wait at once instead of at the timeout.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

import pykube

from floe_testing.cluster.kinds import pykube_class
from floe_testing.errors import InfrastructureError
from floe_testing.waiting import (
    ConditionFailed,
    NotReady,
    PollingConfig,
    PollingTimeoutError,
    wait_for_condition,
)

#: Container waiting reasons that do not resolve by waiting.
FATAL_WAITING_REASONS = frozenset({
    "ImagePullBackOff", "ErrImagePull", "CrashLoopBackOff", "InvalidImageName",
    "CreateContainerConfigError", "CreateContainerError", "ErrImageNeverPull",
    "RunContainerError",
})

#: Messages of those reasons that the kubelet retries by itself: a busy node's Secret or
#: ConfigMap cache not synced in time (seen on a loaded 2-core node) is not a broken manifest.
TRANSIENT_WAITING_MESSAGES = ("failed to sync secret cache", "failed to sync configmap cache")


class ReadinessError(InfrastructureError):
    """A workload did not become ready; the message carries the diagnosis."""


@dataclass(frozen=True)
class Workload:
    """A workload object to wait for."""

    kind: str
    name: str
    namespace: str
    #: as the manifest says (``apps/v1``): its pykube class comes from the one map (``kinds``)
    api_version: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.name} in {self.namespace}"


def _get(api: pykube.HTTPClient, workload: Workload) -> dict[str, Any]:
    cls = pykube_class(api, workload.api_version, workload.kind)
    obj = cls.objects(api, namespace=workload.namespace).get_by_name(workload.name)
    data: dict[str, Any] = obj.obj
    return data


def _pods(api: pykube.HTTPClient, obj: dict[str, Any]) -> list[pykube.Pod]:
    namespace = obj["metadata"].get("namespace", "default")
    if obj["kind"] == "Pod":
        return [pykube.Pod(api, obj)]
    if obj["kind"] == "Job":
        selector: dict[str, str] = {"job-name": obj["metadata"]["name"]}
    else:
        selector = obj["spec"].get("selector", {}).get("matchLabels", {})
    if not selector:
        return []
    return list(pykube.Pod.objects(api, namespace=namespace).filter(selector=selector))


def diagnose(api: pykube.HTTPClient, pod: pykube.Pod, log_lines: int = 15) -> str:
    """Pod phase, each container's state and reason, recent events and last log lines."""
    status = pod.obj.get("status", {})
    lines = [f"pod {pod.name}: phase {status.get('phase', '?')}"]
    for cs in status.get("initContainerStatuses", []) + status.get("containerStatuses", []):
        for state_name, state in (cs.get("state") or {}).items():
            detail = state.get("reason") or ""
            if state.get("message"):
                detail += f": {state['message']}"
            if state_name == "terminated":
                detail += f" (exit code {state.get('exitCode')})"
            lines.append(f"  container {cs['name']} ({cs.get('image')}): {state_name} {detail}")
    try:
        events = pykube.Event.objects(api, namespace=pod.namespace).filter(
            field_selector={"involvedObject.name": pod.name})
        recent = sorted(events, key=lambda e: e.obj.get("lastTimestamp") or "")[-5:]
        for event in recent:
            lines.append(f"  event {event.obj.get('reason')}: {event.obj.get('message')}")
    except Exception as exc:  # noqa: BLE001 - diagnosis is best effort
        lines.append(f"  (events unavailable: {exc})")
    for cs in status.get("containerStatuses", []):
        restarted = cs.get("restartCount", 0) > 0
        try:
            text = pod.logs(container=cs["name"], tail_lines=log_lines, previous=restarted)
        except Exception:  # noqa: BLE001, S112 - no logs for a container that never started
            continue
        if text.strip():
            lines.append(f"  last log lines of {cs['name']}:")
            lines.extend(f"    | {line}" for line in text.rstrip().splitlines()[-log_lines:])
    return "\n".join(lines)


def fatal_waiting_reason(container_status: dict[str, Any]) -> str | None:
    """The reason a waiting container will not start by waiting longer, else None."""
    waiting = container_status.get("state", {}).get("waiting") or {}
    reason = waiting.get("reason")
    message = str(waiting.get("message", ""))
    if reason in FATAL_WAITING_REASONS and not any(m in message
                                                   for m in TRANSIENT_WAITING_MESSAGES):
        return str(reason)
    return None


def _check_pods(api: pykube.HTTPClient, obj: dict[str, Any], workload: Workload) -> None:
    for pod in _pods(api, obj):
        statuses = pod.obj.get("status", {})
        for cs in statuses.get("initContainerStatuses", []) + statuses.get(
                "containerStatuses", []):
            reason = fatal_waiting_reason(cs)
            if reason is not None:
                raise ConditionFailed(f"{workload} cannot become ready: container "
                                      f"{cs['name']} is {reason}\n{diagnose(api, pod)}")


def _replicated_ready(obj: dict[str, Any]) -> str | None:
    spec, status = obj.get("spec", {}), obj.get("status") or {}
    want = spec.get("replicas", 1)
    if status.get("observedGeneration", 0) < obj["metadata"].get("generation", 0):
        return "controller has not observed the latest generation"
    if status.get("updatedReplicas", 0) < want:
        return f"{status.get('updatedReplicas', 0)}/{want} replicas updated"
    if obj["kind"] == "Deployment":
        if status.get("availableReplicas", 0) < want:
            return f"{status.get('availableReplicas', 0)}/{want} replicas available"
        if status.get("unavailableReplicas", 0):
            return f"{status['unavailableReplicas']} replicas unavailable"
    elif status.get("readyReplicas", 0) < want:
        return f"{status.get('readyReplicas', 0)}/{want} replicas ready"
    return None


def _daemonset_ready(obj: dict[str, Any]) -> str | None:
    status = obj.get("status") or {}
    desired = status.get("desiredNumberScheduled", 0)
    if status.get("observedGeneration", 0) < obj["metadata"].get("generation", 0):
        return "controller has not observed the latest generation"
    if status.get("updatedNumberScheduled", 0) < desired or status.get("numberReady", 0) < desired:
        return f"{status.get('numberReady', 0)}/{desired} pods ready"
    return None


def _job_ready(obj: dict[str, Any], workload: Workload) -> str | None:
    status = obj.get("status") or {}
    for condition in status.get("conditions", []):
        if condition.get("type") == "Failed" and condition.get("status") == "True":
            raise ConditionFailed(f"{workload} failed: {condition.get('reason')}: "
                                  f"{condition.get('message')}")
    want = obj.get("spec", {}).get("completions", 1) or 1
    if status.get("succeeded", 0) < want:
        return f"{status.get('succeeded', 0)}/{want} completions"
    return None


def _pod_ready(obj: dict[str, Any]) -> str | None:
    status = obj.get("status") or {}
    if status.get("phase") == "Succeeded":
        return None
    if status.get("phase") == "Failed":  # terminal: waiting cannot make it ready
        detail = ": ".join(str(status[k]) for k in ("reason", "message") if status.get(k))
        raise ConditionFailed(f"pod {obj['metadata'].get('name')} failed"
                              + (f": {detail}" if detail else ""))
    ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                for c in status.get("conditions", []))
    return None if ready else f"pod phase {status.get('phase', 'Pending')}, not Ready"


def check_ready(api: pykube.HTTPClient, workload: Workload) -> bool:
    """True when ready; :class:`NotReady` with the reason, or :class:`ConditionFailed`."""
    obj = _get(api, workload)
    checks: dict[str, Callable[[], str | None]] = {
        "Deployment": lambda: _replicated_ready(obj),
        "StatefulSet": lambda: _replicated_ready(obj),
        "DaemonSet": lambda: _daemonset_ready(obj),
        "Job": lambda: _job_ready(obj, workload),
        "Pod": lambda: _pod_ready(obj),
    }
    try:
        reason = checks[workload.kind]()
    except ConditionFailed as exc:  # a failed Job: say why, from its pods
        pods = _pods(api, obj) if workload.kind == "Job" else []
        if not pods:
            raise
        raise ConditionFailed("\n".join([str(exc), *(diagnose(api, pod) for pod in pods[-3:])])
                              ) from None
    if reason is None:
        return True
    _check_pods(api, obj, workload)
    raise NotReady(reason)


def wait_ready(
    api: pykube.HTTPClient,
    workloads: Iterable[Workload],
    *,
    timeout: float,
    on_ready: Callable[[Workload, float], None] | None = None,
    interval: float = 0.5,
) -> None:
    """Wait for all workloads in parallel; the first failure cancels the others. ``interval``
    is the poll interval (a hook Job, awaited alone on the critical path, polls faster)."""
    items = list(workloads)
    if not items:
        return
    abort = threading.Event()

    def one(workload: Workload) -> None:
        start = time.monotonic()

        def condition() -> bool:
            if abort.is_set():
                raise ConditionFailed("aborted: another workload failed")
            return check_ready(api, workload)

        try:
            wait_for_condition(condition, PollingConfig(
                timeout=timeout, interval=interval, description=f"{workload} to become ready"))
        except PollingTimeoutError as exc:
            raise ReadinessError(f"{exc}{_diagnosis_of(api, workload)}") from None
        except ConditionFailed as exc:
            raise ReadinessError(str(exc)) from None
        if on_ready:
            on_ready(workload, time.monotonic() - start)

    with ThreadPoolExecutor(max_workers=min(8, len(items)),
                            thread_name_prefix="floe-ready") as pool:
        futures = [pool.submit(one, w) for w in items]
        try:
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            for future in done:
                if future.exception() is not None:
                    abort.set()
                    raise future.exception()  # type: ignore[misc]
        except BaseException:
            abort.set()
            raise


def _diagnosis_of(api: pykube.HTTPClient, workload: Workload) -> str:
    try:
        pods = _pods(api, _get(api, workload))
    except Exception:  # noqa: BLE001 - the timeout message stands without it
        return ""
    if not pods:
        return "\n(no pods were created: check the controller and quota events)"
    return "\n" + "\n".join(diagnose(api, pod) for pod in pods[:3])
