"""The outer side of an in-cluster run: shards out, reports in, nothing left behind.

After collection, instead of running the tests here (``pytest_runtestloop``), the runner
provisions the stack the selected tests need (as a local run does, without forwards), ships the
project's files (``code``) and each shard's test ids in a ConfigMap, and starts one Job per
shard under a ServiceAccount with a read-only Role (``objects``), after collecting what dead
runs left (``sweep``). Each pod is watched and its log followed (``pods``): ordinary lines are
printed with the shard's prefix, framed reports (``frames``) are replayed through pytest's own
hooks (``replay``). Whatever happens (success, failure, Ctrl-C, SIGTERM), every object the run
created is deleted and its pods are gone before the run ends.
"""

from __future__ import annotations

import json
import queue
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pykube
import pytest

from floe_testing.cluster.interrupts import finishing_before_interrupts
from floe_testing.cluster.kinds import of_object
from floe_testing.cluster.progress import Progress
from floe_testing.cluster.run import PLANNED, cluster_session
from floe_testing.endpoint import DEFAULT_K8S_NAMESPACE
from floe_testing.errors import ConfigError, FloeTestingError
from floe_testing.in_cluster.code import code_archive, project_files
from floe_testing.in_cluster.durations import RecordedDurations
from floe_testing.in_cluster.exit_codes import worst
from floe_testing.in_cluster.frames import FrameDecoder, new_nonce
from floe_testing.in_cluster.objects import IN_CLUSTER_RUN_LABEL, RunObjects
from floe_testing.in_cluster.pods import POLL, LogLines, ShardPods
from floe_testing.in_cluster.replay import ReportReplay
from floe_testing.in_cluster.settings import SHARD_EXIT, InClusterSettings
from floe_testing.in_cluster.shards import Shard
from floe_testing.in_cluster.split import split
from floe_testing.in_cluster.sweep import collect_dead_runs
from floe_testing.planning import needed_services
from floe_testing.redaction import SECRET_VALUES
from floe_testing.run_identity import RUN_ID, current_owner
from floe_testing.services.registry import SERVICES
from floe_testing.waiting import PollingConfig, PollingTimeoutError, wait_for_condition

if TYPE_CHECKING:
    from floe_testing.cluster.session import ClusterSession

#: a pod's progress letters: not repeated, the outer terminal shows each test as it reports
_PROGRESS = re.compile(r"[.FEsxXpP]*\s*(\[\s*\d+%\])?")
_GONE_TIMEOUT = 120.0


class InClusterRun:
    """One ``--floe-in-cluster`` run (see the module docstring)."""

    def __init__(self, session: pytest.Session, settings: InClusterSettings) -> None:
        self.session = session
        self.config = session.config
        self.settings = settings
        self.progress = Progress(self.config)
        self.cluster: ClusterSession = cluster_session(self.config)
        self.objects = RunObjects(RUN_ID, DEFAULT_K8S_NAMESPACE, current_owner().tag())
        self.nonce = new_nonce()
        self.created: list[dict[str, Any]] = []
        self.items = {item.nodeid: item for item in session.items}
        self.shards: list[Shard] = []
        self.lines: LogLines = queue.Queue()
        self.secrets = self.config.stash[SECRET_VALUES]
        self.durations = RecordedDurations(self.config)
        self.replay = ReportReplay(self.config, self.items, self.secrets, self.durations,
                                   self._diagnosis)

    # -- the run -------------------------------------------------------------------------

    def run(self) -> int:
        """Run every shard to its end; the worst shard exit code."""
        try:
            self._start()
            self._follow()
        finally:
            with finishing_before_interrupts():
                self._release()
        self.durations.save()
        return worst([s.exit_code for s in self.shards if s.exit_code is not None])

    def _start(self) -> None:
        code = self._code()  # what travels is settled before any cluster work
        planned = self.config.stash[PLANNED]
        self.cluster.provision(planned, expose=False)
        api = self.cluster.api
        secret_names = set()
        registry = self.config.stash[SERVICES]
        for requirement in planned:
            declaration = registry.serving(requirement.name, requirement.port,
                                           requirement.namespace)
            if declaration is not None and declaration.secret:
                secret_names.add(declaration.secret)
                # known here too, so a pod's line that prints one is masked
                data = self.cluster.secret_data(declaration.secret, declaration.namespace)
                self.secrets.add(*(data[k] for k in declaration.credentials.values()
                                   if k in data),
                                 source=f"the Secret {declaration.namespace}/"
                                        f"{declaration.secret}")
        durations = self.durations.of(self.items)
        groups = split(list(self.items), self.settings.shards, durations)
        self.progress.line(
            f"in-cluster: {len(self.items)} tests in {len(groups)} shard(s) on "
            f"{self.settings.runner_image}; split "
            f"{'by recorded durations' if durations else 'by count'}")
        collect_dead_runs(self.config, api, self.objects.namespace)
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
            self._create(self.objects.job(
                index, len(groups), image=self.settings.runner_image, pytest_args=args,
                rootdir=self._rootdir, deadline=self.settings.shard_timeout, nonce=self.nonce))
            self.shards.append(Shard(index, ids, self.objects.job_name(index),
                                     FrameDecoder(self.nonce)))

    def _code(self) -> bytes:
        """The project's files for the pods; every selected test's file and every conftest
        in use must be among them (else the pods would not find them)."""
        root = self.config.rootpath
        files = project_files(root, state_dirs=[self.cluster.settings.state_dir],
                              ship=self.settings.ship_files)
        shipped = {(root / name).resolve() for name in files.names}
        needed = {item.path.resolve() for item in self.session.items} | {
            path for plugin in self.config.pluginmanager.get_plugins()
            if (path := _conftest_path(plugin)) is not None}
        real_root = root.resolve()
        missing = sorted(p.relative_to(real_root).as_posix() for p in needed
                         if p.is_relative_to(real_root) and p not in shipped)
        if missing:
            raise ConfigError(
                f"--floe-in-cluster ships what git tracks ({files.source}), and "
                f"{', '.join(missing[:10])} {'is' if len(missing) == 1 else 'are'} not "
                "among it: the pods would not find "
                f"{'it' if len(missing) == 1 else 'them'}. git add "
                f"{'it' if len(missing) == 1 else 'them'}, or name "
                f"{'it' if len(missing) == 1 else 'them'} with --floe-ship-file PATTERN.")
        code = code_archive(files, self.settings.code_limit)
        left = (f"; left out: {', '.join(files.left_out[:5])}"
                + (f" and {len(files.left_out) - 5} more" if len(files.left_out) > 5 else "")
                if files.left_out else "")
        self.progress.line(
            f"in-cluster: shipping {len(files.names)} files of {root} ({files.source}), "
            f"{files.size() // 1024} KiB, {len(code) // 1024 + 1} KiB compressed{left}")
        return code

    @property
    def _rootdir(self) -> str:
        """The rootdir relative to the invocation directory ("." when it is not inside)."""
        try:
            return self.config.rootpath.relative_to(
                self.config.invocation_params.dir).as_posix() or "."
        except ValueError:
            return "."

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
        of_object(self.cluster.api, obj).create()
        self.created.append(obj)

    def _diagnosis(self, item: pytest.Item, phase: str) -> list[tuple[str, str]]:
        """The services' pods for a failed test (the shards may not read them), and its
        failure artifacts (``--floe-artifacts``)."""
        from floe_testing.cluster.run import failed_test_sections

        return failed_test_sections(self.config, item.nodeid, phase,
                                    needed_services([item], self.config.stash[SERVICES]))

    # -- following the pods ------------------------------------------------------------

    def _follow(self) -> None:
        pods = ShardPods(self.cluster.api, self.objects.namespace, self.settings.shard_timeout,
                         self.cluster.settings.ready_timeout, self.lines, self._end)
        looked = 0.0
        while not all(s.done for s in self.shards):
            if self.session.shouldfail or self.session.shouldstop:
                # -x / --maxfail, as here: the remaining tests are not run (nor failed)
                why = self.session.shouldfail or self.session.shouldstop
                self.progress.line(f"in-cluster: stopping the shards ({why})")
                for shard in self.shards:
                    if not shard.done:
                        self._end(shard, None, None)
                return
            if time.monotonic() - looked >= POLL:  # pods not yet followed: one look each
                looked = time.monotonic()
                for shard in self.shards:
                    if not shard.done and not shard.following:
                        pods.look(shard)
            try:
                index, line = self.lines.get(timeout=POLL)
            except queue.Empty:
                continue
            shard = self.shards[index]
            if line is None:
                pods.finish(shard)
            else:
                self._line(shard, line)

    def _line(self, shard: Shard, line: str) -> None:
        decoded = shard.decoder.feed(line)
        text = decoded.text
        if text is not None and text.strip() and not _PROGRESS.fullmatch(text.strip()):
            self.progress.line(f"[shard {shard.index}] {self.secrets.redact(text.rstrip())}")
        problem = decoded.problem
        if decoded.record is not None:
            if shard.first_report_at is None:
                shard.first_report_at = time.monotonic()
            problem = self.replay.replay(shard, decoded.record) or problem
        if problem is not None:
            self.progress.line(f"[shard {shard.index}] floe-testing: {problem}")

    def _end(self, shard: Shard, problem: str | None, code: int | None) -> None:
        """Mark the shard done (``code`` None: stopped by the run); every test it did not
        report fails with ``problem``."""
        shard.ended_at = time.monotonic()
        shard.exit_code = code
        if problem is not None:
            self.progress.line(f"in-cluster: shard {shard.index} failed: {problem}")
            for test_id in shard.ids:
                if test_id not in shard.finished_tests:
                    self.replay.unfinished(shard, test_id, problem)
        self.progress.line(f"in-cluster: shard {shard.index}: {shard.figures()}")

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
                of_object(api, obj).delete(propagation_policy="Background")
            self.created = []

            def pods() -> list[pykube.Pod]:
                return list(pykube.Pod.objects(api, namespace=namespace).filter(
                    selector={IN_CLUSTER_RUN_LABEL: self.objects.run_id}))

            for pod in pods():
                _delete_pod(api, pod)
            try:
                wait_for_condition(lambda: not pods(), PollingConfig(
                    timeout=_GONE_TIMEOUT, interval=POLL,
                    description=f"the run's pods in {namespace} to be gone"))
            except PollingTimeoutError as exc:  # deleted: the kubelet is slow to finish
                self.progress.line(f"in-cluster: {exc}; they are deleted and will go")


def _conftest_path(plugin: object) -> Path | None:
    """The file of a conftest plugin (None for any other plugin)."""
    name = getattr(plugin, "__file__", None)
    if not name or Path(str(name)).name != "conftest.py":
        return None
    return Path(str(name)).resolve()


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
