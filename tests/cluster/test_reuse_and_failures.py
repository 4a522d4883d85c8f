"""A reused cluster (KUBECONFIG) and the failure paths, each produced for real."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

from .conftest import cluster_args, is_up, port_forward_pids

pytestmark = [pytest.mark.cluster]


def _kubectl(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), *args],
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.requirement("001-FR-004", "001-FR-051")
def test_kubeconfig_cluster_is_reused_never_deleted(
        pytester: pytest.Pytester, live_cluster: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(live_cluster))
    pytester.makepyfile(test_pg="""
        def test_sql(postgres_connection):
            with postgres_connection.cursor() as cur:
                cur.execute("select 1")
                assert cur.fetchone() == (1,)
    """)
    result = pytester.runpytest_subprocess(*cluster_args("-s"))
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        "*using existing cluster context * (reused: never created or deleted)*",
        "*delete * objects created by this run (namespaces: floe-test)*",
    ])
    assert "kind cluster" not in result.stdout.str()
    assert is_up(), "a reused cluster must never be deleted"
    assert not port_forward_pids()
    gone = _kubectl(live_cluster, "get", "namespace", "floe-test")
    assert "NotFound" in gone.stderr or "Terminating" in gone.stdout, gone


@pytest.mark.requirement("001-FR-008", "001-FR-053")
def test_image_that_cannot_be_pulled_fails_fast_with_diagnosis(
        pytester: pytest.Pytester, live_cluster: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(live_cluster))
    manifests = pytester.mkdir("broken")
    (manifests / "ghost.yaml").write_text(textwrap.dedent("""
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: ghost, namespace: default}
        spec:
          selector: {matchLabels: {app: ghost}}
          template:
            metadata: {labels: {app: ghost}}
            spec:
              containers:
              - {name: ghost, image: "registry.invalid/ghost:1.0", imagePullPolicy: IfNotPresent}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: ghost, namespace: default}
        spec:
          selector: {app: ghost}
          ports: [{port: 80}]
    """))
    pytester.makepyfile(test_ghost="""
        from floe_testing import IntegrationTestBase, ServiceRequirement

        class TestGhost(IntegrationTestBase):
            required_services = [ServiceRequirement(name="ghost", port=80, namespace="default")]

            def test_never_runs(self):
                raise AssertionError("setup should have failed")
    """)
    result = pytester.runpytest_subprocess(
        *cluster_args(manifests=manifests), "--floe-ready-timeout", "240")
    result.assert_outcomes(errors=1)
    out = result.stdout.str()
    assert "Timed out" not in out, "an unpullable image must fail fast, not at the timeout"
    result.stdout.fnmatch_lines([
        "*Deployment/ghost in default cannot become ready: container ghost is *Err*Pull*",
        "*pod ghost-*: phase Pending*",
        "*container ghost (registry.invalid/ghost:1.0): waiting *",
        "*event *",
    ])
    result.stdout.fnmatch_lines(["*delete 2 objects created by this run*"])
    assert "During handling" not in out
    leftover = _kubectl(live_cluster, "get", "deployment,service", "ghost", "-n", "default")
    assert "NotFound" in leftover.stderr, "objects created on a reused cluster must be removed"


@pytest.mark.requirement("001-FR-009")
def test_killed_forward_is_restarted_and_next_query_succeeds(
        pytester: pytest.Pytester, live_cluster: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(live_cluster))
    pytester.makepyfile(test_kill="""
        import os, signal
        import psycopg2
        from floe_testing.services.postgres.helper import connect
        from floe_testing import PollingConfig, wait_for_condition

        def test_forward_survives_kill(floe_cluster, postgres_config):
            forward = next(f for f in floe_cluster.forwards.values() if "postgres" in f.target)
            port, pid = forward.local_port, forward.pid
            os.kill(pid, signal.SIGKILL)
            wait_for_condition(lambda: not os.path.exists(f"/proc/{pid}"),
                               PollingConfig(timeout=10, interval=0.1, description="kubectl gone"))
            endpoint = floe_cluster.endpoint("postgres", 5432, "floe-test")
            assert forward.restarts >= 1 and forward.pid != pid
            assert endpoint.port == port, "restarted on the same local port"
            conn = connect(postgres_config)
            try:
                with conn.cursor() as cur:
                    cur.execute("select 7")
                    assert cur.fetchone() == (7,)
            finally:
                conn.close()
    """)
    result = pytester.runpytest_subprocess(*cluster_args("-s"))
    result.assert_outcomes(passed=1)
    assert not port_forward_pids()


@pytest.mark.requirement("001-FR-009")
def test_forward_recovers_when_its_pod_is_replaced(
        pytester: pytest.Pytester, live_cluster: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(live_cluster))
    pytester.makepyfile(test_pod="""
        import pykube
        from floe_testing import PollingConfig, wait_for_condition
        from floe_testing.services.postgres.helper import connect

        def started(config):
            conn = connect(config)  # the same address before and after the restart
            try:
                with conn.cursor() as cur:
                    cur.execute("select pg_postmaster_start_time()::text")
                    return cur.fetchone()[0]
            finally:
                conn.close()

        def test_next_query_after_pod_restart(floe_cluster, postgres_config):
            before = started(postgres_config)
            pods = pykube.Pod.objects(floe_cluster.api, namespace="floe-test")
            old = next(iter(pods.filter(selector={"app": "postgres"})))
            old.delete()  # the Deployment replaces it; kubectl loses its pod
            wait_for_condition(lambda: not old.exists(), PollingConfig(
                timeout=120, interval=0.5, description="the old postgres pod to be gone"))
            assert started(postgres_config) != before, "answered by the new pod's server"
            assert old.name not in {p.name for p in pods.filter(selector={"app": "postgres"})}
    """)
    result = pytester.runpytest_subprocess(*cluster_args("-s"))
    result.assert_outcomes(passed=1)
    assert not port_forward_pids()


@pytest.mark.requirement("001-FR-004", "001-FR-053")
def test_unreachable_kubeconfig_fails_in_seconds_naming_context_and_server(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    kubeconfig = pytester.path / "dead-kubeconfig"
    kubeconfig.write_text(textwrap.dedent("""
        apiVersion: v1
        kind: Config
        clusters: [{name: dead, cluster: {server: "https://127.0.0.1:1"}}]
        users: [{name: u, user: {token: abc}}]
        contexts: [{name: dead-ctx, context: {cluster: dead, user: u}}]
        current-context: dead-ctx
    """))
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    pytester.makepyfile(test_pg="def test_x(postgres_connection):\n    pass\n")
    result = pytester.runpytest_subprocess(*cluster_args())
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([
        f"*The cluster in {kubeconfig} (KUBECONFIG) is unreachable: context 'dead-ctx', "
        "server https://127.0.0.1:1*"])
    assert "Traceback" not in result.stdout.str()


@pytest.mark.requirement("001-FR-052", "001-FR-064")
def test_the_sweep_of_dead_in_cluster_runs_deletes_only_what_such_a_run_creates(
        pytester: pytest.Pytester, live_cluster: Path) -> None:
    """A SIGKILLed in-cluster run leaves its objects (all of them, or, killed while creating
    or deleting them, some without a Job); the stack it provisioned carries the same run id
    under the stack's label, and a user's objects may carry anything. The next run's sweep
    deletes the dead runs' own objects and nothing else."""
    import pykube

    from floe_testing.cluster.apply import RUN_LABEL
    from floe_testing.in_cluster.objects import RunObjects
    from floe_testing.in_cluster.sweep import collect_dead_runs
    from floe_testing.run_identity import Owner, current_owner, process_space

    finished = subprocess.Popen(["true"])
    finished.wait()
    me = current_owner()
    dead_run = RunObjects("deadrun00001", "default",
                          Owner("deadrun00001", me.host, finished.pid, process_space()).tag())
    jobless_run = RunObjects("deadrun00002", "default",
                             Owner("deadrun00002", me.host, finished.pid, process_space()).tag())
    live_run = RunObjects("liverun00001", "default", me.tag())
    api = pykube.HTTPClient(pykube.KubeConfig.from_file(str(live_cluster)), timeout=30)

    def job(objects: RunObjects) -> dict[str, object]:
        spec = objects.job(0, 1, image="localhost/localkube/busybox:1.35.0", pytest_args=[],
                           rootdir=".", deadline=60, nonce="0" * 32)
        spec["spec"]["suspend"] = True  # type: ignore[index]  # 1.21+: on 1.20 a pod starts
        return spec

    made: list[pykube.objects.APIObject] = []
    for objects in (dead_run, jobless_run, live_run):
        for obj, cls in ((objects.service_account(), pykube.ServiceAccount),
                         (objects.role(["x"]), pykube.Role),
                         (objects.role_binding(), pykube.RoleBinding),
                         (objects.config_map(b"", [["t"]]), pykube.ConfigMap),
                         (job(objects), pykube.Job)):
            if objects is not jobless_run or cls is not pykube.Job:
                made.append(cls(api, obj))
    # the stack of the dead run (the stack's run label, the same id) and a user's objects
    stack_labels = {RUN_LABEL: "deadrun00001"}
    for name, cls in (("stack-config", pykube.ConfigMap), ("stack-account", pykube.ServiceAccount),
                      ("floe-runner-deadrun00001-mine", pykube.ConfigMap)):
        made.append(cls(api, {"apiVersion": "v1", "kind": cls.kind,
                              "metadata": {"name": name, "namespace": "default",
                                           "labels": stack_labels}}))
    for obj in made:
        obj.create()
    try:
        collect_dead_runs(pytester.parseconfigure(), api, "default")
        remaining = {(o.kind, o.name) for o in made if o.exists()}
        assert remaining == {(o.kind, o.name) for o in made
                             if "deadrun0000" not in o.name or o.name.endswith("-mine")
                             or o.name.startswith("stack-")}
        assert ("ConfigMap", "stack-config") in remaining
        assert ("Job", live_run.job_name(0)) in remaining, "a live run is never swept"
        assert ("Job", dead_run.job_name(0)) not in remaining
        assert ("ConfigMap", jobless_run.name) not in remaining, "found without a Job too"
    finally:
        for obj in made:
            if obj.exists():
                obj.delete(propagation_policy="Background")


@pytest.mark.requirement("001-FR-009", "001-FR-026", "001-FR-025")
def test_a_declared_service_is_forwarded_masked_diagnosed_and_survives_its_forward_restart(
        pytester: pytest.Pytester, live_cluster: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A service the user declares (the tier's busybox web, with a Secret of its own): its
    endpoint fixture is a forward whose address survives its kubectl's death, its credential
    is masked in the report, and a failed test carries its pods' diagnosis."""
    monkeypatch.setenv("KUBECONFIG", str(live_cluster))
    extra = pytester.mkdir("extra")
    (extra / "web-credentials.yaml").write_text(textwrap.dedent("""
        apiVersion: v1
        kind: Secret
        metadata: {name: web-credentials, namespace: floe-test}
        stringData: {WEB_TOKEN: web-T0ken-5d9e0c31, WEB_USER: reader}
    """))
    pytester.makeconftest("""
        from floe_testing import declare_service

        web_config, web_endpoint = declare_service(
            name="web", service="web", port=80, secret="web-credentials",
            credentials={"token": "WEB_TOKEN"}, values={"user": "WEB_USER"})
    """)
    pytester.makepyfile(test_web="""
        import os, signal, urllib.request
        from floe_testing import PollingConfig, wait_for_condition

        def fetch(url):
            with urllib.request.urlopen(url, timeout=10) as reply:
                return reply.read().decode()

        def test_forwarded_and_restarted(web_endpoint, floe_cluster):
            assert web_endpoint.reached.forwarded
            assert web_endpoint.user == "reader"
            assert "hello from localkube busybox" in fetch(web_endpoint.url)
            forward = next(f for f in floe_cluster.forwards.values() if "svc/web" in f.target)
            pid = forward.pid
            os.kill(pid, signal.SIGKILL)
            wait_for_condition(lambda: not os.path.exists(f"/proc/{pid}"),
                               PollingConfig(timeout=10, interval=0.1, description="kubectl gone"))
            assert "hello from localkube busybox" in fetch(web_endpoint.url)  # same address
            assert forward.restarts >= 1

        def test_fails_and_is_diagnosed(web_endpoint):
            print("token:", web_endpoint.token.get_secret_value())
            assert False, "fails to show its report"
    """)
    result = pytester.runpytest_subprocess(*cluster_args(f"--floe-extra-manifests={extra}",
                                                         "-rA"))
    result.assert_outcomes(passed=1, failed=1)
    output = result.stdout.str()
    assert "token: ***" in output, output
    assert "web-T0ken-5d9e0c31" not in output
    assert "floe-testing: svc/web in floe-test" in output, "the failure's diagnosis section"
    assert not port_forward_pids()
