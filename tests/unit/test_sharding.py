"""``--floe-in-cluster``, its pure parts: options, the split, the code archive, the frames a pod
sends its reports in, the objects of a run. The run itself, on a real cluster, is in
``tests/stack/test_sharded_runs.py``."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from floe_testing.cluster.apply import RUN_LABEL
from floe_testing.errors import ConfigError
from floe_testing.in_cluster import SHARD_ENV
from floe_testing.in_cluster.code import code_archive, project_files, unpack
from floe_testing.in_cluster.frames import FrameDecoder, encode
from floe_testing.in_cluster.objects import CODE_KEY, RunObjects, ids_key
from floe_testing.in_cluster.runner import worst
from floe_testing.in_cluster.settings import InClusterSettings, load_in_cluster_settings
from floe_testing.in_cluster.split import split

pytestmark = pytest.mark.unit

IN_CLUSTER_ENV = ("FLOE_IN_CLUSTER", "FLOE_SHARDS", "FLOE_RUNNER_IMAGE", "FLOE_SHARD_TIMEOUT",
                  SHARD_ENV)


LoadInCluster = Callable[..., InClusterSettings]


@pytest.fixture
def in_cluster_settings(pytester: pytest.Pytester,
                        monkeypatch: pytest.MonkeyPatch) -> LoadInCluster:
    """``load(*args, ini=...)``: the in-cluster settings of a config pytest itself parsed."""
    for name in IN_CLUSTER_ENV:
        monkeypatch.delenv(name, raising=False)

    def load(*args: str, ini: str | None = None) -> InClusterSettings:
        if ini is not None:
            pytester.makeini("[pytest]\n" + ini)
        try:
            config = pytester.parseconfigure(*args)
        except pytest.UsageError as exc:  # the plugin validates at configure time
            raise ConfigError(str(exc)) from None
        return load_in_cluster_settings(config)

    return load


# -- options --------------------------------------------------------------------------------


@pytest.mark.requirement("001-FR-063", "001-FR-053")
def test_options_have_one_precedence_and_a_missing_image_is_named(
    in_cluster_settings: LoadInCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert in_cluster_settings() == InClusterSettings()
    monkeypatch.setenv("FLOE_SHARDS", "5")
    monkeypatch.setenv("FLOE_RUNNER_IMAGE", "env/runner:1")
    chosen = in_cluster_settings("--floe-in-cluster", "--floe-shards=3",
                                 ini="floe_shards = 4\nfloe_runner_image = ini/runner:1")
    assert (chosen.enabled, chosen.shards, chosen.runner_image) == (True, 3, "ini/runner:1")
    monkeypatch.delenv("FLOE_RUNNER_IMAGE")
    with pytest.raises(ConfigError, match=r"--floe-runner-image \(ini floe_runner_image, env "
                                          r"FLOE_RUNNER_IMAGE\)"):
        in_cluster_settings("--floe-in-cluster", ini="")
    monkeypatch.setenv("FLOE_SHARDS", "5x")
    with pytest.raises(ConfigError, match=r"env FLOE_SHARDS: '5x' is not a whole number"):
        in_cluster_settings()
    monkeypatch.setenv("FLOE_SHARDS", "0")
    with pytest.raises(ConfigError, match=r"env FLOE_SHARDS: '0' must be at least 1"):
        in_cluster_settings()
    monkeypatch.setenv("FLOE_IN_CLUSTER", "maybe")
    with pytest.raises(ConfigError, match=r"env FLOE_IN_CLUSTER: 'maybe' is not a yes/no"):
        in_cluster_settings("--floe-shards=1")


@pytest.mark.requirement("001-FR-063")
def test_a_shard_pod_never_sends_its_tests_to_the_cluster_again(
    in_cluster_settings: LoadInCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SHARD_ENV, "0/2")
    settings = in_cluster_settings(ini="floe_in_cluster = true\nfloe_runner_image = r:1")
    assert not settings.enabled


# -- the split ------------------------------------------------------------------------------


@pytest.mark.requirement("001-FR-063")
def test_split_is_contiguous_deterministic_and_balanced_by_recorded_time() -> None:
    ids = [f"t{i}" for i in range(10)]
    by_count = split(ids, 3)
    assert [len(g) for g in by_count] == [3, 4, 3]
    assert [t for g in by_count for t in g] == ids, "contiguous, in collection order"
    assert split(ids, 3) == by_count, "the same input gives the same split"
    slow_first = {"t0": 9.0, **{f"t{i}": 1.0 for i in range(1, 10)}}
    balanced = split(ids, 2, slow_first)
    assert balanced == [["t0"], ids[1:]], "one slow test is a shard's worth"
    assert split(ids[:2], 5) == [["t0"], ["t1"]], "never an empty shard"
    assert split([], 3) == []


# -- the code archive -----------------------------------------------------------------------


@pytest.mark.requirement("001-FR-064")
def test_archive_holds_what_git_would_commit_and_unpacks_safely(tmp_path: Path) -> None:
    root = tmp_path / "project"
    (root / "pkg").mkdir(parents=True)
    (root / "test_a.py").write_text("def test_a():\n    pass\n")
    (root / "pkg" / "mod.py").write_text("X = 1\n")
    (root / "data.bin").write_bytes(b"x" * 10)
    (root / ".gitignore").write_text("data.bin\n")
    walked = project_files(root)  # no git work tree: the walk honours .gitignore
    assert walked == [".gitignore", "pkg/mod.py", "test_a.py"]
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / "pkg" / "__pycache__").mkdir()
    (root / "pkg" / "__pycache__" / "mod.cpython-311.pyc").write_bytes(b"\0")
    (root / ".gitignore").write_text("data.bin\n__pycache__/\n")
    assert project_files(root) == walked

    target = tmp_path / "unpacked"
    unpack(code_archive(root, limit=100_000), target)
    assert (target / "pkg" / "mod.py").read_text() == "X = 1\n"
    assert not (target / "data.bin").exists()

    evil = io.BytesIO()
    with tarfile.open(fileobj=evil, mode="w:gz") as archive:
        info = tarfile.TarInfo("../escape.py")
        info.size = 1
        archive.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(ValueError, match=r"refusing archive member '\.\./escape\.py'"):
        unpack(evil.getvalue(), target)
    assert not (tmp_path / "escape.py").exists()


@pytest.mark.requirement("001-FR-064", "001-FR-053")
def test_a_tree_too_big_for_a_configmap_names_its_largest_files(tmp_path: Path) -> None:
    (tmp_path / "big.csv").write_bytes(os.urandom(1024 * 1024))
    (tmp_path / "test_a.py").write_text("def test_a():\n    pass\n")
    with pytest.raises(ConfigError, match=r"compress to \d+ KiB, more than the 100 KiB .* "
                                          r"Largest: big\.csv \(1024 KiB\).*\.gitignore"):
        code_archive(tmp_path, limit=100 * 1024)


# -- frames ---------------------------------------------------------------------------------


@pytest.mark.requirement("001-FR-063")
def test_frames_carry_large_reports_through_a_log_line_by_line() -> None:
    record = {"nodeid": "t.py::test", "longrepr": os.urandom(30_000).hex() + "é"}
    lines = encode(record)
    assert len(lines) > 1
    assert all(len(line) < 16 * 1024 for line in lines)
    decoder = FrameDecoder()
    assert decoder.feed("ordinary output") == ("ordinary output", None)
    got = [decoder.feed(line) for line in lines]
    assert all(record_ is None for _, record_ in got[:-1])
    assert got[-1] == ("", record)
    # a frame after progress letters on the same line still parses; the letters are text
    assert decoder.feed("..F" + encode({"a": 1})[0]) == ("..F", {"a": 1})


# -- the run's objects --------------------------------------------------------------------


@pytest.mark.requirement("001-FR-064")
def test_the_pods_may_read_only_what_the_plugin_reads() -> None:
    objects = RunObjects("abc123", "floe-test")
    role = objects.role(["postgres-credentials"])
    verbs = {verb for rule in role["rules"] for verb in rule["verbs"]}
    assert verbs == {"get", "list", "watch"}, "no create, update, patch or delete"
    secrets = [r for r in role["rules"] if "secrets" in r["resources"]]
    assert secrets == [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"],
                        "resourceNames": ["postgres-credentials"]}]
    assert not [r for r in objects.role([])["rules"] if "secrets" in r["resources"]]
    binding = objects.role_binding()
    assert binding["subjects"][0]["name"] == objects.service_account()["metadata"]["name"]
    for obj in (role, binding, objects.service_account(), objects.config_map(b"", [["a"]])):
        assert obj["metadata"]["labels"][RUN_LABEL] == "abc123"


@pytest.mark.requirement("001-FR-063", "001-FR-064")
def test_a_shard_is_one_pod_never_retried_with_its_index_and_the_code() -> None:
    objects = RunObjects("abc123", "floe-test")
    config_map = objects.config_map(b"code", [["a.py::t1", "a.py::t2"], ["b.py::t3"]])
    assert config_map["data"] == {ids_key(0): "a.py::t1\na.py::t2\n", ids_key(1): "b.py::t3\n"}
    assert config_map["binaryData"][CODE_KEY] == "Y29kZQ=="
    job = objects.job(1, 2, image="runner:1", pytest_args=["-q"], rootdir="examples",
                      deadline=600)
    spec = job["spec"]
    assert (spec["backoffLimit"], spec["activeDeadlineSeconds"]) == (0, 600)
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["serviceAccountName"] == objects.name
    assert pod["enableServiceLinks"] is False, "POSTGRES_PORT=tcp://... would be mixed in"
    env = {e["name"]: e["value"] for e in pod["containers"][0]["env"]}
    assert env[SHARD_ENV] == "1/2"
    assert env["FLOE_SHARD_ROOTDIR"] == "examples"
    assert pod["containers"][0]["imagePullPolicy"] == "IfNotPresent"


@pytest.mark.requirement("001-FR-063")
def test_the_run_exits_with_its_worst_shard() -> None:
    assert worst([0, 5]) == 5
    assert worst([0, 1, 5]) == 1
    assert worst([1, 2]) == 2
    assert worst([4, 3, 1]) == 3
    assert worst([1, 137]) == 3, "a killed pod (137) is not a pytest exit code"
    assert worst([]) == 0
