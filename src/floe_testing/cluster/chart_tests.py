"""A chart's test hooks (``helm.sh/hook: test``) as pytest items: one per test Pod or Job,
collected from the chart's ``Chart.yaml`` when pytest collects its directory, selected
(``-k``, node ids) and reported like any test. Running one brings the chart's release up (as
any need would), then runs the test phase as ``helm test`` does (``hooks``), with that one Pod
or Job: the chart's other test hooks (the ConfigMaps, ServiceAccounts, Roles a test pod
reads) are created with it, in Helm's order, each after its predecessor is deleted
(``before-hook-creation``, the default), the Pod or Job awaited until it succeeds, and the
``hook-succeeded`` ones deleted after; a failure shows the pod's diagnosis (state, events, its
log lines). So any one test is selected alone and still finds what it reads. Not collected
with ``--floe-in-cluster`` nor in its pods: they create pods, which the shard pods' read-only
account may not do.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from floe_testing.errors import FloeTestingError

if TYPE_CHECKING:
    from floe_testing.cluster.manifests import ManifestDoc

#: the test hooks that run (and so are tests); the others are what they read
_RUNS = ("Pod", "Job")


def collect_chart_tests(file_path: Path, parent: pytest.Collector) -> ChartTests | None:
    """A collector for a ``Chart.yaml`` of a top-level chart among the run's manifests (the
    plugin asks only when the tests run here, not with ``--floe-in-cluster``)."""
    from floe_testing.cluster.run import SETTINGS
    from floe_testing.location import running_as_shard

    settings = parent.config.stash.get(SETTINGS, None)
    if settings is None or running_as_shard():
        return None
    chart = file_path.parent.resolve()
    for named in (settings.manifests_dir, *settings.extra_manifests):
        root = named.resolve()
        if chart == root or root in chart.parents:
            between = [chart, *(p for p in chart.parents if root in p.parents or p == root)]
            if not any((p / "Chart.yaml").is_file() for p in between[1:]):  # not a subchart
                return ChartTests.from_parent(parent, path=file_path)
    return None


class ChartTests(pytest.File):
    """The test hooks of one chart, rendered with the run's values (the run's stack: a render
    error is this collector's error, on one screen)."""

    def collect(self) -> Iterator[pytest.Item]:
        from floe_testing.cluster.hooks import hooks_of
        from floe_testing.cluster.run import cluster_session

        try:
            components = cluster_session(self.config).stack.components()
        except FloeTestingError as exc:
            raise self.CollectError(str(exc)) from None
        chart = self.path.parent.resolve()
        for component in components.values():
            if component.is_chart and component.origin is not None \
                    and component.origin.path.resolve() == chart:
                phase = hooks_of(component.hooks, "test")
                runs = [doc for doc in phase if doc.kind in _RUNS]
                names = Counter(doc.name for doc in runs)
                for doc in runs:
                    # a Pod and a Job of one name: the kind tells their items apart
                    name = doc.name if names[doc.name] == 1 else f"{doc.kind}-{doc.name}"
                    yield ChartTestItem.from_parent(
                        self, name=name, component=component.name, hook=doc,
                        phase=[d for d in phase if d is doc or d.kind not in _RUNS])


class ChartTestItem(pytest.Item):
    """One test Pod or Job of a chart's release, run with the chart's other test hooks."""

    def __init__(self, *, component: str, hook: ManifestDoc, phase: list[ManifestDoc],
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.component = component
        self.hook = hook
        #: the test hooks created when it runs, in Helm's order: ``hook`` and every test hook
        #: that is neither a Pod nor a Job
        self.phase = phase

    def runtest(self) -> None:
        from floe_testing.cluster.hooks import HookError, run_phase
        from floe_testing.cluster.run import cluster_session

        session = cluster_session(self.config)
        try:
            api = session.provision_component(self.component)
            run_phase(api, self.component, "test", self.phase,
                      overrides=session.settings.image_overrides,
                      timeout=session.settings.ready_timeout, progress=session.progress,
                      on_created=session.stack.created.append)
        except (HookError, FloeTestingError) as exc:
            raise ChartTestFailed(str(exc)) from None

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> Any:
        if isinstance(excinfo.value, ChartTestFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"test hook {self.hook.kind}/{self.hook.name} of chart " \
                                f"{self.component!r} ({self.hook.path})"


class ChartTestFailed(Exception):
    """A test hook failed; the message is the pod's diagnosis."""
