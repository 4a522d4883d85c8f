"""Failure artifacts (``--floe-artifacts DIR``): what the cluster side looked like when a test or
the run failed, as files a CI job uploads as they are.

The report sections of a failed test show its services' last log lines; a CI run needs more,
and after the run, when the cluster is gone. So, with a directory named, the run writes:

* for each failed test that used services of the cluster, ``tests/<test>/`` with, per
  service (``<namespace>/<service>/``), the Service and each of its pods as YAML, every
  container's log and, for a restarted one, its previous container's log, and the events of
  the Service and its pods;
* once, when the run fails, ``run/``: every object of the manifests as the cluster holds it
  (``objects.yaml`` per namespace), every pod of the stack's namespaces with its logs, the
  namespaces' events, and the state of each part of the stack that has one of its own
  (:func:`state_sources`: the hook for a chart's release status);
* ``summary.txt``: the run's failed tests and where each one's files are.

Every text is masked (the run's known secrets) before it is written; a Secret's values are
never written, only its keys. Nothing here fails a test or the run: what cannot be read is
said in ``errors.txt`` of the folder it belongs to. A directory with floe-testing's marker is
emptied of the previous run's files when a run starts (files of others are left alone).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pykube

    from floe_testing.cluster.manifests import Component, ManifestDoc
    from floe_testing.service_requirement import ServiceRequirement

#: the marker of a directory floe-testing writes its artifacts to
MARKER = ".floe-testing-artifacts"
#: the most log lines kept per container (the end of the log)
LOG_LINES = 5000


class StateSource(Protocol):
    """A part of the stack with a state of its own beyond its objects' (a chart's release:
    installed, upgraded or unchanged, its revision and hooks). Its status is written to
    ``run/releases/<name>.txt``."""

    name: str

    def status(self, api: pykube.HTTPClient) -> str:
        """The state, as text for a person reading a failed CI run."""
        ...


def state_sources(components: Mapping[str, Component]) -> list[StateSource]:
    """The parts of the stack with a state of their own, from its components: the one place a
    kind of component contributes one (a chart component: its release, read from the
    cluster). Plain manifest files have none: their objects' state is all there is."""
    return []


@dataclass(frozen=True)
class Folder:
    """A directory of the artifacts; every text written through it is masked first."""

    path: Path
    redact: Callable[[str], str]

    def sub(self, *parts: str) -> Folder:
        return Folder(self.path.joinpath(*(_safe(p) for p in parts)), self.redact)

    def write(self, name: str, text: str) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        (self.path / _safe(name)).write_text(self.redact(text), encoding="utf-8")

    def append(self, name: str, text: str) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        with (self.path / _safe(name)).open("a", encoding="utf-8") as out:
            out.write(self.redact(text))


def _safe(name: str) -> str:
    """A file or directory name of ``name`` (Kubernetes names already are one)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "_"
    return cleaned[:120]


def folder_name_of(nodeid: str) -> str:
    """A test's folder: its id made a file name, with a digest so that no two tests share
    one (``tests/test_x.py::test_y[a/b]`` -> ``tests_test_x.py_test_y_a_b-1f2e3d4c``)."""
    digest = hashlib.sha256(nodeid.encode()).hexdigest()[:8]
    return f"{_safe(nodeid)[:100]}-{digest}"


def object_state(obj: Mapping[str, Any]) -> str:
    """An object as YAML, without the bookkeeping no one reads (``managedFields``); of a
    Secret, only its keys."""
    import yaml

    state = dict(obj)
    metadata = dict(state.get("metadata") or {})
    metadata.pop("managedFields", None)
    state["metadata"] = metadata
    if state.get("kind") == "Secret":
        for key in ("data", "stringData"):
            if isinstance(state.get(key), dict):
                state[key] = dict.fromkeys(state[key], "(not written)")
    return str(yaml.safe_dump(state, sort_keys=False, default_flow_style=False))


class _Errors:
    """What could not be read, said in ``errors.txt`` of the folder."""

    def __init__(self, folder: Folder) -> None:
        self.folder = folder

    def say(self, what: str, exc: BaseException) -> None:
        self.folder.append("errors.txt", f"{what}: {type(exc).__name__}: {exc}\n")


def write_pod(pod: pykube.Pod, folder: Folder) -> None:
    """``pod.yaml`` and each container's log (``<container>.log``), the previous container's
    too for one that restarted (``<container>.previous.log``)."""
    errors = _Errors(folder)
    folder.write("pod.yaml", object_state(pod.obj))
    status = pod.obj.get("status") or {}
    for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses")
                                                              or []):
        name = str(cs.get("name"))
        runs = [(f"{name}.log", False)]
        if int(cs.get("restartCount") or 0) > 0:
            runs.append((f"{name}.previous.log", True))
        for file, previous in runs:
            try:
                text = pod.logs(container=name, previous=previous, tail_lines=LOG_LINES)
            except Exception as exc:  # noqa: BLE001 - a container that never started has none
                errors.say(f"log of container {name}{' (previous)' if previous else ''}", exc)
                continue
            folder.write(file, text)


def _events(api: pykube.HTTPClient, namespace: str, names: set[str] | None) -> str:
    """The namespace's events (of the objects named, if given), oldest first, one a line."""
    import pykube

    events = list(pykube.Event.objects(api, namespace=namespace))
    lines = []
    for event in sorted(events, key=lambda e: str(e.obj.get("lastTimestamp")
                                                   or e.obj.get("eventTime") or "")):
        obj = event.obj
        involved = obj.get("involvedObject") or {}
        if names is not None and involved.get("name") not in names:
            continue
        when = obj.get("lastTimestamp") or obj.get("eventTime") or "?"
        lines.append(f"{when} {obj.get('type', '')} {involved.get('kind')}/"
                     f"{involved.get('name')} {obj.get('reason')} (x{obj.get('count') or 1}): "
                     f"{obj.get('message', '')}".rstrip())
    return "\n".join(lines) + ("\n" if lines else "")


def write_service(api: pykube.HTTPClient, service: str, namespace: str,
                  folder: Folder) -> None:
    """A Service, the pods behind it (state, logs) and their events."""
    import pykube

    errors = _Errors(folder)
    try:
        svc = pykube.Service.objects(api, namespace=namespace).get_or_none(name=service)
    except Exception as exc:  # noqa: BLE001 - best effort, said in errors.txt
        errors.say(f"Service {namespace}/{service}", exc)
        return
    if svc is None:
        folder.write("service.yaml", f"# Service {namespace}/{service} does not exist\n")
        return
    folder.write("service.yaml", object_state(svc.obj))
    selector = (svc.obj.get("spec") or {}).get("selector") or {}
    pods = list(pykube.Pod.objects(api, namespace=namespace).filter(selector=selector)) \
        if selector else []
    for pod in pods:
        write_pod(pod, folder.sub("pods", pod.name))
    try:
        folder.write("events.txt", _events(api, namespace, {service, *(p.name for p in pods)}))
    except Exception as exc:  # noqa: BLE001
        errors.say(f"events in {namespace}", exc)


class FailureArtifacts:
    """The run's artifacts directory (see the module docstring)."""

    def __init__(self, directory: Path, redact: Callable[[str], str]) -> None:
        self.directory = directory
        self.root = Folder(directory, redact)
        self._lock = threading.Lock()

    def prepare(self) -> None:
        """Once per run, in the process that starts it: a directory of a previous run of ours
        loses that run's files; the marker says the directory is ours to empty next time."""
        if (self.directory / MARKER).is_file():
            for name in ("tests", "run", "summary.txt"):
                path = self.directory / name
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                elif path.is_file():
                    path.unlink()
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / MARKER).write_text(
            "floe-testing failure artifacts: emptied by the next run that writes here\n")

    def for_test(self, api: pykube.HTTPClient, nodeid: str, phase: str,
                 requirements: Iterable[ServiceRequirement]) -> Path:
        """A failed test's folder: each of its services' state, logs and events."""
        folder = self.root.sub("tests", folder_name_of(nodeid))
        with self._lock:
            folder.append("test.txt", f"{nodeid} failed in {phase}\n")
            for req in sorted(requirements, key=lambda r: (r.namespace, r.name)):
                write_service(api, req.name, req.namespace, folder.sub(req.namespace, req.name))
            self.root.append("summary.txt", f"{nodeid} ({phase}): tests/{folder.path.name}\n")
        return folder.path

    def for_run(self, api: pykube.HTTPClient, docs: Iterable[ManifestDoc],
                components: Mapping[str, Component], headline: str) -> Path:
        """The run's state: every object of the manifests, every pod of their namespaces with
        its logs, the namespaces' events, and the parts with a state of their own."""
        import pykube

        folder = self.root.sub("run")
        errors = _Errors(folder)
        folder.write("run.txt", headline + "\n")
        docs = list(docs)
        namespaces = sorted({d.namespace or "default" for d in docs if d.kind != "Namespace"}
                            | {d.name for d in docs if d.kind == "Namespace"})
        for namespace in namespaces:
            here = folder.sub(namespace)
            states, absent = [], []
            for doc in docs:
                if (doc.namespace or "default") != namespace and not (
                        doc.kind == "Namespace" and doc.name == namespace):
                    continue
                try:
                    found = _get(api, doc)
                except Exception as exc:  # noqa: BLE001
                    errors.say(f"{doc.kind}/{doc.name} in {namespace}", exc)
                    continue
                if found is None:
                    absent.append(f"{doc.kind}/{doc.name}")
                else:
                    states.append(object_state(found))
            text = "---\n".join(states)
            if absent:
                text += f"# not in the cluster: {', '.join(absent)}\n"
            here.write("objects.yaml", text)
            try:
                for pod in pykube.Pod.objects(api, namespace=namespace):
                    write_pod(pod, here.sub("pods", pod.name))
                here.write("events.txt", _events(api, namespace, None))
            except Exception as exc:  # noqa: BLE001
                errors.say(f"pods and events in {namespace}", exc)
        for source in state_sources(components):
            try:
                folder.sub("releases").write(f"{source.name}.txt", source.status(api))
            except Exception as exc:  # noqa: BLE001
                errors.say(f"state of {source.name}", exc)
        return folder.path


def _get(api: pykube.HTTPClient, doc: ManifestDoc) -> dict[str, Any] | None:
    """The object a document defines, as the cluster holds it (None: not there)."""
    import pykube

    from floe_testing.cluster.kinds import pykube_class

    cls = pykube_class(api, doc.obj["apiVersion"], doc.kind)
    query = cls.objects(api)
    if issubclass(cls, pykube.objects.NamespacedAPIObject):
        query = cls.objects(api, namespace=doc.namespace or "default")
    found = query.get_or_none(name=doc.name)
    return None if found is None else dict(found.obj)
