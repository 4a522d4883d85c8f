"""Cluster settings from a real pytest config: command line > ini > env > default."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from floe_testing.cluster.kind_binary import KIND_NODE_IMAGE
from floe_testing.cluster.options import DEFAULT_READY_TIMEOUT
from floe_testing.cluster.settings import ClusterSettings, load_settings
from floe_testing.errors import ConfigError
from floe_testing.stack import PACKAGED_MANIFESTS

pytestmark = pytest.mark.unit

LoadSettings = Callable[..., ClusterSettings]

FLOE_ENV = ("FLOE_MANIFESTS", "FLOE_EXTRA_MANIFESTS", "FLOE_LOAD_IMAGES", "FLOE_IMAGE_OVERRIDES",
            "FLOE_READY_TIMEOUT", "FLOE_CLUSTER_NAME",
            "KUBECONFIG", "KIND_PATH")


@pytest.fixture
def settings_of(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> LoadSettings:
    """``settings_of(*args, ini=...)``: load_settings on a config pytest itself parsed."""
    for name in FLOE_ENV:
        monkeypatch.delenv(name, raising=False)
    kubectl = pytester.path / "bin" / "kubectl"
    kubectl.parent.mkdir()
    kubectl.write_text("#!/bin/sh\n")
    kubectl.chmod(0o755)

    def load(*args: str, ini: str | None = None) -> ClusterSettings:
        if ini is not None:
            pytester.makeini("[pytest]\n" + ini)
        try:
            config = pytester.parseconfigure(f"--kind-kubectl-bin={kubectl}", *args)
        except pytest.UsageError as exc:  # the plugin validates at configure time, on every run
            raise ConfigError(str(exc)) from None
        return load_settings(config)

    return load


# -- manifests directory ----------------------------------------------------------------------


@pytest.mark.requirement("001-FR-006")
def test_manifests_default_is_the_project_s_else_the_packaged_stack(
    settings_of: LoadSettings, pytester: pytest.Pytester
) -> None:
    packaged = settings_of()
    assert packaged.manifests_dir == PACKAGED_MANIFESTS
    assert packaged.manifests_source == "the stack packaged with floe-testing"
    assert (PACKAGED_MANIFESTS / "postgres.yaml").is_file()
    (pytester.path / "manifests").mkdir()
    assert settings_of().manifests_dir == pytester.path / "manifests"


@pytest.mark.requirement("001-FR-006")
def test_named_manifests_directory_must_exist(settings_of: LoadSettings) -> None:
    with pytest.raises(ConfigError, match=r"Manifests directory .*typo does not exist \(from "
                                          r"--floe-manifests\)"):
        settings_of("--floe-manifests=typo")


@pytest.mark.requirement("001-FR-006")
def test_extra_manifests_and_images_add_up_and_are_checked(
    settings_of: LoadSettings, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("a", "b"):
        (pytester.path / name).mkdir()
    (pytester.path / "img.tar").write_bytes(b"")
    monkeypatch.setenv("FLOE_EXTRA_MANIFESTS", "a")
    monkeypatch.setenv("FLOE_LOAD_IMAGES", "my/app:1")
    settings = settings_of("--floe-extra-manifests=b", "--floe-load-image=img.tar",
                           ini="floe_load_images = other:2\n")
    assert settings.extra_manifests == (pytester.path / "a", pytester.path / "b")
    assert settings.load_images == ("my/app:1", "other:2", str(pytester.path / "img.tar"))
    with pytest.raises(ConfigError, match=r"extra manifests directory .*nope does not exist "
                                          r"\(from --floe-extra-manifests\)"):
        settings_of("--floe-extra-manifests=nope")
    with pytest.raises(ConfigError, match=r"image archive .*missing.tar does not exist"):
        settings_of("--floe-load-image=missing.tar")
    monkeypatch.setenv("KUBECONFIG", str(pytester.path / "kubeconfig"))
    with pytest.raises(ConfigError, match="the cluster is reused"):
        settings_of()


@pytest.mark.requirement("001-FR-053")
@pytest.mark.parametrize("name", ["../../x", "Floe", "a_b", "-x", "x" * 64])
def test_cluster_name_must_be_a_dns_label(settings_of: LoadSettings, name: str) -> None:
    with pytest.raises(ConfigError, match="is not a DNS-1123 label"):
        settings_of(f"--cluster-name={name}")


@pytest.mark.requirement("001-FR-006")
def test_manifests_precedence(
    settings_of: LoadSettings, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("from-env", "from-ini", "from-cli"):
        (pytester.path / name).mkdir()
    monkeypatch.setenv("FLOE_MANIFESTS", "from-env")
    assert settings_of().manifests_dir == pytester.path / "from-env"
    assert settings_of(ini="floe_manifests = from-ini\n").manifests_dir == \
        pytester.path / "from-ini"
    assert settings_of("--floe-manifests=from-cli", ini="floe_manifests = from-ini\n") \
        .manifests_dir == pytester.path / "from-cli"
    absolute = pytester.path / "elsewhere" / "k8s"
    absolute.mkdir(parents=True)
    assert settings_of(f"--floe-manifests={absolute}").manifests_dir == absolute


# -- image overrides -----------------------------------------------------------------------


@pytest.mark.requirement("001-FR-011")
def test_image_override_precedence_and_merge(
    settings_of: LoadSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOE_IMAGE_OVERRIDES", "a:1=env/a:1, b:1=env/b:1 c:1=env/c:1")
    ini = "floe_image_overrides =\n    a:1=ini/a:1\n    b:1=ini/b:1\n"
    settings = settings_of("--floe-image-override=a:1=cli/a:1", ini=ini)
    assert settings.image_overrides == {"a:1": "cli/a:1", "b:1": "ini/b:1", "c:1": "env/c:1"}


@pytest.mark.requirement("001-FR-011")
def test_repeated_cli_overrides_all_apply(settings_of: LoadSettings) -> None:
    settings = settings_of("--floe-image-override=docker.io/=mirror.local/",
                           "--floe-image-override", "postgres:16=pg:16")
    assert settings.image_overrides == {"docker.io/": "mirror.local/", "postgres:16": "pg:16"}


@pytest.mark.requirement("001-FR-053")
@pytest.mark.parametrize(
    ("where", "source"),
    [("env", "env FLOE_IMAGE_OVERRIDES"), ("ini", "ini floe_image_overrides"),
     ("cli", "--floe-image-override")],
)
def test_bad_image_override_names_its_source(
    settings_of: LoadSettings, monkeypatch: pytest.MonkeyPatch, where: str, source: str
) -> None:
    args: list[str] = []
    ini = None
    if where == "env":
        monkeypatch.setenv("FLOE_IMAGE_OVERRIDES", "no-equals-sign")
    elif where == "ini":
        ini = "floe_image_overrides =\n    no-equals-sign\n"
    else:
        args.append("--floe-image-override=no-equals-sign")
    with pytest.raises(ConfigError) as info:
        settings_of(*args, ini=ini)
    assert str(info.value).startswith(f"{source}: image override 'no-equals-sign'")


# -- ready timeout -------------------------------------------------------------------------


@pytest.mark.requirement("001-FR-008")
def test_ready_timeout_precedence(
    settings_of: LoadSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert settings_of().ready_timeout == DEFAULT_READY_TIMEOUT
    monkeypatch.setenv("FLOE_READY_TIMEOUT", "30")
    assert settings_of().ready_timeout == 30.0
    assert settings_of(ini="floe_ready_timeout = 20\n").ready_timeout == 20.0
    assert settings_of("--floe-ready-timeout=10", ini="floe_ready_timeout = 20\n") \
        .ready_timeout == 10.0


@pytest.mark.requirement("001-FR-053")
@pytest.mark.parametrize(("value", "problem"), [("abc", "not a number"), ("-5", "positive"),
                                                ("0", "positive")])
def test_invalid_env_ready_timeout_names_it(
    settings_of: LoadSettings, monkeypatch: pytest.MonkeyPatch, value: str, problem: str
) -> None:
    monkeypatch.setenv("FLOE_READY_TIMEOUT", value)
    with pytest.raises(ConfigError) as info:
        settings_of()
    message = str(info.value)
    assert "FLOE_READY_TIMEOUT" in message
    assert repr(value) in message
    assert problem in message


@pytest.mark.requirement("001-FR-053")
def test_invalid_ini_ready_timeout_names_it(settings_of: LoadSettings) -> None:
    with pytest.raises(ConfigError, match="ini floe_ready_timeout: 'soon'"):
        settings_of(ini="floe_ready_timeout = soon\n")


# -- cluster name, reuse, binaries ----------------------------------------------------------


@pytest.mark.requirement("001-FR-001")
def test_cluster_name(
    settings_of: LoadSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert settings_of().cluster_name == "floe-test"  # pytest-kind's "pytest-kind" default
    assert settings_of("--cluster-name=mine").cluster_name == "mine"
    monkeypatch.setenv("FLOE_CLUSTER_NAME", "from-env")
    assert settings_of().cluster_name == "from-env"
    assert settings_of(ini="floe_cluster_name = from-ini\n").cluster_name == "from-ini"
    assert settings_of("--cluster-name=cli", ini="floe_cluster_name = from-ini\n") \
        .cluster_name == "cli"


@pytest.mark.requirement("001-FR-004")
def test_kubeconfig_env_means_reuse(
    settings_of: LoadSettings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fresh = settings_of()
    assert (fresh.reuse, fresh.kubeconfig, fresh.kubeconfig_source) == (False, None, None)
    existing = tmp_path / "config"
    existing.write_text("apiVersion: v1\n")
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'missing'}:{existing}")
    reused = settings_of()
    assert reused.reuse is True
    assert reused.kubeconfig == existing  # the first entry that exists, as kubectl merges
    assert reused.kubeconfig_source == "KUBECONFIG"


@pytest.mark.requirement("001-FR-004")
def test_kubeconfig_option_beats_env(
    settings_of: LoadSettings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "env-config"))
    settings = settings_of(f"--kubeconfig={tmp_path / 'cli-config'}")
    assert settings.reuse is True
    assert (settings.kubeconfig, settings.kubeconfig_source) == (tmp_path / "cli-config",
                                                                 "--kubeconfig")


@pytest.mark.requirement("001-FR-003")
def test_pytest_kind_options_pass_through(settings_of: LoadSettings) -> None:
    defaults = settings_of()
    assert (defaults.keep_cluster, defaults.kind_bin, defaults.kind_image) == (
        False, None, KIND_NODE_IMAGE)
    settings = settings_of("--keep-cluster", "--kind-bin=/opt/kind",
                           "--kind-image=kindest/node:v1.31.0")
    assert (settings.keep_cluster, settings.kind_bin, settings.kind_image) == (
        True, "/opt/kind", "kindest/node:v1.31.0")


@pytest.mark.requirement("001-FR-053")
def test_missing_kubectl_is_named(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in FLOE_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PATH", str(pytester.mkdir("empty-bin")))
    with pytest.raises(ConfigError, match=r"kubectl was not found on PATH.*--kind-kubectl-bin"):
        load_settings(pytester.parseconfigure())
    with pytest.raises(ConfigError, match=r"--kind-kubectl-bin names .*nope"):
        load_settings(pytester.parseconfigure(f"--kind-kubectl-bin={pytester.path / 'nope'}"))


@pytest.mark.requirement("001-FR-004", "001-FR-009")
def test_relative_paths_are_made_absolute_once_at_configure(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A test that changes directory (``monkeypatch.chdir``) must not change which kubeconfig
    and kubectl the run uses: the cluster is started on first need, later, and a forward's
    kubectl is started again whenever it dies."""
    for name in FLOE_ENV:
        monkeypatch.delenv(name, raising=False)
    start = pytester.path
    tools = pytester.mkdir("tools")
    for name in ("kubectl", "kind"):
        (tools / name).write_text("#!/bin/sh\n")
        (tools / name).chmod(0o755)
    (start / "kubeconfig").write_text("apiVersion: v1\n")
    config = pytester.parseconfigure("--kubeconfig=kubeconfig", "--kind-kubectl-bin=tools/kubectl",
                                     "--kind-bin=./tools/kind")
    elsewhere = pytester.mkdir("elsewhere")
    monkeypatch.chdir(elsewhere)  # as a test would, before the cluster is first needed
    settings = load_settings(config)
    assert settings.kubeconfig == start / "kubeconfig"
    assert settings.kubectl == start / "tools" / "kubectl"
    assert settings.kind_bin == str(start / "tools" / "kind")

    monkeypatch.chdir(start)
    monkeypatch.setenv("KUBECONFIG", "missing:kubeconfig")
    config = pytester.parseconfigure(f"--kind-kubectl-bin={tools / 'kubectl'}")
    monkeypatch.chdir(elsewhere)
    assert load_settings(config).kubeconfig == start / "kubeconfig"


@pytest.mark.requirement("001-FR-053")
def test_failure_artifacts_directory_precedence(
    settings_of: LoadSettings, monkeypatch: pytest.MonkeyPatch, pytester: pytest.Pytester
) -> None:
    """``--floe-artifacts`` > ini ``floe_artifacts`` > env ``FLOE_ARTIFACTS`` (the ini's
    relative to the rootdir, the others to where pytest started: here both are the same
    directory); none named: no artifacts."""
    assert settings_of().artifacts_dir is None
    monkeypatch.setenv("FLOE_ARTIFACTS", "from-env")
    assert settings_of().artifacts_dir == pytester.path / "from-env"
    assert settings_of(ini="floe_artifacts = from-ini\n").artifacts_dir == \
        pytester.path / "from-ini"
    assert settings_of("--floe-artifacts=cli/dir", ini="floe_artifacts = from-ini\n") \
        .artifacts_dir == pytester.path / "cli" / "dir"
    assert not (pytester.path / "cli").exists() or (pytester.path / "cli").is_dir()
    # started in a subdirectory: the ini's value stays relative to the rootdir, the option's
    # and the env var's are relative to where pytest was started, as --junitxml is
    sub = pytester.mkdir("sub")
    monkeypatch.chdir(sub)
    assert settings_of(ini="floe_artifacts = from-ini\n").artifacts_dir == \
        pytester.path / "from-ini"
    assert settings_of("--floe-artifacts=out").artifacts_dir == sub / "out"
    monkeypatch.delenv("FLOE_ARTIFACTS")
    pytester.makeini("[pytest]\n")
    monkeypatch.setenv("FLOE_ARTIFACTS", "env-out")
    assert settings_of().artifacts_dir == sub / "env-out"
