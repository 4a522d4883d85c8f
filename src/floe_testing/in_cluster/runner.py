"""The outer side of an in-cluster run: shards out, reports in, nothing left behind.

After collection, instead of running the tests here (``pytest_runtestloop``), the runner
provisions the stack the selected tests need (as a local run does, without forwards), ships the
rootdir's files and each shard's test ids in a ConfigMap, and starts one Job per shard under a
ServiceAccount with a read-only Role (``objects``). Each pod's log is streamed: ordinary lines
are printed with the shard's prefix, framed reports (``frames``) are replayed through pytest's
own hooks, so the terminal, ``--junitxml`` and the traceability report see every test as if it
ran here. A test that never reported (its pod could not start, was OOM-killed, evicted, or
timed out) is reported failed with the pod's diagnosis. Whatever happens (success, failure,
Ctrl-C, SIGTERM), every object the run created is deleted and its pods are gone before the run
ends.
"""

from __future__ import annotations

import json
import queue
import re
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pykube
import pytest
import requests

from floe_testing.cluster.apply import MANAGED_BY_LABEL, RUN_LABEL
from floe_testing.cluster.interrupts import finishing_before_interrupts
from floe_testing.cluster.progress import Progress
from floe_testing.cluster.readiness import diagnose, fatal_waiting_reason
from floe_testing.cluster.run import PLANNED, cluster_session
from floe_testing.errors import FloeTestingError
from floe_testing.in_cluster.code import code_archive
from floe_testing.in_cluster.frames import FrameDecoder
from floe_testing.in_cluster.objects import (
    CONTAINER,
    INVOCATION_DIR,
    OWNER_ANNOTATION,
    RunObjects,
)
from floe_testing.in_cluster.settings import SHARD_EXIT, InClusterSettings
from floe_testing.in_cluster.split import DURATIONS_CACHE_KEY, split
from floe_testing.polling import (
    ConditionFailed,
    PollingConfig,
    PollingTimeoutError,
    wait_for_condition,
)
from floe_testing.redaction import SECRET_VALUES
from floe_testing.run_identity import RUN_ID, current_owner
from floe_testing.service_directory import spec_of
from floe_testing.service_spec import DEFAULT_K8S_NAMESPACE

if TYPE_CHECKING:
    from floe_testing.cluster.session import ClusterSession

#: exit codes from best to worst: a shard that crashed or was misused beats failed tests
_SEVERITY: list[int] = [pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED,
             pytest.ExitCode.TESTS_FAILED, pytest.ExitCode.INTERRUPTED,
             pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.INTERNAL_ERROR]
_CLASSES: dict[str, type[pykube.objects.APIObject]] = {
    "Namespace": pykube.Namespace, "ServiceAccount": pykube.ServiceAccount,
    "Role": pykube.Role, "RoleBinding": pykube.RoleBinding, "ConfigMap": pykube.ConfigMap,
    "Job": pykube.Job}
_POLL = 0.5
#: a pod's progress letters: not repeated, the outer terminal shows each test as it reports
_PROGRESS = re.compile(r"[.FEsxXpP]*\s*(\[\s*\d+%\])?")
_GONE_TIMEOUT = 120.0


def worst(codes: list[int]) -> int:
    """The worst of pytest exit codes; a code pytest does not give (137: the pod was killed)
    counts as an internal error."""
    known = [code if code in _SEVERITY else pytest.ExitCode.INTERNAL_ERROR for code in codes]
    return max(known, key=_SEVERITY.index, default=pytest.ExitCode.OK)


@dataclass
class Shard:
    """One shard: its tests, its pod, what came back."""

    index: int
    ids: list[str]
    job: str
    created_at: float = field(default_factory=time.monotonic)
    pod: str | None = None
    running_at: float | None = None
    first_report_at: float | None = None
    ended_at: float | None = None
    exit_code: int | None = None
    decoder: FrameDecoder = field(default_factory=FrameDecoder)
    #: its log is followed (by a thread of its own, until the pod ends)
    following: bool = False
    started_tests: set[str] = field(default_factory=set)
    finished_tests: set[str] = field(default_factory=set)

    @property
    def done(self) -> bool:
        return self.ended_at is not None

    def figures(self) -> str:
        """Where the shard's time went (a benchmark reads these lines)."""
        def since(t: float | None) -> str:
            return f"{t - self.created_at:.1f}s" if t is not None else "-"
        return (f"{len(self.ids)} tests; pod running after {since(self.running_at)}, first "
                f"result after {since(self.first_report_at)}, done after "
                f"{since(self.ended_at)}; "
                + (f"exit {self.exit_code}" if self.exit_code is not None else "stopped"))


class InClusterRun:
    """One ``--floe-in-cluster`` run (see the module docstring)."""

    def __init__(self, session: pytest.Session, settings: InClusterSettings) -> None:
        self.session = session
        self.config = session.config
        self.settings = settings
        self.progress = Progress(self.config)
        self.cluster: ClusterSession = cluster_session(self.config)
        self.objects = RunObjects(RUN_ID, DEFAULT_K8S_NAMESPACE, current_owner().tag())
        self.created: list[dict[str, Any]] = []
        self.items = {item.nodeid: item for item in session.items}
        self.shards: list[Shard] = []
        self.lines: queue.Queue[tuple[int, str | None]] = queue.Queue()
        self.durations: dict[str, float] = {}
        self.secrets = self.config.stash[SECRET_VALUES]

    # -- the run -------------------------------------------------------------------------

    def run(self) -> int:
        """Run every shard to its end; the worst shard exit code."""
        try:
            self._start()
            self._follow()
        finally:
            with finishing_before_interrupts():
                self._release()
        self._save_durations()
        return worst([s.exit_code for s in self.shards if s.exit_code is not None])

    def _start(self) -> None:
        planned = self.config.stash[PLANNED]
        self.cluster.provision(planned, expose=False)
        api = self.cluster.api
        secret_names = set()
        for requirement in planned:
            spec = spec_of(requirement.name, requirement.port)
            if spec is not None and spec.secret_name:
                secret_names.add(spec.secret_name)
                # known here too, so a pod's line that prints one is masked
                self.cluster.secret_data(spec.secret_name, spec.k8s_namespace)
        code = code_archive(self.config.rootpath, self.settings.code_limit)
        durations = self._recorded_durations()
        groups = split(list(self.items), self.settings.shards, durations)
        self.progress.line(
            f"in-cluster: {len(self.items)} tests in {len(groups)} shard(s) on "
            f"{self.settings.runner_image}; code {len(code) // 1024 + 1} KiB; split "
            f"{'by recorded durations' if durations else 'by count'}")
        self._collect_leftovers(api)
        if pykube.Namespace.objects(api).get_or_none(name=self.objects.namespace) is None:
            self._create({"apiVersion": "v1", "kind": "Namespace",
                          "metadata": {"name": self.objects.namespace,
                                       "labels": self.objects.labels}})
        self._create(self.objects.service_account())
        self._create(self.objects.role(secret_names))
        self._create(self.objects.role_binding())
        self._create(self.objects.config_map(code, groups))
        args = self._pod_pytest_args()
        for index, ids in enumerate(groups):
            shard = Shard(index, ids, self.objects.job_name(index))
            self._create(self.objects.job(
                index, len(groups), image=self.settings.runner_image, pytest_args=args,
                rootdir=self._rootdir, deadline=self.settings.shard_timeout))
            self.shards.append(shard)

    @property
    def _rootdir(self) -> str:
        """The rootdir relative to the invocation directory ("." when it is not inside)."""
        try:
            return self.config.rootpath.relative_to(
                self.config.invocation_params.dir).as_posix() or "."
        except ValueError:
            return "."

    def _collect_leftovers(self, api: pykube.HTTPClient) -> None:
        """The objects of in-cluster runs whose process died (killed before it could delete
        them): found by their Jobs' owner annotation, deleted by their run label."""
        from floe_testing.leftovers import dead, sweep

        label, value = MANAGED_BY_LABEL
        jobs = pykube.Job.objects(api, namespace=self.objects.namespace).filter(
            selector={label: value})
        runs = {job.labels.get(RUN_LABEL, ""): job.annotations.get(OWNER_ANNOTATION)
                for job in jobs if job.name.startswith("floe-shard-")}

        def remove(run_id: str) -> None:
            for kind in (pykube.Job, pykube.ConfigMap, pykube.RoleBinding, pykube.Role,
                         pykube.ServiceAccount, pykube.Pod):
                for obj in kind.objects(api, namespace=self.objects.namespace).filter(
                        selector={RUN_LABEL: run_id}):
                    obj.delete(propagation_policy="Background")

        sweep(self.config, "in-cluster runs", dead(runs.items()), remove)

    def _pod_pytest_args(self) -> list[str]:
        """Quiet pods (the reports come back framed; the outer terminal shows them), the
        outer run's traceback style and ``--maxfail``."""
        option = self.config.option
        args = ["-p", "no:cacheprovider", "-q", "--no-summary", "--color=no",
                f"--tb={option.tbstyle}"]
        if option.maxfail:
            args.append(f"--maxfail={option.maxfail}")
        return args

    def _create(self, obj: dict[str, Any]) -> None:
        _CLASSES[obj["kind"]](self.cluster.api, obj).create()
        self.created.append(obj)

    # -- following the pods ------------------------------------------------------------

    def _follow(self) -> None:
        api = self.cluster.api
        watched = 0.0
        while not all(s.done for s in self.shards):
            if self.session.shouldfail or self.session.shouldstop:
                # -x / --maxfail, as here: the remaining tests are not run (nor failed)
                why = self.session.shouldfail or self.session.shouldstop
                self.progress.line(f"in-cluster: stopping the shards ({why})")
                for shard in self.shards:
                    if not shard.done:
                        self._end(shard, None, None)
                return
            if time.monotonic() - watched >= _POLL:  # pods not yet followed: one look each
                watched = time.monotonic()
                for shard in self.shards:
                    if not shard.done and not shard.following:
                        self._watch_start(api, shard)
            try:
                index, line = self.lines.get(timeout=_POLL)
            except queue.Empty:
                continue
            shard = self.shards[index]
            if line is None:
                self._finish(api, shard)
            else:
                self._line(shard, line)

    def _pod(self, api: pykube.HTTPClient, shard: Shard) -> pykube.Pod | None:
        pods = list(pykube.Pod.objects(api, namespace=self.objects.namespace).filter(
            selector={"job-name": shard.job}))
        return pods[0] if pods else None

    def _watch_start(self, api: pykube.HTTPClient, shard: Shard) -> None:
        """Until the shard's container runs: fail fast when it cannot start, then stream."""
        pod = self._pod(api, shard)
        waited = time.monotonic() - shard.created_at
        if pod is None:  # may wait for the namespace's quota while other shards run
            if waited > self.settings.shard_timeout:
                events = pykube.Event.objects(api, namespace=self.objects.namespace).filter(
                    field_selector={"involvedObject.name": shard.job})
                said = "".join(f"\n  event {e.obj.get('reason')}: {e.obj.get('message')}"
                               for e in events)
                self._end(shard, f"no pod for Job {shard.job} after {waited:.0f}s "
                                 f"(--floe-shard-timeout){said}", pytest.ExitCode.INTERNAL_ERROR)
            return
        shard.pod = pod.name
        status = pod.obj.get("status", {})
        containers = status.get("containerStatuses", [])
        reason = next((r for cs in containers if (r := fatal_waiting_reason(cs))), None)
        if reason is not None or (status.get("phase") == "Failed" and not any(
                "terminated" in cs.get("state", {}) for cs in containers)):
            self._end(shard, f"its pod could not start ({reason or status.get('reason')}):\n"
                             f"{diagnose(api, pod)}", pytest.ExitCode.INTERNAL_ERROR)
            return
        if any(set(cs.get("state", {})) & {"running", "terminated"} for cs in containers):
            shard.running_at = time.monotonic()
            self._stream(api, shard)
        elif waited > self.cluster.settings.ready_timeout:
            self._end(shard, f"its pod did not start within {waited:.0f}s (--floe-ready-"
                             f"timeout):\n{diagnose(api, pod)}", pytest.ExitCode.INTERNAL_ERROR)

    def _stream(self, api: pykube.HTTPClient, shard: Shard) -> None:
        """Follow the container's log in a thread; lines go to the main thread's queue."""
        response = api.session.get(
            f"{api.url}/api/v1/namespaces/{self.objects.namespace}/pods/{shard.pod}/log",
            params={"follow": "true", "container": CONTAINER}, stream=True,
            timeout=(10, self.settings.shard_timeout + 60))
        response.raise_for_status()
        shard.following = True

        def pump() -> None:
            try:
                for line in response.iter_lines(decode_unicode=True):
                    self.lines.put((shard.index, str(line)))
            except (requests.RequestException, AttributeError, ValueError):
                pass  # the connection ended (the pod was deleted, say): the pod says why
            finally:
                self.lines.put((shard.index, None))

        threading.Thread(target=pump, name=f"floe-shard-{shard.index}-log", daemon=True).start()

    def _line(self, shard: Shard, line: str) -> None:
        text, record = shard.decoder.feed(line)
        if text.strip() and not _PROGRESS.fullmatch(text.strip()):
            self.progress.line(f"[shard {shard.index}] {self.secrets.redact(text.rstrip())}")
        if record is not None:
            if shard.first_report_at is None:
                shard.first_report_at = time.monotonic()
            self._replay(shard, record)

    def _finish(self, api: pykube.HTTPClient, shard: Shard) -> None:
        """The log ended: the container's exit code, or why it did not end well."""
        if shard.done:
            return
        terminated: dict[str, Any] = {}

        def ended() -> bool:
            nonlocal terminated
            pod = self._pod(api, shard)
            if pod is None:
                raise ConditionFailed(f"pod of Job {shard.job} is gone")
            for cs in pod.obj.get("status", {}).get("containerStatuses", []):
                terminated = cs.get("state", {}).get("terminated") or {}
            return bool(terminated) or pod.obj.get("status", {}).get("phase") == "Failed"

        try:
            wait_for_condition(ended, PollingConfig(timeout=30, interval=_POLL,
                                                    description=f"shard {shard.index}'s pod "
                                                                "to end"))
        except (ConditionFailed, PollingTimeoutError) as exc:
            self._end(shard, str(exc), pytest.ExitCode.INTERNAL_ERROR)
            return
        code = int(terminated.get("exitCode", 1)) if terminated else 1
        pod = self._pod(api, shard)
        reason = terminated.get("reason") or (pod.obj.get("status", {}).get("reason")
                                              if pod else None)
        incomplete = [t for t in shard.ids if t not in shard.finished_tests]
        problem = None
        if incomplete:
            hint = ("" if shard.first_report_at is not None else
                    "\n(it reported nothing: does the runner image hold floe-testing and the "
                    "tests' dependencies? README \"Running inside the cluster\")")
            problem = (f"its pod ended ({reason or 'no reason given'}, exit code {code}) before "
                       f"reporting this test:\n{diagnose(api, pod) if pod else ''}{hint}")
        self._end(shard, problem, code)

    def _end(self, shard: Shard, problem: str | None, code: int | None) -> None:
        """Mark the shard done (``code`` None: stopped by the run); every test it did not
        report fails with ``problem``."""
        shard.ended_at = time.monotonic()
        shard.exit_code = code
        if problem is not None:
            self.progress.line(f"in-cluster: shard {shard.index} failed: {problem}")
            for test_id in shard.ids:
                if test_id not in shard.finished_tests:
                    self._report_unfinished(shard, test_id, problem)
        self.progress.line(f"in-cluster: shard {shard.index}: {shard.figures()}")

    # -- reports -------------------------------------------------------------------------

    def _replay(self, shard: Shard, record: dict[str, Any]) -> None:
        hook = self.config.hook
        report = hook.pytest_report_from_serializable(config=self.config, data=record)
        if report is None:
            return
        if isinstance(report.longrepr, list):  # a skip's (path, line, reason), through JSON
            path, line, reason = report.longrepr
            local = str(self.config.invocation_params.dir)
            report.longrepr = (str(path).replace(INVOCATION_DIR, local, 1), line, reason)
        self.secrets.redact_report(report)
        if isinstance(report, pytest.CollectReport):
            hook.pytest_collectreport(report=report)
            return
        if report.nodeid not in shard.started_tests:
            shard.started_tests.add(report.nodeid)
            hook.pytest_runtest_logstart(nodeid=report.nodeid, location=report.location)
        hook.pytest_runtest_logreport(report=report)
        self.durations[report.nodeid] = self.durations.get(report.nodeid, 0.0) + report.duration
        if report.when == "teardown":
            shard.finished_tests.add(report.nodeid)
            hook.pytest_runtest_logfinish(nodeid=report.nodeid, location=report.location)

    def _report_unfinished(self, shard: Shard, test_id: str, problem: str) -> None:
        """A failed call (and a teardown) for a test its shard never finished."""
        item = self.items.get(test_id)
        location = item.location if item is not None else (test_id, None, test_id)
        hook = self.config.hook
        if test_id not in shard.started_tests:
            shard.started_tests.add(test_id)
            hook.pytest_runtest_logstart(nodeid=test_id, location=location)
        text = f"floe-testing: shard {shard.index} did not run this test to its end: {problem}"
        for report in (pytest.TestReport(test_id, location, {}, "failed", text, "call"),
                       pytest.TestReport(test_id, location, {}, "passed", None, "teardown")):
            self.secrets.redact_report(report)
            hook.pytest_runtest_logreport(report=report)
        shard.finished_tests.add(test_id)
        hook.pytest_runtest_logfinish(nodeid=test_id, location=location)

    def _cached_durations(self) -> dict[str, float]:
        """Durations recorded by earlier in-cluster runs (none without pytest's cache)."""
        cache = getattr(self.config, "cache", None)
        found = cache.get(DURATIONS_CACHE_KEY, {}) if cache is not None else {}
        return ({str(k): float(v) for k, v in found.items()} if isinstance(found, dict)
                else {})

    def _recorded_durations(self) -> dict[str, float]:
        return {k: v for k, v in self._cached_durations().items() if k in self.items}

    def _save_durations(self) -> None:
        cache = getattr(self.config, "cache", None)
        if cache is not None and self.durations:
            cache.set(DURATIONS_CACHE_KEY, {**self._cached_durations(), **self.durations})

    # -- release ---------------------------------------------------------------------------

    def _release(self) -> None:
        """Delete every object the run created, newest first, then wait until its pods are
        gone: nothing of the run outlives it."""
        # The log streams are not closed here: closing a response blocks while its reader
        # thread waits in a read (the buffer's lock); they end when the pods are deleted.
        if not self.created:
            return
        api = self.cluster.api
        namespace = self.objects.namespace
        with self.progress.step(f"in-cluster: delete the run's {len(self.created)} objects"):
            for obj in reversed(self.created):
                _CLASSES[obj["kind"]](api, obj).delete(propagation_policy="Background")
            self.created = []

            def pods() -> list[pykube.Pod]:
                return list(pykube.Pod.objects(api, namespace=namespace).filter(
                    selector={RUN_LABEL: self.objects.run_id}))

            for pod in pods():
                _delete_pod(api, pod)
            try:
                wait_for_condition(lambda: not pods(), PollingConfig(
                    timeout=_GONE_TIMEOUT, interval=_POLL,
                    description=f"the run's pods in {namespace} to be gone"))
            except PollingTimeoutError as exc:  # deleted: the kubelet is slow to finish
                self.progress.line(f"in-cluster: {exc}; they are deleted and will go")


def _delete_pod(api: pykube.HTTPClient, pod: pykube.Pod) -> None:
    """A running pod gets its grace period (its pytest tears its fixtures down); one whose
    container never ran (image missing, say) has nothing to stop and goes at once."""
    statuses = pod.obj.get("status", {}).get("containerStatuses", [])
    running = any("running" in (cs.get("state") or {}) for cs in statuses)
    options = {"propagationPolicy": "Background", **({} if running else {"gracePeriodSeconds": 0})}
    response = api.delete(**pod.api_kwargs(data=json.dumps(options)))
    if response.status_code != 404:
        api.raise_for_status(response)


def run_in_cluster(session: pytest.Session, settings: InClusterSettings) -> None:
    """The plugin's test loop for ``--floe-in-cluster``; an error of ours ends the run on
    one screen."""
    try:
        code = InClusterRun(session, settings).run()
    except FloeTestingError as exc:
        pytest.exit(f"floe-testing --floe-in-cluster: {exc}",
                    returncode=pytest.ExitCode.TESTS_FAILED)
    session.config.stash[SHARD_EXIT] = code
