"""001-FR-024: ``dagster_client`` plus ``run_dagster_job`` against a real webserver."""

from __future__ import annotations

import re

import pytest
from dagster_graphql import DagsterGraphQLClient

from floe_testing.polling import NotReady, PollingConfig, PollingTimeoutError, wait_for_condition
from floe_testing.services.dagster.config import DagsterConfig
from floe_testing.services.dagster.helper import TERMINAL_STATUSES, run_dagster_job
from support.dagster_server import LocalDagster

pytestmark = [pytest.mark.integration, pytest.mark.requirement("001-FR-024")]


def test_client_talks_to_the_webserver_from_env(
    dagster_client: DagsterGraphQLClient, dagster_config: DagsterConfig,
    local_dagster: LocalDagster,
) -> None:
    assert (dagster_config.host, dagster_config.port) == (local_dagster.host, local_dagster.port)
    assert isinstance(dagster_client, DagsterGraphQLClient)


def test_successful_job_returns_success(dagster_client: DagsterGraphQLClient) -> None:
    assert run_dagster_job(dagster_client, "ok_job") == "SUCCESS"


def test_failing_job_returns_failure_when_asked(dagster_client: DagsterGraphQLClient) -> None:
    status = run_dagster_job(
        dagster_client, "fail_job",
        run_config={"ops": {"fail_on_purpose": {"config": {"message": "boom from the test"}}}},
        raise_on_failure=False,
    )
    assert status == "FAILURE"


def test_failing_job_fails_the_test_with_run_id_status_and_step_error(
    dagster_client: DagsterGraphQLClient,
) -> None:
    with pytest.raises(pytest.fail.Exception) as failure:
        run_dagster_job(
            dagster_client, "fail_job",
            run_config={"ops": {"fail_on_purpose": {"config": {"message": "boom, step 1"}}}})
    message = str(failure.value)
    found = re.match(r"Dagster run (\S+) of job 'fail_job' ended FAILURE\n", message)
    assert found is not None, message
    assert dagster_client.get_run_status(found.group(1)).value == "FAILURE"
    assert "step fail_on_purpose: " in message, message
    assert "boom, step 1" in message, message
    assert "raise_on_failure=False" in message
    assert len(message.splitlines()) <= 25


def test_run_that_does_not_finish_times_out_naming_the_job(
    dagster_client: DagsterGraphQLClient,
) -> None:
    with pytest.raises(PollingTimeoutError) as timeout:
        run_dagster_job(
            dagster_client, "slow_job", polling=PollingConfig(timeout=1.0, interval=0.2)
        )
    message = str(timeout.value)
    assert "'slow_job'" in message
    assert "Timed out after" in message
    found = re.search(r"Dagster run (\S+) of job", timeout.value.description)
    assert found is not None, timeout.value.description
    run_id = found.group(1)
    assert run_id in message
    assert dagster_client.get_run_status(run_id).value not in TERMINAL_STATUSES

    # Do not leave the run blocking until the webserver is stopped: terminate and await it.
    dagster_client.terminate_run(run_id)

    def terminated() -> bool:
        status = dagster_client.get_run_status(run_id).value
        if status not in TERMINAL_STATUSES:
            raise NotReady(f"run {run_id} is {status}")
        return True

    wait_for_condition(
        terminated, PollingConfig(timeout=60, interval=0.5, description=f"end of run {run_id}")
    )
    assert dagster_client.get_run_status(run_id).value == "CANCELED"


def test_unknown_job_is_an_error(dagster_client: DagsterGraphQLClient) -> None:
    from dagster_graphql import DagsterGraphQLClientError

    with pytest.raises(DagsterGraphQLClientError, match="JobNotFoundError"):
        run_dagster_job(dagster_client, "no_such_job")
