"""A forwarded Service at one local address for the whole session, whatever happens behind it.

The local port is ours: a listening socket on 127.0.0.1 bound once, at start. Each connection
a client makes to it is relayed to a supervised ``kubectl port-forward``, which binds a port of
its own choosing (announced on its ``Forwarding from 127.0.0.1:PORT`` line). When kubectl dies
or loses its pod, the supervisor starts a new one; connections made meanwhile wait for it, so
a dead kubectl or a replaced pod is invisible to every client: the address never changes, and
the next connection simply works. (pytest-kind's ``port_forward`` guesses a random port and
retries on a 1-second rhythm; kubectl choosing its port, and readiness taken from kubectl's own
announcement as an event, make setup as fast as kubectl itself.)
"""

from __future__ import annotations

import collections
import contextlib
import re
import socket
import subprocess
import threading
from pathlib import Path

from floe_testing.cluster.processes import spawn, stop
from floe_testing.errors import InfrastructureError

_FORWARDING = re.compile(r"Forwarding from 127\.0\.0\.1:(\d+) -> ")
_POD_GONE = re.compile(r"lost connection to pod|an error occurred forwarding")
#: how long a client's connection waits for a restarting kubectl before it is closed
RECONNECT_TIMEOUT = 30.0
_CHUNK = 65536


class PortForwardError(InfrastructureError):
    """kubectl port-forward could not be started; carries kubectl's own message."""


class PortForward:
    """One forwarded ``target`` (e.g. ``svc/postgres``): our listener on 127.0.0.1, relayed
    through a supervised kubectl (see the module docstring)."""

    def __init__(self, kubectl: Path, kubeconfig: Path, namespace: str, target: str,
                 remote_port: int) -> None:
        self.kubectl, self.kubeconfig = kubectl, kubeconfig
        self.namespace, self.target, self.remote_port = namespace, target, remote_port
        #: the address clients use; fixed from ``start()`` to ``stop()``
        self.local_port: int | None = None
        #: how many times kubectl was started again after dying
        self.restarts = 0
        self._listener: socket.socket | None = None
        self._proc: subprocess.Popen[str] | None = None
        self._kubectl_port: int | None = None  # where the current kubectl listens
        self._failed: str | None = None  # the first kubectl exited without forwarding
        self._stopping = False
        self._state = threading.Condition()
        self._stderr: collections.deque[str] = collections.deque(maxlen=20)
        self._thread: threading.Thread | None = None
        self._accepting: threading.Thread | None = None
        self._open: set[socket.socket] = set()

    def __str__(self) -> str:
        return f"{self.namespace}/{self.target}:{self.remote_port}"

    @property
    def pid(self) -> int | None:
        """The current kubectl process id (changes when restarted)."""
        return self._proc.pid if self._proc else None

    def command(self) -> list[str]:
        """The kubectl invocation; ``:REMOTE`` lets kubectl choose its local port."""
        return [
            str(self.kubectl), "--kubeconfig", str(self.kubeconfig), "--namespace",
            self.namespace, "port-forward", "--address", "127.0.0.1", self.target,
            f":{self.remote_port}",
        ]

    def start(self, timeout: float = 30.0) -> int:
        """Bind our port, start kubectl and return the port once kubectl forwards (awaited
        as the event of kubectl announcing its port, not polled)."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        self._listener = listener
        self.local_port = listener.getsockname()[1]
        self._thread = threading.Thread(target=self._supervise, name=f"forward {self}",
                                        daemon=True)
        self._thread.start()
        try:
            self._await_kubectl(timeout)
        except PortForwardError:
            self.stop()
            self.local_port = None
            raise
        self._accepting = threading.Thread(target=self._accept, name=f"relay {self}",
                                           daemon=True)
        self._accepting.start()
        return self.local_port

    def _await_kubectl(self, timeout: float) -> int:
        """kubectl's port, once it forwards; a :class:`PortForwardError` if the first kubectl
        exited without forwarding or none forwards within ``timeout``."""
        with self._state:
            self._state.wait_for(lambda: self._kubectl_port is not None or self._failed
                                 is not None or self._stopping, timeout=max(timeout, 0.1))
            if self._failed is not None:
                raise PortForwardError(self._failed)
            if self._kubectl_port is None:
                tail = "; ".join(self._stderr) or "no output from kubectl"
                raise PortForwardError(
                    f"port-forward {self} did not start forwarding within {timeout:.0f} s; "
                    f"kubectl said: {tail}")
            return self._kubectl_port

    # -- kubectl ------------------------------------------------------------------------

    def _supervise(self) -> None:
        """Run kubectl; when it exits unexpectedly, run it again (backing off while it keeps
        failing, so a crash loop cannot spin)."""
        failures = 0
        while True:
            with self._state:
                if self._stopping:
                    return
                proc = spawn(self.command())
                self._proc = proc
            err_thread = threading.Thread(target=self._drain_stderr, args=(proc,), daemon=True)
            err_thread.start()
            assert proc.stdout is not None
            for line in proc.stdout:
                match = _FORWARDING.search(line)
                if match:
                    with self._state:
                        self._kubectl_port = int(match.group(1))
                        self._state.notify_all()
                    failures = 0
            proc.wait()
            err_thread.join(timeout=2)
            with self._state:
                forwarded = self._kubectl_port is not None
                self._kubectl_port = None
                if self._stopping:
                    return
                if not forwarded and self.restarts == 0:
                    self._failed = (f"kubectl port-forward {self.target} -n {self.namespace} "
                                    f"exited with code {proc.returncode}: "
                                    + ("; ".join(self._stderr) or "no output"))
                    self._state.notify_all()
                    return
                failures += 0 if forwarded else 1
                self.restarts += 1
                # interruptible pause that grows while kubectl keeps failing
                self._state.wait_for(lambda: self._stopping,
                                     timeout=min(0.05 * 2**failures, 5.0) if failures else 0)

    def _drain_stderr(self, proc: subprocess.Popen[str]) -> None:
        """Keep kubectl's last words; when it reports that its pod is gone, end it so the
        supervisor starts a fresh forward (kubectl picks a live pod of the Service)."""
        assert proc.stderr is not None
        for line in proc.stderr:
            if line.strip():
                self._stderr.append(line.strip())
            if _POD_GONE.search(line) and not self._stopping:
                proc.terminate()

    # -- relay ---------------------------------------------------------------------------

    def _accept(self) -> None:
        listener = self._listener
        assert listener is not None
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # closed by stop()
                return
            threading.Thread(target=self._relay, args=(client,), name=f"relay {self}",
                             daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        """Connect ``client`` to the current kubectl (waiting for a restart in progress) and
        copy bytes both ways until either side closes."""
        upstream = self._connect_upstream()
        if upstream is None:
            client.close()
            return
        with self._state:
            if self._stopping:
                client.close()
                upstream.close()
                return
            self._open.update((client, upstream))
        forth = threading.Thread(target=_copy, args=(client, upstream), daemon=True)
        forth.start()
        _copy(upstream, client)
        # the server side ended (or kubectl died): the client's end goes too, so a pooled
        # client connection is seen as closed and the next request opens a fresh one
        for sock in (client, upstream):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        forth.join()
        with self._state:
            self._open.difference_update((client, upstream))
        client.close()
        upstream.close()

    def _connect_upstream(self) -> socket.socket | None:
        """A connection to the current kubectl, or None when none forwards in time."""
        deadline = RECONNECT_TIMEOUT
        while deadline > 0 and not self._stopping:
            try:
                port = self._await_kubectl(deadline)
            except PortForwardError:
                return None
            try:
                upstream = socket.create_connection(("127.0.0.1", port), timeout=5.0)
                upstream.settimeout(None)  # a relayed connection may idle as long as it likes
                return upstream
            except OSError:  # that kubectl is going away: wait for the next one
                self._await_change(port, timeout=1.0)
                deadline -= 1.0
        return None

    def _await_change(self, port: int, timeout: float) -> None:
        """Wait until kubectl's port is no longer ``port`` (it died, or a new one forwards)."""
        with self._state:
            self._state.wait_for(lambda: self._kubectl_port != port or self._stopping,
                                 timeout=timeout)

    # -- state ---------------------------------------------------------------------------

    def alive(self) -> bool:
        """True while a kubectl forwards behind our port."""
        with self._state:
            return (not self._stopping and self._kubectl_port is not None
                    and self._proc is not None and self._proc.poll() is None)

    def ensure_alive(self, timeout: float = 15.0) -> int:
        """Wait for a restart in progress; return our (unchanging) local port."""
        self._await_kubectl(timeout)
        assert self.local_port is not None
        return self.local_port

    def stop(self) -> None:
        """Close our port and every relayed connection, stop kubectl and the supervisor;
        idempotent."""
        with self._state:
            self._stopping = True
            self._state.notify_all()
            proc, listener, open_sockets = self._proc, self._listener, list(self._open)
            self._listener = None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for sock in open_sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if proc is not None:
            stop(proc)
        for thread in (self._thread, self._accepting):
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout=5)


def _copy(source: socket.socket, sink: socket.socket) -> None:
    """Copy until ``source`` ends, then end ``sink``'s direction (a half-close: a client that
    has sent everything still gets its answer)."""
    try:
        while chunk := source.recv(_CHUNK):
            sink.sendall(chunk)
    except OSError:
        pass
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)
