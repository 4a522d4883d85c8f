"""Requirement IDs: the pattern they must match and how they are read off a test's markers.

The default pattern is the data model's (``RequirementCoverage.requirement_id``):
``^\\d{3}-FR-\\d{3}[a-z]?$``, e.g. ``001-FR-040`` or ``001-FR-040a``. Projects whose IDs look
different set the ``requirement_id_pattern`` ini option; everything (marker validation and
spec parsing) then uses that pattern, so the two can never disagree.

This module is imported on every pytest run, so it only needs :mod:`re`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, NamedTuple

DEFAULT_ID_PATTERN = r"^\d{3}-FR-\d{3}[a-z]?$"
"""The data model's requirement ID pattern (section 11, ``RequirementCoverage``)."""

MARKER_NAME = "requirement"


class InvalidPatternError(ValueError):
    """The configured ID pattern is not a valid regular expression."""


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Compile the configured ID pattern, turning a regex error into a message naming it.

    The pattern is applied with :meth:`re.Pattern.fullmatch`, so anchors are optional; they are
    accepted because the data model writes the pattern anchored.
    """
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise InvalidPatternError(
            f"ini option requirement_id_pattern = {pattern!r} is not a valid regular "
            f"expression: {exc}"
        ) from exc


def is_valid_id(value: str, pattern: re.Pattern[str]) -> bool:
    """Whether ``value`` is a whole requirement ID (not merely contains one)."""
    return pattern.fullmatch(value) is not None


class MarkerProblem(NamedTuple):  # checked on every run: cheaper to define than a dataclass
    """One thing wrong with a test's ``requirement`` markers, phrased for the user."""

    message: str


def _flatten_args(args: Iterable[Any]) -> list[Any]:
    """Accept ``requirement("a", "b")`` and also ``requirement(["a", "b"])`` (one level)."""
    flat: list[Any] = []
    for arg in args:
        if isinstance(arg, (list, tuple)):
            flat.extend(arg)
        else:
            flat.append(arg)
    return flat


def check_marker_args(
    args: Iterable[Any],
    kwargs: dict[str, Any],
    pattern: re.Pattern[str],
) -> tuple[list[str], list[MarkerProblem]]:
    """Validate the arguments of one ``requirement`` marker.

    Returns the valid IDs and a list of problems; a marker with no IDs, a non-string ID, a
    keyword argument or an ID not matching ``pattern`` is a problem, because a typo in an ID
    would otherwise silently leave a requirement uncovered.
    """
    ids: list[str] = []
    problems: list[MarkerProblem] = []
    flat = _flatten_args(args)
    if kwargs:
        names = ", ".join(sorted(kwargs))
        problems.append(
            MarkerProblem(f"unexpected keyword argument(s) {names}; pass IDs positionally")
        )
    if not flat and not kwargs:
        problems.append(MarkerProblem("no requirement ID given"))
    for arg in flat:
        if not isinstance(arg, str):
            problems.append(
                MarkerProblem(
                    f"requirement ID {arg!r} is of type {type(arg).__name__}, not a string"
                )
            )
        elif not is_valid_id(arg, pattern):
            problems.append(
                MarkerProblem(
                    f"invalid requirement ID {arg!r} (expected to match {pattern.pattern};"
                    " see ini option requirement_id_pattern)"
                )
            )
        elif arg not in ids:
            ids.append(arg)
    return ids, problems


def id_prefix(requirement_id: str) -> str | None:
    """The spec part of an ID: everything before the first ``-`` (``001`` of ``001-FR-040``)."""
    head, sep, _ = requirement_id.partition("-")
    return head if sep and head else None
