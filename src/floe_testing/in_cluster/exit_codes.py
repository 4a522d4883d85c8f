"""The exit code of an in-cluster run: the worst of its shards' (and of the outer session's)."""

from __future__ import annotations

import pytest

#: exit codes from best to worst: a shard that crashed or was misused beats failed tests
_SEVERITY: list[int] = [pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED,
                        pytest.ExitCode.TESTS_FAILED, pytest.ExitCode.INTERRUPTED,
                        pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.INTERNAL_ERROR]


def worst(codes: list[int]) -> int:
    """The worst of pytest exit codes; a code pytest does not give (137: the pod was killed)
    counts as an internal error."""
    known = [code if code in _SEVERITY else pytest.ExitCode.INTERNAL_ERROR for code in codes]
    return max(known, key=_SEVERITY.index, default=pytest.ExitCode.OK)
