"""A chart's hooks, run in their phase as Helm runs them (``pkg/action/hooks.go``):

* the phase's hooks in Helm's order: by kind (install order), then stably by
  ``helm.sh/hook-weight`` (lowest first) and, for equal weights, by name;
* each: deleted first when its delete policy says ``before-hook-creation`` (the default when
  none is given), created (any kind), and a Job awaited until complete (a Pod until it
  succeeds); the next hook starts only then;
* a failing hook fails the phase at once with its pods' diagnosis; it is deleted if it says
  ``hook-failed``, and the phase's earlier hooks that say ``hook-succeeded`` are deleted;
* after the whole phase succeeded, every hook that says ``hook-succeeded`` is deleted (last
  first).

Objects go through the ordinary pipeline (``apply.apply_document``: image overrides, labels,
run labels) and readiness (``readiness``: fail fast, diagnosis).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

import pykube

from floe_testing.cluster.apply import apply_document, object_class
from floe_testing.cluster.manifests import ManifestDoc, apply_order
from floe_testing.cluster.readiness import (
    ReadinessError,
    Workload,
    diagnose,
    fatal_waiting_reason,
    wait_ready,
)
from floe_testing.cluster.records import ObjectRef
from floe_testing.errors import InfrastructureError
from floe_testing.waiting import (
    ConditionFailed,
    NotReady,
    PollingConfig,
    PollingTimeoutError,
    wait_for_condition,
)

if TYPE_CHECKING:
    from floe_testing.cluster.progress import Progress

DELETION_TIMEOUT = 180.0
#: hooks run one after another on the critical path: their completion is polled often
HOOK_POLL_INTERVAL = 0.1


class HookError(InfrastructureError):
    """A hook failed (or could not be created); the message names chart, phase, hook and the
    diagnosis of its pods."""


def hooks_of(hooks: Iterable[ManifestDoc], event: str) -> list[ManifestDoc]:
    """The hooks of one event in Helm 3's order: weight, then name (kind order only between
    hooks of one weight and one name: Helm's docs say kind first, Helm 3 does not)."""
    selected = [d for d in apply_order(hooks) if d.hook is not None and event in d.hook.events]
    return sorted(selected, key=lambda d: (d.hook.weight if d.hook else 0, d.name))


def run_phase(api: pykube.HTTPClient, release: str, event: str, hooks: list[ManifestDoc], *,
              overrides: Mapping[str, str], timeout: float, progress: Progress,
              on_created: Callable[[ObjectRef], None]) -> None:
    """Run one phase's hooks (already in order, :func:`hooks_of`); see the module docstring."""
    done: list[ManifestDoc] = []
    for doc in hooks:
        assert doc.hook is not None
        weight = f", weight {doc.hook.weight}" if doc.hook.weight else ""
        try:
            with progress.step(f"{event} hook {doc.kind}/{doc.name} of {release!r}{weight}"):
                run_hook(api, doc, overrides=overrides, timeout=timeout, on_created=on_created)
        except HookError as exc:
            if "hook-failed" in doc.hook.policies:
                delete_hook(api, doc)
            for earlier in done:
                if "hook-succeeded" in (earlier.hook.policies if earlier.hook else ()):
                    delete_hook(api, earlier)
            raise HookError(f"chart {release!r}: {event} hook {doc.kind}/{doc.name} "
                            f"({doc.path}) failed:\n{exc}") from None
        done.append(doc)
    for doc in reversed(done):
        if doc.hook is not None and "hook-succeeded" in doc.hook.policies:
            delete_hook(api, doc, wait=False)  # nothing waits for the name: it goes meanwhile


def run_hook(api: pykube.HTTPClient, doc: ManifestDoc, *, overrides: Mapping[str, str],
             timeout: float, on_created: Callable[[ObjectRef], None]) -> None:
    """Create one hook (after deleting its predecessor when the policy says so) and, for a Job
    or Pod, wait until it has run to completion. Failures raise :class:`HookError`."""
    assert doc.hook is not None
    if "before-hook-creation" in doc.hook.policies:
        delete_hook(api, doc)
    applied = apply_document(api, doc, overrides)
    if applied.outcome == "created":
        on_created(ObjectRef.of(applied.obj))
    namespace = doc.namespace or "default"
    try:
        if doc.kind == "Job":
            wait_ready(api, [Workload("Job", doc.name, namespace, str(doc.obj["apiVersion"]))],
                       timeout=timeout, interval=HOOK_POLL_INTERVAL)
        elif doc.kind == "Pod":
            wait_pod_completed(api, doc.name, namespace, timeout=timeout)
    except ReadinessError as exc:
        raise HookError(str(exc)) from None


def wait_pod_completed(api: pykube.HTTPClient, name: str, namespace: str, *,
                       timeout: float) -> None:
    """A hook Pod counts when it has Succeeded (not merely Ready, as a workload's pod would);
    Failed, or a container that cannot start, fails at once with the pod's diagnosis."""

    def completed() -> bool:
        pod = pykube.Pod.objects(api, namespace=namespace).get_by_name(name)
        status = pod.obj.get("status") or {}
        phase = status.get("phase", "Pending")
        if phase == "Succeeded":
            return True
        if phase == "Failed":
            raise ConditionFailed(f"pod {name} failed\n{diagnose(api, pod)}")
        for cs in status.get("initContainerStatuses", []) + status.get("containerStatuses", []):
            reason = fatal_waiting_reason(cs)
            if reason is not None:
                raise ConditionFailed(f"pod {name} cannot run: container {cs['name']} is "
                                      f"{reason}\n{diagnose(api, pod)}")
        raise NotReady(f"pod phase {phase}")

    try:
        wait_for_condition(completed, PollingConfig(
            timeout=timeout, interval=HOOK_POLL_INTERVAL,
            description=f"hook pod {namespace}/{name} to complete"))
    except ConditionFailed as exc:
        raise ReadinessError(str(exc)) from None
    except PollingTimeoutError as exc:
        pod = pykube.Pod.objects(api, namespace=namespace).get_or_none(name=name)
        raise ReadinessError(f"{exc}\n{diagnose(api, pod) if pod else ''}") from None


def delete_hook(api: pykube.HTTPClient, doc: ManifestDoc, *, wait: bool = True) -> None:
    """Delete a hook object if it exists and (``wait``) until it is gone (its pods go in the
    background), as Helm does before re-creating one; a hook that will be created again waits
    for its predecessor anyway (``apply``). CRDs are never deleted (Helm's rule: their
    deletion cascades)."""
    if doc.kind == "CustomResourceDefinition":
        return
    cls = object_class(api, doc)
    metadata = {"name": doc.name, **({"namespace": doc.namespace} if doc.namespace else {})}
    obj = cls(api, {"metadata": metadata})
    if not obj.exists():
        return
    obj.delete(propagation_policy="Background")
    if not wait:
        return

    def gone() -> bool:
        if obj.exists():
            raise NotReady("still being deleted")
        return True

    started = time.monotonic()
    try:
        wait_for_condition(gone, PollingConfig(timeout=DELETION_TIMEOUT,
                                               interval=HOOK_POLL_INTERVAL,
                                               description=f"hook {doc.where()} to be deleted"))
    except PollingTimeoutError as exc:
        raise HookError(f"{exc} (waited {time.monotonic() - started:.0f}s)") from None
