"""The shards' pods: whether each could start, its log followed line by line, how it ended.

One look per pod until its container runs (a pod that cannot start fails its shard at once,
with the kubelet's reason); then a thread follows the container's log and puts each line on
the run's queue, and ``None`` when the log ends; then the container's exit code, or why the
pod ended without one.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pykube
import pytest
import requests

from floe_testing.cluster.readiness import diagnose, fatal_waiting_reason
from floe_testing.in_cluster.objects import CONTAINER
from floe_testing.in_cluster.shards import Shard
from floe_testing.waiting import (
    ConditionFailed,
    PollingConfig,
    PollingTimeoutError,
    wait_for_condition,
)

POLL = 0.5
#: a log line at most (a line longer than this is cut: a test printing a megabyte line
#: cannot make the outer run hold it all)
MAX_LINE = 64 * 1024
#: (shard index, a log line, or None when the log ended)
LogLines = queue.Queue[tuple[int, str | None]]
#: ``end(shard, problem, exit code)``: the shard is done; ``problem`` fails its unreported tests
EndShard = Callable[[Shard, str | None, int | None], None]


def bounded_lines(chunks: Iterable[bytes], limit: int = MAX_LINE) -> Iterator[str]:
    """The lines of a byte stream, each cut to ``limit`` bytes: memory stays bounded whatever
    a pod writes (a frame line is far shorter; a longer line is a test's output)."""
    line = bytearray()
    dropping = False
    for chunk in chunks:
        start = 0
        while start < len(chunk):
            end = chunk.find(b"\n", start)
            piece = chunk[start:] if end < 0 else chunk[start:end]
            if not dropping:
                line += piece[:limit - len(line)]
                dropping = len(line) >= limit
            if end < 0:
                break
            yield line.decode("utf-8", "replace").rstrip("\r")
            line, dropping, start = bytearray(), False, end + 1
    if line:
        yield line.decode("utf-8", "replace").rstrip("\r")


@dataclass
class ShardPods:
    """Watches the pods of one run's shards in ``namespace``."""

    api: pykube.HTTPClient
    namespace: str
    shard_timeout: float
    start_timeout: float
    lines: LogLines
    end: EndShard

    def pod(self, shard: Shard) -> pykube.Pod | None:
        pods = list(pykube.Pod.objects(self.api, namespace=self.namespace).filter(
            selector={"job-name": shard.job}))
        return pods[0] if pods else None

    def look(self, shard: Shard) -> None:
        """Until the shard's container runs: fail fast when it cannot start, then follow."""
        pod = self.pod(shard)
        waited = time.monotonic() - shard.created_at
        if pod is None:  # may wait for the namespace's quota while other shards run
            if waited > self.shard_timeout:
                events = pykube.Event.objects(self.api, namespace=self.namespace).filter(
                    field_selector={"involvedObject.name": shard.job})
                said = "".join(f"\n  event {e.obj.get('reason')}: {e.obj.get('message')}"
                               for e in events)
                self.end(shard, f"no pod for Job {shard.job} after {waited:.0f}s "
                                f"(--floe-shard-timeout){said}", pytest.ExitCode.INTERNAL_ERROR)
            return
        shard.pod = pod.name
        status = pod.obj.get("status", {})
        containers = status.get("containerStatuses", [])
        reason = next((r for cs in containers if (r := fatal_waiting_reason(cs))), None)
        if reason is not None or (status.get("phase") == "Failed" and not any(
                "terminated" in cs.get("state", {}) for cs in containers)):
            self.end(shard, f"its pod could not start ({reason or status.get('reason')}):\n"
                            f"{diagnose(self.api, pod)}", pytest.ExitCode.INTERNAL_ERROR)
            return
        if any(set(cs.get("state", {})) & {"running", "terminated"} for cs in containers):
            shard.running_at = time.monotonic()
            self._follow(shard)
        elif waited > self.start_timeout:
            self.end(shard, f"its pod did not start within {waited:.0f}s (--floe-ready-"
                            f"timeout):\n{diagnose(self.api, pod)}",
                     pytest.ExitCode.INTERNAL_ERROR)

    def _follow(self, shard: Shard) -> None:
        """Follow the container's log in a thread; lines go to the run's queue."""
        response = self.api.session.get(
            f"{self.api.url}/api/v1/namespaces/{self.namespace}/pods/{shard.pod}/log",
            params={"follow": "true", "container": CONTAINER}, stream=True,
            timeout=(10, self.shard_timeout + 60))
        response.raise_for_status()
        shard.following = True

        def pump() -> None:
            try:
                for line in bounded_lines(response.iter_content(chunk_size=MAX_LINE)):
                    self.lines.put((shard.index, line))
            except (requests.RequestException, AttributeError, ValueError):
                pass  # the connection ended (the pod was deleted, say): the pod says why
            finally:
                self.lines.put((shard.index, None))

        threading.Thread(target=pump, name=f"floe-shard-{shard.index}-log", daemon=True).start()

    def finish(self, shard: Shard) -> None:
        """The log ended: the container's exit code, or why it did not end well."""
        if shard.done:
            return
        terminated: dict[str, Any] = {}

        def ended() -> bool:
            nonlocal terminated
            pod = self.pod(shard)
            if pod is None:
                raise ConditionFailed(f"pod of Job {shard.job} is gone")
            for cs in pod.obj.get("status", {}).get("containerStatuses", []):
                terminated = cs.get("state", {}).get("terminated") or {}
            return bool(terminated) or pod.obj.get("status", {}).get("phase") == "Failed"

        try:
            wait_for_condition(ended, PollingConfig(timeout=30, interval=POLL,
                                                    description=f"shard {shard.index}'s pod "
                                                                "to end"))
        except (ConditionFailed, PollingTimeoutError) as exc:
            self.end(shard, str(exc), pytest.ExitCode.INTERNAL_ERROR)
            return
        code = int(terminated.get("exitCode", 1)) if terminated else 1
        pod = self.pod(shard)
        reason = terminated.get("reason") or (pod.obj.get("status", {}).get("reason")
                                              if pod else None)
        problem = None
        if any(t not in shard.finished_tests for t in shard.ids):
            hint = ("" if shard.first_report_at is not None else
                    "\n(it reported nothing: does the runner image hold floe-testing and the "
                    "tests' dependencies? README \"Running inside the cluster\")")
            problem = (f"its pod ended ({reason or 'no reason given'}, exit code {code}) before "
                       f"reporting this test:\n{diagnose(self.api, pod) if pod else ''}{hint}")
        self.end(shard, problem, code)
