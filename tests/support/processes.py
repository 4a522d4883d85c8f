"""Ports and child processes: pick free ports, stop what we started without leaving orphans."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess

from floe_testing.polling import NotReady, PollingConfig, PollingTimeoutError, wait_for_condition


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS says is free right now (a server binding it later may still race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def closed_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on (checked), for tests of unreachable services."""
    port = free_port(host)
    if port_is_open(host, port):  # pragma: no cover - someone grabbed it in between
        return closed_port(host)
    return port


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of process group ``pgid``, read from ``/proc``."""
    members: list[int] = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="utf-8") as f:
                stat = f.read()
        except OSError:  # exited while we looked
            continue
        # "pid (comm) state ppid pgrp ...": comm may contain spaces, so split after ')'.
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def group_alive(pgid: int) -> bool:
    """True while any live process of the process group ``pgid`` exists."""
    return bool(group_members(pgid))


def stop_process_group(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """SIGTERM the group ``proc`` leads (started with ``start_new_session=True``), then SIGKILL.

    Waits for the leader with ``proc.wait`` and for the rest of the group by polling, so no
    grandchild (e.g. a Dagster run worker) outlives the test session.
    """
    pgid = proc.pid
    if proc.poll() is None or group_alive(pgid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        proc.wait(timeout=timeout)

    def group_gone() -> bool:
        if group_alive(pgid):
            raise NotReady(f"process group {pgid} still has members")
        return True

    try:
        wait_for_condition(
            group_gone,
            PollingConfig(timeout=timeout, interval=0.1, description=f"process group {pgid}"),
        )
    except PollingTimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        wait_for_condition(
            group_gone,
            PollingConfig(timeout=5.0, interval=0.1, description=f"killed group {pgid}"),
        )
