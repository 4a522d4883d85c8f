"""Requirement traceability: the ``requirement`` marker, coverage report and CI gates.

``floe_testing.plugin`` calls :func:`add_options` from ``pytest_addoption`` and
:func:`configure` from ``pytest_configure``; everything else lives in small modules:

* :mod:`.ids` - the ID pattern and marker argument checks;
* :mod:`.spec` - reading requirement IDs from spec Markdown;
* :mod:`.report` - the pydantic report models and coverage arithmetic;
* :mod:`.sleep_check` - the ``ast`` check behind ``--forbid-sleep``;
* :mod:`.scopes` - paths / marker expressions for ``--require-requirement-markers-for``;
* :mod:`.options` - command-line and ini options;
* :mod:`.hooks` - the plugin object (collection, xdist hand-over, report, gates, summary);
* :mod:`.cli` - ``python -m floe_testing.traceability``.

Only light modules are imported here, so having the plugin installed costs a unit-only run
almost nothing; pydantic and :mod:`ast` are imported when a report or the sleep check is needed.
"""

from __future__ import annotations

import pytest

from floe_testing.traceability.hooks import PLUGIN_NAME, TraceabilityPlugin
from floe_testing.traceability.ids import DEFAULT_ID_PATTERN, MARKER_NAME
from floe_testing.traceability.options import add_options as _add_options

__all__ = [
    "DEFAULT_ID_PATTERN",
    "MARKER_NAME",
    "PLUGIN_NAME",
    "TraceabilityPlugin",
    "add_options",
    "configure",
]


def add_options(parser: pytest.Parser) -> None:
    """Register the traceability command-line and ini options (see :mod:`.options`)."""
    _add_options(parser)


def configure(config: pytest.Config) -> None:
    """Register the marker and the traceability plugin object for this run.

    The marker is registered unconditionally so ``--strict-markers`` accepts it; the plugin
    object validates every ``requirement`` marker at collection even when no report is asked
    for, because a mistyped ID is a bug whether or not this run measures coverage.
    """
    config.addinivalue_line(
        "markers",
        f"{MARKER_NAME}(*ids): the requirement IDs (e.g. 001-FR-020) this test proves; "
        "validated at collection against ini requirement_id_pattern",
    )
    from floe_testing.location import running_as_shard

    if running_as_shard():  # the outer run collected, checked the markers, and reports
        return
    if not config.pluginmanager.has_plugin(PLUGIN_NAME):
        config.pluginmanager.register(TraceabilityPlugin(config), PLUGIN_NAME)
