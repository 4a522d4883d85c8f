"""Who created a leftover, precisely enough to judge its creator dead: never a live run on
another machine or in another container that shares the hostname and reuses PIDs."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from floe_testing.cluster.kind import make_state_dir
from floe_testing.leftovers import dead
from floe_testing.run_identity import Owner, current_owner, process_space, start_time

pytestmark = [pytest.mark.unit, pytest.mark.requirement("001-FR-052")]


def finished_pid() -> int:
    """The PID of a process that has certainly exited (and been reaped)."""
    done = subprocess.Popen(["true"])
    done.wait()
    return done.pid


def test_a_tag_round_trips_and_the_current_process_is_alive() -> None:
    me = current_owner()
    assert Owner.parse(me.tag()) == me
    assert me.space == process_space() != ""
    assert me.started == start_time(os.getpid()) != ""
    assert not me.is_dead()


def test_a_gone_process_of_this_space_is_dead_one_of_another_space_never() -> None:
    host, pid = socket.gethostname(), finished_pid()
    assert Owner("run", host, pid, process_space()).is_dead()
    # same hostname, other machine or container: its PIDs mean nothing here
    assert not Owner("run", host, pid, "0" * 12).is_dead()
    assert not Owner("run", "another-host", pid, process_space()).is_dead()
    # a tag of an older release (host and pid only) is never judged: it could be anyone's
    legacy = Owner.parse(f"floe-testing:run:{host}:{pid}")
    assert legacy is not None
    assert not legacy.is_dead()
    assert dead([("x", Owner("run", host, pid, process_space()).tag()),
                 ("y", f"floe-testing:run:{host}:{pid}"), ("z", None), ("w", "other")]) == ["x"]


def test_a_pid_reused_by_a_later_process_counts_as_dead() -> None:
    me = current_owner()
    reused = Owner("run", me.host, me.pid, me.space, started=str(int(me.started) - 1))
    assert reused.is_dead(), "the PID is alive, but it is not the process that made the tag"


def test_the_state_directory_keeps_itself_out_of_git(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    state = tmp_path / ".pytest-kind"
    make_state_dir(state)
    (state / "floe-test").mkdir()
    (state / "floe-test" / "kubeconfig").write_text("client-key-data: c2VjcmV0\n")
    listed = subprocess.run(["git", "-C", str(tmp_path), "status", "--porcelain",
                             "--untracked-files=all"], capture_output=True, text=True,
                            check=True).stdout
    assert ".pytest-kind" not in listed, "git add -A would commit a cluster-admin key"
    make_state_dir(state)  # a second run keeps the file as it is
    assert (state / ".gitignore").read_text().endswith("*\n")
