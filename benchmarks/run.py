"""floe-testing benchmarks: prints a table and writes ``benchmarks/results/<UTC stamp>.json``.

    .venv/bin/python benchmarks/run.py                     # everything
    .venv/bin/python benchmarks/run.py --only polling      # one benchmark (repeatable)
    .venv/bin/python benchmarks/run.py --runs 3            # samples per benchmark

The cluster benchmarks create a kind cluster with ``--kind-bin`` (default: localkube's
stand-in in ``../shared/localkube`` when present, else ``kind`` on PATH) and delete it at the
end, or use the existing cluster named by ``--kubeconfig`` (never deleted; its stack
namespace is). See benchmarks/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import shutil
import signal
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from bench_cluster import (
    Cluster,
    bench_cold_session,
    bench_port_forward,
    bench_warm_rerun,
    cluster_postgres,
)
from bench_common import REPO, RESULTS_DIR, BenchResult, log, run
from bench_in_cluster import bench_in_cluster
from bench_install import DEFAULT_VENV_CACHE, bench_per_run_cost
from bench_local import bench_isolation, bench_polling, bench_unit_only

from floe_testing.cluster.settings import parse_image_overrides
from floe_testing.stack import PACKAGED_MANIFESTS

BENCHES = ["port-forward", "cold-session", "warm-rerun", "stack-cold", "stack-warm",
           "in-cluster", "unit-only", "per-run-cost", "polling", "isolation"]
CLUSTER_BENCHES = {"port-forward", "cold-session", "warm-rerun", "stack-cold", "stack-warm",
                   "in-cluster"}
WHOLE_STACK = ("postgres", "minio", "polaris", "dagster")
LOCALKUBE = REPO.parent / "shared" / "localkube"
LOCALKUBE_OVERRIDES = [
    "postgres:16.4=localhost/localkube/postgres:15",
    "busybox:1.35.0=localhost/localkube/busybox:1.35.0",
]
UNITS = {"s": "{:.3f} s", "ms": "{:.1f} ms", "%": "{:.2f} %", "x": "{:.1f}x"}


def _on_localkube() -> bool:
    return (LOCALKUBE / "localkube").is_file() and (LOCALKUBE / "bin" / "kind").is_file()


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", choices=BENCHES, metavar="NAME",
                        help=f"run only this benchmark (repeatable): {', '.join(BENCHES)}")
    parser.add_argument("--runs", type=int, default=0, metavar="N",
                        help="samples per benchmark (default: 5 port-forward, 3 cold-session, "
                             "3 warm-rerun, 30 unit-only pairs, 20 per-run-cost rounds, "
                             "20 polling, 10 isolation)")
    parser.add_argument("--kind-bin", type=Path, default=None, metavar="PATH",
                        help="kind binary that creates (and deletes) the benchmark cluster "
                             "(default: localkube's stand-in if ../shared/localkube exists, "
                             "else kind on PATH)")
    parser.add_argument("--kubeconfig", type=Path, default=None, metavar="FILE",
                        help="use this existing cluster instead (never created or deleted)")
    parser.add_argument("--kubectl", type=Path, default=None, metavar="PATH",
                        help="kubectl binary (default: kubectl on PATH)")
    parser.add_argument("--manifests", type=Path, default=None, metavar="DIR",
                        help="stack with Services postgres:5432 and web:80 (default: "
                             "tests/cluster/stack on localkube, benchmarks/stack elsewhere)")
    parser.add_argument("--image-override", action="append", default=None, metavar="FROM=TO",
                        help="image override, repeatable (default on localkube: "
                             + ", ".join(LOCALKUBE_OVERRIDES) + "; elsewhere none)")
    parser.add_argument("--venv-cache", type=Path, default=None, metavar="DIR",
                        help="per-run-cost: where its venvs are kept between runs, keyed by "
                             f"the wheel's contents (default {DEFAULT_VENV_CACHE}, else "
                             "~/.cache/floe-testing/bench-venvs)")
    parser.add_argument("--fresh-venvs", action="store_true",
                        help="per-run-cost: build its venvs in a temp dir, deleted after")
    parser.add_argument("--wheel-rev", default=None, metavar="REV",
                        help="per-run-cost: build the wheel from this git revision instead "
                             "of the working tree")
    args = parser.parse_args(argv)
    if args.runs < 0:
        parser.error("--runs must be positive")
    localkube = _on_localkube()
    if args.kind_bin is None and args.kubeconfig is None:
        found = shutil.which("kind")
        args.kind_bin = LOCALKUBE / "bin" / "kind" if localkube else (
            Path(found) if found else None)
    if args.kubectl is None:
        found = shutil.which("kubectl")
        args.kubectl = Path(found) if found else None
    if args.manifests is None:
        args.manifests = (REPO / "tests" / "cluster" / "stack" if localkube
                          else REPO / "benchmarks" / "stack")
    if args.image_override is None:
        args.image_override = LOCALKUBE_OVERRIDES if localkube else []
    for name in ("kind_bin", "kubeconfig", "kubectl", "manifests", "venv_cache"):
        value = getattr(args, name)
        if value is not None:
            setattr(args, name, value.absolute())
    return args


def machine_info(args: argparse.Namespace) -> dict[str, Any]:
    def out(*cmd: str) -> str:
        try:
            done = run(cmd, check=False, timeout=30)
        except (OSError, TimeoutError):
            return "unavailable"
        return (done.stdout or done.stderr).strip()

    return {
        "date_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "nproc": out("nproc"),
        "free_h": out("free", "-h"),
        "loadavg": Path("/proc/loadavg").read_text().strip(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "kubectl": out(str(args.kubectl), "version", "--client") if args.kubectl else None,
        "kind_bin": str(args.kind_bin) if args.kind_bin else None,
        "kind_version": out(str(args.kind_bin), "version").splitlines()[0]
        if args.kind_bin else None,
        "kubeconfig": str(args.kubeconfig) if args.kubeconfig else None,
        "manifests": str(args.manifests),
        "image_overrides": args.image_override,
        "git_head": out("git", "-C", str(REPO), "rev-parse", "--short", "HEAD"),
        "git_dirty_src": out("git", "-C", str(REPO), "status", "--porcelain", "--", "src"),
    }


def _fmt(value: float | None, unit: str) -> str:
    if value is None or math.isnan(value):
        return "-"
    return UNITS.get(unit, "{:.3f} " + unit).format(value)


def render(results: list[BenchResult], machine: dict[str, Any]) -> str:
    lines = [f"floe-testing benchmarks, {machine['date_utc']}; nproc {machine['nproc']}; "
             f"python {machine['python']}; kind {machine['kind_version'] or '-'}",
             *(f"  {row}" for row in str(machine["free_h"]).splitlines()), ""]
    header = f"{'benchmark':<13} {'figure':<58} {'median':>11} {'p95':>11} {'n':>3}  note"
    lines += [header, "-" * len(header)]
    for res in results:
        if res.error:
            lines.append(f"{res.name:<13} ERROR: {res.error}")
        for fig in res.figures:
            lines.append(f"{res.name:<13} {fig.label[:58]:<58} {_fmt(fig.median, fig.unit):>11} "
                         f"{_fmt(fig.p95, fig.unit):>11} {len(fig.samples):>3}  {fig.note}")
        lines += [f"{res.name:<13} | {line}" for line in res.info.get("report_lines", ())]
    lines += ["", f"{'benchmark':<13} {'target':<58} {'measured':>11} {'limit':>13}  result",
              "-" * 110]
    for res in results:
        for tgt in res.targets:
            limit = f"{tgt.comparison} {_fmt(tgt.limit, tgt.unit)}"
            lines.append(f"{res.name:<13} {tgt.description[:58]:<58} "
                         f"{_fmt(tgt.measured, tgt.unit):>11} {limit:>13}  "
                         f"{'PASS' if tgt.passed else 'MISS'}  {tgt.detail}")
    return "\n".join(lines)


def write_json(results: list[BenchResult], machine: dict[str, Any], args: argparse.Namespace,
               stamp: str, complete: bool) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{stamp}.json"
    data = {
        "complete": complete,
        "command": [sys.executable, *sys.argv],
        "machine": machine,
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "benchmarks": [{"name": r.name, "error": r.error, "info": r.info,
                        "figures": [f.as_json() for f in r.figures],
                        "targets": [t.as_json() for t in r.targets]} for r in results],
    }
    path.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    return path


def _sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def working_directory(path: Path) -> Iterator[None]:
    """pytest-kind and the plugin's kind mode keep ``.pytest-kind/`` in the cwd: use ours."""
    previous = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    selected = [b for b in BENCHES if not args.only or b in args.only]
    signal.signal(signal.SIGTERM, _sigterm)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    machine = machine_info(args)
    workdir = Path(tempfile.mkdtemp(prefix="floe-bench-"))
    results: list[BenchResult] = []
    clusters: list[Cluster] = []  # at most one, created on first need
    complete = False

    def get_cluster() -> Cluster:
        if not clusters:
            if args.kubectl is None:
                raise RuntimeError("kubectl not found: pass --kubectl")
            if args.kubeconfig is None and args.kind_bin is None:
                raise RuntimeError("no cluster: pass --kind-bin (kind) or --kubeconfig")
            cluster = Cluster(kubectl=args.kubectl, manifests=args.manifests,
                              overrides=parse_image_overrides(args.image_override,
                                                              "--image-override"),
                              workdir=workdir, kind_bin=args.kind_bin,
                              reuse_kubeconfig=args.kubeconfig)
            clusters.append(cluster)
            cluster.acquire()
            if cluster.create_seconds is not None:
                machine["cluster_create_seconds"] = round(cluster.create_seconds, 2)
        return clusters[0]

    def release_cluster() -> None:
        while clusters:
            cluster = clusters.pop()
            if cluster.api_ready and not cluster.created:
                with contextlib.suppress(Exception):
                    cluster.delete_namespaces()
            cluster.release()

    benches: dict[str, Callable[[BenchResult], None]] = {
        "port-forward": lambda r: bench_port_forward(r, get_cluster(), args.runs),
        "cold-session": lambda r: bench_cold_session(r, get_cluster(), args.runs),
        "warm-rerun": lambda r: bench_warm_rerun(r, get_cluster(), args.runs),
        # the packaged stack as users get it: its images are built locally under the exact
        # references it names (tests/images), so no overrides
        "stack-cold": lambda r: bench_cold_session(
            r, get_cluster().with_manifests(PACKAGED_MANIFESTS, {}), args.runs or 2,
            ratio=2.0),
        "stack-warm": lambda r: bench_warm_rerun(
            r, get_cluster().with_manifests(PACKAGED_MANIFESTS, {}), args.runs,
            services=WHOLE_STACK, target=1.0),
        # the example suite here, in 1 pod, in 2 pods (runner image from tests/images)
        "in-cluster": lambda r: bench_in_cluster(
            r, get_cluster().with_manifests(PACKAGED_MANIFESTS, {}), args.runs),
        "unit-only": lambda r: bench_unit_only(r, args.runs),
        "per-run-cost": lambda r: bench_per_run_cost(
            r, args.runs, venv_cache=args.venv_cache, fresh_venvs=args.fresh_venvs,
            rev=args.wheel_rev),
        "polling": lambda r: bench_polling(r, args.runs),
        "isolation": lambda r: bench_isolation(
            r, args.runs, (lambda: cluster_postgres(get_cluster()))
            if args.kubeconfig or args.kind_bin else None),
    }
    try:
        with working_directory(workdir):
            try:
                for index, name in enumerate(selected):
                    result = BenchResult(name)
                    results.append(result)
                    log(f"=== {name}")
                    try:
                        benches[name](result)
                    except Exception as exc:  # noqa: BLE001 - report it, run the others
                        result.error = f"{type(exc).__name__}: {exc}".splitlines()[0]
                        traceback.print_exc()
                    if not CLUSTER_BENCHES & set(selected[index + 1:]):
                        # a running control plane is CPU noise for the local benchmarks
                        release_cluster()
                complete = True
            finally:
                release_cluster()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        print(render(results, machine))
        path = write_json(results, machine, args, stamp, complete)
        print(f"\nJSON: {path}")
    missed = [t for r in results for t in r.targets if not t.passed]
    return 1 if missed or any(r.error for r in results) else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        print("interrupted: cleaned up; partial results written", file=sys.stderr)
        sys.exit(130)
