"""Unique names, and the base classes' per-test behaviour run inside a real pytest session."""

from __future__ import annotations

import re
import textwrap

import pytest

from floe_testing.base import IntegrationTestBase
from floe_testing.naming import unique_bucket_name, unique_k8s_name, unique_name
from floe_testing.service_requirement import ServiceRequirement, validate_dns1123_label

pytestmark = pytest.mark.unit

DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


class _Probe(IntegrationTestBase):
    """A concrete subclass with no required services, driven by hand."""


# -- names ---------------------------------------------------------------------------------


@pytest.mark.requirement("001-FR-033")
def test_unique_namespace_matches_data_model_and_differs_per_call() -> None:
    names = [IntegrationTestBase.generate_unique_namespace() for _ in range(50)]
    assert all(re.fullmatch(r"test_[0-9a-f]{8}", n) for n in names), names
    assert len(set(names)) == 50


@pytest.mark.requirement("001-FR-033")
def test_unique_namespace_honours_prefix() -> None:
    assert re.fullmatch(r"orders_[0-9a-f]{8}", _Probe.generate_unique_namespace("orders"))


@pytest.mark.requirement("001-FR-033")
@pytest.mark.parametrize("prefix", ["test", "Floe_Test", "___", "-lead", "x" * 100, "a.b/c"])
def test_unique_k8s_namespace_is_a_dns1123_label(prefix: str) -> None:
    names = {IntegrationTestBase.generate_unique_k8s_namespace(prefix) for _ in range(10)}
    assert len(names) == 10
    for name in names:
        assert DNS1123.fullmatch(name), name
        assert validate_dns1123_label(name) == name
        assert ServiceRequirement(name="s", port=1, namespace=name).namespace == name


@pytest.mark.requirement("001-FR-033")
def test_namespace_property_is_stable_within_a_test_and_new_for_the_next() -> None:
    probe = _Probe()
    probe.setup_method()
    first = probe.namespace
    assert probe.namespace == first
    probe.teardown_method()
    probe.setup_method()
    assert probe.namespace != first
    probe.teardown_method()


@pytest.mark.requirement("001-FR-033")
@pytest.mark.parametrize(
    ("func", "pattern"),
    [
        (lambda: unique_name("Test Orders!"), r"test_orders_[0-9a-f]{8}"),
        (lambda: unique_bucket_name("My_Bucket"), r"my-bucket-[0-9a-f]{8}"),
        (unique_k8s_name, r"test-[0-9a-f]{8}"),
        (lambda: unique_name("x" * 200), r"x{54}_[0-9a-f]{8}"),
    ],
)
def test_unique_name_helpers(func: object, pattern: str) -> None:
    name = func()  # type: ignore[operator]
    assert re.fullmatch(pattern, name), name
    assert len(name) <= 63


# -- IntegrationTestBase in a pytest run ---------------------------------------------------


@pytest.mark.requirement("001-FR-034")
def test_cleanups_run_after_the_test_in_reverse_order_pass_or_fail(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_cleanups="""
        import pathlib
        from floe_testing.base import IntegrationTestBase

        LOG = pathlib.Path(__file__).with_name("cleanup.log")

        def log(line):
            with LOG.open("a") as fh:
                fh.write(line + "\\n")

        class TestCleanups(IntegrationTestBase):
            def test_a_passes(self):
                for i in range(3):
                    self.add_cleanup(lambda i=i: log(f"pass-{i}"))
                log("pass-body")

            def test_b_fails(self):
                for i in range(3):
                    self.add_cleanup(lambda i=i: log(f"fail-{i}"))
                log("fail-body")
                assert False, "test body failed"
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    assert (pytester.path / "cleanup.log").read_text().split() == [
        "pass-body", "pass-2", "pass-1", "pass-0",
        "fail-body", "fail-2", "fail-1", "fail-0",
    ]


@pytest.mark.requirement("001-FR-034")
def test_failing_cleanups_are_all_reported_and_do_not_stop_the_others(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_bad_cleanup="""
        import pathlib
        from floe_testing.base import IntegrationTestBase

        LOG = pathlib.Path(__file__).with_name("cleanup.log")

        def log(line):
            with LOG.open("a") as fh:
                fh.write(line + "\\n")

        def bad_one():
            raise ValueError("first bad")

        def bad_two():
            raise RuntimeError("second bad")

        class TestBadCleanup(IntegrationTestBase):
            def test_body(self):
                self.add_cleanup(lambda: log("ok-1"), "ok one")
                self.add_cleanup(bad_one)
                self.add_cleanup(lambda: log("ok-2"), "ok two")
                self.add_cleanup(bad_two, "drop the bucket")
                self.add_cleanup(lambda: log("ok-3"), "ok three")
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    assert (pytester.path / "cleanup.log").read_text().split() == ["ok-3", "ok-2", "ok-1"]
    result.stdout.fnmatch_lines([
        "*ERROR at teardown of TestBadCleanup.test_body*",
        "*CleanupError: 2 cleanup(s) failed:",
        "*- drop the bucket: RuntimeError: second bad",
        "*- bad_one: ValueError: first bad",
    ])


@pytest.mark.requirement("001-FR-032")
def test_unreachable_required_service_fails_with_what_was_tried_and_a_fix(
    pytester: pytest.Pytester, closed_port: int
) -> None:
    pytester.makepyfile(
        test_needs=textwrap.dedent(f"""
        import pytest

        from floe_testing.base import IntegrationTestBase
        from floe_testing.service_requirement import ServiceRequirement
        from floe_testing.service_directory import Endpoint
        from support.directories import table_directory

        @pytest.fixture(autouse=True)
        def ghost():
            with table_directory() as cluster:
                cluster.endpoints[("ghost", 5555, "floe-test")] = Endpoint(
                    "127.0.0.1", {closed_port}, "unit registration")
                yield

        class TestNeedsGhost(IntegrationTestBase):
            required_services = [ServiceRequirement(name="ghost", port=5555)]

            def test_body(self):
                raise AssertionError("the body must not run")
        """)
    )
    result = pytester.runpytest("-rs")
    outcomes = result.parseoutcomes()
    assert "skipped" not in outcomes
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    # pytest.fail during setup_method is reported by pytest as an error in setup
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([
        "*Required service ghost:5555 (namespace floe-test) is not reachable: tried "
        f"127.0.0.1:{closed_port} (unit registration): ConnectionRefusedError*",
        "Fix: *",
    ])
    result.stdout.no_fnmatch_line("*the body must not run*")


# -- PluginTestBase against a fake distribution -------------------------------------------

PLUGIN_MODULE = """
from abc import ABC, abstractmethod


class ComputePlugin(ABC):
    @abstractmethod
    def execute(self, sql): ...

    @abstractmethod
    def close(self): ...


class Good(ComputePlugin):
    metadata = {"name": "good", "version": "1.0"}

    def execute(self, sql):
        return sql

    def close(self):
        pass


class NoMeta(ComputePlugin):
    def execute(self, sql):
        return sql

    def close(self):
        pass


class BadMeta(Good):
    metadata = {"name": "badmeta", "version": ["not", "a", "string"]}


class Abstract(ComputePlugin):
    metadata = {"name": "abstract", "version": "1.0"}

    def close(self):
        pass
"""

PLUGIN_TESTS = """
from pydantic import BaseModel

from floe_testing.base import PluginTestBase
from fakeplug_impl import ComputePlugin


class Meta(BaseModel):
    name: str
    version: str


class ComputeBase(PluginTestBase):
    plugin_type = "compute"
    plugin_abc = ComputePlugin
    metadata_model = Meta


class TestGood(ComputeBase):
    plugin_name = "good"


class TestAbsent(ComputeBase):
    plugin_name = "absent"


class TestNoMeta(ComputeBase):
    plugin_name = "nometa"


class TestBadMeta(ComputeBase):
    plugin_name = "badmeta"


class TestAbstract(ComputeBase):
    plugin_name = "abstract"
"""


@pytest.fixture
def fake_distribution(pytester: pytest.Pytester) -> pytest.Pytester:
    """``fakeplug`` installed in pytester's dir: metadata, entry points and the module."""
    dist = pytester.mkdir("fakeplug-1.0.dist-info")
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fakeplug\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[floe.computes]\n"
        "good = fakeplug_impl:Good\n"
        "nometa = fakeplug_impl:NoMeta\n"
        "badmeta = fakeplug_impl:BadMeta\n"
        "abstract = fakeplug_impl:Abstract\n"
    )
    pytester.makepyfile(fakeplug_impl=PLUGIN_MODULE)
    pytester.syspathinsert()
    return pytester


@pytest.mark.requirement("001-FR-035")
def test_plugin_base_passes_a_compliant_plugin(fake_distribution: pytest.Pytester) -> None:
    fake_distribution.makepyfile(test_plugins=PLUGIN_TESTS)
    result = fake_distribution.runpytest("-k", "TestGood", "-v")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines([
        "*TestGood::test_entry_point_discovery PASSED*",
        "*TestGood::test_plugin_metadata PASSED*",
        "*TestGood::test_abc_compliance PASSED*",
    ])


@pytest.mark.requirement("001-FR-035")
def test_plugin_base_names_each_compliance_problem(fake_distribution: pytest.Pytester) -> None:
    fake_distribution.makepyfile(test_plugins=PLUGIN_TESTS)
    result = fake_distribution.runpytest("-k", "not TestGood", "-rf", "-vv")
    # absent: all 3 fail; nometa, badmeta: metadata fails; abstract: ABC check fails
    result.assert_outcomes(passed=6, failed=6)
    lines = result.stdout.str()
    for test in ("test_entry_point_discovery", "test_plugin_metadata", "test_abc_compliance"):
        assert re.search(
            rf"FAILED \S*TestAbsent::{test} - .*No entry point 'absent' in group "
            r"'floe.computes'; registered there: \['abstract', 'badmeta', 'good', 'nometa'\]",
            lines,
        ), test
    result.stdout.fnmatch_lines([
        "FAILED *TestNoMeta::test_plugin_metadata - *declares no 'metadata' attribute*",
        "FAILED *TestBadMeta::test_plugin_metadata - *metadata is invalid*",
        "FAILED *TestAbstract::test_abc_compliance - *Abstract does not implement: execute*",
    ], consecutive=False)
    assert re.search(r"metadata is invalid:\s*\n.*\n?version", lines), "field not named"
    result.stdout.fnmatch_lines(["*TestNoMeta::test_abc_compliance * PASSED*",
                                 "*TestBadMeta::test_entry_point_discovery * PASSED*",
                                 "*TestAbstract::test_plugin_metadata * PASSED*"])


# -- AdapterTestBase -----------------------------------------------------------------------

ADAPTER_TESTS = """
from floe_testing.base import AdapterTestBase


class MemoryAdapter:
    def __init__(self, corrupt=False):
        self.rows = []
        self.corrupt = corrupt

    def write(self, rows):
        self.rows.extend(dict(r) for r in rows)

    def read(self):
        if self.corrupt:
            return [dict(r, value=r["value"] + 1) for r in self.rows]
        return [dict(r) for r in self.rows]


class TestMemoryAdapter(AdapterTestBase):
    source_component = "memsource"
    target_component = "memtarget"
    corrupt = False

    def create_adapter(self):
        return MemoryAdapter(self.corrupt)

    def sample_data(self):
        return [{"id": 1, "value": 10}, {"id": 2, "value": 20}]

    def write_source(self, adapter, data):
        adapter.write(data)

    def read_target(self, adapter):
        return adapter.read()


class TestCorruptingAdapter(TestMemoryAdapter):
    corrupt = True
"""


@pytest.mark.requirement("001-FR-036")
def test_adapter_base_passes_a_faithful_adapter_and_fails_a_corrupting_one(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_adapter=ADAPTER_TESTS)
    result = pytester.runpytest("-v", "-rf")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines([
        "*TestMemoryAdapter::test_adapter_initialization PASSED*",
        "*TestMemoryAdapter::test_data_flow PASSED*",
        "*TestCorruptingAdapter::test_adapter_initialization PASSED*",
        "*TestCorruptingAdapter::test_data_flow FAILED*",
    ], consecutive=False)
    result.stdout.fnmatch_lines(["*data changed between memsource and memtarget*"])
