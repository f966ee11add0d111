"""Run the rules over the store: shared views first, then each rule's query.

Every rule sees the same prepared facts, computed once per analysis:

* ``rule_resources``: ``resources`` plus ``monthly_cost`` (the resource's own billed
  EffectiveCost over the 30 days before ``$as_of``; for running compute with no billing
  rows, the list price × 730 hours, with ``cost_basis = 'list price'``) and ``currency``;
* ``rule_daily``: one row per resource and UTC day with the day's utilisation: CPU average
  and maximum, network bytes, GPU and GPU-memory utilisation, invocations, disk ops,
  requests (daily samples where the connector fetched them, else the hourly ones
  aggregated);
* ``rule_prices``: one on-demand price per provider, region and instance type, with the
  type's vCPUs, memory, GPUs and family; ``rule_spot_prices``: the spot price observed for
  a type in a region (the highest of its zones' latest), with its date;
  ``rule_unit_prices``: the list price per unit (GB-month, hour …) of everything else a
  cloud bills, by ``product`` (``volume:gp3``, ``snapshot``, ``ip_address``,
  ``nat_gateway``, ``load_balancer:application``, ``file_system:efs`` …);
* ``rule_resources.list_monthly_cost``: what a resource with no billing lines would cost
  a month at those unit prices (size × GB-month price, or 730 × hourly price), so a
  finding's saving can be estimated where its cost is unknown (``monthly_cost`` stays
  null: a list price is not a bill);
* ``rule_measured_accounts``: the accounts with utilisation samples, and their first and
  last day (a resource of such an account with no samples published none);
* ``rule_flagged``: the resources the rules run so far in this analysis found (rules run in
  registry order, so the commitment rules see what the waste rules flagged);
* the macros ``provider_key(ProviderName)`` (``aws``, ``azure``, ``gcp``),
  ``detail_time(details, key)`` (a timestamp kept in ``details``, as naive UTC),
  ``price_product(resource_type, details)``,
  ``idle_judged(days_observed, min_days, created_at, provider, account_id, as_of,
  lookback_days)`` (whether a resource with no or little activity may be judged idle:
  enough days of data, or older than the window in an account measured over it),
  ``cost_from(monthly_cost, list_monthly_cost)`` (``billing``, ``list price`` or null)
  and ``idle_confidence(monthly_cost, list_monthly_cost, days_observed)``.

All of it runs through :class:`mlcost.engine.Engine`, so on DuckDB or on Spark alike.

``$as_of`` is the end of the data: the last billed hour for usage, or the last inventory
observation when there is no billing. Look-back windows end there, so an analysis of
last month's data finds what was true then, and a re-run on the same data finds the same.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa

from mlcost.engine import Engine
from mlcost.rules.base import REQUIRED_COLUMNS, ParamValue, Rule
from mlcost.schema import INSTANCE_FAMILY_SQL, PROVIDER_KEY_SQL

#: Hours in a month, as the clouds' pricing calculators count them.
HOURS_PER_MONTH = 730
#: Days of utilisation prepared for the rules (the longest look-back a rule may use).
MAX_LOOKBACK_DAYS = 120

_AS_OF = """
SELECT coalesce(
    (SELECT max(ChargePeriodEnd) FROM cost WHERE ChargeCategory = 'Usage'),
    (SELECT date_trunc('hour', max(observed_at)) + INTERVAL 1 HOUR FROM resources)
)
"""

#: The scalar macros every rule may call: name, arguments, body.
MACROS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    # FOCUS ProviderName -> the short provider key of resources, prices and findings
    ("provider_key", ("name",), PROVIDER_KEY_SQL.format(n="name")),
    # a timestamp a connector kept in ``details`` (ISO 8601, any offset) as naive UTC
    (
        "detail_time",
        ("details", "key"),
        "timezone('UTC', TRY_CAST(json_extract_string(details, '$.' || key) AS TIMESTAMPTZ))",
    ),
    # where a finding's cost comes from, and how sure an idle finding is of its saving
    (
        "cost_from",
        ("monthly_cost", "list_monthly_cost"),
        """
    CASE WHEN monthly_cost IS NOT NULL THEN 'billing'
         WHEN list_monthly_cost IS NOT NULL THEN 'list price' END
""",
    ),
    (
        "idle_confidence",
        ("monthly_cost", "list_monthly_cost", "days_observed"),
        """
    CASE WHEN monthly_cost IS NULL AND list_monthly_cost IS NULL THEN 'low'
         WHEN monthly_cost IS NOT NULL AND days_observed > 0 THEN 'high'
         ELSE 'medium' END
""",
    ),
    # what a resource is priced as in ``prices.product``: ``volume:gp3``, ``snapshot`` …
    (
        "price_product",
        ("resource_type", "details"),
        """
    CASE resource_type
        WHEN 'volume' THEN 'volume:' || lower(coalesce(
            json_extract_string(details, '$.volume_type'),
            json_extract_string(details, '$.sku'),
            json_extract_string(details, '$.disk_type')))
        WHEN 'load_balancer' THEN 'load_balancer:'
            || lower(coalesce(json_extract_string(details, '$.lb_type'), 'application'))
        WHEN 'file_system' THEN 'file_system:'
            || lower(json_extract_string(details, '$.file_system_type'))
        ELSE resource_type
    END
""",
    ),
)

#: What the rules run so far found: later rules (commitment purchase) skip those resources.
_FLAGGED_SCHEMA = pa.schema([("rule", pa.string()), ("rid", pa.string())])

#: The shared tables every rule reads, in the order they are built: name, query.
PREPARED: tuple[tuple[str, str], ...] = (
    (
        "rule_resource_cost",
        """
SELECT lower(ResourceId) AS rid,
       sum(EffectiveCost) AS cost_30d,
       min(BillingCurrency) AS currency
FROM cost
WHERE ResourceId IS NOT NULL
  AND ChargePeriodStart >= $as_of - INTERVAL 30 DAY
  AND ChargePeriodStart < $as_of
GROUP BY 1
""",
    ),
    (
        "rule_prices",
        """
SELECT provider, region, instance_type,
       min(price_per_hour) AS price_per_hour,
       min(currency) AS currency,
       max(vcpus) AS vcpus,
       max(memory_gb) AS memory_gb,
       coalesce(max(gpu_count), 0) AS gpu_count,
       max(gpu_model) AS gpu_model,
       bool_and(current_generation) AS current_generation,
       {family} AS family
FROM prices
WHERE instance_type IS NOT NULL AND unit = 'Hours'
  AND coalesce(price_type, 'on-demand') = 'on-demand'
GROUP BY provider, region, instance_type
""".format(family=INSTANCE_FAMILY_SQL.format(p="provider", t="instance_type")),
    ),
    (
        "rule_spot_prices",
        """
SELECT provider, region, instance_type,
       max(price_per_hour) AS spot_price_per_hour,
       max(effective_at) AS spot_price_at,
       min(source) AS spot_price_source
FROM prices
WHERE instance_type IS NOT NULL AND price_type = 'spot'
GROUP BY provider, region, instance_type
""",
    ),
    (
        "rule_unit_prices",
        """
SELECT provider, region, lower(product) AS product, min(unit) AS unit,
       min(price_per_hour) AS price, min(currency) AS currency
FROM prices
WHERE instance_type IS NULL AND product IS NOT NULL
  AND coalesce(price_type, 'on-demand') = 'on-demand'
GROUP BY provider, region, lower(product)
""",
    ),
    # 730: HOURS_PER_MONTH
    (
        "rule_resources",
        """
SELECT r.*,
       lower(r.resource_id) AS rid,
       coalesce(TRY_CAST(json_extract_string(r.details, '$.instance_count') AS INTEGER), 1)
           AS instance_count,
       CASE WHEN c.cost_30d IS NOT NULL THEN c.cost_30d
            WHEN r.state = 'running' AND p.price_per_hour IS NOT NULL
            THEN p.price_per_hour * 730
                 * coalesce(TRY_CAST(json_extract_string(r.details, '$.instance_count')
                                     AS INTEGER), 1)
       END AS monthly_cost,
       CASE WHEN c.cost_30d IS NOT NULL THEN 'billing'
            WHEN r.state = 'running' AND p.price_per_hour IS NOT NULL THEN 'list price'
       END AS cost_basis,
       coalesce(c.currency, p.currency, u.currency, us.currency, 'USD') AS currency,
       p.price_per_hour AS price_per_hour,
       {family} AS family,
       price_product(r.resource_type, r.details) AS product,
       CASE WHEN coalesce(u.unit, us.unit) = 'Hours' THEN coalesce(u.price, us.price) * 730
            WHEN coalesce(u.unit, us.unit) LIKE 'GB%' THEN coalesce(u.price, us.price) * coalesce(
                TRY_CAST(json_extract_string(r.details, '$.storage_bytes') AS DOUBLE) / 1e9,
                TRY_CAST(json_extract_string(r.details, '$.full_snapshot_size_bytes') AS DOUBLE)
                    / 1e9,
                r.size_gb)
       END AS list_monthly_cost
FROM resources r
LEFT JOIN rule_resource_cost c ON c.rid = lower(r.resource_id)
LEFT JOIN rule_prices p
       ON p.provider = r.provider AND p.region = r.region AND p.instance_type = r.instance_type
LEFT JOIN rule_unit_prices u
       ON u.provider = r.provider AND u.region = r.region
      AND u.product = price_product(r.resource_type, r.details)
-- an image with no price of its own is stored as snapshots (an AMI bills its EBS snapshots)
LEFT JOIN rule_unit_prices us
       ON r.resource_type = 'image' AND us.provider = r.provider AND us.region = r.region
      AND us.product = 'snapshot'
""".format(family=INSTANCE_FAMILY_SQL.format(p="r.provider", t="r.instance_type")),
    ),
    # 120: MAX_LOOKBACK_DAYS
    (
        "rule_daily",
        """
WITH m AS (
    SELECT resource_id, metric, stat, period_s, date_trunc('day', ts) AS day, value
    FROM metrics
    WHERE period_s IN (3600, 86400)
      AND ts >= $as_of - INTERVAL 120 DAY AND ts < $as_of
),
preferred AS (
    SELECT resource_id, metric, stat, day, max(period_s) AS period_s
    FROM m GROUP BY ALL
),
picked AS (SELECT m.* FROM m JOIN preferred USING (resource_id, metric, stat, day, period_s))
SELECT resource_id, day,
       avg(value) FILTER (WHERE metric = 'cpu_util_pct' AND stat = 'Average') AS cpu_avg,
       coalesce(max(value) FILTER (WHERE metric = 'cpu_util_pct' AND stat = 'Maximum'),
                max(value) FILTER (WHERE metric = 'cpu_util_pct' AND stat = 'Average'))
           AS cpu_max,
       sum(value) FILTER (WHERE metric IN ('net_in_bytes', 'net_out_bytes') AND stat = 'Sum')
           AS net_bytes,
       avg(value) FILTER (WHERE metric = 'gpu_util_pct' AND stat = 'Average') AS gpu_avg,
       avg(value) FILTER (WHERE metric = 'gpu_mem_util_pct' AND stat = 'Average') AS gpu_mem_avg,
       sum(value) FILTER (WHERE metric = 'invocations' AND stat = 'Sum') AS invocations,
       sum(value) FILTER (WHERE metric = 'disk_io_ops' AND stat = 'Sum') AS disk_ops,
       sum(value) FILTER (WHERE metric = 'requests' AND stat = 'Sum') AS requests,
       max(value) FILTER (WHERE metric = 'mem_util_pct') AS mem_max
FROM picked
GROUP BY resource_id, day
""",
    ),
    # where utilisation was collected: a resource with no samples in an account whose other
    # resources have some published none (no requests, no traffic), rather than not measured
    (
        "rule_measured_accounts",
        """
SELECT r.provider, r.account_id, min(d.day) AS first_day, max(d.day) AS last_day
FROM rule_daily d JOIN resources r ON r.resource_id = d.resource_id
GROUP BY r.provider, r.account_id
""",
    ),
)

#: Macros over the prepared tables, defined once those exist.
LATE_MACROS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    # an idle-looking resource is judged when it published data on enough days, or when
    # it is older than the window and its account's utilisation was collected over the
    # window (it published none: no requests, no traffic), never when nothing was fetched
    (
        "idle_judged",
        ("days_observed", "min_days", "created", "prov", "account", "as_of", "lookback_days"),
        """
    days_observed >= min_days
    OR (coalesce(created, as_of - INTERVAL 3650 DAY)
            <= as_of - to_days(CAST(lookback_days AS INTEGER))
        AND EXISTS (SELECT 1 FROM rule_measured_accounts m
                    WHERE m.provider = prov AND m.account_id = account
                      AND m.last_day >= as_of - to_days(CAST(lookback_days AS INTEGER))))
""",
    ),
)


@dataclass(frozen=True)
class RuleRun:
    """One rule's findings (contract fields without the lifecycle) and its duration."""

    rule: str
    findings: pa.Table
    seconds: float


def data_as_of(engine: Engine) -> datetime | None:
    """The end of the data the rules judge (see the module docstring)."""
    rows = engine.rows(_AS_OF)
    return rows[0][0] if rows and rows[0][0] is not None else None


def prepare(engine: Engine, as_of: datetime) -> None:
    """Build the shared tables every rule reads (temporary: they vanish with the engine)."""
    for name, args, body in MACROS:
        engine.define_macro(name, args, body)
    engine.register("rule_flagged", _FLAGGED_SCHEMA.empty_table())
    for name, sql in PREPARED:
        engine.materialise(name, sql, {"as_of": as_of} if "$as_of" in sql else None)
    for name, args, body in LATE_MACROS:
        engine.define_macro(name, args, body)


def recommendation_id(rule: str, provider: str | None, resource_id: str) -> str:
    """Stable across runs: the same rule and resource always give the same id."""
    text = "\x1f".join((rule, provider or "", resource_id))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def run_rule(
    engine: Engine,
    rule: Rule,
    settings: dict[str, ParamValue],
    as_of: datetime,
) -> pa.Table:
    """One rule's findings joined to the resource they name, savings capped at its cost."""
    params = rule.sql_parameters(settings, as_of=as_of, hours_per_month=HOURS_PER_MONTH)
    engine.materialise("rule_found", rule.sql, params)
    got = set(engine.columns("rule_found"))
    missing = [c for c in REQUIRED_COLUMNS if c not in got]
    if missing:
        raise RuntimeError(f"rule {rule.id} returns no {', '.join(missing)} column")
    table = engine.arrow(finding_sql(got), {"rule": rule.id})
    # the resources found, small: kept beside the earlier rules' for the later rules
    flagged = engine.arrow(
        "SELECT rule, rid FROM rule_flagged "
        "UNION ALL SELECT $rule AS rule, lower(resource_id) AS rid FROM rule_found",
        {"rule": rule.id},
    )
    engine.register("rule_flagged", flagged.cast(_FLAGGED_SCHEMA))
    ids = [
        recommendation_id(rule.id, p, r)
        for p, r in zip(
            table.column("provider").to_pylist(),
            table.column("resource_id").to_pylist(),
            strict=True,
        )
    ]
    return table.add_column(0, "id", pa.array(ids, pa.string()))


def finding_sql(got: set[str]) -> str:
    """The query that turns ``rule_found`` (a rule's columns ``got``) into findings."""

    def pick(column: str, fallback: str) -> str:
        return f"coalesce(f.{column}, {fallback})" if column in got else fallback

    tags = pick("tags", "r.tags")
    monthly = pick("monthly_cost", "r.monthly_cost")
    return f"""
        SELECT $rule AS rule,
               {pick("provider", "r.provider")} AS provider,
               {pick("account_id", "r.account_id")} AS account_id,
               {pick("region", "r.region")} AS region,
               f.resource_id,
               {pick("resource_type", "r.resource_type")} AS resource_type,
               {pick("resource_name", "r.name")} AS resource_name,
               f.title, f.action,
               CAST(f.evidence AS JSON) AS evidence,
               CAST({monthly} AS DECIMAL(38, 12)) AS monthly_cost,
               -- capped at the cost; an unknown saving stays unknown (least() skips nulls)
               CAST(CASE WHEN {monthly} IS NULL OR f.estimated_monthly_savings IS NULL
                         THEN f.estimated_monthly_savings
                         ELSE least(f.estimated_monthly_savings, {monthly}) END
                    AS DECIMAL(38, 12)) AS estimated_monthly_savings,
               {pick("currency", "coalesce(r.currency, 'USD')")} AS currency,
               CASE WHEN r.cost_basis = 'list price' AND f.confidence = 'high' THEN 'medium'
                    ELSE f.confidence END AS confidence,
               CAST({tags} AS JSON) AS tags
        FROM rule_found f
        LEFT JOIN rule_resources r ON r.rid = lower(f.resource_id)
        WHERE f.estimated_monthly_savings IS NULL OR f.estimated_monthly_savings > 0
        ORDER BY estimated_monthly_savings DESC NULLS LAST, f.resource_id
    """  # noqa: S608 - column names come from our own lists, values are parameters
