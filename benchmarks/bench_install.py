"""per-run-cost: what installing floe-testing adds to every pytest run, by install and plugin.

A wheel of this checkout is installed into three virtualenvs whose versions are pinned to the
dev venv's (``pip freeze --exclude-editable`` as constraints): ``bare`` (pytest alone),
``postgres`` (``floe-testing[postgres]``) and ``all`` (``floe-testing[all]``). In each, a new
one-test project is run as a subprocess, every variant once per round in a shuffled order; the
deltas are medians of the per-round differences, so slow drift of the machine cancels.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench_common import REPO, BenchResult, Figure, clean_env, log, median, run
from bench_local import _pinned_to_one_cpu
from filelock import FileLock

DEFAULT_VENV_CACHE = Path("/var/cache/floe-testing/bench-venvs")
INSTALLS: dict[str, str | None] = {"bare": None, "postgres": "postgres", "all": "all"}
OWN = "floe_testing"
KIND = "pytest-kind"
OWN_TARGET_MS = 10.0
POSTGRES_TARGET_MS = 50.0
IMPORTTIME_PAIRS = 5
KEEP_CACHED_KEYS = 2  # per install: the current venv and the one before
CLUSTER_OPTIONS = ("--cluster-name", "--keep-cluster", "--kubeconfig", "--kind-image",
                   "--kind-bin", "--kind-kubectl-bin")

_LIST_PLUGINS = """
import importlib.metadata as md, json, pytest
eps = [{"name": e.name, "value": e.value, "dist": e.dist.name if e.dist else None,
        "version": e.dist.version if e.dist else None}
       for e in md.entry_points(group="pytest11")]
print(json.dumps({"pytest": pytest.__version__, "entry_points": eps,
                  "distributions": len(list(md.distributions()))}))
"""


# -- setup: wheel, constraints, venvs ------------------------------------------------------------


def _snapshot_source(dest: Path, rev: str | None) -> str:
    """This checkout's files in ``dest`` (nothing is built inside the source tree): the working
    tree's tracked and untracked, not ignored, files, or the tree of git ``rev``."""
    dest.mkdir(parents=True)
    if rev is not None:
        archive = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", rev],
                                 capture_output=True, check=True, timeout=120).stdout
        tar_path = dest.parent / "source.tar"
        tar_path.write_bytes(archive)
        with tarfile.open(tar_path) as tar:
            tar.extractall(dest, filter="data")
        tar_path.unlink()
        sha = run(["git", "-C", REPO, "rev-parse", "--short", rev]).stdout.strip()
        return f"git {rev} ({sha})"
    listing = run(["git", "-C", REPO, "ls-files", "-z", "-co", "--exclude-standard"]).stdout
    for name in filter(None, listing.split("\0")):
        source = REPO / name
        if source.is_file():  # deleted but still tracked: skip
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    head = run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"]).stdout.strip()
    dirty = run(["git", "-C", REPO, "status", "--porcelain", "--", "src", "pyproject.toml"]
                ).stdout.strip()
    return f"working tree at {head}" + (" (src modified)" if dirty else "")


def _build_wheel(source: Path, out: Path) -> Path:
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", out, source],
        timeout=900, env=_run_env())
    wheels = sorted(out.glob("floe_testing-*.whl"))
    if len(wheels) != 1:
        raise RuntimeError(f"pip wheel produced {[w.name for w in wheels]}")
    return wheels[0]


def _wheel_digest(wheel: Path) -> str:
    """Hash of the wheel's contents (names and bytes), not of the zip: timestamps differ
    between builds of the same files."""
    digest = hashlib.sha256()
    with zipfile.ZipFile(wheel) as zf:
        for name in sorted(zf.namelist()):
            digest.update(name.encode() + b"\0" + zf.read(name) + b"\0")
    return digest.hexdigest()


def _venv_cache_root(requested: Path | None) -> Path:
    if requested is not None:
        return requested
    for candidate in (DEFAULT_VENV_CACHE, Path.home() / ".cache" / "floe-testing" / "bench-venvs"):
        try:
            candidate.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(candidate, os.W_OK):
            return candidate
    raise RuntimeError("no writable venv cache directory: pass --venv-cache DIR")


@dataclass
class Install:
    """One virtualenv and what it holds."""

    name: str
    path: Path
    setup_seconds: float
    reused: bool
    pytest_version: str = ""
    entry_points: list[dict[str, Any]] = field(default_factory=list)
    distributions: int = 0

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    @property
    def plugins(self) -> list[str]:
        return [ep["name"] for ep in self.entry_points]


def _make_venv(root: Path, name: str, requirement: str, constraints: Path, key: str) -> Install:
    """The venv ``<root>/<name>-<key>``, reused when complete, else (re)built."""
    path = root / f"{name}-{key}"
    marker = path / ".floe-bench-complete"
    start = time.perf_counter()
    reused = marker.is_file()
    if not reused:
        shutil.rmtree(path, ignore_errors=True)
        # the caller's PYTHONPATH would make pip see a checkout's metadata as installed
        run([sys.executable, "-m", "venv", path], timeout=300, env=_run_env())
        run([path / "bin" / "python", "-m", "pip", "install", "-q", "--no-input",
             "--disable-pip-version-check", "-c", constraints, requirement], timeout=1800,
            env=_run_env())
        marker.write_text(requirement + "\n", encoding="utf-8")
    os.utime(path)  # most recently used: pruning keeps it
    install = Install(name, path, time.perf_counter() - start, reused)
    listed = json.loads(run([install.python, "-c", _LIST_PLUGINS], env=_run_env()).stdout)
    if name != "bare" and not any(ep["name"] == OWN for ep in listed["entry_points"]):
        marker.unlink()
        raise RuntimeError(f"venv {name}: no {OWN} entry point after installing {requirement}")
    install.pytest_version = listed["pytest"]
    install.entry_points = sorted(listed["entry_points"], key=lambda ep: ep["name"])
    install.distributions = listed["distributions"]
    # the stale ones of this install: keep the newest few, so switching revisions stays cheap
    stale = sorted((p for p in root.glob(f"{name}-*") if p.is_dir() and p != path),
                   key=lambda p: p.stat().st_mtime, reverse=True)[KEEP_CACHED_KEYS - 1:]
    for old in stale:
        shutil.rmtree(old, ignore_errors=True)
    return install


def _setup(workdir: Path, venv_cache: Path | None, fresh: bool, rev: str | None,
           info: dict[str, Any]) -> dict[str, Install]:
    """Wheel, constraints and the three venvs; every step's time goes to ``info``."""
    setup: dict[str, Any] = {}
    start = time.perf_counter()
    setup["source"] = _snapshot_source(workdir / "source", rev)
    wheel = _build_wheel(workdir / "source", workdir / "wheel")
    setup["wheel_build_s"] = round(time.perf_counter() - start, 2)
    setup["wheel"] = wheel.name
    setup["wheel_content_sha256"] = _wheel_digest(wheel)
    constraints = workdir / "constraints.txt"
    frozen = run([sys.executable, "-m", "pip", "freeze", "--exclude-editable"]).stdout
    constraints.write_text(frozen, encoding="utf-8")
    dev_pytest = re.search(r"^pytest==(\S+)$", frozen, re.MULTILINE)
    setup["dev_venv_pytest"] = dev_pytest.group(1) if dev_pytest else None
    base = hashlib.sha256((frozen + sys.version).encode()).hexdigest()
    root = workdir / "venvs" if fresh else _venv_cache_root(venv_cache)
    root.mkdir(parents=True, exist_ok=True)
    setup["venv_root"] = str(root)
    installs: dict[str, Install] = {}
    with FileLock(str(root / ".lock"), timeout=3600):
        for name, extra in INSTALLS.items():
            requirement = "pytest" if extra is None else f"{wheel}[{extra}]"
            key = hashlib.sha256(
                (base + requirement.rsplit("/", 1)[-1]
                 + ("" if extra is None else setup["wheel_content_sha256"])).encode()
            ).hexdigest()[:16]
            log(f"venv {name}: {'building' if fresh else 'building or reusing'} {root}/"
                f"{name}-{key}")
            install = _make_venv(root, name, requirement, constraints, key)
            installs[name] = install
            setup[f"venv_{name}_s"] = round(install.setup_seconds, 2)
            setup[f"venv_{name}_reused"] = install.reused
            if install.pytest_version != setup["dev_venv_pytest"]:
                raise RuntimeError(f"venv {name} has pytest {install.pytest_version}, the dev "
                                   f"venv {setup['dev_venv_pytest']}")
    setup["total_s"] = round(time.perf_counter() - start, 2)
    info["setup"] = setup
    info["installs"] = {
        name: {"path": str(i.path), "pytest": i.pytest_version, "distributions": i.distributions,
               "pytest11": i.entry_points} for name, i in installs.items()}
    return installs


# -- the runs ------------------------------------------------------------------------------------


def _run_env() -> dict[str, str]:
    """Nothing of this shell steers the child: no plugin autoload switch, no addopts, no
    PYTHONPATH into the checkout; bytecode is written as in a user's venv (pytest's rewritten
    plugin modules are cached after the warm-up run)."""
    return clean_env("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX", "PYTHONPATH",
                     "PYTHONHOME", "PYTHONSTARTUP", "PYTHONWARNINGS", "VIRTUAL_ENV",
                     "PYTEST_")


def _write_project(directory: Path) -> None:
    """A new one-test project: an ini file (so the rootdir search stops here), an empty
    conftest and one trivial passing test."""
    directory.mkdir()
    (directory / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (directory / "conftest.py").write_text("", encoding="utf-8")
    (directory / "test_one.py").write_text("def test_one() -> None:\n    assert 1 + 1 == 2\n",
                                           encoding="utf-8")


@dataclass
class Variant:
    """One command line in one venv."""

    label: str
    install: Install
    args: list[str]

    def command(self, *extra: str) -> list[str]:
        return [str(self.install.python), *extra, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                *self.args]


def _disable(plugins: Sequence[str]) -> list[str]:
    return [arg for name in plugins for arg in ("-p", f"no:{name}")]


def _variants(installs: dict[str, Install]) -> list[Variant]:
    variants = [Variant("bare", installs["bare"], [])]
    for name in ("postgres", "all"):
        install = installs[name]
        variants.append(Variant(name, install, []))
        for plugin in install.plugins:
            variants.append(Variant(f"{name} -p no:{plugin}", install, _disable([plugin])))
        if len(install.plugins) > 1:
            variants.append(Variant(f"{name} -p no:<each of its plugins>", install,
                                    _disable(install.plugins)))
    return variants


def _one_run(variant: Variant, project: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall time and CPU time (user + sys of the child, from rusage) in ms."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(variant.command(), cwd=project, env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0 or "1 passed" not in done.stdout:
        raise RuntimeError(f"{variant.label}: exit {done.returncode}: "
                           f"{(done.stdout + done.stderr).strip()[-1500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed * 1000, cpu * 1000


def _quantile(values: Sequence[float], q: float) -> float:
    """Linear-interpolation quantile (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    pos = q * (len(ordered) - 1)
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def _median_ci(values: Sequence[float]) -> tuple[float, float]:
    """Distribution-free ~95 % confidence interval of the median (order statistics,
    normal approximation of the binomial)."""
    ordered = sorted(values)
    n = len(ordered)
    if n < 6:
        return float("nan"), float("nan")
    half = 1.96 * math.sqrt(n) / 2
    low = max(0, math.floor(n / 2 - half))
    high = min(n - 1, math.ceil(n / 2 + half) - 1)
    return ordered[low], ordered[high]


def _spread(values: Sequence[float]) -> str:
    low, high = _median_ci(values)
    return (f"IQR {_quantile(values, 0.25):.0f}..{_quantile(values, 0.75):.0f}; "
            f"95% CI of median {low:.0f}..{high:.0f}")


def _rounds(variants: list[Variant], project: Path, env: dict[str, str], rounds: int,
            ) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Every variant once per round, shuffled per round (seeded): wall and CPU samples."""
    rng = random.Random(20260611)  # noqa: S311 - run order, not secrets
    wall: dict[str, list[float]] = {v.label: [] for v in variants}
    cpu: dict[str, list[float]] = {v.label: [] for v in variants}
    for index in range(rounds):
        order = variants[:]
        rng.shuffle(order)
        for variant in order:
            elapsed, used = _one_run(variant, project, env)
            wall[variant.label].append(elapsed)
            cpu[variant.label].append(used)
        if index % 5 == 4 or index == rounds - 1:
            log(f"round {index + 1}/{rounds}, wall ms: "
                + ", ".join(f"{label} {wall[label][-1]:.0f}" for label in wall))
    return wall, cpu


def _paired(samples: dict[str, list[float]], a: str, b: str) -> list[float]:
    return [x - y for x, y in zip(samples[a], samples[b], strict=True)]


# -- -X importtime: which modules a plugin brings into the run ----------------------------------

_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def _imported(variant: Variant, project: Path, env: dict[str, str]) -> dict[str, int]:
    """Self time (us) of every module imported by one ``-X importtime`` run of pytest."""
    done = subprocess.run(variant.command("-X", "importtime"), cwd=project, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"importtime {variant.label}: exit {done.returncode}")
    modules: dict[str, int] = {}
    for match in map(_IMPORT_LINE.search, done.stderr.splitlines()):
        if match:
            modules[match.group(4)] = int(match.group(1))
    return modules


def _top_level(module: str) -> str:
    return module.split(".", 1)[0]


def _plugin_imports(loaded: Variant, disabled: Variant, project: Path, env: dict[str, str],
                    pairs: int) -> dict[str, Any]:
    """Modules imported with the plugin but not without it (import of the entry point, and
    whatever its hooks import during the run), their self times summed per top-level package;
    medians over ``pairs`` interleaved pairs of runs."""
    per_package: dict[str, list[float]] = defaultdict(list)
    totals: list[float] = []
    counts: list[int] = []
    modules_seen: set[str] = set()
    own_modules: dict[str, list[float]] = defaultdict(list)
    for _ in range(pairs):
        with_plugin = _imported(loaded, project, env)
        without = _imported(disabled, project, env)
        extra = {m: us for m, us in with_plugin.items() if m not in without}
        modules_seen.update(extra)
        sums: dict[str, float] = defaultdict(float)
        for module, us in extra.items():
            sums[_top_level(module)] += us / 1000
            if _top_level(module) == OWN:
                own_modules[module].append(us / 1000)
        for package in set(per_package) | set(sums):
            per_package[package].append(sums.get(package, 0.0))
        totals.append(sum(sums.values()))
        counts.append(len(extra))
    ranked = sorted(((pkg, median(v)) for pkg, v in per_package.items()), key=lambda i: -i[1])
    return {
        "total_self_ms": median(totals),
        "total_samples": totals,
        "modules": int(median(counts)),
        "by_package_ms": {pkg: round(ms, 2) for pkg, ms in ranked},
        "module_names": sorted(modules_seen),
        "own_modules_ms": {m: round(median(v), 2) for m, v in
                           sorted(own_modules.items(), key=lambda i: -median(i[1]))},
    }


# -- in-process: where each plugin's time goes inside one run ------------------------------------

TIMER_MODULE = "floe_bench_timer"
#: A plugin loaded with ``-p`` (before the entry points): times each pytest11 entry point's
#: import, its registration (which runs its historic hooks, pytest_addoption among them) and
#: every hook implementation of every plugin registered from then on, grouped by the plugin's
#: top-level package; written as JSON at exit to $BENCH_TIMER_OUT.
TIMER_SOURCE = """
import atexit, functools, importlib.metadata, json, os, time
from collections import defaultdict
from _pytest.config import PytestPluginManager

clock = time.perf_counter
data = {"load": {}, "register": defaultdict(float), "hooks": defaultdict(float),
        "hook_detail": defaultdict(lambda: defaultdict(float))}
origin = clock()

def package(plugin):
    name = getattr(plugin, "__name__", None) or type(plugin).__module__
    return name.split(".", 1)[0]

load = importlib.metadata.EntryPoint.load
def timed_load(self):
    start = clock()
    try:
        return load(self)
    finally:
        if self.group == "pytest11":
            data["load"][self.name] = (clock() - start) * 1000
importlib.metadata.EntryPoint.load = timed_load

def add(pkg, hook, seconds):
    data["hooks"][pkg] += seconds * 1000
    data["hook_detail"][pkg][hook] += seconds * 1000

def timed_generator(gen, pkg, hook):
    start = clock()
    try:
        value = next(gen)
    finally:
        add(pkg, hook, clock() - start)
    while True:
        try:
            sent = yield value
        except GeneratorExit:
            gen.close()
            raise
        except BaseException as exc:
            resume, arg = gen.throw, exc
        else:
            resume, arg = gen.send, sent
        start = clock()
        try:
            value = resume(arg)
        except StopIteration as stop:
            return stop.value
        finally:
            add(pkg, hook, clock() - start)

def wrap(impl, pkg, hook):
    function = impl.function
    generator = impl.wrapper or impl.hookwrapper
    @functools.wraps(function)
    def timed(*args, **kwargs):
        start = clock()
        try:
            result = function(*args, **kwargs)
        finally:
            add(pkg, hook, clock() - start)
        return timed_generator(result, pkg, hook) if generator else result
    impl.function = timed

register = PytestPluginManager.register
def timed_register(self, plugin, name=None):
    pkg = package(plugin)
    start = clock()
    try:
        return register(self, plugin, name)
    finally:
        data["register"][pkg] += (clock() - start) * 1000
        for caller in self.get_hookcallers(plugin) or ():
            for impl in caller.get_hookimpls():
                if impl.plugin is plugin:
                    wrap(impl, pkg, caller.name)
PytestPluginManager.register = timed_register

@atexit.register
def dump():
    data["span"] = (clock() - origin) * 1000
    with open(os.environ["BENCH_TIMER_OUT"], "w") as out:
        json.dump(data, out)
"""


def _in_process(install: Install, project: Path, env: dict[str, str], timer_dir: Path,
                runs: int) -> dict[str, Any]:
    """Medians over ``runs`` runs of each plugin's import, registration and hook time."""
    out = timer_dir / f"{install.name}.json"
    timed_env = {**env, "PYTHONPATH": str(timer_dir), "BENCH_TIMER_OUT": str(out)}
    variant = Variant(install.name, install, ["-p", TIMER_MODULE])
    per_run: list[dict[str, Any]] = []
    for _ in range(runs):
        _one_run(variant, project, timed_env)
        per_run.append(json.loads(out.read_text(encoding="utf-8")))
    summary: dict[str, Any] = {}
    for ep in install.entry_points:
        pkg = ep["value"].split(".", 1)[0]
        parts = {
            "import": [r["load"].get(ep["name"], 0.0) for r in per_run],
            "register": [r["register"].get(pkg, 0.0) for r in per_run],
            "hooks": [r["hooks"].get(pkg, 0.0) for r in per_run],
        }
        total = [sum(values) for values in zip(*parts.values(), strict=True)]
        hooks: dict[str, list[float]] = defaultdict(list)
        for r in per_run:
            for hook, ms in r["hook_detail"].get(pkg, {}).items():
                hooks[hook].append(ms)
        summary[ep["name"]] = {
            **{key: median(values) for key, values in parts.items()},
            "total": median(total), "total_samples": total,
            "hooks_ms": {h: round(median(v), 3) for h, v in
                         sorted(hooks.items(), key=lambda i: -median(i[1]))},
        }
    summary["_span_from_-p_load_to_exit_ms"] = median([r["span"] for r in per_run])
    return summary


# -- containment of pytest-kind ------------------------------------------------------------------


def _containment(install: Install, project: Path, env: dict[str, str]) -> dict[str, Any]:
    """What of pytest-kind reaches a run with floe-testing installed."""
    def pytest_out(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(install.python), "-m", "pytest", "-p", "no:cacheprovider",
                               *args], cwd=project, env=env, capture_output=True, text=True,
                              timeout=300, check=False)

    fixtures = pytest_out("--fixtures").stdout
    disabled = pytest_out("-q", "-p", f"no:{KIND}")
    helptext = pytest_out("-p", f"no:{KIND}", "--help").stdout
    options = {}
    for option in CLUSTER_OPTIONS:
        extra = [option] if option == "--keep-cluster" else [option, "x"]
        done = pytest_out("-q", "-p", f"no:{KIND}", *extra)
        error = next((line.strip() for line in done.stderr.splitlines()
                      if "error:" in line), "")
        options[option] = {"exit": done.returncode, "error": error}
    modules = _imported(Variant("loaded", install, []), project, env)
    return {
        "install": install.name,
        "kind_cluster_fixture_visible": "kind_cluster" in fixtures,
        # the entry point itself is imported by importlib (not logged by -X importtime),
        # what it imports is
        "pytest_kind_imported_in_a_unit_run": any(m.startswith("pytest_kind") for m in modules),
        "state_dir_created": (project / ".pytest-kind").exists(),
        "no_pytest_kind_plain_run_exit": disabled.returncode,
        "no_pytest_kind_plain_run_tail": (disabled.stdout + disabled.stderr).strip()[-300:],
        "no_pytest_kind_help_lists_cluster_options": [o for o in CLUSTER_OPTIONS
                                                      if o in helptext],
        "no_pytest_kind_cluster_options": options,
    }


# -- the benchmark -------------------------------------------------------------------------------


def _figure(result: BenchResult, label: str, values: list[float], note: str = "") -> Figure:
    fig = result.figure(label, "ms", note or _spread(values))
    fig.samples.extend(values)
    return fig


def _loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().strip()
    except OSError:
        return "unavailable"


def bench_per_run_cost(result: BenchResult, runs: int, *, venv_cache: Path | None = None,
                       fresh_venvs: bool = False, rev: str | None = None) -> None:
    """Per-run cost of each install against pytest alone, and of each plugin in it."""
    rounds = runs or 20
    workdir = Path(tempfile.mkdtemp(prefix="floe-bench-install-"))
    lines: list[str] = []
    result.info["report_lines"] = lines
    try:
        log("per-run-cost: wheel and venvs (timed separately, not in the figures)")
        installs = _setup(workdir, venv_cache, fresh_venvs, rev, result.info)
        setup = result.info["setup"]
        lines.append(
            f"setup {setup['total_s']:.1f} s (not in the figures): {setup['source']}, wheel "
            f"{setup['wheel_build_s']:.1f} s; venvs "
            + ", ".join(f"{n} {setup[f'venv_{n}_s']:.1f} s"
                        f"{' (cached)' if setup[f'venv_{n}_reused'] else ''}" for n in INSTALLS)
            + f" in {setup['venv_root']}")
        for name, install in installs.items():
            lines.append(f"{name}: pytest {install.pytest_version}, {install.distributions} "
                         f"distributions, pytest11: "
                         + (", ".join(f"{ep['name']} ({ep['dist']} {ep['version']})"
                                      for ep in install.entry_points) or "none"))
        project = workdir / "project"
        _write_project(project)
        env = _run_env()
        variants = _variants(installs)
        with _pinned_to_one_cpu() as pinning:
            result.info["pinning"] = pinning
            log(f"warm-up: {len(variants)} variants (pytest writes its rewritten bytecode)")
            failed: dict[str, str] = {}
            for variant in variants:
                try:
                    _one_run(variant, project, env)
                    _one_run(variant, project, env)
                except RuntimeError as exc:
                    failed[variant.label] = str(exc)
            if failed:
                result.info["failed_variants"] = failed
                raise RuntimeError("; ".join(failed.values()).splitlines()[0])
            log(f"{rounds} rounds of {len(variants)} runs, shuffled per round, {pinning}")
            result.info["loadavg_before"] = _loadavg()
            start = time.perf_counter()
            wall, cpu = _rounds(variants, project, env, rounds)
            result.info["timed_seconds"] = round(time.perf_counter() - start, 1)
            result.info["loadavg_after"] = _loadavg()
            log(f"-X importtime: {IMPORTTIME_PAIRS} pairs per plugin")
            imports: dict[str, dict[str, Any]] = {}
            for name in ("postgres", "all"):
                install = installs[name]
                loaded = Variant(name, install, [])
                for plugin in install.plugins:
                    imports[f"{name}: {plugin}"] = _plugin_imports(
                        loaded, Variant(f"{name} -p no:{plugin}", install, _disable([plugin])),
                        project, env, IMPORTTIME_PAIRS)
            result.info["importtime"] = imports
            log(f"in-process: {rounds} runs per install with -p {TIMER_MODULE}")
            timer_dir = workdir / "timer"
            timer_dir.mkdir()
            (timer_dir / f"{TIMER_MODULE}.py").write_text(TIMER_SOURCE, encoding="utf-8")
            in_process = {name: _in_process(installs[name], project, env, timer_dir, rounds)
                          for name in ("postgres", "all")}
            result.info["in_process"] = in_process
            containment = _containment(installs["postgres"], project, env)
            result.info["pytest_kind_containment"] = containment
        _report(result, installs, wall, cpu, imports=imports, in_process=in_process,
                containment=containment, rounds=rounds)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _comparisons(installs: dict[str, Install]) -> list[tuple[str, str, str]]:
    """(key, variant, baseline): each install against bare, each plugin against the same
    install with it disabled, the install with every plugin disabled against bare."""
    pairs: list[tuple[str, str, str]] = []
    for name in ("postgres", "all"):
        pairs.append((f"{name} vs bare", name, "bare"))
        pairs += [(f"{name}: {plugin}", name, f"{name} -p no:{plugin}")
                  for plugin in installs[name].plugins]
        if len(installs[name].plugins) > 1:
            pairs.append((f"{name}: every plugin off vs bare",
                          f"{name} -p no:<each of its plugins>", "bare"))
        if KIND in installs[name].plugins:
            pairs.append((f"{name} -p no:{KIND} vs bare", f"{name} -p no:{KIND}", "bare"))
    return pairs


def _verdict(values: Sequence[float], limit: float) -> str:
    """met / MISSED by the median, and whether the median's 95 % CI straddles the limit."""
    low, high = _median_ci(values)
    verdict = "met" if median(values) < limit else "MISSED"
    if not math.isnan(low) and low < limit <= high:
        verdict += f" (inconclusive: 95% CI {low:.0f}..{high:.0f} ms straddles the limit)"
    return verdict


def _report(result: BenchResult, installs: dict[str, Install], wall: dict[str, list[float]],
            cpu: dict[str, list[float]], *, imports: dict[str, dict[str, Any]],
            in_process: dict[str, dict[str, Any]], containment: dict[str, Any],
            rounds: int) -> None:
    lines: list[str] = result.info["report_lines"]
    for label, values in wall.items():
        _figure(result, f"run: {label}", values,
                f"CPU {median(cpu[label]):.0f}; " + _spread(values))
    differences: dict[str, list[float]] = {}
    table = [f"{'per-round differences, ms':<34} {'wall':>6} {'95% CI':>12} {'CPU':>6} "
             f"{'95% CI':>12}  {'in-process':>10}"]
    for key, variant, baseline in _comparisons(installs):
        d_wall = _paired(wall, variant, baseline)
        d_cpu = _paired(cpu, variant, baseline)
        differences[key] = d_wall
        w_lo, w_hi = _median_ci(d_wall)
        c_lo, c_hi = _median_ci(d_cpu)
        _figure(result, f"delta: {key} (wall)", d_wall,
                f"{variant} - {baseline}; CPU {median(d_cpu):+.0f}; " + _spread(d_wall))
        result.figure(f"delta: {key} (CPU)", "ms", _spread(d_cpu)).samples.extend(d_cpu)
        install, _, plugin = key.partition(": ")
        timed = in_process.get(install, {}).get(plugin)
        label = key if not plugin else f"  {plugin}"
        table.append(f"{label:<34} {median(d_wall):>+6.0f} {f'{w_lo:.0f}..{w_hi:.0f}':>12} "
                     f"{median(d_cpu):>+6.0f} {f'{c_lo:.0f}..{c_hi:.0f}':>12}  "
                     + (f"{timed['total']:>10.1f}" if timed else f"{'':>10}"))
    lines.append(f"medians of {rounds} rounds: bare wall {median(wall['bare']):.0f} ms, CPU "
                 f"{median(cpu['bare']):.0f} ms; load average before "
                 f"{result.info['loadavg_before']}, after {result.info['loadavg_after']}")
    lines += table
    for name, plugins in in_process.items():
        for plugin, timed in plugins.items():
            if plugin.startswith("_"):
                continue
            slowest = ", ".join(f"{hook} {ms:.1f}"
                                for hook, ms in list(timed["hooks_ms"].items())[:4])
            fig = result.figure(f"in-process: {name}, {plugin}", "ms",
                                f"import {timed['import']:.1f} + register {timed['register']:.1f}"
                                f" + hooks {timed['hooks']:.1f}; {slowest}")
            fig.samples.extend(timed["total_samples"])
    for key, data in imports.items():
        top = list(data["by_package_ms"].items())
        fig = result.figure(f"importtime: {key} brings in", "ms",
                            f"{data['modules']} modules, self time; "
                            + ", ".join(f"{pkg} {ms:.1f}" for pkg, ms in top[:6]))
        fig.samples.extend(data["total_samples"])
    checks: list[tuple[str, list[float], float]] = []
    for name in ("postgres", "all"):
        checks.append((f"{name}: own plugin, wall (loaded - -p no:{OWN})",
                       differences[f"{name}: {OWN}"], OWN_TARGET_MS))
        checks.append((f"{name}: own plugin, in-process (import+register+hooks)",
                       in_process[name][OWN]["total_samples"], OWN_TARGET_MS))
    checks.append(("postgres install vs bare, wall", differences["postgres vs bare"],
                   POSTGRES_TARGET_MS))
    for description, values, limit in checks:
        verdict = _verdict(values, limit)
        low, high = _median_ci(values)
        result.target(description, median(values), "<", limit, "ms",
                      detail=f"median of {len(values)}; 95% CI {low:.0f}..{high:.0f}")
        lines.append(f"target {description} < {limit:.0f} ms: {median(values):+.1f} ms, "
                     f"{verdict}")
    brought = imports.get(f"postgres: {OWN}")
    if brought:
        lines.append(f"importtime, what {OWN} adds to a postgres-install run ({brought['modules']}"
                     " modules; ms self time, -X importtime inflates): "
                     + ", ".join(f"{pkg} {ms:.1f}" for pkg, ms in
                                 list(brought["by_package_ms"].items())[:10]))
    c = containment
    refused = [o for o, r in c["no_pytest_kind_cluster_options"].items() if r["exit"] != 0]
    lines.append(
        f"pytest-kind: kind_cluster fixture visible: {c['kind_cluster_fixture_visible']}; "
        f".pytest-kind/ created: {c['state_dir_created']}; imported in a unit run: "
        f"{c['pytest_kind_imported_in_a_unit_run']}; with -p no:{KIND}: a plain run exits "
        f"{c['no_pytest_kind_plain_run_exit']}, cluster options refused: "
        f"{', '.join(refused) or 'none'}")
