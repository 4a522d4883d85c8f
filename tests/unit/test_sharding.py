"""``--floe-in-cluster``, its pure parts: options, the split, the code archive, the frames a pod
sends its reports in, the objects of a run. The run itself, on a real cluster, is in
``tests/stack/test_sharded_runs.py``."""

from __future__ import annotations

import base64
import io
import os
import subprocess
import tarfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from floe_testing.cluster.apply import RUN_LABEL
from floe_testing.errors import ConfigError
from floe_testing.in_cluster.code import code_archive, project_files, unpack
from floe_testing.in_cluster.durations import RecordedDurations
from floe_testing.in_cluster.exit_codes import worst
from floe_testing.in_cluster.frames import NONCE_ENV, Decoded, FrameDecoder, encode
from floe_testing.in_cluster.objects import CODE_KEY, IN_CLUSTER_RUN_LABEL, RunObjects, ids_key
from floe_testing.in_cluster.pods import bounded_lines
from floe_testing.in_cluster.replay import ReportReplay
from floe_testing.in_cluster.settings import InClusterSettings, load_in_cluster_settings
from floe_testing.in_cluster.shards import Shard
from floe_testing.in_cluster.split import split
from floe_testing.location import SHARD_ENV
from floe_testing.redaction import SecretValues

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


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True,
                          text=True).stdout


def git_repository(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q")
    git(root, "config", "user.email", "t@example.com")
    git(root, "config", "user.name", "t")
    return root


@pytest.mark.requirement("001-FR-064")
def test_only_what_git_tracks_travels_and_unpacks_safely(tmp_path: Path) -> None:
    root = git_repository(tmp_path / "project")
    (root / "pkg").mkdir()
    (root / "test_a.py").write_text("def test_a():\n    pass\n")
    (root / "pkg" / "mod.py").write_text("X = 1\n")
    git(root, "add", "test_a.py", "pkg/mod.py")
    # untracked and not ignored: what `git ls-files --others --exclude-standard` would ship
    (root / "notes.txt").write_text("mine\n")
    (root / ".env").write_text("AWS_SECRET_ACCESS_KEY=laptop-key\n")
    (root / "id_rsa").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    # the plugin's state, even forced into git: a kind cluster's admin kubeconfig
    state = root / ".pytest-kind" / "floe-test"
    state.mkdir(parents=True)
    (state / "kubeconfig").write_text("users: [{user: {client-key-data: c2VjcmV0}}]\n")
    git(root, "add", "-f", ".pytest-kind/floe-test/kubeconfig")

    files = project_files(root, state_dirs=[root / ".pytest-kind"])
    assert files.names == ["pkg/mod.py", "test_a.py"]
    assert files.source == "git ls-files"
    assert any("kubeconfig (floe-testing's own state)" in why for why in files.left_out)

    target = tmp_path / "unpacked"
    unpack(code_archive(files, limit=100_000), target)
    assert (target / "pkg" / "mod.py").read_text() == "X = 1\n"
    assert sorted(p.name for p in target.rglob("*") if p.is_file()) == ["mod.py", "test_a.py"]

    evil = io.BytesIO()
    with tarfile.open(fileobj=evil, mode="w:gz") as archive:
        info = tarfile.TarInfo("../escape.py")
        info.size = 1
        archive.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(ValueError, match=r"refusing archive member '\.\./escape\.py'"):
        unpack(evil.getvalue(), target)
    assert not (tmp_path / "escape.py").exists()


@pytest.mark.requirement("001-FR-064", "001-FR-053")
def test_a_tracked_file_that_looks_like_a_secret_refuses_the_run_unless_named(
        tmp_path: Path) -> None:
    root = git_repository(tmp_path / "project")
    (root / "tests").mkdir()
    (root / "tests" / "test_tls.py").write_text("def test_tls():\n    pass\n")
    (root / "tests" / "server.pem").write_text("certificate\n")
    (root / "config.json").write_text(
        '{"private_key": "-----BEGIN PRIVATE KEY-----\\nMIIE"}\n')
    (root / ".env.example").write_text("PASSWORD=change-me\n")  # a template, not a secret
    git(root, "add", ".")
    with pytest.raises(ConfigError) as refused:
        project_files(root)
    message = str(refused.value)
    assert "2 file(s)" in message
    assert "tests/server.pem (its name)" in message
    assert "config.json (it holds '-----BEGIN PRIVATE KEY-----')" in message
    assert "git rm --cached" in message
    assert "--floe-ship-file" in message
    assert "FLOE_SHIP_FILES" in message
    assert "MIIE" not in message, "names, never contents"

    named = project_files(root, ship=["*.pem", "/config.json"])
    assert named.names == [".env.example", "config.json", "tests/server.pem",
                           "tests/test_tls.py"]


@pytest.mark.requirement("001-FR-064")
def test_code_that_handles_secrets_travels_and_secrets_given_as_literals_do_not(
        tmp_path: Path) -> None:
    """Test code passes keys along (boto3 against MinIO, a README's export, a module named
    after what it handles): it ships. A literal key, a kubeconfig's embedded client key and
    files named like env files or OAuth client secrets do not, and the refusal names what
    each holds, never its value."""
    key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    client_key = base64.b64encode(b"-" * 60).decode()
    root = git_repository(tmp_path / "project")
    (root / "tests").mkdir()
    (root / "tests" / "test_s3.py").write_text(
        'import boto3\n'
        'def test_s3(cfg):\n'
        '    boto3.client("s3", aws_access_key_id=cfg.access_key,\n'
        '                 aws_secret_access_key=cfg.secret_key.get_secret_value())\n')
    (root / "README.md").write_text(
        "export AWS_SECRET_ACCESS_KEY=$MINIO_SECRET_KEY\n"
        "The kubeconfig's `client-key-data:` is a secret.\n")
    (root / "kubeconfig.py").write_text("def load(path):\n    return path\n")
    (root / "credentials.py").write_text("USER_ENV = 'MINIO_ACCESS_KEY'\n")
    git(root, "add", ".")
    assert project_files(root).names == ["README.md", "credentials.py", "kubeconfig.py",
                                         "tests/test_s3.py"]

    (root / "settings.json").write_text(f'{{"aws_secret_access_key": "{key}"}}\n')
    (root / "admin.yaml").write_text(f"users:\n- user:\n    client-key-data: {client_key}\n")
    (root / "prod.env").write_text("TOKEN=x\n")
    (root / "client_secret_1234.apps.json").write_text("{}\n")
    git(root, "add", ".")
    with pytest.raises(ConfigError) as refused:
        project_files(root)
    message = str(refused.value)
    assert "4 file(s)" in message
    assert "settings.json (it holds 'aws_secret_access_key')" in message
    assert "admin.yaml (it holds 'client-key-data')" in message
    assert "prod.env (its name)" in message
    assert "client_secret_1234.apps.json (its name)" in message
    assert key not in message
    assert client_key[:12] not in message


@pytest.mark.requirement("001-FR-064")
def test_named_files_travel_untracked_and_links_out_of_the_rootdir_never(
        tmp_path: Path) -> None:
    root = git_repository(tmp_path / "project")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "data.csv").write_text("laptop,data\n")
    (root / "data").mkdir()
    (root / "data" / "data.csv").write_text("a,b\n")
    (root / "test_a.py").write_text("def test_a():\n    pass\n")
    git(root, "add", ".")
    git(root, "commit", "-qm", "x")
    # the tracked directory is replaced by a link to a directory outside the rootdir
    (root / "data" / "data.csv").unlink()
    (root / "data").rmdir()
    (root / "data").symlink_to(outside)
    (root / "fixtures").mkdir()
    (root / "fixtures" / "generated.json").write_text("{}\n")  # untracked, named below
    (root / ".gitignore").write_text("fixtures/\n")

    files = project_files(root, ship=["fixtures/"])
    assert files.names == ["fixtures/generated.json", "test_a.py"]
    assert any(why.startswith("data/data.csv (resolves outside the rootdir")
               for why in files.left_out), files.left_out


@pytest.mark.requirement("001-FR-064", "001-FR-053")
def test_in_a_work_tree_git_failing_refuses_the_run_instead_of_walking(tmp_path: Path) -> None:
    """A walk ships untracked files: where git should answer and does not (a broken
    ``.git``, "dubious ownership", no git), the run is refused with git's own message."""
    root = tmp_path / "project"
    root.mkdir()
    (root / ".env").write_text("TOKEN=laptop\n")
    (root / "test_a.py").write_text("def test_a():\n    pass\n")
    (root / ".git").write_text(f"gitdir: {tmp_path / 'moved-away'}\n")
    with pytest.raises(ConfigError) as refused:
        project_files(root)
    message = str(refused.value)
    assert "`git ls-files` failed: fatal: not a git repository" in message
    assert "safe.directory" in message


@pytest.mark.requirement("001-FR-064")
def test_outside_git_the_walk_ignores_what_git_would_ignore_nested_files_too(
        tmp_path: Path) -> None:
    root = tmp_path / "project"
    layout = {
        ".gitignore": "*.log\n/build-output/\ndocs/**/draft-*\n!keep.log\ndir-only/\n"
                      "file-named-dir-only/\n",
        "a.log": "", "keep.log": "", "test_a.py": "",
        "build-output/x.txt": "", "sub/build-output/y.txt": "",
        "docs/draft-1.md": "", "docs/deep/er/draft-2.md": "", "docs/final.md": "",
        "sub/.gitignore": "local.txt\n*.tmp\n!important.tmp\n/anchored.txt\n",
        "sub/local.txt": "", "sub/other.txt": "", "sub/x.tmp": "", "sub/important.tmp": "",
        "sub/anchored.txt": "", "sub/deeper/anchored.txt": "", "sub/deeper/local.txt": "",
        "dir-only/": "", "file-named-dir-only": "",
        "__pycache__/m.cpython-311.pyc": "", ".venv/bin/python": "",
    }
    for name, text in layout.items():
        path = root / name
        if name.endswith("/"):
            path.mkdir(parents=True)
            (path / "inside.txt").write_text("")
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    walked = project_files(root)
    assert walked.source == "a walk honouring .gitignore"
    # git itself is the reference: the same tree in a fresh repository
    git_repository(root)
    (root / ".gitignore").write_text(layout[".gitignore"] + "__pycache__/\n.venv/\n")
    by_git = sorted(git(root, "ls-files", "--others", "--exclude-standard").split())
    (root / ".gitignore").write_text(layout[".gitignore"])
    assert walked.names == by_git
    assert "sub/deeper/anchored.txt" in walked.names
    assert "sub/anchored.txt" not in walked.names
    assert "sub/important.tmp" in walked.names
    assert "keep.log" in walked.names
    assert "file-named-dir-only" in walked.names, "a directory pattern never hides a file"
    assert not [n for n in walked.names if n.startswith(("dir-only/", "build-output/"))]


@pytest.mark.requirement("001-FR-064", "001-FR-053")
def test_a_tree_too_big_for_a_configmap_names_its_largest_files(tmp_path: Path) -> None:
    (tmp_path / "big.csv").write_bytes(os.urandom(1024 * 1024))
    (tmp_path / "test_a.py").write_text("def test_a():\n    pass\n")
    with pytest.raises(ConfigError, match=r"compress to \d+ KiB, more than the 100 KiB .* "
                                          r"Largest: big\.csv \(1024 KiB\)"):
        code_archive(project_files(tmp_path), limit=100 * 1024)


@pytest.mark.requirement("001-FR-064", "001-FR-053")
def test_a_tree_that_compresses_well_is_limited_unpacked_too(tmp_path: Path) -> None:
    (tmp_path / "zeros.bin").write_bytes(bytes(3 * 1024 * 1024))  # compresses to ~3 KiB
    (tmp_path / "test_a.py").write_text("def test_a():\n    pass\n")
    files = project_files(tmp_path)
    with pytest.raises(ConfigError, match=r"hold 3072 KiB, more than the 2 MiB a pod unpacks\. "
                                          r"Largest: zeros\.bin"):
        code_archive(files, limit=900 * 1024, unpacked_limit=2 * 1024 * 1024)
    packed = code_archive(files, limit=900 * 1024, unpacked_limit=4 * 1024 * 1024)
    assert len(packed) < 100 * 1024
    with pytest.raises(ValueError, match="refusing an archive of"):
        unpack(packed, tmp_path / "out", unpacked_limit=2 * 1024 * 1024)
    assert not (tmp_path / "out" / "zeros.bin").exists()


@pytest.mark.requirement("001-FR-064")
def test_a_name_that_is_not_utf8_is_left_out_not_an_internal_error(tmp_path: Path) -> None:
    root = git_repository(tmp_path / "project")
    (root / "test_a.py").write_text("def test_a():\n    pass\n")
    (root / os.fsdecode(b"caf\xe9.txt")).write_text("latin-1 name\n")
    git(root, "add", ".")
    files = project_files(root)
    assert files.names == ["test_a.py"]
    assert any("not UTF-8" in why for why in files.left_out)
    assert code_archive(files, limit=100_000)


# -- frames ---------------------------------------------------------------------------------


NONCE = "0123456789abcdef0123456789abcdef"


@pytest.mark.requirement("001-FR-063", "001-FR-053")
def test_frames_carry_large_reports_through_a_log_line_by_line() -> None:
    record = {"nodeid": "t.py::test", "longrepr": os.urandom(30_000).hex() + "é"}
    lines = encode(record, NONCE, 1)
    assert len(lines) > 1
    assert all(len(line) < 16 * 1024 for line in lines)
    decoder = FrameDecoder(NONCE)
    assert decoder.feed("ordinary output") == Decoded(text="ordinary output")
    got = [decoder.feed(line) for line in lines]
    assert all(d == Decoded() for d in got[:-1])
    assert got[-1] == Decoded(record=record)


@pytest.mark.requirement("001-FR-064")
def test_only_a_line_starting_with_the_runs_nonce_is_a_frame() -> None:
    decoder = FrameDecoder(NONCE)
    frame = encode({"a": 1}, NONCE, 1)[0]
    assert decoder.feed("..F" + frame) == Decoded(text="..F" + frame), "not at line start"
    for printed in (encode({"a": 1}, "f" * 32, 1)[0],  # another run's (or a forged) frame
                    "floe-testing-report last ???", "floe-testing-report last",
                    f"floe-testing-report {NONCE} x last AAAA",
                    f"floe-testing-report {NONCE} 1 first AAAA"):
        assert decoder.feed(printed) == Decoded(text=printed), printed
    assert decoder.feed(frame) == Decoded(record={"a": 1})


@pytest.mark.requirement("001-FR-064", "001-FR-053")
def test_undecodable_frames_are_dropped_with_a_note_never_an_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    decoder = FrameDecoder(NONCE)
    start = f"floe-testing-report {NONCE}"
    assert "undecodable" in str(decoder.feed(f"{start} 1 last !!not-base64!!").problem)
    garbage = base64.b64encode(b"not zlib").decode()
    assert "undecodable" in str(decoder.feed(f"{start} 2 last {garbage}").problem)
    listed = base64.b64encode(zlib.compress(b"[1, 2]")).decode()
    assert "not a mapping" in str(decoder.feed(f"{start} 3 last {listed}").problem)
    # a frame cut short by a crash, then the next record: the partial one is dropped
    first, *_ = encode({"x": os.urandom(20_000).hex()}, NONCE, 4)
    assert decoder.feed(first) == Decoded()
    (second,) = encode({"b": 2}, NONCE, 5)
    assert decoder.feed(second) == Decoded(
        record={"b": 2}, problem="an incomplete report (frame 4) was dropped")
    # one report may not grow without bound
    monkeypatch.setattr("floe_testing.in_cluster.frames.MAX_RECORD_BYTES", 10_000)
    lines = encode({"big": os.urandom(20_000).hex()}, NONCE, 6)
    fed = [decoder.feed(line) for line in lines]
    assert any(d.problem and "was dropped" in d.problem for d in fed)
    assert all(d.record is None for d in fed)
    assert decoder.feed(encode({"c": 3}, NONCE, 7)[0]) == Decoded(record={"c": 3})
    # nor unpack without bound: a small frame of a huge report
    (bomb,) = encode({"zeros": "0" * 1_000_000}, NONCE, 8)
    assert len(bomb) < 10_000
    assert decoder.feed(bomb) == Decoded(problem="a report over 0 MiB unpacked was dropped")


@pytest.mark.requirement("001-FR-064")
def test_a_pods_log_lines_are_bounded() -> None:
    chunks = [b"short\nline", b" two\n" + b"x" * 50, b"y" * 50 + b"\nlast"]
    assert list(bounded_lines(chunks, limit=30)) == ["short", "line two", "x" * 30, "last"]
    assert list(bounded_lines([b"caf\xe9\r\n"])) == ["caf\ufffd"]


# -- the run's objects --------------------------------------------------------------------


@pytest.mark.requirement("001-FR-064")
def test_the_pods_may_read_only_the_stacks_secrets() -> None:
    objects = RunObjects("abc123", "floe-test")
    role = objects.role(["postgres-credentials"])
    assert role["rules"] == [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"],
                              "resourceNames": ["postgres-credentials"]}], \
        "no other pod's log or state, no write of anything"
    assert objects.role([])["rules"] == []
    binding = objects.role_binding()
    assert binding["subjects"][0]["name"] == objects.service_account()["metadata"]["name"]
    for obj in (role, binding, objects.service_account(), objects.config_map(b"", [["a"]])):
        labels = obj["metadata"]["labels"]
        assert labels[IN_CLUSTER_RUN_LABEL] == "abc123"
        assert RUN_LABEL not in labels, "the stack's run label: a sweep would reach the stack"
        assert objects.is_ours(obj["metadata"]["name"])
    assert objects.is_ours(objects.job_name(3))
    for other in ("floe-runner-abc1234", "floe-shard-abc123-x", "floe-shard-other-0", "postgres"):
        assert not objects.is_ours(other), other


@pytest.mark.requirement("001-FR-063", "001-FR-064")
def test_a_shard_is_one_pod_never_retried_with_its_index_and_the_code() -> None:
    objects = RunObjects("abc123", "floe-test")
    config_map = objects.config_map(b"code", [["a.py::t1", "a.py::t2"], ["b.py::t3"]])
    assert config_map["data"] == {ids_key(0): "a.py::t1\na.py::t2\n", ids_key(1): "b.py::t3\n"}
    assert config_map["binaryData"][CODE_KEY] == "Y29kZQ=="
    job = objects.job(1, 2, image="runner:1", pytest_args=["-q"], rootdir="examples",
                      deadline=600, nonce=NONCE)
    spec = job["spec"]
    assert (spec["backoffLimit"], spec["activeDeadlineSeconds"]) == (0, 600)
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["serviceAccountName"] == objects.name
    assert pod["enableServiceLinks"] is False, "POSTGRES_PORT=tcp://... would be mixed in"
    env = {e["name"]: e["value"] for e in pod["containers"][0]["env"]}
    assert env[SHARD_ENV] == "1/2"
    assert env["FLOE_SHARD_ROOTDIR"] == "examples"
    assert env[NONCE_ENV] == NONCE
    assert pod["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    # unprivileged, whatever the image's user
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    container = pod["containers"][0]["securityContext"]
    assert container["allowPrivilegeEscalation"] is False
    assert container["capabilities"] == {"drop": ["ALL"]}


@pytest.mark.requirement("001-FR-063")
def test_the_run_exits_with_its_worst_shard() -> None:
    assert worst([0, 5]) == 5
    assert worst([0, 1, 5]) == 1
    assert worst([1, 2]) == 2
    assert worst([4, 3, 1]) == 3
    assert worst([1, 137]) == 3, "a killed pod (137) is not a pytest exit code"
    assert worst([]) == 0


# -- replaying a shard's reports ----------------------------------------------------------


class RecordedReports:
    """Every report pytest's hooks see, as (node id, phase, outcome)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []
        self.sections: dict[str, list[tuple[str, str]]] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.seen.append((report.nodeid, report.when or "", report.outcome))
        self.sections[f"{report.nodeid}:{report.when}"] = list(report.sections)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        self.seen.append((report.nodeid, "collect", report.outcome))


@pytest.mark.requirement("001-FR-063", "001-FR-064")
def test_a_shard_may_report_only_its_own_tests_each_phase_once(
        pytester: pytest.Pytester) -> None:
    items = pytester.getitems("def test_a(): pass\ndef test_b(): pass\ndef test_c(): pass\n")
    config = items[0].config
    recorded = RecordedReports()
    config.pluginmanager.register(recorded, "recorded-reports")
    a, b, c = (item.nodeid for item in items)
    replay = ReportReplay(config, {i.nodeid: i for i in items}, SecretValues(),
                          RecordedDurations(config),
                          lambda item, phase: [("svc/x", f"its pods ({phase})")])
    shard = Shard(0, [a, b], "floe-shard-x-0", FrameDecoder(NONCE))

    def sent(nodeid: str, when: str, outcome: str = "passed") -> dict[str, object]:
        report = pytest.TestReport(nodeid, ("x.py", 1, nodeid), {}, outcome,
                                   "boom" if outcome == "failed" else None, when)
        data = config.hook.pytest_report_to_serializable(config=config, report=report)
        assert isinstance(data, dict)
        return data

    assert replay.replay(shard, sent(a, "setup")) is None
    assert replay.replay(shard, sent(a, "call", "failed")) is None
    assert "second call report" in str(replay.replay(shard, sent(a, "call")))
    assert replay.replay(shard, sent(a, "teardown")) is None
    assert "second setup report" in str(replay.replay(shard, sent(a, "setup")))
    assert "not a test of this shard" in str(replay.replay(shard, sent(c, "call")))
    assert "not a test of this shard" in str(replay.replay(shard, sent("forged.py::t", "call")))
    assert "malformed" in str(replay.replay(shard, {"$report_type": "TestReport"}))
    module = pytest.CollectReport(a.split("::")[0], "failed", "ImportError", [])
    data = config.hook.pytest_report_to_serializable(config=config, report=module)
    assert replay.replay(shard, data) is None
    assert "collection report" in str(replay.replay(shard, data)), "once"
    other = config.hook.pytest_report_to_serializable(
        config=config, report=pytest.CollectReport("other.py", "failed", "x", []))
    assert "collection report for 'other.py'" in str(replay.replay(shard, other))

    assert recorded.seen == [(a, "setup", "passed"), (a, "call", "failed"),
                             (a, "teardown", "passed"), (a.split("::")[0], "collect", "failed")]
    assert recorded.sections[f"{a}:call"] == [("svc/x", "its pods (call)")], "its diagnosis"
    assert shard.finished_tests == {a}
    replay.unfinished(shard, b, "its pod was OOM-killed")
    assert recorded.seen[-2:] == [(b, "call", "failed"), (b, "teardown", "passed")]
