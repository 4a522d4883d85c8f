"""Collecting what in-cluster runs that died (SIGKILL, OOM) left in the cluster.

A run deletes its objects itself, also on failure, Ctrl-C and SIGTERM; only a run killed
outright leaves them. The next in-cluster run finds them by the label only its own objects
carry (:data:`~floe_testing.in_cluster.objects.IN_CLUSTER_RUN_LABEL`), checks their creator is
a dead process (:mod:`floe_testing.leftovers`) and deletes exactly the objects such a run
creates, by kind and by the names it gives them: never the stack's objects (which carry the
run's id under another label) nor anything of the user's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pykube

from floe_testing.in_cluster.objects import IN_CLUSTER_RUN_LABEL, OWNER_ANNOTATION, RunObjects
from floe_testing.leftovers import dead, sweep

if TYPE_CHECKING:
    import pytest

#: the kinds a run creates (its pods go with their Jobs), newest first
RUN_KINDS: tuple[type[pykube.objects.NamespacedAPIObject], ...] = (
    pykube.Job, pykube.ConfigMap, pykube.RoleBinding, pykube.Role, pykube.ServiceAccount)


def dead_runs(api: pykube.HTTPClient, namespace: str) -> list[str]:
    """The ids of in-cluster runs that left any object of theirs here and whose process is
    gone. Every kind a run creates is looked at, not only its Jobs: a run killed while it was
    creating its objects, or while deleting them (Jobs first), leaves the others."""
    runs: dict[str, str | None] = {}
    for kind in RUN_KINDS:
        for obj in kind.objects(api, namespace=namespace).filter(
                selector=IN_CLUSTER_RUN_LABEL):  # the label exists
            run_id = obj.labels.get(IN_CLUSTER_RUN_LABEL, "")
            if run_id and run_id not in runs and RunObjects(run_id, namespace).is_ours(
                    obj.name):
                runs[run_id] = obj.annotations.get(OWNER_ANNOTATION)
    return dead(runs.items())


def remove_run(api: pykube.HTTPClient, namespace: str, run_id: str) -> None:
    """Delete the objects run ``run_id`` created: its label and one of its names, each."""
    objects = RunObjects(run_id, namespace)
    for kind in RUN_KINDS:
        for obj in kind.objects(api, namespace=namespace).filter(
                selector={IN_CLUSTER_RUN_LABEL: run_id}):
            if objects.is_ours(obj.name):
                obj.delete(propagation_policy="Background")


def collect_dead_runs(config: pytest.Config, api: pykube.HTTPClient, namespace: str) -> None:
    """Delete what dead in-cluster runs left in ``namespace``; a progress line says what."""
    sweep(config, "in-cluster runs", dead_runs(api, namespace),
          lambda run_id: remove_run(api, namespace, run_id))
