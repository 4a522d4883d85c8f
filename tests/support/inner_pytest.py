"""Run a separate pytest session (a user's run of the plugin) and read back what happened.

The inner session is a subprocess with the plugin auto-loaded from its entry point, in a temp
directory of its own, inheriting this process's environment (so the ``POSTGRES_HOST`` etc. the
tier exported reach it, as they would reach a user's run). Outcomes come from its JUnit XML,
so a test that fails in its body, errors in setup or is skipped is told apart exactly.

A conftest is added that turns any attempt to create a cluster into an error: in env mode
none may be created, and a slip must not start provisioning a real cluster.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Appended to a line-delimited JSON file named by this env var by the inner tests' ``record``.
RECORD_ENV = "FLOE_IT_RECORD"

GUARD_CONFTEST = '''
"""Inner-run guard: the run uses env endpoints, so creating a cluster is a bug."""

import json
import os

import pytest

from floe_testing.cluster.run import CLUSTER_SESSION


def record(kind, value):
    """Tell the outer test about a resource this test made (line-delimited JSON)."""
    with open(os.environ["FLOE_IT_RECORD"], "a", encoding="utf-8") as out:
        out.write(json.dumps({"kind": kind, "value": value}) + "\\n")


class _RefusingCluster:
    """Stands in for the run's cluster session: env endpoints are set, so any use is a bug."""

    def __getattr__(self, name):
        raise RuntimeError(f"inner run asked for a cluster ({name}) although env endpoints "
                           "are set")

    def close(self):
        pass

    def diagnosis_sections(self, requirements):
        return []


def pytest_configure(config):
    config.stash[CLUSTER_SESSION] = _RefusingCluster()
'''

#: Env vars of the outer pytest (xdist worker identity, addopts) that must not leak inward.
_OUTER_ONLY = ("PYTEST_ADDOPTS", "PYTEST_CURRENT_TEST", "PYTEST_XDIST_WORKER",
               "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID", "PYTEST_PLUGINS")


@dataclass
class InnerRun:
    """The result of an inner session: per-test outcome, messages, output and records."""

    returncode: int
    output: str
    outcomes: dict[str, str] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)
    records: list[dict[str, Any]] = field(default_factory=list)

    def counts(self) -> Counter[str]:
        return Counter(self.outcomes.values())

    def recorded(self, kind: str) -> list[Any]:
        return [r["value"] for r in self.records if r["kind"] == kind]

    def describe(self) -> str:
        """Everything needed to debug a surprising inner run, for assertion messages."""
        return f"outcomes={self.outcomes}\nexit={self.returncode}\n{self.output}"


def run_inner_pytest(
    workdir: Path,
    tests: str,
    *,
    env: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
    timeout: float = 180.0,
) -> InnerRun:
    """Write ``tests`` as ``test_inner.py`` (plus the guard conftest) and run pytest on it."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "conftest.py").write_text(GUARD_CONFTEST, encoding="utf-8")
    (workdir / "test_inner.py").write_text(textwrap.dedent(tests), encoding="utf-8")
    report = workdir / "report.xml"
    records = workdir / "records.jsonl"
    child_env = {k: v for k, v in os.environ.items() if k not in _OUTER_ONLY}
    child_env.update(env or {})
    child_env[RECORD_ENV] = str(records)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA",
         f"--junitxml={report}", f"--rootdir={workdir}", "test_inner.py", *args],
        cwd=workdir, env=child_env, capture_output=True, text=True, timeout=timeout,
        check=False,
    )
    run = InnerRun(done.returncode, done.stdout + done.stderr)
    if report.exists():
        _read_junit(report, run)
    if records.exists():
        run.records = [json.loads(line) for line in records.read_text().splitlines() if line]
    return run


def _read_junit(report: Path, run: InnerRun) -> None:
    """``failed`` if the body failed, else ``error`` (setup/teardown), ``skipped``, ``passed``.

    Messages of every failure/error element of a test are kept, so a teardown error that
    follows a failing body is still visible in ``messages``.
    """
    for case in ET.parse(report).getroot().iter("testcase"):
        name = case.get("name", "?")
        problems = [c for c in case if c.tag in ("failure", "error", "skipped")]
        tags = {c.tag for c in problems}
        outcome = next(
            (o for tag, o in (("failure", "failed"), ("error", "error"), ("skipped", "skipped"))
             if tag in tags),
            "passed",
        )
        run.outcomes[name] = outcome
        run.messages[name] = "\n".join(f"{c.get('message', '')}\n{c.text or ''}"
                                       for c in problems)
