"""pytest-xdist sharing one cluster, and interrupts at every phase of a session, for real."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from floe_testing.polling import PollingConfig, wait_for_condition

from .conftest import STACK, cluster_args, is_up, port_forward_pids

pytestmark = [pytest.mark.cluster]


@pytest.mark.requirement("001-FR-050")
def test_xdist_workers_share_one_cluster_provisioned_once(
        pytester: pytest.Pytester, no_cluster: None) -> None:
    record = pytester.path / "records.jsonl"
    pytester.makepyfile(test_many=f"""
        import json, os
        import pytest

        @pytest.mark.parametrize("n", range(4))
        def test_sql(postgres_connection, postgres_config, n):
            with postgres_connection.cursor() as cur:
                cur.execute("select pg_postmaster_start_time()::text, current_database()")
                started, db = cur.fetchone()
            with open({str(record)!r}, "a") as out:
                out.write(json.dumps({{"worker": os.environ["PYTEST_XDIST_WORKER"],
                                      "port": postgres_config.port, "server": started,
                                      "db": db}}) + "\\n")
    """)
    result = pytester.runpytest_subprocess(*cluster_args("-n", "2", "--dist", "load"))
    result.assert_outcomes(passed=4)
    rows = [json.loads(line) for line in record.read_text().splitlines()]
    workers = {r["worker"] for r in rows}
    assert len(workers) == 2, f"both workers should have run tests: {rows}"
    assert len({r["server"] for r in rows}) == 1, "one cluster, one PostgreSQL for all workers"
    ports = {w: {r["port"] for r in rows if r["worker"] == w} for w in workers}
    assert all(len(p) == 1 for p in ports.values()), "one forward per worker"
    assert len({next(iter(p)) for p in ports.values()}) == 2, "each worker has its own forward"
    assert len({r["db"] for r in rows}) == 4, "a database per test"
    assert not is_up(), "the controller deletes the shared cluster after the last worker"


SLOW_COMPONENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: slow, namespace: floe-test}
spec:
  selector: {matchLabels: {app: slow}}
  template:
    metadata: {labels: {app: slow}}
    spec:
      containers:
      - name: slow
        image: busybox:1.35.0
        imagePullPolicy: IfNotPresent
        readinessProbe: {tcpSocket: {port: 8080}, initialDelaySeconds: 300}
---
apiVersion: v1
kind: Service
metadata: {name: slow, namespace: floe-test}
spec:
  selector: {app: slow}
  ports: [{port: 80, targetPort: 8080}]
"""

INNER_TESTS = """
    import threading
    from floe_testing import IntegrationTestBase, ServiceRequirement

    def test_blocks_in_body(postgres_connection):
        print("INNER-TEST-RUNNING", flush=True)
        threading.Event().wait(300)

    def test_quick(postgres_connection):
        pass

    class TestSlow(IntegrationTestBase):
        required_services = [ServiceRequirement(name="slow", port=80)]

        def test_slow(self):
            pass
"""

# phase -> (line that shows the phase has been reached, -k selection)
PHASES = {
    "creation": ("*using kind cluster 'floe-test' (create*", "blocks_in_body"),
    "readiness wait": ("*manifests: * created*", "slow"),
    "test body": ("INNER-TEST-RUNNING*", "blocks_in_body"),
    "teardown": ("*stopped 1 port-forwards*", "quick"),
}
# SIGTERM goes through the same path once the plugin turns it into an interrupt: prove that
# on the phases with the most state (mid-creation, mid-test) rather than on all four.
CASES = [(phase, signal.SIGINT) for phase in PHASES] + [
    ("creation", signal.SIGTERM), ("test body", signal.SIGTERM)]


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _run_until(args: list[str], cwd: Path, pattern: str, sig: int) -> tuple[int, str]:
    """Run pytest, send ``sig`` once a line matching ``pattern`` appears; return code, output."""
    import fnmatch

    # A process started in the background of a non-interactive shell inherits SIGINT as
    # ignored, and Python then never turns SIGINT into KeyboardInterrupt: restore the default
    # in the child so the signal means what it means in a terminal.
    proc = subprocess.Popen([sys.executable, "-m", "pytest", *args], cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            preexec_fn=_default_sigint)  # noqa: PLW1509 - signal() only
    lines: list[str] = []
    seen = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if not seen.is_set() and fnmatch.fnmatch(line.strip(), pattern):
                seen.set()
                proc.send_signal(sig)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        wait_for_condition(lambda: seen.is_set() or proc.poll() is not None,
                           PollingConfig(timeout=240, interval=0.1,
                                         description=f"inner run to reach {pattern!r}"))
        proc.wait(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(timeout=10)
    assert seen.is_set(), f"phase marker {pattern!r} never appeared:\n{''.join(lines)}"
    return proc.returncode, "".join(lines)


@pytest.mark.requirement("001-FR-051")
@pytest.mark.parametrize(("phase", "sig"), CASES,
                         ids=[f"{p}-{signal.Signals(s).name}" for p, s in CASES])
def test_interrupt_leaves_no_process_and_no_cluster(
        pytester: pytest.Pytester, no_cluster: None, phase: str, sig: int) -> None:
    manifests = pytester.mkdir("stack")
    for source in STACK.iterdir():
        (manifests / source.name).write_text(source.read_text())
    (manifests / "slow.yaml").write_text(SLOW_COMPONENT)
    pytester.makepyfile(test_inner=textwrap.dedent(INNER_TESTS))
    pattern, selection = PHASES[phase]
    code, output = _run_until(
        [*cluster_args("-s", "-k", selection, manifests=manifests)], pytester.path, pattern, sig)
    assert code != 0, output
    assert "KeyboardInterrupt" in output or "Interrupted" in output, output
    assert not port_forward_pids(), f"kubectl left running after {phase}:\n{output}"
    assert not is_up(), f"cluster left behind after an interrupt during {phase}:\n{output}"
