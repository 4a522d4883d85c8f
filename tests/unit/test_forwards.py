"""The session's forwards when one of them cannot start: those that did are kept (one address
per service for the session, stopped at its end), not leaked, and a later test asking again
starts only the one that failed."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from floe_testing.cluster.forwards import Forwards
from floe_testing.cluster.port_forward import PortForwardError
from floe_testing.cluster.progress import Progress
from floe_testing.service_requirement import ServiceRequirement

pytestmark = pytest.mark.unit

NOT_FOUND = 'Error from server (NotFound): services "broken" not found'


@pytest.fixture
def kubectl(tmp_path: Path, closed_port: int) -> Path:
    """kubectl's behaviour for port-forward: announces its port and keeps forwarding, except
    for svc/broken, which does not exist (kubectl's own words, exit 1). Each call and process
    id is written down."""
    script = tmp_path / "kubectl"
    script.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        echo "$@" >> "{tmp_path}/calls"
        echo $$ >> "{tmp_path}/pids"
        case "$*" in
          *svc/broken*) echo '{NOT_FOUND}' >&2; exit 1 ;;
        esac
        echo "Forwarding from 127.0.0.1:{closed_port} -> 80"
        exec sleep 600
        """))
    script.chmod(0o755)
    return script


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.requirement("001-FR-009")
def test_forwards_that_started_are_kept_when_another_fails(
    kubectl: Path, tmp_path: Path
) -> None:
    good = ServiceRequirement(name="good", port=80)
    other = ServiceRequirement(name="other", port=80)
    broken = ServiceRequirement(name="broken", port=80)
    forwards = Forwards(Progress(None))
    try:
        with pytest.raises(PortForwardError, match="services \"broken\" not found"):
            forwards.open(kubectl, tmp_path / "kubeconfig", [good, broken, other])
        assert sorted(forwards.by_key) == [("floe-test", "good", 80), ("floe-test", "other", 80)]
        kept = {key: forward.local_port for key, forward in forwards.by_key.items()}
        # the next test asking for the services again: only the broken one is tried again
        with pytest.raises(PortForwardError):
            forwards.open(kubectl, tmp_path / "kubeconfig", [good, broken, other])
        assert {key: forward.local_port for key, forward in forwards.by_key.items()} == kept
        calls = (tmp_path / "calls").read_text().splitlines()
        assert sorted(call.split()[-2] for call in calls) == [
            "svc/broken", "svc/broken", "svc/good", "svc/other"]
    finally:
        forwards.stop()
    assert forwards.by_key == {}
    pids = [int(p) for p in (tmp_path / "pids").read_text().split()]
    assert len(pids) == 4
    assert not [pid for pid in pids if _alive(pid)], "a kubectl was left running"
