"""How a shard pod sends its test reports back: framed lines in its log.

Each report is serialised with pytest's own hook (``pytest_report_to_serializable``, as
pytest-xdist does), compressed, base64-encoded and cut into lines short enough for any
container runtime's log (containerd splits lines over 16 KiB). The outer run reads the pod's
log, prints ordinary lines with the shard's prefix, and joins frame lines back into reports
(``pytest_report_from_serializable``). No volume, no API write, no extra RBAC.

A test's own output shares the log, so a frame is recognised only at the start of a line and
only with the run's nonce (a secret of the outer run, handed to the pods in ``NONCE_ENV`` and
taken out of ``os.environ`` before any test runs): a test that prints text looking like a
frame, or replays one it saw, is ordinary output. Whatever does not decode is ordinary output
too, and a frame may not grow past :data:`MAX_RECORD_BYTES` (nor unpack past four times that).
The nonce guards against accidents, not against the project's own code: a test that sets out
to find it can (the process's initial environment, its memory); what it could forge is
bounded by the replay, which takes only its own shard's tests, each phase once.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
import sys
import zlib
from dataclasses import dataclass
from typing import Any

import pytest

FRAME_PREFIX = "floe-testing-report "
#: the run's nonce, in a shard pod's environment (read once, then removed)
NONCE_ENV = "FLOE_SHARD_NONCE"
_CHUNK = 8000
#: one report's encoded size at most (a traceback of megabytes is cut by pytest long before)
MAX_RECORD_BYTES = 16 * 1024 * 1024
#: how much larger than that a report may be unpacked
_MAX_INFLATION = 4
_NONCE = re.compile(r"[0-9a-f]{32}")


def new_nonce() -> str:
    """A fresh nonce for one in-cluster run."""
    return secrets.token_hex(16)


def encode(record: dict[str, Any], nonce: str, sequence: int) -> list[str]:
    """The frame lines of one record: ``PREFIX NONCE SEQ more|last CHUNK``."""
    payload = base64.b64encode(zlib.compress(json.dumps(record).encode(), 6)).decode()
    chunks = [payload[i:i + _CHUNK] for i in range(0, len(payload), _CHUNK)] or [""]
    return [f"{FRAME_PREFIX}{nonce} {sequence} "
            f"{'last' if i == len(chunks) - 1 else 'more'} {chunk}"
            for i, chunk in enumerate(chunks)]


@dataclass
class Decoded:
    """What one log line was: ordinary ``text`` (None for a frame line), a ``record`` once a
    frame's last line arrived, and a ``problem`` when frame lines were dropped."""

    text: str | None = None
    record: dict[str, Any] | None = None
    problem: str | None = None


class FrameDecoder:
    """Joins one stream's frame lines back into records; anything else is text."""

    def __init__(self, nonce: str) -> None:
        if not _NONCE.fullmatch(nonce):
            raise ValueError("a frame nonce is 32 hex digits")
        self._start = f"{FRAME_PREFIX}{nonce} "
        self._sequence: str | None = None
        self._pending: list[str] = []
        self._size = 0

    def feed(self, line: str) -> Decoded:
        if not line.startswith(self._start):
            return Decoded(text=line)
        sequence, _, rest = line[len(self._start):].partition(" ")
        kind, _, chunk = rest.partition(" ")
        chunk = chunk.strip()
        if kind not in ("more", "last") or not sequence.isdigit():
            return Decoded(text=line)
        problem = None
        if self._sequence is not None and sequence != self._sequence:
            problem = f"an incomplete report (frame {self._sequence}) was dropped"
            self._reset()
        self._sequence = sequence
        self._pending.append(chunk)
        self._size += len(chunk)
        if self._size > MAX_RECORD_BYTES:
            self._reset()
            return Decoded(problem=f"a report over {MAX_RECORD_BYTES // (1024 * 1024)} MiB "
                                   "was dropped")
        if kind == "more":
            return Decoded(problem=problem)
        payload = "".join(self._pending)
        self._reset()
        decoded = _decode(payload)
        decoded.problem = decoded.problem or problem
        return decoded

    def _reset(self) -> None:
        self._sequence, self._pending, self._size = None, [], 0


def _decode(payload: str) -> Decoded:
    """A frame's joined payload as a record, or the problem that made it unreadable."""
    try:
        inflater = zlib.decompressobj()
        data = inflater.decompress(base64.b64decode(payload, validate=True),
                                   MAX_RECORD_BYTES * _MAX_INFLATION)
        if inflater.unconsumed_tail:  # a small frame may inflate to gigabytes: bounded too
            return Decoded(problem=f"a report over {MAX_RECORD_BYTES * _MAX_INFLATION // 2**20}"
                                   " MiB unpacked was dropped")
        record = json.loads(data)
    except (binascii.Error, zlib.error, ValueError) as exc:
        return Decoded(problem=f"an undecodable report was dropped ({type(exc).__name__})")
    if not isinstance(record, dict):
        return Decoded(problem="a report that is not a mapping was dropped")
    return Decoded(record=record)


class ShardReportSender:
    """In a shard pod: every test and collection report, framed, on stdout (registered by
    the plugin when :func:`~floe_testing.location.running_as_shard`). Reports are made
    outside pytest's output capture, so the frames reach the pod's log; each starts on a
    line of its own, whatever a test left unterminated (``-s``)."""

    def __init__(self, config: pytest.Config, nonce: str) -> None:
        self.config = config
        self._nonce = nonce
        self._sequence = 0

    @classmethod
    def from_environment(cls, config: pytest.Config) -> ShardReportSender:
        """The sender of this pod, with the run's nonce taken out of ``os.environ`` (what
        tests and the processes they start inherit; see the module docstring)."""
        return cls(config, os.environ.pop(NONCE_ENV, ""))

    def _send(self, report: pytest.TestReport | pytest.CollectReport) -> None:
        data = self.config.hook.pytest_report_to_serializable(config=self.config, report=report)
        if data is None:
            return
        self._sequence += 1
        sys.stdout.write("\n" + "".join(f"{line}\n" for line in
                                         encode(data, self._nonce, self._sequence)))
        sys.stdout.flush()

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self._send(report)

    @pytest.hookimpl(trylast=True)
    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self._send(report)
