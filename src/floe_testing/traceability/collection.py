"""What collection found, for the traceability report: each selected test's requirement IDs,
the tests lacking a marker (where one is required), forbidden ``time.sleep`` uses; and the
check that turns a collector with malformed requirement markers into a collection error.
:class:`CollectedData` is JSON so xdist workers can ship it to the controller."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from floe_testing.traceability.ids import MarkerProblem

if TYPE_CHECKING:
    from collections.abc import Callable

    from floe_testing.traceability.scopes import Scope

INVALID_MARKERS = "invalid @pytest.mark.requirement (floe-testing traceability):"


class CollectedData:
    """What collection found; JSON-serialisable so xdist workers can ship it to the controller."""

    def __init__(self) -> None:
        self.claims: dict[str, list[str]] = {}
        self.unmarked: set[str] = set()
        self.sleep_violations: set[str] = set()
        self.collected: set[str] = set()

    def to_json(self) -> str:
        """Serialise (sorted, so the payload is deterministic)."""
        return json.dumps(
            {
                "claims": {k: self.claims[k] for k in sorted(self.claims)},
                "unmarked": sorted(self.unmarked),
                "sleep_violations": sorted(self.sleep_violations),
                "collected": sorted(self.collected),
            }
        )

    def merge_json(self, payload: str) -> None:
        """Union a worker's payload into this one."""
        data: dict[str, Any] = json.loads(payload)
        for node_id, ids in data.get("claims", {}).items():
            merged = self.claims.setdefault(str(node_id), [])
            merged.extend(str(i) for i in ids if i not in merged)
        self.unmarked.update(str(n) for n in data.get("unmarked", []))
        self.sleep_violations.update(str(s) for s in data.get("sleep_violations", []))
        self.collected.update(str(n) for n in data.get("collected", []))


def in_scope(item: pytest.Item, scopes: list[Scope]) -> bool:
    """:func:`.scopes.in_scope`, imported only by runs that require markers."""
    from floe_testing.traceability.scopes import in_scope as scope_holds

    return scope_holds(item, scopes)


def display_name(item: pytest.Item) -> str:
    """The test's node ID without parametrisation, so one bad marker is reported once."""
    original = getattr(item, "originalname", None)
    if isinstance(original, str) and original != item.name and item.parent is not None:
        return f"{item.parent.nodeid}::{original}"
    return item.nodeid


def relative(path: Path, root: Path) -> str:
    """``path`` relative to the rootdir when inside it (stable across machines), else absolute."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def invalid_marker_report(report: pytest.CollectReport,
                          requirements_of: Callable[[pytest.Item],
                                                    tuple[list[str], list[MarkerProblem]]],
                          flagged: set[str]) -> None:
    """Turn a collector whose items have malformed requirement markers into an error, in
    place (one screen listing every offending test of the module; it travels through xdist
    like any other collection error). The offending items' ids go into ``flagged``."""
    if not (report.passed and report.result):
        return
    lines: list[str] = []
    for node in report.result:
        if not isinstance(node, pytest.Item):
            continue
        _, problems = requirements_of(node)
        for problem in problems:
            line = f"  {display_name(node)}: {problem.message}"
            if line not in lines:
                lines.append(line)
        if problems:
            flagged.add(node.nodeid)
    if lines:
        report.outcome = "failed"
        report.longrepr = "\n".join([INVALID_MARKERS, *lines])
        report.result = []


def scan_for_sleep(items: list[pytest.Item], root: Path) -> set[str]:
    """Scan the collected ``.py`` files and the ``conftest.py`` files above them."""
    from floe_testing.traceability.sleep_check import find_sleep_calls

    files: set[Path] = set()
    for item in items:
        path = Path(item.path)
        if path.suffix != ".py":
            continue
        files.add(path)
        directory = path.parent
        while True:
            conftest = directory / "conftest.py"
            if conftest.is_file():
                files.add(conftest)
            if directory == root or root not in directory.parents:
                break
            directory = directory.parent
    found: set[str] = set()
    for file in sorted(files):
        for finding in find_sleep_calls(file, relative(file, root)):
            found.add(finding.format())
    return found

