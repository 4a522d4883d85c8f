"""How a shard pod sends its test reports back: framed lines in its log.

Each report is serialised with pytest's own hook (``pytest_report_to_serializable``, as
pytest-xdist does), compressed, base64-encoded and cut into lines short enough for any
container runtime's log (containerd splits lines over 16 KiB). The outer run reads the pod's
log, prints ordinary lines with the shard's prefix, and joins frame lines back into reports
(``pytest_report_from_serializable``). No volume, no API write, no extra RBAC.
"""

from __future__ import annotations

import base64
import json
import sys
import zlib
from typing import Any

import pytest

FRAME_PREFIX = "floe-testing-report "
_CHUNK = 8000


def encode(record: dict[str, Any]) -> list[str]:
    """The frame lines of one record (``more`` lines, then one ``last`` line)."""
    payload = base64.b64encode(zlib.compress(json.dumps(record).encode(), 6)).decode()
    chunks = [payload[i:i + _CHUNK] for i in range(0, len(payload), _CHUNK)] or [""]
    return [f"{FRAME_PREFIX}{'last' if i == len(chunks) - 1 else 'more'} {chunk}"
            for i, chunk in enumerate(chunks)]


class FrameDecoder:
    """Joins one stream's frame lines back into records."""

    def __init__(self) -> None:
        self._pending: list[str] = []

    def feed(self, line: str) -> tuple[str, dict[str, Any] | None]:
        """``(text, record)``: the line's ordinary text (output the pod wrote before a frame
        on the same line, or the whole line), and the record once its last line arrived."""
        text, prefix, frame = line.partition(FRAME_PREFIX)
        if not prefix:
            return line, None
        kind, _, chunk = frame.partition(" ")
        self._pending.append(chunk.strip())
        if kind != "last":
            return text, None
        payload, self._pending = "".join(self._pending), []
        record: dict[str, Any] = json.loads(zlib.decompress(base64.b64decode(payload)))
        return text, record


class ShardReportSender:
    """In a shard pod: every test and collection report, framed, on stdout (registered by
    the plugin when :func:`~floe_testing.in_cluster.running_as_shard`). Reports are made
    outside pytest's output capture, so the frames reach the pod's log."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def _send(self, report: pytest.TestReport | pytest.CollectReport) -> None:
        data = self.config.hook.pytest_report_to_serializable(config=self.config, report=report)
        if data is None:
            return
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.ensure_newline()
        sys.stdout.write("".join(f"{line}\n" for line in encode(data)))
        sys.stdout.flush()

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self._send(report)

    @pytest.hookimpl(trylast=True)
    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self._send(report)
