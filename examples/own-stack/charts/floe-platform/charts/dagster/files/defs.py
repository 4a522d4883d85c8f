"""The team's Dagster code location (carried by the chart's ConfigMap)."""

from dagster import Definitions, OpExecutionContext, job, op


@op
def orders() -> list:
    return [12, 30, 7]


@op
def revenue(context: OpExecutionContext, orders: list) -> int:
    total = sum(orders)
    context.log.info(f"revenue of {len(orders)} orders: {total}")
    return total


@job
def daily_revenue():
    revenue(orders())


defs = Definitions(jobs=[daily_revenue])
