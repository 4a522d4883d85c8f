"""Benchmarks that need no cluster: unit-only overhead, polling latency, per-test isolation."""

from __future__ import annotations

import logging
import os
import random
import re
import resource
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from bench_common import REPO, BenchResult, Stopwatch, clean_env, log, median, run, timed_run
from pydantic import SecretStr

from floe_testing.polling import PollingConfig, wait_for_condition

# -- 4. unit-only run ---------------------------------------------------------------------------

TRIVIAL_TESTS = 20


def _write_trivial_suite(directory: Path) -> None:
    directory.mkdir()
    (directory / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    body = "\n\n".join(f"def test_trivial_{i:02d}() -> None:\n    assert {i} + 1 == {i + 1}\n"
                       for i in range(TRIVIAL_TESTS))
    (directory / "test_trivial.py").write_text(body, encoding="utf-8")


def _importtime(statement: str, module: str, runs: int, env: dict[str, str],
                ) -> tuple[list[float], list[tuple[str, int]]]:
    """Cumulative import times (ms) of ``module`` and the heaviest self times (us) under it."""
    cumulative: list[float] = []
    heaviest: list[tuple[str, int]] = []
    pattern = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")
    for _ in range(runs):
        done = run([sys.executable, "-X", "importtime", "-c", statement], env=env)
        rows = [(int(m.group(1)), int(m.group(2)), len(m.group(3)), m.group(4))
                for m in map(pattern.search, done.stderr.splitlines()) if m]
        # a module's line comes after its imports, which are the lines just before it that
        # are indented deeper
        for index, (_, cum, depth, name) in enumerate(rows):
            if name == module:
                cumulative.append(cum / 1000)
                start = index
                while start > 0 and rows[start - 1][2] > depth:
                    start -= 1
                heaviest = sorted(((n, s) for s, _, _, n in rows[start:index + 1]),
                                  key=lambda item: -item[1])[:8]
                break
    return cumulative, heaviest


@contextmanager
def _pinned_to_one_cpu() -> Iterator[str]:
    """Children inherit our CPU affinity: one CPU for all of them removes migration noise."""
    if not hasattr(os, "sched_getaffinity"):
        yield "not pinned"
        return
    previous = os.sched_getaffinity(0)
    cpu = max(previous)
    os.sched_setaffinity(0, {cpu})
    try:
        yield f"pinned to CPU {cpu}"
    finally:
        os.sched_setaffinity(0, previous)


def _unit_env(pycache: Path | None) -> dict[str, str]:
    """Bytecode cached in ``pycache`` (a private PYTHONPYCACHEPREFIX: nothing is written to
    the source tree), or not written at all when None."""
    env = clean_env("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")
    if pycache is None:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    else:
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


WITH, WITHOUT = "with floe_testing", "-p no:floe_testing"


def _pairs(result: BenchResult, variants: dict[str, list[str]], env: dict[str, str],
           pairs: int, tag: str) -> list[float]:
    """Interleaved (ABBA) runs of both variants; per-variant figures; paired differences."""
    for args in variants.values():  # compile the bytecode cache, warm the page cache
        timed_run(args, env=env)
    figs = {name: result.figure(f"{tag}pytest wall, {name}", "ms") for name in variants}
    cpu = {name: result.figure(f"{tag}pytest CPU user+sys, {name}", "ms", "child rusage")
           for name in variants}
    paired: list[float] = []
    for i in range(pairs):
        order = list(variants) if i % 2 == 0 else list(reversed(variants))
        times: dict[str, float] = {}
        for name in order:
            ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            elapsed, done = timed_run(variants[name], env=env)
            ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            if f"{TRIVIAL_TESTS} passed" not in done.stdout:
                raise RuntimeError(f"unexpected pytest output: {done.stdout[-500:]}")
            times[name] = elapsed * 1000
            figs[name].samples.append(elapsed * 1000)
            cpu[name].samples.append(1000 * (ru1.ru_utime + ru1.ru_stime
                                             - ru0.ru_utime - ru0.ru_stime))
        paired.append(times[WITH] - times[WITHOUT])
    result.figure(f"{tag}wall: paired difference (with - without)", "ms",
                  "median of per-pair differences: slow drift cancels").samples.extend(paired)
    result.figure(f"{tag}wall: difference of medians", "ms").samples.append(
        figs[WITH].median - figs[WITHOUT].median)
    result.figure(f"{tag}CPU: difference of medians", "ms").samples.append(
        cpu[WITH].median - cpu[WITHOUT].median)
    return paired


def bench_unit_only(result: BenchResult, runs: int) -> None:
    """Wall time of a 20-test, no-cluster run with and without the plugin loaded."""
    pairs = runs or 30
    directory = Path(tempfile.mkdtemp(prefix="floe-bench-unit-"))
    try:
        _write_trivial_suite(directory / "suite")
        env = _unit_env(directory / "pycache")
        base = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                str(directory / "suite")]
        variants = {WITH: base, WITHOUT: [*base, "-p", "no:floe_testing"]}
        with _pinned_to_one_cpu() as pinning:
            result.info["setup"] = (f"{TRIVIAL_TESTS} trivial tests, pytest-kind loaded in both, "
                                    f"{pinning}")
            paired = _pairs(result, variants, env, pairs, "")
            result.target("plugin overhead, unit-only run (median paired difference)",
                          median(paired), "<", 50.0, "ms",
                          detail=f"{pairs} ABBA pairs, .pyc cached")
            # the inherited environment may forbid .pyc files (this machine's shell does):
            # every floe_testing module is then compiled, and assertion-rewritten, per run
            uncached_pairs = _pairs(result, variants, _unit_env(None), max(15, pairs // 2),
                                    "no .pyc: ")
            result.info["paired_median_without_pyc_ms"] = median(uncached_pairs)
            statement = "import pytest, pytest_kind; import floe_testing.plugin"
            cold, _ = _importtime("import floe_testing.plugin", "floe_testing.plugin", 5, env)
            after, heavy = _importtime(statement, "floe_testing.plugin", 5, env)
            uncached, heavy_uncached = _importtime(statement, "floe_testing.plugin", 5,
                                                   _unit_env(None))
        result.figure("import floe_testing.plugin (fresh interpreter)", "ms",
                      "-X importtime cumulative, includes pytest").samples.extend(cold)
        result.figure("import floe_testing.plugin after pytest+pytest_kind", "ms",
                      "-X importtime cumulative: what a run pays").samples.extend(after)
        result.figure("no .pyc: import floe_testing.plugin after pytest", "ms",
                      "every floe_testing module compiled from source").samples.extend(uncached)
        result.info["importtime_heaviest_self_us"] = heavy
        result.info["importtime_heaviest_self_us_without_pyc"] = heavy_uncached
    finally:
        shutil.rmtree(directory, ignore_errors=True)


# -- 5. polling latency -------------------------------------------------------------------------


def _latency_sample(interval: float, rng: random.Random) -> float:
    """Seconds between the condition becoming true and ``wait_for_condition`` returning."""
    flipped = threading.Event()
    flipped_at: list[float] = []

    def flip() -> None:
        flipped_at.append(time.perf_counter())
        flipped.set()

    timer = threading.Timer(rng.uniform(0.05, 1.5), flip)
    timer.start()
    try:
        wait_for_condition(flipped.is_set, PollingConfig(timeout=10.0, interval=interval,
                                                         description="benchmark flag"))
        returned = time.perf_counter()
    finally:
        timer.cancel()
    return returned - flipped_at[0]


def bench_polling(result: BenchResult, runs: int) -> None:
    """Latency after the condition turns true, and CPU used while waiting."""
    samples = runs or 20
    rng = random.Random(20240611)  # noqa: S311 - timer offsets, not secrets
    for interval in (0.1, 0.5):
        fig = result.figure(f"latency, interval {interval:.1f} s", "ms",
                            f"timer at U(0.05, 1.5) s, {samples} samples")
        for _ in range(samples):
            fig.samples.append(_latency_sample(interval, rng) * 1000)
        result.target(f"p95 latency, interval {interval:.1f} s", fig.p95, "<=",
                      interval * 1000 + 10, "ms", detail=f"max {max(fig.samples):.1f} ms")
    for interval in (0.1, 0.5):
        flag = threading.Event()
        timer = threading.Timer(3.0, flag.set)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        timer.start()
        try:
            wait_for_condition(flag.is_set, PollingConfig(timeout=10.0, interval=interval))
        finally:
            timer.cancel()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        result.figure(f"CPU while waiting 3 s, interval {interval:.1f} s", "%",
                      f"process CPU {cpu * 1000:.1f} ms / wall {wall:.2f} s"
                      ).samples.append(100 * cpu / wall)


# -- 6. per-test isolation ----------------------------------------------------------------------


def _support() -> None:
    """Make the test tier's server helpers importable (``tests/support``)."""
    tests = str(REPO / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)


def _cycle(setup: Callable[[], Any], teardown: Callable[[Any], None], n: int,
           result: BenchResult, *, label: str, note: str) -> None:
    fig_setup = result.figure(f"{label}: setup", "ms", note)
    fig_teardown = result.figure(f"{label}: teardown", "ms")
    fig_total = result.figure(f"{label}: create + drop", "ms")
    teardown(setup())  # warm-up: connection pools, first-request imports
    for _ in range(n):
        with Stopwatch() as sw_setup:
            handle = setup()
        with Stopwatch() as sw_teardown:
            teardown(handle)
        fig_setup.samples.append(sw_setup.elapsed * 1000)
        fig_teardown.samples.append(sw_teardown.elapsed * 1000)
        fig_total.samples.append((sw_setup.elapsed + sw_teardown.elapsed) * 1000)


@contextmanager
def _postgres_server(cluster_postgres: Callable[[], Any] | None) -> Iterator[tuple[Any, str]]:
    """A PostgresConfig for a server to create databases on: a local Debian PostgreSQL as the
    integration tier starts it, else the cluster's through a forward."""
    from floe_testing.services.postgres.config import PostgresConfig

    _support()
    from support.postgres_server import LocalPostgres, PostgresSetupError, postgres_bindir

    try:
        postgres_bindir()
    except PostgresSetupError:
        if cluster_postgres is None:
            raise
        with cluster_postgres() as (config, where):
            yield config, where
        return
    server = LocalPostgres()
    try:
        server.start()
        yield PostgresConfig(host=server.host, port=server.port, user=server.user,
                             password=SecretStr(server.password), database=server.database), \
            f"local Debian PostgreSQL 15 at {server.host}:{server.port}"
    finally:
        server.stop()


def bench_isolation(result: BenchResult, runs: int,
                    cluster_postgres: Callable[[], Any] | None = None) -> None:
    """Create + drop of the per-test resource of each fixture, as the fixtures do it."""
    n = runs or 10
    _support()

    from floe_testing.naming import unique_bucket_name, unique_name
    from floe_testing.run_identity import current_owner
    from floe_testing.services.minio.config import MinIOConfig
    from floe_testing.services.minio.helper import empty_and_remove_bucket, make_client
    from floe_testing.services.polaris.config import PolarisConfig
    from floe_testing.services.polaris.helper import (
        OWNER_PROPERTY,
        drop_namespace_with_tables,
        make_catalog,
    )
    from floe_testing.services.postgres.helper import connect, create_database, drop_database
    from support.iceberg_rest import IcebergRestServer
    from support.s3_server import LocalS3

    with ExitStack() as stack:
        # PostgreSQL: the body of the postgres_connection fixture, step for step
        pg_config, where = stack.enter_context(_postgres_server(cluster_postgres))

        def pg_setup() -> tuple[Any, str]:
            name = create_database(pg_config, "test_bench")
            return connect(pg_config, name), name

        def pg_teardown(handle: tuple[Any, str]) -> None:
            conn, name = handle
            conn.rollback()
            conn.close()
            drop_database(pg_config, name)

        _cycle(pg_setup, pg_teardown, n, result, label="postgres database",
               note=f"postgres_connection steps; {where}")

        # S3 bucket: minio_client (client + reachability check) + minio_bucket, then teardown
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request lines
        s3 = LocalS3()
        stack.callback(s3.stop)
        s3.start()
        s3_config = MinIOConfig(endpoint=s3.endpoint, access_key=s3.access_key,
                                secret_key=SecretStr(s3.secret_key))

        def bucket_setup() -> tuple[Any, str]:
            client = make_client(s3_config)
            client.list_buckets()
            name = unique_bucket_name("test-bench")
            client.make_bucket(name)  # TrackingMinio also tags it with the owner
            return client, name

        def bucket_teardown(handle: tuple[Any, str]) -> None:
            client, name = handle
            empty_and_remove_bucket(client, name)

        _cycle(bucket_setup, bucket_teardown, n, result, label="S3 bucket",
               note=f"minio_client+minio_bucket steps; moto ThreadedMotoServer {s3.endpoint}")

        # Iceberg namespace: polaris_catalog (catalog per test + namespace), then teardown
        iceberg = IcebergRestServer()
        stack.callback(iceberg.stop)
        iceberg.start()
        pol_config = PolarisConfig(uri=iceberg.uri, warehouse=iceberg.warehouse,
                                   credential=SecretStr(iceberg.credential))

        def ns_setup() -> tuple[Any, str]:
            catalog = make_catalog(pol_config)
            name = unique_name("test")
            catalog.create_namespace(name, {OWNER_PROPERTY: current_owner().tag(),
                                            "test": "benchmarks/run.py"})
            return catalog, name

        def ns_teardown(handle: tuple[Any, str]) -> None:
            catalog, name = handle
            drop_namespace_with_tables(catalog, name)

        _cycle(ns_setup, ns_teardown, n, result, label="Iceberg namespace",
               note=f"polaris_catalog steps (incl. OAuth token); REST double {iceberg.uri}")
    log("isolation: servers stopped")
