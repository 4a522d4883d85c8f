"""Readiness rules over workload status as the API server reports it (no client involved)."""

from __future__ import annotations

from typing import Any

import pytest

from floe_testing.cluster.readiness import (
    Workload,
    _daemonset_ready,
    _job_ready,
    _pod_ready,
    _replicated_ready,
    fatal_waiting_reason,
)
from floe_testing.polling import ConditionFailed

pytestmark = [pytest.mark.unit, pytest.mark.requirement("001-FR-008")]


def _deployment(replicas: int | None = 3, generation: int = 2,
                status: dict[str, Any] | None = None, kind: str = "Deployment") -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "apps/v1", "kind": kind,
        "metadata": {"name": "web", "namespace": "floe-test", "generation": generation},
        "spec": {"selector": {"matchLabels": {"app": "web"}}},
    }
    if replicas is not None:
        obj["spec"]["replicas"] = replicas
    if status is not None:
        obj["status"] = status
    return obj


READY_DEPLOYMENT_STATUS = {
    "observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3,
    "availableReplicas": 3,
    "conditions": [{"type": "Available", "status": "True"},
                   {"type": "Progressing", "status": "True",
                    "reason": "NewReplicaSetAvailable"}],
}


@pytest.mark.parametrize("status", [None, {}], ids=["no-status", "empty-status"])
def test_fresh_deployment_is_not_ready(status: dict[str, Any] | None) -> None:
    obj = _deployment(status=status)
    if status is None:
        assert "status" not in obj
    reason = _replicated_ready(obj)
    assert reason is not None
    assert "generation" in reason


def test_status_none_from_the_api_is_not_ready() -> None:
    obj = _deployment(status=None)
    obj["status"] = None
    assert _replicated_ready(obj) is not None


def test_controller_behind_latest_generation() -> None:
    obj = _deployment(generation=3, status=READY_DEPLOYMENT_STATUS)
    assert _replicated_ready(obj) == "controller has not observed the latest generation"


def test_updated_replicas_short() -> None:
    status = {**READY_DEPLOYMENT_STATUS, "updatedReplicas": 2}
    assert _replicated_ready(_deployment(status=status)) == "2/3 replicas updated"


def test_available_replicas_short() -> None:
    status = {**READY_DEPLOYMENT_STATUS, "availableReplicas": 1, "readyReplicas": 1}
    assert _replicated_ready(_deployment(status=status)) == "1/3 replicas available"


def test_available_missing_counts_as_zero() -> None:
    status = {k: v for k, v in READY_DEPLOYMENT_STATUS.items() if k != "availableReplicas"}
    assert _replicated_ready(_deployment(status=status)) == "0/3 replicas available"


def test_unavailable_replicas_during_rollout() -> None:
    """Surge: 3 new replicas available but an old one still counted unavailable."""
    status = {**READY_DEPLOYMENT_STATUS, "replicas": 4, "unavailableReplicas": 1}
    assert _replicated_ready(_deployment(status=status)) == "1 replicas unavailable"


def test_ready_deployment() -> None:
    assert _replicated_ready(_deployment(status=READY_DEPLOYMENT_STATUS)) is None


def test_replicas_default_to_one() -> None:
    status = {"observedGeneration": 2, "updatedReplicas": 1, "availableReplicas": 1,
              "readyReplicas": 1, "replicas": 1}
    assert _replicated_ready(_deployment(replicas=None, status=status)) is None
    assert _replicated_ready(_deployment(replicas=None, status={**status,
                                                               "availableReplicas": 0})) \
        == "0/1 replicas available"


def test_statefulset_uses_ready_replicas() -> None:
    status = {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 2,
              "availableReplicas": 2}
    obj = _deployment(kind="StatefulSet", status=status)
    assert _replicated_ready(obj) == "2/3 replicas ready"
    obj["status"]["readyReplicas"] = 3
    assert _replicated_ready(obj) is None


def _daemonset(status: dict[str, Any] | None, generation: int = 1) -> dict[str, Any]:
    obj: dict[str, Any] = {"apiVersion": "apps/v1", "kind": "DaemonSet",
                           "metadata": {"name": "agent", "generation": generation}, "spec": {}}
    if status is not None:
        obj["status"] = status
    return obj


def test_daemonset_rules() -> None:
    assert _daemonset_ready(_daemonset(None)) == \
        "controller has not observed the latest generation"
    partial = {"observedGeneration": 1, "desiredNumberScheduled": 2,
               "updatedNumberScheduled": 2, "numberReady": 1}
    assert _daemonset_ready(_daemonset(partial)) == "1/2 pods ready"
    not_updated = {**partial, "numberReady": 2, "updatedNumberScheduled": 1}
    assert _daemonset_ready(_daemonset(not_updated)) is not None
    assert _daemonset_ready(_daemonset({**partial, "numberReady": 2})) is None
    assert _daemonset_ready(_daemonset({**partial, "numberReady": 2}, generation=2)) is not None


JOB = Workload("Job", "polaris-bootstrap", "floe-test", "batch/v1")


def _job(status: dict[str, Any] | None, completions: int | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {"apiVersion": "batch/v1", "kind": "Job",
                           "metadata": {"name": JOB.name, "namespace": JOB.namespace},
                           "spec": {"backoffLimit": 2}}
    if completions is not None:
        obj["spec"]["completions"] = completions
    if status is not None:
        obj["status"] = status
    return obj


def test_job_failed_condition_fails_at_once() -> None:
    status = {"failed": 3, "conditions": [
        {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded"},
        {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
         "message": "Job has reached the specified backoff limit"},
    ]}
    with pytest.raises(ConditionFailed) as info:
        _job_ready(_job(status), JOB)
    message = str(info.value)
    assert str(JOB) in message
    assert "BackoffLimitExceeded" in message
    assert "backoff limit" in message


def test_job_failed_condition_false_is_just_not_done() -> None:
    status = {"active": 1, "conditions": [{"type": "Failed", "status": "False"}]}
    assert _job_ready(_job(status), JOB) == "0/1 completions"


def test_job_without_status_is_not_done() -> None:
    assert _job_ready(_job(None), JOB) == "0/1 completions"


def test_job_completions() -> None:
    assert _job_ready(_job({"succeeded": 1}), JOB) is None
    assert _job_ready(_job({"succeeded": 2}, completions=3), JOB) == "2/3 completions"
    complete = {"succeeded": 3, "conditions": [{"type": "Complete", "status": "True"}]}
    assert _job_ready(_job(complete, completions=3), JOB) is None


def _pod(status: dict[str, Any] | None) -> dict[str, Any]:
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                           "spec": {"containers": [{"name": "c", "image": "x"}]}}
    if status is not None:
        obj["status"] = status
    return obj


def test_pod_rules() -> None:
    assert _pod_ready(_pod(None)) == "pod phase Pending, not Ready"
    running_unready = {"phase": "Running", "conditions": [
        {"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "False"}]}
    assert _pod_ready(_pod(running_unready)) == "pod phase Running, not Ready"
    running_ready = {"phase": "Running", "conditions": [
        {"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "True"}]}
    assert _pod_ready(_pod(running_ready)) is None
    assert _pod_ready(_pod({"phase": "Succeeded"})) is None


def test_failed_pod_fails_at_once() -> None:
    """Phase Failed is terminal (all containers exited, no restart): waiting cannot help."""
    failed = {"phase": "Failed", "reason": "Evicted",
              "message": "The node was low on resource: memory."}
    with pytest.raises(ConditionFailed) as info:
        _pod_ready(_pod(failed))
    assert "pod p failed" in str(info.value)
    assert "Evicted" in str(info.value)
    assert "low on resource" in str(info.value)


@pytest.mark.requirement("001-FR-008")
def test_waiting_reasons_that_never_resolve_fail_but_kubelet_retries_do_not() -> None:
    def waiting(reason: str, message: str = "") -> dict[str, Any]:
        return {"name": "c", "state": {"waiting": {"reason": reason, "message": message}}}

    assert fatal_waiting_reason(waiting("ErrImagePull")) == "ErrImagePull"
    assert fatal_waiting_reason(waiting(
        "CreateContainerConfigError", 'secret "x" not found')) == "CreateContainerConfigError"
    assert fatal_waiting_reason(waiting(
        "CreateContainerConfigError",
        "failed to sync secret cache: timed out waiting for the condition")) is None
    assert fatal_waiting_reason(waiting("ContainerCreating")) is None
    assert fatal_waiting_reason({"name": "c", "state": {"running": {}}}) is None
