"""One line per provisioning step with its duration, printed past pytest's output capture."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

log = logging.getLogger("floe_testing")


class Progress:
    """Writes ``floe-testing: <step> (1.23s)`` lines to the terminal and the log."""

    def __init__(self, config: pytest.Config | None) -> None:
        self._config = config

    def line(self, text: str) -> None:
        """Print one line now, even while pytest captures output."""
        message = f"floe-testing: {text}"
        log.info(message)
        if self._config is None:
            return
        reporter = self._config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None:
            return
        capman = self._config.pluginmanager.get_plugin("capturemanager")
        if capman is not None:
            with capman.global_and_fixture_disabled():
                reporter.ensure_newline()
                reporter.write_line(message)
        else:
            reporter.ensure_newline()
            reporter.write_line(message)

    @contextmanager
    def step(self, text: str) -> Iterator[None]:
        """Time a step; the line is printed when it ends (``failed`` if it raised)."""
        start = time.monotonic()
        try:
            yield
        except BaseException:
            self.line(f"{text} failed after {time.monotonic() - start:.2f}s")
            raise
        self.line(f"{text} ({time.monotonic() - start:.2f}s)")
