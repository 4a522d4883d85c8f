"""Checks that run after every other function-scoped fixture of a test has been torn down."""

from __future__ import annotations

from collections.abc import Callable


class AfterTeardown:
    """Collects checks; :meth:`run` calls them all and reports every failure together.

    The integration conftest yields one per test from an autouse fixture, which pytest sets up
    before the test's other function-scoped fixtures and so tears down after them: a check
    registered here sees the state the fixtures' cleanup left behind.
    """

    def __init__(self) -> None:
        self._checks: list[tuple[str, Callable[[], object]]] = []
        self.ran = False

    def check(self, description: str, func: Callable[[], object]) -> None:
        """After teardown, ``func()`` must not raise and must not return False."""
        self._checks.append((description, func))

    def run(self) -> None:
        self.ran = True
        failures: list[str] = []
        for description, func in self._checks:
            try:
                result = func()
            except Exception as exc:
                failures.append(f"{description}: {type(exc).__name__}: {exc}")
                continue
            if result is False:
                failures.append(f"{description}: did not hold")
        if failures:
            raise AssertionError(
                "after fixture teardown:\n" + "\n".join(f"  - {f}" for f in failures)
            )
