"""Create-or-update of manifest documents through pykube, skipping unchanged objects."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pykube
import requests

from floe_testing.cluster.kinds import pykube_class
from floe_testing.cluster.manifests import ManifestDoc, ManifestError, with_image_overrides
from floe_testing.run_identity import current_owner

HASH_ANNOTATION = "floe-testing.dev/applied-hash"
RUN_LABEL = "floe-testing.dev/run-id"
OWNER_LABEL = "floe-testing.dev/owner"
MANAGED_BY_LABEL = ("app.kubernetes.io/managed-by", "floe-testing")

Outcome = Literal["created", "updated", "unchanged"]
DELETION_TIMEOUT = 180.0
#: Kinds whose spec cannot be patched once created: a changed manifest replaces them.
RECREATED_KINDS = frozenset({"Job"})


@dataclass(frozen=True)
class Applied:
    """What happened to one document."""

    doc: ManifestDoc
    outcome: Outcome
    obj: pykube.objects.APIObject


def desired_object(doc: ManifestDoc, overrides: Mapping[str, str]) -> dict[str, Any]:
    """The object as it will be sent: overrides applied, labelled, and stamped with its hash.

    The hash covers the document after overrides, so an unchanged manifest is recognised on
    the next run without a field-by-field comparison against server-defaulted state.
    """
    obj = with_image_overrides(doc, overrides)
    digest = hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:32]
    metadata = obj.setdefault("metadata", {})
    # ``labels:``/``annotations:`` left empty in YAML load as None, not as a mapping
    label, value = MANAGED_BY_LABEL
    metadata["labels"] = {**(metadata.get("labels") or {}), label: value}
    metadata["annotations"] = {**(metadata.get("annotations") or {}), HASH_ANNOTATION: digest}
    return obj


def run_labels() -> dict[str, str]:
    """Labels naming the run and process that created an object (not part of the hash, so a
    later run sees the object as unchanged)."""
    owner = current_owner()
    safe_host = re.sub(r"[^A-Za-z0-9._-]", "-", owner.host)[:40].strip("-._") or "host"
    return {RUN_LABEL: owner.run_id, OWNER_LABEL: f"{safe_host}-{owner.pid}"}


def object_class(api: pykube.HTTPClient, doc: ManifestDoc) -> type[pykube.objects.APIObject]:
    """The pykube class for the document's kind; unknown kinds name the file and document."""
    try:
        cls = pykube_class(api, doc.obj["apiVersion"], doc.kind)
    except ValueError:
        raise ManifestError(
            f"{doc.where()}: the API server does not serve kind {doc.kind!r} in "
            f"{doc.obj['apiVersion']!r}"
        ) from None
    except Exception as exc:  # noqa: BLE001 - e.g. 404 for an unknown apiVersion
        raise ManifestError(
            f"{doc.where()}: the API server does not serve apiVersion "
            f"{doc.obj['apiVersion']!r}: {_reason(exc)}"
        ) from None
    return cls


def apply_document(
    api: pykube.HTTPClient, doc: ManifestDoc, overrides: Mapping[str, str]
) -> Applied:
    """Create the object, or patch it when its applied hash differs; never rewrite unchanged."""
    desired = desired_object(doc, overrides)
    cls = object_class(api, doc)
    obj = cls(api, desired)
    if issubclass(cls, pykube.objects.NamespacedAPIObject) and not doc.namespace:
        obj.obj["metadata"]["namespace"] = "default"
    try:
        existing = cls(api, {"metadata": dict(desired["metadata"])})
        current = _current(existing)
        if current is not None and current["metadata"].get("deletionTimestamp"):
            _await_deletion(existing, doc)  # e.g. the namespace a previous run deleted
            current = None
        if current is None:
            obj.obj["metadata"]["labels"].update(run_labels())
            obj.create()
            return Applied(doc, "created", obj)
        if current.get("metadata", {}).get("annotations", {}).get(HASH_ANNOTATION) == (
            desired["metadata"]["annotations"][HASH_ANNOTATION]
        ):
            return Applied(doc, "unchanged", cls(api, current))
        if doc.kind in RECREATED_KINDS:  # pod template immutable: replace, do not patch
            existing.delete(propagation_policy="Background")
            _await_deletion(existing, doc)
            obj.create()
            return Applied(doc, "updated", obj)
        obj.patch(desired)
        return Applied(doc, "updated", obj)
    except (pykube.exceptions.HTTPError, requests.HTTPError) as exc:
        code = getattr(exc, "code", None) or getattr(exc.response, "status_code", "?")
        raise ManifestError(
            f"{doc.where()} was rejected by the API server (HTTP {code}): {_reason(exc)}"
        ) from None


def _await_deletion(obj: pykube.objects.APIObject, doc: ManifestDoc) -> None:
    """Wait until an object being deleted is gone, so it can be created afresh."""
    from floe_testing.waiting import NotReady, PollingConfig, wait_for_condition

    def gone() -> bool:
        if _current(obj) is not None:
            raise NotReady("still terminating")
        return True

    wait_for_condition(gone, PollingConfig(
        timeout=DELETION_TIMEOUT, interval=0.5,
        description=f"{doc.where()} (being deleted) to disappear before it is re-created"))


def _current(obj: pykube.objects.APIObject) -> dict[str, Any] | None:
    response = obj.api.get(**obj.api_kwargs())
    if response.status_code == 404:
        return None
    obj.api.raise_for_status(response)
    result: dict[str, Any] = response.json()
    return result


def dry_run(api: pykube.HTTPClient, docs: Iterable[ManifestDoc],
            overrides: Mapping[str, str]) -> None:
    """Server-side dry run of every document: validation by the real API server, no change."""
    for doc in docs:
        cls = object_class(api, doc)
        obj = cls(api, desired_object(doc, overrides))
        response = api.post(**obj.api_kwargs(data=json.dumps(obj.obj), obj_list=True,
                                             params={"dryRun": "All"}))
        if response.status_code == 409:  # exists already: validate as an update instead
            response = api.patch(**obj.api_kwargs(
                data=json.dumps(obj.obj), params={"dryRun": "All"},
                headers={"Content-Type": "application/merge-patch+json"}))
        if not response.ok:
            raise ManifestError(
                f"{doc.where()} was rejected by the API server (HTTP {response.status_code}): "
                f"{_response_reason(response)}"
            )


def _reason(exc: BaseException) -> str:
    text = str(exc)
    try:
        body = json.loads(text)
        return str(body.get("message", text))
    except (ValueError, AttributeError):
        return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def _response_reason(response: Any) -> str:
    try:
        return str(response.json().get("message", response.text))
    except ValueError:
        return str(response.text)[:500]
