"""wait_for_condition and wait_for_service: fast success, explained timeouts, fail-fast."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from floe_testing.polling import (
    ConditionFailed,
    NotReady,
    PollingConfig,
    PollingTimeoutError,
    ServiceUnavailableError,
    wait_for_condition,
    wait_for_service,
)
from floe_testing.service_directory import Endpoint
from support.directories import TableCluster, table_directory

pytestmark = pytest.mark.unit

FAST = PollingConfig(timeout=1.0, interval=0.1, description="the widget to spin")


@pytest.mark.requirement("001-FR-030")
def test_true_condition_returns_at_once_after_one_call() -> None:
    calls: list[float] = []

    def condition() -> bool:
        calls.append(time.monotonic())
        return True

    start = time.monotonic()
    assert wait_for_condition(condition, PollingConfig(timeout=30, interval=5)) is True
    assert len(calls) == 1
    assert time.monotonic() - start < 0.5


@pytest.mark.requirement("001-FR-030")
def test_returns_soon_after_condition_turns_true() -> None:
    flag = threading.Event()
    timer = threading.Timer(0.3, flag.set)
    start = time.monotonic()
    timer.start()
    try:
        assert wait_for_condition(flag.is_set, PollingConfig(timeout=10, interval=0.1))
    finally:
        timer.cancel()
    elapsed = time.monotonic() - start
    assert 0.25 <= elapsed < 1.5


@pytest.mark.requirement("001-FR-030")
def test_timeout_error_explains_what_how_long_how_often_and_last_error() -> None:
    attempts = 0

    def condition() -> bool:
        nonlocal attempts
        attempts += 1
        raise ConnectionRefusedError(f"nobody home #{attempts}")

    start = time.monotonic()
    with pytest.raises(PollingTimeoutError) as info:
        wait_for_condition(condition, FAST)
    elapsed = time.monotonic() - start
    err = info.value
    assert isinstance(err, TimeoutError)
    message = str(err)
    assert "the widget to spin" in message
    assert f"{err.elapsed:.1f}s" in message
    assert 0.9 <= err.elapsed <= elapsed + 0.01
    assert f"({attempts} attempts)" in message
    assert err.attempts == attempts >= 5
    assert f"ConnectionRefusedError: nobody home #{attempts}" in message
    assert elapsed < 2.5


@pytest.mark.requirement("001-FR-030")
@pytest.mark.parametrize(("timeout", "interval", "true_at"), [(1.0, 0.6, 0.8), (1.0, 0.3, 0.95)])
def test_the_last_check_is_at_the_deadline_not_an_interval_early(
    timeout: float, interval: float, true_at: float
) -> None:
    """Met within the timeout means no error, even between the last regular check and the
    deadline (timeout 10 s, interval 5 s, true at 7 s passes, checked at 10 s)."""
    start = time.monotonic()
    checks: list[float] = []

    def condition() -> bool:
        checks.append(time.monotonic() - start)
        return checks[-1] >= true_at

    assert wait_for_condition(condition, PollingConfig(timeout=timeout, interval=interval))
    assert timeout - 0.05 <= checks[-1] <= timeout + 0.3, checks
    with pytest.raises(PollingTimeoutError):  # and it still gives up right at the deadline
        wait_for_condition(lambda: False, PollingConfig(timeout=timeout, interval=interval))
    assert time.monotonic() - start < 2 * timeout + 0.6


@pytest.mark.requirement("001-FR-030")
def test_raise_on_timeout_false_returns_false_but_condition_failed_still_raises() -> None:
    start = time.monotonic()
    assert wait_for_condition(lambda: False, FAST, raise_on_timeout=False) is False
    assert 0.9 <= time.monotonic() - start < 2.5
    assert wait_for_condition(lambda: True, FAST, raise_on_timeout=False) is True

    def broken() -> bool:
        raise ConditionFailed("gone for good")

    with pytest.raises(ConditionFailed, match="gone for good"):
        wait_for_condition(broken, FAST, raise_on_timeout=False)


@pytest.mark.requirement("001-FR-030")
def test_false_condition_times_out_without_last_error() -> None:
    with pytest.raises(PollingTimeoutError) as info:
        wait_for_condition(lambda: False, FAST)
    assert info.value.last_error is None
    assert "last error" not in str(info.value)


@pytest.mark.requirement("001-FR-030")
def test_exception_in_condition_means_not_yet() -> None:
    outcomes: Iterator[Exception | bool] = iter([KeyError("k"), OSError("o"), False, True])

    def condition() -> bool:
        value = next(outcomes)
        if isinstance(value, Exception):
            raise value
        return value

    assert wait_for_condition(condition, FAST) is True
    assert next(outcomes, "exhausted") == "exhausted"


@pytest.mark.requirement("001-FR-030")
def test_condition_failed_propagates_immediately() -> None:
    calls = 0

    def condition() -> bool:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise ConditionFailed("job crashed: exit 3")
        return False

    start = time.monotonic()
    with pytest.raises(ConditionFailed, match="job crashed: exit 3"):
        wait_for_condition(condition, PollingConfig(timeout=30, interval=0.1))
    assert time.monotonic() - start < 2
    assert calls == 2


@pytest.mark.requirement("001-FR-030")
def test_not_ready_reason_shows_in_timeout_message() -> None:
    def condition() -> bool:
        raise NotReady("2/3 replicas available")

    with pytest.raises(PollingTimeoutError) as info:
        wait_for_condition(condition, FAST)
    assert "NotReady: 2/3 replicas available" in str(info.value)
    assert isinstance(info.value.last_error, NotReady)


@pytest.fixture
def cluster() -> Iterator[TableCluster]:
    """The run's directory answers from this table for the test."""
    with table_directory() as table:
        yield table


@pytest.mark.requirement("001-FR-031")
def test_wait_for_service_returns_for_a_listening_port(
    tcp_listener: int, cluster: TableCluster
) -> None:
    cluster.endpoints[("unit-svc", 5432, "floe-test")] = Endpoint("127.0.0.1", tcp_listener, "test")
    start = time.monotonic()
    wait_for_service("unit-svc", 5432, config=PollingConfig(timeout=5, interval=0.1))
    assert time.monotonic() - start < 1


@pytest.mark.requirement("001-FR-031")
def test_wait_for_service_waits_for_a_late_listener(
    cluster: TableCluster,
) -> None:
    import socket

    late = socket.socket()
    late.bind(("127.0.0.1", 0))
    port = late.getsockname()[1]
    cluster.endpoints[("late-svc", 80, "floe-test")] = Endpoint("127.0.0.1", port, "test")
    timer = threading.Timer(0.3, late.listen)
    timer.start()
    try:
        start = time.monotonic()
        wait_for_service("late-svc", 80, config=PollingConfig(timeout=10, interval=0.1))
        assert 0.25 <= time.monotonic() - start < 2
    finally:
        timer.cancel()
        late.close()


@pytest.mark.requirement("001-FR-031")
def test_wait_for_service_timeout_names_service_and_address(
    closed_port: int, cluster: TableCluster
) -> None:
    cluster.endpoints[("nobody", 8181, "ns-x")] = Endpoint("127.0.0.1", closed_port, "unit test")
    start = time.monotonic()
    with pytest.raises(PollingTimeoutError) as info:
        wait_for_service("nobody", 8181, "ns-x", PollingConfig(timeout=1, interval=0.1))
    assert time.monotonic() - start < 3
    message = str(info.value)
    assert "nobody:8181" in message
    assert "ns-x" in message
    assert f"127.0.0.1:{closed_port}" in message
    assert "ConnectionRefusedError" in message


@pytest.mark.requirement("001-FR-031")
def test_wait_for_service_keeps_a_custom_description(
    closed_port: int, cluster: TableCluster
) -> None:
    cluster.endpoints[("nobody", 1, "floe-test")] = Endpoint("127.0.0.1", closed_port, "unit test")
    with pytest.raises(PollingTimeoutError) as info:
        wait_for_service("nobody", 1, config=PollingConfig(timeout=1, interval=0.1,
                                                             description="the blob store"))
    assert "the blob store" in str(info.value)
    assert f"127.0.0.1:{closed_port}" in str(info.value)


@pytest.mark.requirement("001-FR-030")
@pytest.mark.parametrize("result", [("row", 1), ["a"], {"k": 1}, 3, "ready"],
                         ids=["tuple", "list", "dict", "int", "str"])
def test_a_truthy_result_counts_as_met(result: object) -> None:
    """The data model's "poll until condition() returns True", read as Python reads a
    condition: a row, a non-empty list, a match is a yes (the wait still returns True)."""
    start = time.monotonic()
    assert wait_for_condition(lambda: result, FAST) is True
    assert time.monotonic() - start < 0.5


@pytest.mark.requirement("001-FR-030")
@pytest.mark.parametrize("result", [None, (), [], 0, ""], ids=["none", "tuple", "list", "zero",
                                                               "str"])
def test_a_falsy_result_means_not_yet(result: object) -> None:
    with pytest.raises(PollingTimeoutError):
        wait_for_condition(lambda: result, FAST)


@pytest.mark.requirement("001-FR-031")
def test_a_service_that_cannot_be_forwarded_fails_at_once_as_a_timeout_error(
    cluster: TableCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No such Service in the cluster: kubectl says so at once, and so does the wait, as the
    ``TimeoutError`` the data model promises (not after the timeout)."""
    from floe_testing.cluster.port_forward import PortForwardError

    kubectl_said = 'error: services "no-such-svc" not found'

    def refuse(service: str, port: int, namespace: str) -> Endpoint:
        raise PortForwardError(f"kubectl port-forward svc/{service} in {namespace} exited with "
                               f"code 1: {kubectl_said}")

    monkeypatch.setattr(cluster, "endpoint", refuse)
    start = time.monotonic()
    with pytest.raises(TimeoutError) as info:
        wait_for_service("no-such-svc", 8080, namespace="floe-test",
                         config=PollingConfig(timeout=30, interval=0.5))
    assert time.monotonic() - start < 1
    assert isinstance(info.value, ServiceUnavailableError)
    assert str(info.value).startswith("service no-such-svc:8080 in floe-test cannot be reached")
    assert kubectl_said in str(info.value)
