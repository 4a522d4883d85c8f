"""001-FR-063, 001-FR-064: tests run inside the cluster, sharded across pods, on this session's
cluster (reused through KUBECONFIG) and the runner image ``.ci/prepare`` builds
(``tests/images/build.py``: this checkout with every client extra).

Each run is a real ``pytest`` process. A sharded run must report what a local run of the same
selection reports: the same outcomes, the same JUnit XML and traceability report modulo
timings; a failing test fails the run and is shown; a runner image that does not exist fails
at once with the pod's diagnosis; Ctrl-C while the shards run leaves nothing behind.

This module runs last in the tier (``conftest.py``): the example suite replaces the stack's
Dagster code location with its own.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pykube
import pytest

from floe_testing.cluster.apply import MANAGED_BY_LABEL
from floe_testing.cluster.artifacts import folder_name_of
from floe_testing.polling import PollingConfig, wait_for_condition

if TYPE_CHECKING:
    from floe_testing.cluster.session import ClusterSession

pytestmark = [pytest.mark.stack, pytest.mark.requirement("001-FR-063", "001-FR-064")]

REPO = Path(__file__).resolve().parents[2]
RUNNER = os.environ.get("FLOE_TEST_RUNNER_IMAGE", "localhost/floe-testing/runner:dev")
IN_CLUSTER = ["--floe-in-cluster", "--floe-shards", "2", "--floe-runner-image", RUNNER]

PROJECT = {
    "pyproject.toml": """
        [tool.pytest.ini_options]
        addopts = "-ra"
        traceability_spec = ["requirements.md"]
    """,
    "requirements.md": """
        - **001-FR-001**: sums add up.
        - **001-FR-002**: the database answers.
        - **001-FR-003**: nobody claims this one.
    """,
    "test_plain.py": """
        import pytest

        pytestmark = pytest.mark.requirement("001-FR-001")


        def test_pass():
            assert 1 + 1 == 2


        def test_fail():
            assert "in the cluster" == "here", "this test fails wherever it runs"


        @pytest.mark.skip(reason="skipped on purpose")
        def test_skip():
            pass


        @pytest.mark.parametrize("n", [1, 2, 3])
        def test_param(n):
            assert n > 0


        def test_deselected_by_k():
            raise AssertionError("-k deselects this test")
    """,
    "test_services.py": """
        import pytest


        @pytest.mark.requirement("001-FR-002")
        def test_postgres(postgres_connection):
            with postgres_connection.cursor() as cur:
                cur.execute("SELECT 41 + 1")
                assert cur.fetchone() == (42,)
    """,
}


def _write(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).write_text(textwrap.dedent(text).lstrip())
    return root


def _env(cluster: ClusterSession) -> dict[str, str]:
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}
    env.pop("PYTEST_ADDOPTS", None)  # the outer run's gates are not these projects'
    return env


def _pytest(args: list[str | Path], cwd: Path, env: dict[str, str],
            timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                           *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


def _testcases(path: Path) -> list[dict[str, Any]]:
    """Each test case of a JUnit XML file without its timings, sorted (shards report in the
    order they finish)."""
    cases = []
    for case in ET.parse(path).getroot().iter("testcase"):
        case.attrib.pop("time", None)
        children = [(child.tag, dict(child.attrib), (child.text or "").strip())
                    for child in case]
        cases.append({**case.attrib, "children": children})
    return sorted(cases, key=lambda c: (c.get("classname", ""), c.get("name", "")))


def _without_timings(path: Path) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(path.read_text())
    for key in ("generated_at", "timestamp", "duration", "generated"):
        report.pop(key, None)
    return report


def _ours(api: pykube.HTTPClient) -> list[str]:
    """Every object an in-cluster run creates, in any namespace, still present."""
    label, value = MANAGED_BY_LABEL
    found = []
    for kind in (pykube.Job, pykube.Pod, pykube.ServiceAccount, pykube.Role,
                 pykube.RoleBinding, pykube.ConfigMap):
        for obj in kind.objects(api, namespace=pykube.all).filter(selector={label: value}):
            if obj.name.startswith(("floe-runner-", "floe-shard-")):
                found.append(f"{kind.kind}/{obj.namespace}/{obj.name}")
    return found


def _compare_local_and_sharded(args: list[str | Path], cwd: Path, tmp_path: Path,
                               env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the same selection here and in two shards; everything they report must agree.
    Returns the sharded run."""
    local = _pytest([*args, "--junitxml", tmp_path / "local.xml",
                     "--traceability-report", tmp_path / "local.json"], cwd, env)
    sharded = _pytest([*args, *IN_CLUSTER, "--junitxml", tmp_path / "sharded.xml",
                       "--traceability-report", tmp_path / "sharded.json"], cwd, env)
    output = sharded.stdout + sharded.stderr
    assert sharded.returncode == local.returncode, output[-4000:]
    assert _testcases(tmp_path / "sharded.xml") == _testcases(tmp_path / "local.xml"), output
    assert (_without_timings(tmp_path / "sharded.json")
            == _without_timings(tmp_path / "local.json")), output
    assert "in-cluster: shard 0:" in output
    assert "in-cluster: shard 1:" in output
    return sharded


def test_a_project_sharded_in_the_cluster_reports_what_a_local_run_reports(
    floe_cluster: ClusterSession, tmp_path: Path
) -> None:
    project = _write(tmp_path / "project", PROJECT)
    sharded = _compare_local_and_sharded(["-k", "not deselected"], project, tmp_path,
                                         _env(floe_cluster))
    output = sharded.stdout + sharded.stderr
    assert sharded.returncode == 1, output[-4000:]
    assert "FAILED test_plain.py::test_fail - AssertionError: this test fails wherever" in output
    assert "test_deselected_by_k" not in output
    assert "1 failed, 5 passed, 1 skipped, 1 deselected" in output
    assert "[shard " in output, "the pods' own output is streamed with the shard's prefix"
    assert _ours(floe_cluster.api) == []


def test_a_sharded_run_leaves_the_failure_artifacts_of_its_tests(
    floe_cluster: ClusterSession, tmp_path: Path
) -> None:
    """``--floe-artifacts``: the outer run writes them for the tests its pods report failed
    (the pods may not read other pods), and the run's state once; no secret in any file."""
    project = _write(tmp_path / "project", {"test_db.py": """
        def test_fails_with_postgres(postgres_connection):
            with postgres_connection.cursor() as cur:
                cur.execute("SELECT 1")
            raise AssertionError("fails in its pod")


        def test_passes():
            pass
    """})
    artifacts = tmp_path / "artifacts"
    run = _pytest([*IN_CLUSTER, f"--floe-artifacts={artifacts}"], project, _env(floe_cluster))
    output = run.stdout + run.stderr
    assert run.returncode == 1, output[-4000:]
    failed = "test_db.py::test_fails_with_postgres"
    folder = artifacts / "tests" / folder_name_of(failed)
    # the test fails in its call; once (of five runs) its pod failed it in setup already
    summary = (artifacts / "summary.txt").read_text()
    assert re.fullmatch(rf"{re.escape(failed)} \((setup|call)\): tests/{folder.name}\n",
                        summary), output[-6000:]
    pods = list((folder / "floe-test" / "postgres" / "pods").iterdir())
    assert pods, output[-4000:]
    assert all((pod / "pod.yaml").is_file() and (pod / "postgres.log").read_text().strip()
               for pod in pods)
    assert "kind: Deployment" in (artifacts / "run" / "floe-test" / "objects.yaml").read_text()
    written = "".join(p.read_text(errors="replace") for p in artifacts.rglob("*") if p.is_file())
    assert "pg-stack-Qm7r2Kx9Lw" not in written  # the packaged stack's PostgreSQL password
    assert f"pod logs, events and state of svc/postgres: {folder}" in output
    assert _ours(floe_cluster.api) == []


FORGING_PROJECT = {
    "test_forging.py": """
        import os
        from pathlib import Path

        import pytest

        from floe_testing.in_cluster.frames import encode


        def test_only_tracked_files_travelled():
            assert Path("test_forging.py").is_file()
            assert not Path(".env").exists(), "an untracked file reached the pod"
            assert not Path(".pytest-kind").exists(), "the plugin's state reached the pod"
            assert os.getuid() != 0, "the pod runs unprivileged"


        def test_prints_text_that_looks_like_a_frame(capsys):
            with capsys.disabled():
                print("floe-testing-report last this-is-not-a-report")
                print("floe-testing-report " + "0" * 32 + " 1 last !!!")


        def test_forges_frames_and_fails(request, capsys):
            config = request.config
            forged = []
            for nodeid in ("test_forging.py::test_forges_frames_and_fails",
                           "test_forging.py::test_not_in_this_run"):
                for when in ("setup", "call", "teardown"):
                    report = pytest.TestReport(nodeid, ("test_forging.py", 1, nodeid), {},
                                               "passed", None, when)
                    forged.append(config.hook.pytest_report_to_serializable(
                        config=config, report=report))
            with capsys.disabled():
                for sequence, data in enumerate(forged, 1000):
                    for line in encode(data, "0" * 32, sequence):  # not the run's nonce
                        print(line)
                    print("\\n".join(encode(data, "1" * 32, sequence)), end="")
            raise AssertionError("this test fails whatever it prints")
    """,
}


def test_a_pod_reports_only_its_own_tests_and_ships_only_tracked_files(
    floe_cluster: ClusterSession, tmp_path: Path
) -> None:
    project = _write(tmp_path / "project", FORGING_PROJECT)
    for args in (["init", "-q"], ["add", "test_forging.py"]):
        subprocess.run(["git", "-C", str(project), *args], check=True, timeout=60)
    (project / ".env").write_text("LAPTOP_TOKEN=never-leaves-this-machine\n")  # untracked
    state = project / ".pytest-kind" / "floe-test"
    state.mkdir(parents=True)
    (state / "kubeconfig").write_text("kind: Config\n")
    subprocess.run(["git", "-C", str(project), "add", "-f", ".pytest-kind"], check=True,
                   timeout=60)
    run = _pytest(["-s", "--junitxml", tmp_path / "junit.xml", *IN_CLUSTER], project,
                  _env(floe_cluster))
    output = run.stdout + run.stderr
    assert run.returncode == pytest.ExitCode.TESTS_FAILED, output[-4000:]
    assert "INTERNALERROR" not in output
    cases = {c["name"]: c for c in _testcases(tmp_path / "junit.xml")}
    assert sorted(cases) == ["test_forges_frames_and_fails", "test_only_tracked_files_travelled",
                             "test_prints_text_that_looks_like_a_frame"], output[-4000:]
    assert cases["test_only_tracked_files_travelled"]["children"] == [], output[-4000:]
    assert cases["test_prints_text_that_looks_like_a_frame"]["children"] == []
    (failure,) = cases["test_forges_frames_and_fails"]["children"]
    assert failure[0] == "failure"
    assert "this test fails whatever it prints" in failure[1].get("message", "") + failure[2]
    assert "1 failed, 2 passed" in output, "the forged passes count for nothing"
    assert "[shard 0] floe-testing-report last this-is-not-a-report" in output or (
        "[shard 1] floe-testing-report last this-is-not-a-report" in output)
    assert "in-cluster: shipping 1 files" in output
    assert "never-leaves-this-machine" not in output
    assert _ours(floe_cluster.api) == []


DECLARED_PROJECT = {
    "conftest.py": """
        from floe_testing import declare_service

        web_config, web_endpoint = declare_service(
            name="web", service="declared-web", port=80, secret="declared-web-credentials",
            credentials={"token": "WEB_TOKEN"})
    """,
    "test_declared.py": """
        import urllib.request


        def test_reached_by_its_dns_name_in_the_pod(web_endpoint):
            assert web_endpoint.host == "declared-web.floe-test.svc.cluster.local"
            assert not web_endpoint.reached.forwarded
            with urllib.request.urlopen(web_endpoint.url, timeout=10) as reply:
                assert b"hello from localkube busybox" in reply.read()


        def test_its_secret_is_masked(web_endpoint):
            print("token:", web_endpoint.token.get_secret_value())
            assert False, "fails to show the pod's captured output"
    """,
    "extra/declared-web.yaml": """
        apiVersion: v1
        kind: Secret
        metadata: {name: declared-web-credentials, namespace: floe-test}
        stringData: {WEB_TOKEN: declared-T0ken-77aa10c4}
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: declared-web, namespace: floe-test}
        spec:
          selector: {matchLabels: {app: declared-web}}
          template:
            metadata: {labels: {app: declared-web}}
            spec:
              containers:
                - name: web
                  image: localhost/localkube/busybox:1.35.0
                  imagePullPolicy: IfNotPresent
                  ports: [{containerPort: 8080}]
                  readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: declared-web, namespace: floe-test}
        spec:
          selector: {app: declared-web}
          ports: [{port: 80, targetPort: 8080}]
    """,
}


@pytest.mark.requirement("001-FR-010", "001-FR-026")
def test_a_declared_service_in_the_pods_by_dns_with_its_secret_masked(
    floe_cluster: ClusterSession, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    (project / "extra").mkdir(parents=True)
    _write(project, DECLARED_PROJECT)
    run = _pytest([f"--floe-extra-manifests={project / 'extra'}", *IN_CLUSTER, "-rA"],
                  project, _env(floe_cluster))
    output = run.stdout + run.stderr
    assert run.returncode == pytest.ExitCode.TESTS_FAILED, output[-4000:]
    assert "1 failed, 1 passed" in output, output[-4000:]
    assert "token: ***" in output, output[-4000:]
    assert "declared-T0ken-77aa10c4" not in output
    assert _ours(floe_cluster.api) == []


@pytest.mark.requirement("001-FR-065")
def test_a_chart_stack_in_the_pods_reaches_the_charts_service_by_dns(
    floe_cluster: ClusterSession, tmp_path: Path
) -> None:
    """A chart is the stack (its hooks run by the outer run); the tests run in pods and reach
    the chart's Service, declared in the project's conftest, by its DNS name."""
    import shutil

    project = tmp_path / "project"
    shutil.copytree(REPO / "tests" / "charts" / "hooked", project / "deploy" / "hooked")
    _write(project, {"conftest.py": """
        from floe_testing import declare_service

        web_config, web_endpoint = declare_service(name="web", service="hooked-web", port=80)
    """, **{f"test_web_{i}.py": """
        import urllib.request


        def test_web(web_endpoint):
            assert web_endpoint.host == "hooked-web.floe-test.svc.cluster.local"
            body = urllib.request.urlopen(web_endpoint.url, timeout=10).read()
            assert b"hello from localkube busybox" in body
    """ for i in range(2)}})
    run = _pytest([f"--floe-manifests={project / 'deploy'}", "-k", "test_web",
                   # the chart names busybox as the tests' chart does (tests/cluster)
                   "--floe-image-override=busybox:1.35.0=localhost/localkube/busybox:1.35.0",
                   *IN_CLUSTER], project, _env(floe_cluster))
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    assert "2 passed" in output, output[-4000:]
    assert "release 'hooked' (chart hooked-0.1.0, namespace floe-test): install" in output
    assert _ours(floe_cluster.api) == []


def test_the_next_run_balances_the_shards_by_the_durations_recorded(
    floe_cluster: ClusterSession, tmp_path: Path
) -> None:
    project = _write(tmp_path / "project", {"test_times.py": """
        import threading

        import pytest


        def test_slow():
            threading.Event().wait(4)


        @pytest.mark.parametrize("n", range(5))
        def test_quick(n):
            assert n >= 0
    """})
    args = [sys.executable, "-m", "pytest", *IN_CLUSTER]  # pytest's cache on: it keeps them
    runs = [subprocess.run(args, cwd=project, env=_env(floe_cluster), capture_output=True,
                           text=True, timeout=600, check=False) for _ in range(2)]
    first, second = (run.stdout + run.stderr for run in runs)
    assert all(run.returncode == 0 for run in runs), first[-3000:] + second[-3000:]
    assert "split by count" in first
    assert "in-cluster: shard 0: 3 tests" in first, first  # 6 tests by count: 3 + 3
    assert "split by recorded durations" in second
    assert "in-cluster: shard 0: 1 tests" in second, second  # the slow one is a shard's worth
    assert "in-cluster: shard 1: 5 tests" in second, second


def test_exitfirst_stops_the_shards_without_failing_what_they_did_not_run(
    floe_cluster: ClusterSession, tmp_path: Path
) -> None:
    project = _write(tmp_path / "project", {"test_stop.py": """
        import threading

        import pytest


        def test_fails_first():
            raise AssertionError("the first failure stops the run")


        @pytest.mark.parametrize("n", range(3))
        def test_after_it(n):
            threading.Event().wait(2)  # still running when the other shard fails
    """})
    run = _pytest(["-x", *IN_CLUSTER], project, _env(floe_cluster))
    output = run.stdout + run.stderr
    assert run.returncode == pytest.ExitCode.TESTS_FAILED, output[-4000:]
    assert "FAILED test_stop.py::test_fails_first" in output
    assert "1 failed" in output
    assert "did not run this test" not in output, "tests -x did not run are not failures"
    assert _ours(floe_cluster.api) == []


def test_a_missing_runner_image_fails_at_once_with_the_pod_s_diagnosis(
    floe_cluster: ClusterSession, tmp_path: Path
) -> None:
    project = _write(tmp_path / "project", {"test_a.py": "def test_a():\n    pass\n"})
    run = _pytest(["--floe-in-cluster", "--floe-runner-image",
                   "localhost/floe-testing/no-such-runner:0", "--floe-ready-timeout", "900"],
                  project, _env(floe_cluster))
    output = run.stdout + run.stderr
    assert run.returncode != 0, output
    # the fail-fast path (the kubelet's reason), not the start timeout
    assert "its pod could not start (Err" in output or "(ImagePullBackOff)" in output, output
    assert "container shard (localhost/floe-testing/no-such-runner:0)" in output
    assert "FAILED test_a.py::test_a - floe-testing: shard 0 did not run this test" in output
    assert _ours(floe_cluster.api) == []


def test_a_pod_killed_for_its_memory_fails_the_tests_it_did_not_report(
    floe_cluster: ClusterSession, tmp_path: Path
) -> None:
    project = _write(tmp_path / "project", {"test_memory.py": """
        def test_small():
            assert sum(range(10)) == 45


        def test_takes_more_than_the_pod_may():
            hoard = bytearray(3 * 1024 ** 3)  # past the shard's 1 GiB limit: OOM-killed
            hoard[::4096] = b"x" * len(hoard[::4096])
    """})
    run = _pytest(["--junitxml", tmp_path / "junit.xml", *IN_CLUSTER], project,
                  _env(floe_cluster))
    output = run.stdout + run.stderr
    assert run.returncode == pytest.ExitCode.INTERNAL_ERROR, output[-4000:]  # a killed shard
    cases = {c["name"]: c for c in _testcases(tmp_path / "junit.xml")}
    assert cases["test_small"]["children"] == [], "reported before the pod died: passed"
    (failure,) = cases["test_takes_more_than_the_pod_may"]["children"]
    assert failure[0] == "failure"
    assert "did not run this test to its end: its pod ended (OOMKilled, exit code 137)" in (
        failure[1].get("message", "") + failure[2]), failure
    assert "container shard" in failure[2], "the pod's diagnosis comes with it"
    assert _ours(floe_cluster.api) == []


def _default_sigint() -> None:
    # started in the background of a non-interactive shell, a process inherits SIGINT as
    # ignored (and Python then never raises KeyboardInterrupt): a terminal's Ctrl-C, restored
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.requirement("001-FR-051")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupt_while_the_shards_run_leaves_nothing_behind(
    floe_cluster: ClusterSession, tmp_path: Path, sig: signal.Signals
) -> None:
    project = _write(tmp_path / "project", {"test_wait.py": """
        import threading


        def test_waits_for_ever():
            threading.Event().wait(600)
    """})
    api = floe_cluster.api
    before = _kubectl_pids()
    # a pod of an earlier run still terminating would be taken for this run's
    wait_for_condition(lambda: _ours(api) == [], PollingConfig(
        timeout=60, description="no in-cluster run's objects in the cluster"))
    log = tmp_path / "output.txt"
    with log.open("w") as out:
        run = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                                *IN_CLUSTER], cwd=project, env=_env(floe_cluster), stdout=out,
                               stderr=subprocess.STDOUT, preexec_fn=_default_sigint)  # noqa: PLW1509
    output = ""
    try:
        label, value = MANAGED_BY_LABEL

        def test_is_running() -> bool:
            for pod in pykube.Pod.objects(api, namespace=pykube.all).filter(
                    selector={label: value}):
                if pod.name.startswith("floe-shard-") and pod.obj["status"].get(
                        "phase") == "Running":
                    return "floe-testing-report" in pod.logs(container="shard")
            return False

        wait_for_condition(test_is_running, PollingConfig(
            timeout=240, interval=1.0, description="the shard's test to be running"))
        run.send_signal(sig)
        run.wait(timeout=180)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        output = log.read_text()
    assert run.returncode == pytest.ExitCode.INTERRUPTED, output[-4000:]
    assert "KeyboardInterrupt" in output
    assert "in-cluster: delete the run's" in output
    assert _ours(api) == [], output[-4000:]
    assert _kubectl_pids() <= before, "a kubectl the run started is still running"


def _kubectl_pids() -> set[int]:
    found = subprocess.run(["pgrep", "-x", "kubectl"], capture_output=True, text=True,
                           check=False, timeout=30)
    return {int(pid) for pid in found.stdout.split()}


def test_the_example_suite_sharded_reports_what_it_reports_locally(
    floe_cluster: ClusterSession, tmp_path: Path
) -> None:
    sharded = _compare_local_and_sharded(["examples"], REPO, tmp_path, _env(floe_cluster))
    assert sharded.returncode == 0, (sharded.stdout + sharded.stderr)[-4000:]
    assert _ours(floe_cluster.api) == []
