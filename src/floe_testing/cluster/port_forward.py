"""``kubectl port-forward`` on a port kubectl picks, supervised and restarted if it dies.

pytest-kind's ``port_forward`` guesses a random port and retries on a 1-second rhythm
(~10 s per forward); here kubectl binds port 0 itself, the port is read from its
``Forwarding from 127.0.0.1:PORT`` line, and readiness is a successful TCP connect.
"""

from __future__ import annotations

import collections
import re
import socket
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

from floe_testing.cluster.processes import spawn, stop
from floe_testing.errors import InfrastructureError
from floe_testing.models import PollingConfig
from floe_testing.polling import ConditionFailed, PollingTimeoutError, wait_for_condition

_FORWARDING = re.compile(r"Forwarding from 127\.0\.0\.1:(\d+) -> ")
_PORT_TAKEN = re.compile(r"address already in use|unable to listen on", re.IGNORECASE)
_POD_GONE = re.compile(r"lost connection to pod|an error occurred forwarding")


class PortForwardError(InfrastructureError):
    """kubectl port-forward could not be started; carries kubectl's own message."""


class PortForward:
    """One supervised forward of ``target`` (e.g. ``svc/postgres``) to 127.0.0.1."""

    def __init__(
        self,
        kubectl: Path,
        kubeconfig: Path,
        namespace: str,
        target: str,
        remote_port: int,
        *,
        on_restart: Callable[[PortForward], None] | None = None,
    ) -> None:
        self.kubectl, self.kubeconfig = kubectl, kubeconfig
        self.namespace, self.target, self.remote_port = namespace, target, remote_port
        self.local_port: int | None = None
        self.restarts = 0
        self._on_restart = on_restart
        self._proc: subprocess.Popen[str] | None = None
        self._ready = threading.Event()
        self._failed: str | None = None
        self._stopping = threading.Event()
        self._stderr: collections.deque[str] = collections.deque(maxlen=20)
        self._thread: threading.Thread | None = None

    def __str__(self) -> str:
        return f"{self.namespace}/{self.target}:{self.remote_port}"

    @property
    def pid(self) -> int | None:
        """The current kubectl process id (changes when restarted)."""
        return self._proc.pid if self._proc else None

    def command(self, local_port: int | None) -> list[str]:
        """The kubectl invocation; ``:REMOTE`` lets kubectl choose the local port."""
        return [
            str(self.kubectl), "--kubeconfig", str(self.kubeconfig), "--namespace",
            self.namespace, "port-forward", "--address", "127.0.0.1", self.target,
            f"{local_port or ''}:{self.remote_port}",
        ]

    def start(self, timeout: float = 30.0) -> int:
        """Start the forward; return the local port once a TCP connect succeeds."""
        self._thread = threading.Thread(target=self._supervise, name=f"forward {self}",
                                        daemon=True)
        self._thread.start()
        self._await_ready(timeout)
        assert self.local_port is not None
        return self.local_port

    def _await_ready(self, timeout: float) -> None:
        def listening() -> bool:
            if self._failed:  # kubectl exited without forwarding: waiting cannot help
                raise ConditionFailed(self._failed)
            if not self._ready.is_set() or self.local_port is None:
                return False
            with socket.create_connection(("127.0.0.1", self.local_port), timeout=1.0):
                return True

        try:
            wait_for_condition(listening, PollingConfig(
                timeout=max(timeout, 1.0), interval=0.1,
                description=f"port-forward {self} to accept connections"))
        except PollingTimeoutError as exc:
            self.stop()
            tail = "; ".join(self._stderr) or "no output from kubectl"
            raise PortForwardError(f"{exc}; kubectl said: {tail}") from None
        except ConditionFailed as exc:
            self.stop()
            raise PortForwardError(str(exc)) from None

    def _supervise(self) -> None:
        """Run kubectl; when it exits unexpectedly, run it again on the same local port.

        If a restart cannot bind that port again, the next attempt lets kubectl choose a new
        one and ``on_restart`` re-publishes the address.
        """
        failures = 0
        while not self._stopping.is_set():
            self._ready.clear()
            proc = spawn(self.command(self.local_port))
            self._proc = proc
            err_thread = threading.Thread(target=self._drain_stderr, args=(proc,), daemon=True)
            err_thread.start()
            assert proc.stdout is not None
            for line in proc.stdout:
                match = _FORWARDING.search(line)
                if match and not self._ready.is_set():
                    self.local_port = int(match.group(1))
                    self._ready.set()
                    failures = 0
                    if self.restarts and self._on_restart:
                        self._on_restart(self)
            proc.wait()
            err_thread.join(timeout=2)
            if self._stopping.is_set():
                return
            if self.restarts == 0 and not self._ready.is_set():
                self._failed = (f"kubectl port-forward {self.target} -n {self.namespace} exited "
                                f"with code {proc.returncode}: "
                                + ("; ".join(self._stderr) or "no output"))
                return
            if not self._ready.is_set():
                failures += 1
                if any(_PORT_TAKEN.search(line) for line in self._stderr):
                    self.local_port = None  # someone took our port: let kubectl pick anew
                # else keep the port: clients hold this address (e.g. the pod is not up yet)
            self.restarts += 1
            # interruptible pause that grows, so a crash loop cannot spin
            self._stopping.wait(min(0.1 * 2**failures, 5.0))

    def _drain_stderr(self, proc: subprocess.Popen[str]) -> None:
        """Keep kubectl's last words; when it reports that its pod is gone, end it so the
        supervisor starts a fresh forward (kubectl picks a live pod of the Service)."""
        assert proc.stderr is not None
        for line in proc.stderr:
            if line.strip():
                self._stderr.append(line.strip())
            if _POD_GONE.search(line) and not self._stopping.is_set():
                proc.terminate()

    def alive(self) -> bool:
        """True while kubectl runs, has announced its port and accepts connections."""
        if not (self._proc and self._proc.poll() is None and self._ready.is_set()):
            return False
        assert self.local_port is not None
        try:
            with socket.create_connection(("127.0.0.1", self.local_port), timeout=0.5):
                return True
        except OSError:
            return False

    def ensure_alive(self, timeout: float = 15.0) -> int:
        """Wait for a restart in progress; return the (possibly unchanged) local port."""
        if not self.alive():
            self._await_ready(timeout)
        assert self.local_port is not None
        return self.local_port

    def stop(self) -> None:
        """Stop kubectl and the supervisor; idempotent."""
        self._stopping.set()
        if self._proc is not None:
            stop(self._proc)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
