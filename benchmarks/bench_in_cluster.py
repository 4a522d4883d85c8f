"""``--floe-in-cluster``: the example suite here, in 1 pod, in 2 pods; where a shard's time goes.

Every run is a real ``pytest examples`` on the same cluster (reused through KUBECONFIG, the stack
kept up between runs, so each figure is a warm run's), the pods on the runner image
``tests/images/build.py`` builds. The runner prints one line of figures per shard (pod running,
first result, done, measured from the Job's creation); the projection for N nodes assumes each
shard gets a node of its own and the tests split evenly: the per-shard overhead (everything but
running tests) plus the tests' own time divided by N.
"""

from __future__ import annotations

import re
import sys

from bench_cluster import Cluster
from bench_common import REPO, BenchResult, clean_env, log, timed_run

RUNNER = "localhost/floe-testing/runner:dev"
_SHARD_LINE = re.compile(r"in-cluster: shard (\d+): (\d+) tests; pod running after ([\d.]+)s, "
                         r"first result after ([\d.]+)s, done after ([\d.]+)s; exit (\d+)")
_TESTS_TIME = re.compile(r"in ([\d.]+)s")


def _shard_figures(output: str) -> list[tuple[float, float, float]]:
    """(pod running, first result, done) of each shard, seconds since its Job was created."""
    return [(float(m[3]), float(m[4]), float(m[5])) for m in _SHARD_LINE.finditer(output)]


def bench_in_cluster(result: BenchResult, cluster: Cluster, runs: int,
                     runner: str = RUNNER) -> None:
    runs = runs or 2
    env = {**clean_env(), "KUBECONFIG": str(cluster.kubeconfig)}
    base = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--keep-cluster",
            "examples"]
    sharded = [*base, "--floe-in-cluster", "--floe-runner-image", runner, "--floe-shards"]
    log("in-cluster: first run (applies the stack and keeps it)")
    timed_run(base, cwd=REPO, env=env, timeout=1200)
    local = result.figure("examples here (local run, warm)", "s", "wall time, 5 tests")
    one = result.figure("examples in 1 pod", "s", "wall time")
    two = result.figure("examples in 2 pods (one node, 2 cores)", "s", "wall time")
    start = result.figure("per shard: Job created -> pod running", "s", "scheduling, volumes, "
                          "container start")
    boot = result.figure("per shard: pod running -> first result", "s",
                         "unpack code, Python + pytest start-up, collection, first test")
    tests_here = result.figure("tests' own time here (pytest's 'in N s')", "s")
    for i in range(runs):
        log(f"in-cluster: run {i + 1}/{runs}")
        elapsed, done = timed_run(base, cwd=REPO, env=env, timeout=1200)
        local.samples.append(elapsed)
        found = _TESTS_TIME.findall(done.stdout)
        if found:
            tests_here.samples.append(float(found[-1]))
        for shards, figure in ((1, one), (2, two)):
            elapsed, done = timed_run([*sharded, str(shards)], cwd=REPO, env=env, timeout=1200)
            figure.samples.append(elapsed)
            for running, first, _ in _shard_figures(done.stdout + done.stderr):
                start.samples.append(running)
                boot.samples.append(first - running)
            result.info.setdefault(f"shard_lines_{shards}", []).append(
                [m[0] for m in _SHARD_LINE.finditer(done.stdout + done.stderr)])
    overhead = one.median - local.median
    result.figure("per-shard overhead (1 pod - here)", "s",
                  "difference of medians").samples.append(overhead)
    result.figure("2 pods / 1 pod", "x", "< 1 is a gain; one node of 2 cores").samples.append(
        two.median / one.median)
    work = tests_here.median
    for nodes in (2, 4, 8):
        projected = (one.median - work) + work / nodes
        result.figure(f"projected: {nodes} shards on {nodes} nodes", "s",
                      f"overhead {one.median - work:.1f} s + tests {work:.1f} s / {nodes}"
                      ).samples.append(projected)
    result.info["report_lines"] = [
        f"here {local.median:.1f} s, 1 pod {one.median:.1f} s, 2 pods {two.median:.1f} s; "
        f"a shard costs {overhead:.1f} s over a local run (pod {start.median:.1f} s, "
        f"start-up to first result {boot.median:.1f} s)",
    ]
    log("in-cluster: deleting the kept stack")
    cluster.delete_namespaces()

