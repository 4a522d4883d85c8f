"""The Kubernetes objects of an in-cluster run, as plain dicts (built here, created and
deleted by the runner).

Per run, in the stack's namespace, all labelled ``managed-by`` and with the run's id under a
label of their own (:data:`IN_CLUSTER_RUN_LABEL`: the stack's objects carry another, so a sweep
of dead in-cluster runs can never reach them): a ServiceAccount for the pods; a Role granting it
only what the plugin does in a pod (read the stack's Secrets by name, for the fixtures'
credentials; a failed test's diagnosis is added by the outer run) and its RoleBinding; a
ConfigMap with the code archive and each shard's test ids; and one Job per shard, whose pod
runs unprivileged. Kubernetes 1.20 (localkube) has no Indexed Jobs
(alpha in 1.21, beta in 1.22), so each shard is a Job of its own with its index in
``FLOE_SHARD``: the same N pods, on every version.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from floe_testing.cluster.apply import MANAGED_BY_LABEL
from floe_testing.in_cluster.frames import NONCE_ENV
from floe_testing.location import SHARD_ENV

SHARD_LABEL = "floe-testing.dev/shard"
#: the in-cluster run an object belongs to (only the objects this module builds carry it)
IN_CLUSTER_RUN_LABEL = "floe-testing.dev/in-cluster-run"
#: names of a run's objects: ``floe-runner-<run>`` (ServiceAccount, Role, RoleBinding,
#: ConfigMap) and ``floe-shard-<run>-<index>`` (Jobs)
RUNNER_PREFIX = "floe-runner-"
SHARD_PREFIX = "floe-shard-"
#: the creating process (:meth:`~floe_testing.run_identity.Owner.tag`): a later run deletes
#: the objects of a run that died (SIGKILL) without deleting them
OWNER_ANNOTATION = "floe-testing.dev/owner"
CODE_KEY = "code.tar.gz"
#: where a pod finds the ConfigMap, and the directory it runs pytest in (the outer run's
#: invocation directory, with the rootdir's files unpacked at the same relative place)
INPUT_DIR = "/floe/input"
WORK_DIR = "/floe/work"
INVOCATION_DIR = f"{WORK_DIR}/project"
CONTAINER = "shard"
#: the pytest options a pod runs with (a JSON list), besides its test ids
ARGS_ENV = "FLOE_SHARD_ARGS"
#: the rootdir relative to the invocation directory (where the pod unpacks the files)
ROOTDIR_ENV = "FLOE_SHARD_ROOTDIR"


SHARD_RESOURCES = {"requests": {"cpu": "100m", "memory": "256Mi"},
                   "limits": {"cpu": "1", "memory": "1Gi"}}
#: the tests run as an unprivileged user without capabilities (any image: the uid needs no
#: entry in its /etc/passwd; the scratch volumes are writable by the pod's group)
SHARD_USER = 65532
POD_SECURITY = {"runAsNonRoot": True, "runAsUser": SHARD_USER, "runAsGroup": SHARD_USER,
                "fsGroup": SHARD_USER}
CONTAINER_SECURITY = {"allowPrivilegeEscalation": False, "privileged": False,
                      "capabilities": {"drop": ["ALL"]}}


def ids_key(index: int) -> str:
    """The ConfigMap key holding shard ``index``'s test ids, one per line."""
    return f"shard-{index}.txt"


@dataclass(frozen=True)
class RunObjects:
    """Names and labels of one in-cluster run's objects."""

    run_id: str
    namespace: str
    owner_tag: str = ""

    @property
    def name(self) -> str:
        """ServiceAccount, Role, RoleBinding and ConfigMap share it."""
        return f"{RUNNER_PREFIX}{self.run_id}"

    def job_name(self, index: int) -> str:
        return f"{SHARD_PREFIX}{self.run_id}-{index}"

    def is_ours(self, name: str) -> bool:
        """Whether ``name`` is one this run gives its objects."""
        return name == self.name or (name.startswith(f"{SHARD_PREFIX}{self.run_id}-")
                                     and name.rsplit("-", 1)[1].isdigit())

    @property
    def labels(self) -> dict[str, str]:
        label, value = MANAGED_BY_LABEL
        return {label: value, IN_CLUSTER_RUN_LABEL: self.run_id}

    def _meta(self, name: str, **extra: str) -> dict[str, Any]:
        return {"name": name, "namespace": self.namespace, "labels": {**self.labels, **extra},
                "annotations": {OWNER_ANNOTATION: self.owner_tag}}

    def service_account(self) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": self._meta(self.name)}

    def role(self, secret_names: Iterable[str]) -> dict[str, Any]:
        """Only what the plugin does in a pod: read the stack's Secrets by name. Nothing else
        (no other pod's log or state: the outer run diagnoses failed tests)."""
        rules: list[dict[str, Any]] = []
        names = sorted(set(secret_names))
        if names:
            rules.append({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"],
                          "resourceNames": names})
        return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                "metadata": self._meta(self.name), "rules": rules}

    def role_binding(self) -> dict[str, Any]:
        return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": self._meta(self.name),
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                            "name": self.name},
                "subjects": [{"kind": "ServiceAccount", "name": self.name,
                              "namespace": self.namespace}]}

    def config_map(self, code: bytes, shards: Sequence[Sequence[str]]) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": self._meta(self.name),
                "binaryData": {CODE_KEY: base64.b64encode(code).decode()},
                "data": {ids_key(i): "".join(f"{t}\n" for t in ids)
                         for i, ids in enumerate(shards)}}

    def job(self, index: int, count: int, *, image: str, pytest_args: Sequence[str],
            rootdir: str, deadline: float, nonce: str) -> dict[str, Any]:
        """Shard ``index`` of ``count``: one pod, never retried (a retry would run the tests
        twice), ended by Kubernetes after ``deadline`` seconds."""
        labels = {**self.labels, SHARD_LABEL: str(index)}
        env = [{"name": SHARD_ENV, "value": f"{index}/{count}"},
               {"name": "PYTHONUNBUFFERED", "value": "1"},
               {"name": ARGS_ENV, "value": json.dumps(list(pytest_args))},
               {"name": ROOTDIR_ENV, "value": rootdir},
               {"name": NONCE_ENV, "value": nonce},
               {"name": "HOME", "value": WORK_DIR}]
        return {
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": self._meta(self.job_name(index), **{SHARD_LABEL: str(index)}),
            "spec": {
                "backoffLimit": 0,
                "activeDeadlineSeconds": int(deadline),
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "restartPolicy": "Never",
                        "serviceAccountName": self.name,
                        "enableServiceLinks": False,  # POSTGRES_PORT=tcp://... would be mixed in
                        "terminationGracePeriodSeconds": 5,
                        "securityContext": POD_SECURITY,
                        "containers": [{
                            "name": CONTAINER, "image": image,
                            "imagePullPolicy": "IfNotPresent",
                            "command": ["python", "-m", "floe_testing.in_cluster.pod"],
                            "env": env,
                            # explicit: the stack namespace's LimitRange defaults (0.5 CPU,
                            # 512 MiB) are sized for a service, not a test run
                            "resources": SHARD_RESOURCES,
                            "securityContext": CONTAINER_SECURITY,
                            "volumeMounts": [
                                {"name": "input", "mountPath": INPUT_DIR, "readOnly": True},
                                {"name": "work", "mountPath": WORK_DIR}],
                        }],
                        "volumes": [{"name": "input", "configMap": {"name": self.name}},
                                    {"name": "work", "emptyDir": {}}],
                    },
                },
            },
        }
