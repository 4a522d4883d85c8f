"""``--floe-artifacts DIR`` on a real cluster: a failed test that used the cluster's services
leaves its services' pod state, logs (the previous container's too, after a real restart) and
events; the failed run leaves the stack's state once; secrets are not in any file; a test that
used no cluster service and a passing test leave nothing. Serially and under xdist (where the
controller, which never used the cluster itself, writes the run's state).

Also here: ``wait_for_service`` for a Service that does not exist fails at once as a
``TimeoutError``, and the forwards that did start beside it are kept, not leaked."""

from __future__ import annotations

from pathlib import Path

import pytest

from floe_testing.cluster.artifacts import MARKER, folder_name_of

from .conftest import cluster_args, port_forward_pids

pytestmark = [pytest.mark.cluster]

#: the tier's PostgreSQL password (tests/cluster/stack/postgres.yaml)
TIER_PASSWORD = "tier-secret-pw-7d3f"

FAILING_RUN = """
    import subprocess

    import pykube

    from floe_testing import PollingConfig, wait_for_condition


    def postgres_pods(api):
        return list(pykube.Pod.objects(api, namespace="floe-test").filter(
            selector={"app": "postgres"}))


    def restarted_and_ready(api):
        statuses = [cs for pod in postgres_pods(api)
                    for cs in pod.obj["status"].get("containerStatuses", [])]
        return statuses and all(cs["restartCount"] >= 1 and cs["ready"] for cs in statuses)


    def test_fails_after_postgres_restarted(floe_cluster, postgres_config):
        pod = postgres_pods(floe_cluster.api)[0]
        # an immediate shutdown of the server: the container exits, the kubelet restarts it
        subprocess.run(["kubectl", "--kubeconfig", str(floe_cluster.kubeconfig), "-n",
                        "floe-test", "exec", pod.name, "--", "sh", "-c", "kill -QUIT 1"],
                       check=True, capture_output=True, timeout=60)
        wait_for_condition(lambda: restarted_and_ready(floe_cluster.api), PollingConfig(
            timeout=120, interval=0.5, description="postgres restarted and ready"))
        raise AssertionError("fails on purpose, after a restart")


    def test_passes(postgres_config):
        assert postgres_config.port


    def test_fails_without_services():
        raise AssertionError("no cluster service used")
"""


def _all_text(directory: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in directory.rglob("*") if p.is_file())


@pytest.mark.requirement("001-FR-008", "001-FR-026", "001-FR-050")
@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_failed_tests_and_the_failed_run_leave_their_artifacts(
        pytester: pytest.Pytester, live_cluster: Path, monkeypatch: pytest.MonkeyPatch,
        workers: tuple[str, ...]) -> None:
    monkeypatch.setenv("KUBECONFIG", str(live_cluster))
    pytester.makepyfile(test_art=FAILING_RUN)
    artifacts = pytester.path / "ci-artifacts"
    result = pytester.runpytest_subprocess(*cluster_args("--floe-artifacts=ci-artifacts",
                                                         *workers))
    result.assert_outcomes(failed=2, passed=1)
    output = result.stdout.str()

    failed = "test_art.py::test_fails_after_postgres_restarted"
    folder = artifacts / "tests" / folder_name_of(failed)
    assert (artifacts / MARKER).is_file()
    summary = (artifacts / "summary.txt").read_text()
    assert summary == f"{failed} (call): tests/{folder.name}\n", summary
    assert sorted(p.name for p in (artifacts / "tests").iterdir()) == [folder.name]
    assert (folder / "test.txt").read_text() == f"{failed} failed in call\n"
    service = folder / "floe-test" / "postgres"
    assert "kind: Service" in (service / "service.yaml").read_text()
    (pod,) = (service / "pods").iterdir()
    assert pod.name.startswith("postgres-")
    assert "restartCount: 1" in (pod / "pod.yaml").read_text()
    assert (pod / "postgres.log").read_text().strip(), "the current container's log"
    assert "shut" in (pod / "postgres.previous.log").read_text().lower(), \
        "the previous container's log ends with the server's shutdown"
    assert "postgres" in (service / "events.txt").read_text()
    # the report says where the test's files are
    assert "floe-testing: artifacts" in output
    assert f"pod logs, events and state of svc/postgres: {folder}" in output

    run = artifacts / "run"
    assert "failed test(s)" in (run / "run.txt").read_text()
    objects = (run / "floe-test" / "objects.yaml").read_text()
    for expected in ("kind: Deployment", "name: postgres", "kind: Service",
                     "POSTGRES_PASSWORD: (not written)"):
        assert expected in objects, expected
    (run_pod,) = (p for p in (run / "floe-test" / "pods").iterdir()
                  if p.name.startswith("postgres-"))
    assert (run_pod / "postgres.previous.log").is_file()
    assert (run / "floe-test" / "events.txt").read_text().strip()
    assert "failure artifacts of the run to" in output

    assert TIER_PASSWORD not in _all_text(artifacts)
    assert not (artifacts / "run" / "errors.txt").exists(), _all_text(artifacts / "run")


@pytest.mark.requirement("001-FR-008")
def test_a_passing_run_leaves_no_artifacts(
        pytester: pytest.Pytester, live_cluster: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The previous run's files go (the directory is ours: its marker says so); a passing
    run writes none."""
    monkeypatch.setenv("KUBECONFIG", str(live_cluster))
    artifacts = pytester.path / "ci-artifacts"
    (artifacts / "tests" / "from-before").mkdir(parents=True)
    (artifacts / MARKER).write_text("")
    pytester.makepyfile(test_ok="def test_ok(postgres_config):\n    assert postgres_config\n")
    result = pytester.runpytest_subprocess(*cluster_args(f"--floe-artifacts={artifacts}"))
    result.assert_outcomes(passed=1)
    assert sorted(p.name for p in artifacts.iterdir()) == [MARKER]


@pytest.mark.requirement("001-FR-031", "001-FR-009")
def test_no_such_service_fails_at_once_as_a_timeout_and_the_other_forwards_are_kept(
        pytester: pytest.Pytester, live_cluster: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first need brings up every planned service (here postgres) with the one asked for,
    which does not exist: the wait fails at once as a ``TimeoutError``, postgres's forward
    is kept and serves the next test; no kubectl is left over (none was leaked either)."""
    monkeypatch.setenv("KUBECONFIG", str(live_cluster))
    pytester.makepyfile(test_svc="""
        import time
        from pathlib import Path

        import pytest

        from floe_testing import PollingConfig, ServiceUnavailableError, wait_for_service


        def test_no_such_service():
            start = time.monotonic()
            with pytest.raises(TimeoutError) as info:
                wait_for_service("no-such-svc", 8080, namespace="floe-test",
                                 config=PollingConfig(timeout=120))
            assert time.monotonic() - start < 100, "failed at the timeout, not at once"
            assert isinstance(info.value, ServiceUnavailableError)
            assert 'services "no-such-svc" not found' in str(info.value)


        def test_postgres_still_served(postgres_connection, floe_cluster):
            with postgres_connection.cursor() as cur:
                cur.execute("select 1")
                assert cur.fetchone() == (1,)
            forwards = [f for f in floe_cluster.forwards.values() if "postgres" in f.target]
            assert len(forwards) == 1 and forwards[0].restarts == 0
            mine = [p for p in (f.pid for f in floe_cluster.forwards.values()) if p]
            running = []
            for entry in Path("/proc").iterdir():
                if entry.name.isdigit():
                    try:
                        cmd = (entry / "cmdline").read_bytes()
                    except OSError:
                        continue
                    if b"port-forward" in cmd and b"svc/" in cmd:
                        running.append(int(entry.name))
            assert sorted(running) == sorted(mine), "a kubectl of a failed start was leaked"
    """)
    result = pytester.runpytest_subprocess(*cluster_args())
    result.assert_outcomes(passed=2)
    assert not port_forward_pids()
