"""Shared pieces of the benchmarks: figures, targets, statistics, child processes, timing."""

from __future__ import annotations

import contextlib
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

REPO = Path(__file__).resolve().parents[1]
BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"

Comparison = Literal["<=", "<", ">="]


def median(values: Sequence[float]) -> float:
    """Median; NaN for no values (so a table can still be printed)."""
    return statistics.median(values) if values else float("nan")


def p95(values: Sequence[float]) -> float:
    """95th percentile, nearest-rank (exact for the small sample counts used here)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-95 * len(ordered) // 100))  # ceil(0.95 * n)
    return ordered[rank - 1]


@dataclass
class Figure:
    """One measured quantity: its samples (in ``unit``) and what it means."""

    bench: str
    label: str
    unit: str
    samples: list[float] = field(default_factory=list)
    note: str = ""

    @property
    def median(self) -> float:
        return median(self.samples)

    @property
    def p95(self) -> float:
        return p95(self.samples)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["median"] = self.median
        data["p95"] = self.p95
        data["min"] = min(self.samples) if self.samples else None
        data["max"] = max(self.samples) if self.samples else None
        return data


@dataclass
class Target:
    """A goal from the brief: ``measured <comparison> limit``."""

    bench: str
    description: str
    measured: float
    comparison: Comparison
    limit: float
    unit: str
    detail: str = ""

    @property
    def passed(self) -> bool:
        if self.comparison == "<=":
            return self.measured <= self.limit
        if self.comparison == "<":
            return self.measured < self.limit
        return self.measured >= self.limit

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["passed"] = self.passed
        return data


@dataclass
class BenchResult:
    """What one benchmark produced."""

    name: str
    figures: list[Figure] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def figure(self, label: str, unit: str, note: str = "") -> Figure:
        """A new figure of this benchmark, registered in order."""
        fig = Figure(self.name, label, unit, note=note)
        self.figures.append(fig)
        return fig

    def target(self, description: str, measured: float, comparison: Comparison, limit: float,
               unit: str, *, detail: str = "") -> Target:
        tgt = Target(self.name, description, measured, comparison, limit, unit, detail)
        self.targets.append(tgt)
        return tgt


def log(message: str) -> None:
    """Progress to stderr, so stdout keeps only the table."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Stopwatch:
    """``with Stopwatch() as sw: ...`` then ``sw.elapsed`` (seconds, perf_counter)."""

    def __init__(self) -> None:
        self.start = 0.0
        self.elapsed = 0.0

    def __enter__(self) -> Stopwatch:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.elapsed = time.perf_counter() - self.start


def run(args: Sequence[str | Path], *, timeout: float = 600.0, check: bool = True,
        cwd: Path | None = None, env: dict[str, str] | None = None,
        ) -> subprocess.CompletedProcess[str]:
    """Run a command to completion (never through a shell); output captured."""
    return subprocess.run([str(a) for a in args], capture_output=True, text=True,
                          timeout=timeout, check=check, cwd=cwd, env=env)


def timed_run(args: Sequence[str | Path], *, cwd: Path | None = None,
              env: dict[str, str] | None = None, timeout: float = 600.0,
              ) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Wall time of a command (spawn to exit) and its result; a failure raises with output."""
    start = time.perf_counter()
    done = run(args, cwd=cwd, env=env, timeout=timeout, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(str(a) for a in args)} exited {done.returncode}:\n"
                           f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return elapsed, done


def _children_matching(predicate: Callable[[list[bytes]], bool]) -> list[int]:
    """Our direct children (from /proc) whose argv satisfies ``predicate``."""
    me = os.getpid()
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 1 and fields[0] != "Z" and int(fields[1]) == me and predicate(argv):
            found.append(int(entry.name))
    return found


def kill_own_port_forwards() -> list[int]:
    """SIGKILL every ``kubectl port-forward`` that is a child of this process.

    pytest-kind's ``port_forward`` leaves its kubectl running when interrupted before its
    ``yield`` (its ``finally`` only covers the body); this reaps what it would leave behind.
    """
    # ours run with --address 127.0.0.1 and are stopped by PortForward.stop(): leave them
    pids = _children_matching(lambda argv: b"port-forward" in argv and b"--address" not in argv)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    return pids


@contextlib.contextmanager
def quiet_fds() -> Iterator[None]:
    """Point fds 1 and 2 at /dev/null (children started inside inherit it): pytest-kind's
    kubectl writes its "Forwarding from" lines to our terminal otherwise."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)


def clean_env(*drop_prefixes: str) -> dict[str, str]:
    """This process's environment without variables that would steer the plugin."""
    prefixes = ("KUBECONFIG", "FLOE_", "POSTGRES_", "MINIO_", "POLARIS_", "DAGSTER_",
                "DUCKDB_", "PYTEST_ADDOPTS", "PYTEST_PLUGINS", *drop_prefixes)
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
