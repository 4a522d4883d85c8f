"""Jaeger, a service this team runs and the packaged stack does not: declared once per port
its tests use (traces go in over OTLP/HTTP, come out of the query API). Its chart is the
umbrella chart's subchart; floe-testing forwards each port and checks it answers."""

from __future__ import annotations

from floe_testing import declare_service

jaeger_otlp_config, jaeger_otlp_endpoint = declare_service(
    name="jaeger_otlp", service="jaeger", port=4318, path="/v1/traces")
jaeger_query_config, jaeger_query_endpoint = declare_service(
    name="jaeger_query", service="jaeger", port=16686, path="/api")
