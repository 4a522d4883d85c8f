"""A team's tests against its own stack: the umbrella chart charts/floe-platform, installed by
floe-testing as one Helm release (values-test.yaml), with its hooks (the buckets, the catalog
bootstrap) and its helm test (collected from Chart.yaml as a test of this run). The fixtures
work unchanged: the chart's Services and Secrets have the names they read. Jaeger is a service
the packaged stack does not have, declared in conftest.py (one statement per port used).
"""

from __future__ import annotations

import json
import secrets
import time
import urllib.request
from typing import TYPE_CHECKING

import pyarrow as pa

from floe_testing import run_dagster_job
from floe_testing.polling import NotReady, PollingConfig, wait_for_condition

if TYPE_CHECKING:
    from dagster_graphql import DagsterGraphQLClient
    from minio import Minio
    from psycopg2.extensions import connection
    from pyiceberg.catalog.rest import RestCatalog

    from floe_testing import EndpointConfig


def test_buckets_come_from_the_post_install_hook(minio_client: Minio) -> None:
    names = {bucket.name for bucket in minio_client.list_buckets()}
    assert {"floe-warehouse", "floe-iceberg", "floe-artifacts"} <= names


def test_catalog_bootstrapped_by_its_hook_keeps_tables_on_minio(
        polaris_catalog: RestCatalog, polaris_namespace: str) -> None:
    events = pa.table({"id": [1, 2, 3], "kind": ["created", "paid", "shipped"]})
    table = polaris_catalog.create_table((polaris_namespace, "events"), schema=events.schema)
    assert table.metadata_location.startswith("s3://floe-iceberg/test_warehouse/")
    table.append(events)
    assert polaris_catalog.load_table((polaris_namespace, "events")).scan().to_arrow() \
        .num_rows == 3


def test_the_charts_dagster_job_runs(dagster_client: DagsterGraphQLClient) -> None:
    assert run_dagster_job(dagster_client, "daily_revenue") == "SUCCESS"


def test_postgres_of_the_chart(postgres_connection: connection) -> None:
    with postgres_connection.cursor() as cur:
        cur.execute("select current_setting('server_version_num')::int >= 150000")
        assert cur.fetchone() == (True,)


def test_a_trace_sent_to_jaeger_can_be_found(jaeger_otlp_endpoint: EndpointConfig,
                                              jaeger_query_endpoint: EndpointConfig) -> None:
    trace_id = secrets.token_hex(16)
    now = time.time_ns()
    span = {"traceId": trace_id, "spanId": secrets.token_hex(8), "name": "load_orders",
            "kind": 1, "startTimeUnixNano": str(now), "endTimeUnixNano": str(now + 10**6)}
    payload = {"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name",
                                     "value": {"stringValue": "orders-pipeline"}}]},
        "scopeSpans": [{"spans": [span]}]}]}
    request = urllib.request.Request(  # noqa: S310 - the declared http endpoint
        jaeger_otlp_endpoint.url, data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310 - http, above
        assert reply.status == 200

    def stored() -> bool:
        url = f"{jaeger_query_endpoint.url}/traces/{trace_id}"
        try:
            with urllib.request.urlopen(url, timeout=10) as found:  # noqa: S310 - http
                spans = json.load(found)["data"][0]["spans"]
        except OSError as exc:  # 404 until the collector has written it
            raise NotReady(str(exc)) from None
        return [s["operationName"] for s in spans] == ["load_orders"]

    assert wait_for_condition(stored, PollingConfig(timeout=30, interval=0.5,
                                                    description=f"trace {trace_id} in Jaeger"))
