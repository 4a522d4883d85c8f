"""The traceability report: pydantic models and the arithmetic that fills them.

``RequirementCoverage`` and ``TraceabilityReport`` keep the data model's names and fields
(section 11); the report *adds* fields so a CI step can tell "claimed by a test" from "claimed
by a test that passed":

* ``unknown``: IDs tests claim that no spec file defines (typos, stale IDs);
* ``outcomes``: per requirement, how many of its tests passed / failed / were skipped / did not
  run (empty under ``--collect-only``, when ``tests_ran`` is false);
* ``green``: requirements with at least one passed test and no failed one; ``failing``:
  requirements with at least one failed test. A requirement whose tests were all skipped is
  covered but in neither list.

Arithmetic: with a spec, ``total_requirements`` is the number of IDs the spec defines and
``covered_requirements`` those of them claimed by at least one collected (selected) test;
without a spec the total is the set of claimed IDs (so coverage is 100 % as soon as anything
is claimed). A total of 0 gives 0 % rather than a vacuous 100 %, so a threshold never passes
on nothing.

``spec_id`` is, in order of preference: the ``traceability_spec_id`` ini option; the common
prefix of the requirement IDs (the part before the first ``-``: ``001`` for ``001-FR-040``;
several prefixes are joined with ``+``, e.g. ``001+002``); the spec files' stems joined with
``+``; else ``"unspecified"``. The ID prefix wins over file names because it is what the IDs
themselves say and it does not change when a spec file is renamed.

This module imports pydantic, so the plugin imports it only when a report is actually built.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from floe_testing.traceability.ids import DEFAULT_ID_PATTERN, id_prefix
from floe_testing.traceability.sleep_check import finding_sort_key

Outcome = Literal["passed", "failed", "skipped"]

REPORT_SCHEMA_VERSION = 1


class RequirementCoverage(BaseModel):
    """Requirement coverage tracking (data model section 11): one requirement and its tests."""

    requirement_id: str = Field(..., pattern=DEFAULT_ID_PATTERN)
    test_ids: list[str] = Field(default_factory=list)


class RequirementOutcome(BaseModel):
    """How a requirement's tests ended, so "covered" can be told apart from "covered and green".

    Each test counts once, by its worst phase: an error in setup or teardown counts as
    ``failed``, an xfail as ``skipped``, a non-strict xpass as ``passed``. ``not_run`` counts
    tests that were selected but produced no result (``-x``/``--maxfail`` stopped the run, or a
    worker crashed).
    """

    model_config = ConfigDict(extra="forbid")

    passed: int = 0
    failed: int = 0
    skipped: int = 0
    not_run: int = 0


class TraceabilityReport(BaseModel):
    """Full traceability report (data model section 11, plus the fields documented above)."""

    spec_id: str
    total_requirements: int
    covered_requirements: int
    coverage_percentage: float
    uncovered: list[str]
    coverage_map: dict[str, list[str]]  # requirement_id -> [test_ids]

    schema_version: int = REPORT_SCHEMA_VERSION
    id_pattern: str = DEFAULT_ID_PATTERN
    spec_files: list[str] = Field(default_factory=list)
    unknown: list[str] = Field(default_factory=list)
    tests_ran: bool = False
    outcomes: dict[str, RequirementOutcome] = Field(default_factory=dict)
    green: list[str] = Field(default_factory=list)
    failing: list[str] = Field(default_factory=list)
    green_percentage: float = 0.0
    threshold: float | None = None
    threshold_met: bool | None = None
    unmarked_tests: list[str] = Field(default_factory=list)
    sleep_violations: list[str] = Field(default_factory=list)

    def write(self, path: Path) -> None:
        """Write the report as indented JSON, creating parent directories."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> TraceabilityReport:
        """Load and validate a report written by :meth:`write`."""
        return cls.model_validate(json.loads(path.read_text(encoding="utf-8")))


def percentage(part: int, whole: int) -> float:
    """``part / whole`` in percent, rounded to 2 places; 0 when there is nothing to cover."""
    if whole <= 0:
        return 0.0
    return round(100.0 * part / whole, 2)


def derive_spec_id(
    requirement_ids: Iterable[str], spec_files: Iterable[Path], override: str | None = None
) -> str:
    """Name the spec the report is about (see the module docstring for the order of choice)."""
    if override:
        return override
    prefixes = sorted({p for p in (id_prefix(r) for r in requirement_ids) if p})
    if prefixes:
        return "+".join(prefixes)
    stems = sorted({f.stem for f in spec_files})
    if stems:
        return "+".join(stems)
    return "unspecified"


def build_report(
    *,
    claims: Mapping[str, Iterable[str]],
    spec_ids: Iterable[str] | None,
    spec_files: Iterable[Path] = (),
    spec_files_display: Iterable[str] = (),
    outcomes: Mapping[str, Outcome] | None = None,
    id_pattern: str = DEFAULT_ID_PATTERN,
    spec_id_override: str | None = None,
    threshold: float | None = None,
    unmarked_tests: Iterable[str] = (),
    sleep_violations: Iterable[str] = (),
) -> TraceabilityReport:
    """Compute the report from what was collected (and, if tests ran, how they ended).

    ``claims`` maps test node IDs to the requirement IDs their markers name; ``spec_ids`` is
    ``None`` when no spec was given. ``outcomes`` maps node IDs to their result and is ``None``
    when tests did not run (``--collect-only``). Everything is sorted so that the same tests
    give byte-identical reports whether collected serially or by xdist workers.
    """
    coverage: dict[str, set[str]] = {}
    for node_id, req_ids in claims.items():
        for req_id in req_ids:
            coverage.setdefault(req_id, set()).add(node_id)
    claimed = set(coverage)
    spec_set = set(spec_ids) if spec_ids is not None else None
    universe = spec_set if spec_set is not None else claimed
    covered = sorted(universe & claimed)
    uncovered = sorted(universe - claimed)
    unknown = sorted(claimed - spec_set) if spec_set is not None else []
    coverage_map = {req: sorted(coverage.get(req, set())) for req in sorted(universe | claimed)}

    outcome_map: dict[str, RequirementOutcome] = {}
    green: list[str] = []
    failing: list[str] = []
    if outcomes is not None:
        for req, tests in coverage_map.items():
            if not tests:
                continue
            counts = RequirementOutcome()
            for test in tests:
                result = outcomes.get(test)
                if result is None:
                    counts.not_run += 1
                elif result == "passed":
                    counts.passed += 1
                elif result == "failed":
                    counts.failed += 1
                else:
                    counts.skipped += 1
            outcome_map[req] = counts
            if counts.failed:
                failing.append(req)
            elif counts.passed:
                green.append(req)

    total = len(universe)
    coverage_percentage = percentage(len(covered), total)
    green_in_universe = [r for r in green if r in universe]
    return TraceabilityReport(
        spec_id=derive_spec_id(universe, spec_files, spec_id_override),
        total_requirements=total,
        covered_requirements=len(covered),
        coverage_percentage=coverage_percentage,
        uncovered=uncovered,
        coverage_map=coverage_map,
        id_pattern=id_pattern,
        spec_files=list(spec_files_display),
        unknown=unknown,
        tests_ran=outcomes is not None,
        outcomes=outcome_map,
        green=green,
        failing=failing,
        green_percentage=percentage(len(green_in_universe), total),
        threshold=threshold,
        threshold_met=None if threshold is None else coverage_percentage >= threshold,
        unmarked_tests=sorted(set(unmarked_tests)),
        sleep_violations=sorted(set(sleep_violations), key=finding_sort_key),
    )
