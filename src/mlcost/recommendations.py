"""Findings: run the rules, keep each finding's history, list, dismiss, total the savings.

A finding's ``id`` is stable (rule + provider + resource), so a re-analysis updates the
same row: ``first_detected`` stays, ``last_detected`` moves, and a finding that no longer
fires is ``closed`` (kept, for history). ``dismiss`` records the user's decision in
``recommendation_feedback``; a dismissed finding stays dismissed across re-analysis
until it is reopened.

Savings are counted once per resource (DESIGN.md §4): where several rules fire on one
resource (an idle GPU box is also an idle VM and a rightsizing candidate), each finding
shows its own saving, and totals take the largest of them, capped at what the resource
costs.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import duckdb
import pyarrow as pa

from mlcost import vocabulary
from mlcost.choices import STATUSES
from mlcost.engine import DuckDBEngine, Engine
from mlcost.errors import InputError
from mlcost.rules import all_rules
from mlcost.rules.base import ParamValue
from mlcost.rules.engine import data_as_of, prepare, run_rule
from mlcost.schema import arrow_schema
from mlcost.store import Batch, Store

#: The export contract's fields, in order (DESIGN.md §4).
FIELDS = (
    "id",
    "rule",
    "provider",
    "account_id",
    "region",
    "resource_id",
    "resource_type",
    "resource_name",
    "title",
    "action",
    "evidence",
    "monthly_cost",
    "estimated_monthly_savings",
    "currency",
    "confidence",
    "first_detected",
    "last_detected",
    "status",
    "tags",
)
#: Days of data behind a finding: its cost and saving are measured on the 30 days before
#: the end of the data an analysis judged. A finding's detection window runs from that
#: many days before ``first_detected`` to ``last_detected`` (both: the end of the data).
DETECTION_DAYS = 30

_MERGE = """
SELECT coalesce(n.id, o.id) AS id,
       $rule AS rule,
       coalesce(n.provider, o.provider) AS provider,
       coalesce(n.account_id, o.account_id) AS account_id,
       coalesce(n.region, o.region) AS region,
       coalesce(n.resource_id, o.resource_id) AS resource_id,
       coalesce(n.resource_type, o.resource_type) AS resource_type,
       coalesce(n.resource_name, o.resource_name) AS resource_name,
       coalesce(n.title, o.title) AS title,
       coalesce(n.action, o.action) AS action,
       CASE WHEN n.id IS NULL THEN o.evidence ELSE n.evidence END AS evidence,
       CASE WHEN n.id IS NULL THEN o.monthly_cost ELSE n.monthly_cost END AS monthly_cost,
       CASE WHEN n.id IS NULL THEN o.estimated_monthly_savings
            ELSE n.estimated_monthly_savings END AS estimated_monthly_savings,
       coalesce(n.currency, o.currency) AS currency,
       coalesce(n.confidence, o.confidence) AS confidence,
       CASE WHEN n.id IS NOT NULL AND (o.id IS NULL OR o.status = 'closed') THEN $now
            -- a store analysed before detection was dated by the data: the earlier date
            WHEN n.id IS NOT NULL THEN least(o.first_detected, $now)
            ELSE o.first_detected END AS first_detected,
       CASE WHEN n.id IS NOT NULL THEN $now ELSE o.last_detected END AS last_detected,
       CASE WHEN n.id IS NULL THEN 'closed'
            WHEN fb.status = 'dismissed' THEN 'dismissed'
            ELSE 'open' END AS status,
       CASE WHEN n.id IS NULL THEN o.tags ELSE n.tags END AS tags
FROM rule_new n
FULL OUTER JOIN (SELECT * FROM recommendations WHERE rule = $rule) o ON o.id = n.id
LEFT JOIN recommendation_feedback fb ON fb.id = coalesce(n.id, o.id)
ORDER BY estimated_monthly_savings DESC NULLS LAST, id
"""


@dataclass
class RuleSummary:
    rule: str
    enabled: bool
    findings: int = 0
    seconds: float = 0.0


@dataclass
class AnalyzeResult:
    """What one analysis found: per rule, and when the data ends."""

    as_of: datetime | None
    rules: list[RuleSummary] = field(default_factory=list)

    @property
    def findings(self) -> int:
        return sum(r.findings for r in self.rules)


def analyze_recommendations(
    store: Store,
    settings: Mapping[str, Mapping[str, ParamValue]] | None = None,
    *,
    now: datetime | None = None,
) -> AnalyzeResult:
    """Run every enabled rule over the store and record the findings with their history.

    ``settings`` maps a rule id to its validated parameters (``mlcost.toml``'s
    ``[rules.<id>]``); rules not named run with their defaults.

    Detection is dated by the data, not the clock: ``first_detected`` and
    ``last_detected`` are the end of the data (``as_of``) the analyses that first and
    last found it judged, so re-analysing the same data gives the same dates, and a
    date range over October shows what October's data showed (``now`` overrides it).
    """
    settings = settings or {}
    with store.reader() as con:
        result, batches = judge_rules(DuckDBEngine(con), settings, now=now)
    if result.as_of is not None:
        store.load(batches)
    return result


def judge_rules(
    engine: Engine,
    settings: Mapping[str, Mapping[str, ParamValue]],
    *,
    now: datetime | None = None,
) -> tuple[AnalyzeResult, list[Batch]]:
    """Every enabled rule's findings merged with their history in ``recommendations``, as
    the batches :meth:`Store.load` writes: the part of :func:`analyze_recommendations`
    any engine runs (the store's tables readable on it under their own names)."""
    batches: list[Batch] = []
    as_of = data_as_of(engine)
    result = AnalyzeResult(as_of=as_of)
    if as_of is None:
        return result, batches
    now = now or as_of
    prepare(engine, as_of)
    empty = pa.Table.from_pylist([], schema=_finding_schema())
    for rule in all_rules().values():
        values = {**rule.defaults(), **settings.get(rule.id, {})}
        summary = RuleSummary(rule.id, enabled=bool(values["enabled"]))
        started = time.perf_counter()
        found = run_rule(engine, rule, values, as_of) if summary.enabled else empty
        summary.findings = found.num_rows
        with engine.registered("rule_new", found.cast(_finding_schema())):
            merged = engine.arrow(_MERGE, {"rule": rule.id, "now": now})
        summary.seconds = time.perf_counter() - started
        result.rules.append(summary)
        batches.append(
            Batch(
                "recommendations",
                merged.cast(arrow_schema("recommendations")),
                partition={"rule": rule.id},
                label=f"rule {rule.id}",
            )
        )
    return result, batches


def _finding_schema() -> pa.Schema:
    """A rule's findings: the contract's fields without the lifecycle ones."""
    full = arrow_schema("recommendations")
    lifecycle = {"first_detected", "last_detected", "status"}
    return pa.schema([full.field(n) for n in FIELDS if n not in lifecycle])


def list_recommendations(
    con: duckdb.DuckDBPyConnection,
    *,
    rules: Sequence[str] = (),
    providers: Sequence[str] = (),
    accounts: Sequence[str] = (),
    min_savings: Decimal | float | None = None,
    status: str = "open",
    limit: int | None = None,
    tags: Mapping[str, Sequence[str]] | None = None,
    detected_since: date | None = None,
    detected_until: date | None = None,
) -> pa.Table:
    """Findings with the contract's fields, largest saving first (``tags``: tag key →
    the values a finding's resource tag must take one of; ``detected_since`` /
    ``detected_until``: the days, inclusive, its detection window must overlap: the data
    it was judged on, from DETECTION_DAYS before it was first detected to the end of the
    data when it was last detected)."""
    rules, providers, accounts, status = resolve_filters(
        con, rules=rules, providers=providers, accounts=accounts, status=status
    )
    where = ["($status = 'all' OR status = $status)"]
    params: dict[str, Any] = {"status": status}
    for column, values in (("rule", rules), ("provider", providers), ("account_id", accounts)):
        if values:
            where.append(f"list_contains(${column}s, {column})")
            params[f"{column}s"] = list(values)
    narrow, narrow_params = _finding_filters(tags, detected_since, detected_until)
    where += narrow
    params.update(narrow_params)
    if min_savings is not None:
        where.append("estimated_monthly_savings >= $min_savings")
        params["min_savings"] = Decimal(str(min_savings))
    sql = (
        f"SELECT {', '.join(FIELDS)} FROM recommendations WHERE {' AND '.join(where)} "  # noqa: S608
        "ORDER BY estimated_monthly_savings DESC NULLS LAST, rule, resource_id"
        + (f" LIMIT {int(limit)}" if limit else "")
    )
    return con.sql(sql, params=params).to_arrow_table()


_SUMMARY = """
WITH f AS (
    SELECT * FROM recommendations WHERE status = 'open'
      AND ($providers IS NULL OR list_contains($providers, provider))
      AND ($accounts IS NULL OR list_contains($accounts, account_id))
      {narrow}
),
per_resource AS (
    -- counted once: the largest saving of the rules firing on it, capped at its cost
    SELECT provider, resource_id, currency,
           -- an unknown saving adds nothing (least() would take the cost for it)
           CASE WHEN max(monthly_cost) IS NULL OR max(estimated_monthly_savings) IS NULL
                THEN max(estimated_monthly_savings)
                ELSE least(max(estimated_monthly_savings), max(monthly_cost)) END AS saving
    FROM f GROUP BY ALL
)
SELECT 'total' AS scope, NULL AS rule, NULL AS provider, currency,
       (SELECT count(*) FROM f f2 WHERE f2.currency IS NOT DISTINCT FROM p.currency) AS findings,
       count(*) AS resources, sum(saving) AS monthly_savings
FROM per_resource p GROUP BY currency
UNION ALL
SELECT 'rule', rule, provider, currency, count(*), count(DISTINCT resource_id),
       sum(estimated_monthly_savings)
FROM f GROUP BY ALL
ORDER BY scope DESC, monthly_savings DESC NULLS LAST, rule, provider, currency
"""


def savings_summary(
    con: duckdb.DuckDBPyConnection,
    *,
    providers: Sequence[str] = (),
    accounts: Sequence[str] = (),
    tags: Mapping[str, Sequence[str]] | None = None,
    detected_since: date | None = None,
    detected_until: date | None = None,
) -> pa.Table:
    """Open findings and monthly savings: per rule and provider (each finding its own
    saving), and a ``total`` row per currency with every resource counted once; only the
    findings of ``providers``, ``accounts``, ``tags`` and detection days where they are
    given (as :func:`list_recommendations` reads them)."""
    _, providers, accounts, _ = resolve_filters(con, providers=providers, accounts=accounts)
    narrow, params = _finding_filters(tags, detected_since, detected_until)
    params |= {"providers": list(providers) or None, "accounts": list(accounts) or None}
    sql = _SUMMARY.format(narrow=" ".join(f"AND {w}" for w in narrow))
    return con.sql(sql, params=params).to_arrow_table()


def resolve_filters(
    con: duckdb.DuckDBPyConnection,
    *,
    rules: Sequence[str] = (),
    providers: Sequence[str] = (),
    accounts: Sequence[str] = (),
    status: str = "open",
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], str]:
    """The findings' filters in the store's spelling (``mlcost.vocabulary``): any case,
    lists allowed, an unknown value an error that lists the known ones."""
    (status,) = vocabulary.resolve("status", status, vocabulary.choices(STATUSES)) or ("open",)
    return (
        vocabulary.resolve("rule", rules, vocabulary.rules(), hint="`mlcost rules` lists them."),
        vocabulary.resolve("provider", providers, vocabulary.providers(con)) if providers else (),
        vocabulary.resolve("account", accounts, vocabulary.accounts(con)) if accounts else (),
        status,
    )


def _finding_filters(
    tags: Mapping[str, Sequence[str]] | None, since: date | None, until: date | None
) -> tuple[list[str], dict[str, Any]]:
    """WHERE conditions over ``recommendations`` for tag values and the detection window
    (first to last detected) overlapping the days ``since``..``until``; values are
    parameters."""
    where: list[str] = []
    params: dict[str, Any] = {}
    for i, (key, values) in enumerate(sorted((tags or {}).items())):
        if values:
            where.append(
                f"list_contains($tag_values_{i}, json_extract_string(tags, $tag_path_{i}))"
            )
            params[f"tag_values_{i}"] = list(values)
            params[f"tag_path_{i}"] = (
                "$." + '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'
            )
    if since is not None:
        where.append("last_detected > $detected_since")
        params["detected_since"] = datetime.combine(since, datetime.min.time())
    if until is not None:
        where.append(
            f"coalesce(first_detected, last_detected) - INTERVAL {DETECTION_DAYS} DAY "
            "< $detected_until"
        )
        params["detected_until"] = datetime.combine(until + timedelta(days=1), datetime.min.time())
    return where, params


def get_recommendation(con: duckdb.DuckDBPyConnection, rec_id: str) -> dict[str, Any]:
    """One finding with its dismissal reason; ``rec_id`` may be a unique prefix of its id
    (at least 4 characters, as the terminal table's ids can be typed short)."""
    rec_id = (
        vocabulary.resolve_id(
            con,
            "SELECT id FROM recommendations WHERE id LIKE $prefix",
            rec_id,
            "finding",
            "Give more of the id (`mlcost recommendations --status all` lists them).",
        )
        or rec_id
    )
    row = con.sql(
        f"SELECT {', '.join('r.' + f for f in FIELDS)}, fb.reason AS dismissed_reason "  # noqa: S608
        "FROM recommendations r LEFT JOIN recommendation_feedback fb ON fb.id = r.id "
        "WHERE r.id = ?",
        params=[rec_id],
    ).to_arrow_table()
    if row.num_rows == 0:
        raise InputError(
            f"No recommendation has the id {rec_id!r}.",
            "Run `mlcost recommendations --status all` to see the ids.",
        )
    return dict(row.to_pylist()[0])


def set_status(store: Store, rec_id: str, *, dismissed: bool, reason: str | None = None) -> str:
    """Dismiss a finding (kept across re-analysis) or reopen it; ``rec_id`` may be a
    unique prefix of its id. Returns the whole id."""
    if dismissed and not (reason and reason.strip()):
        raise InputError("A dismissal needs a reason.", 'Add --reason "why it is not waste".')
    with store.reader() as con:
        rec_id = get_recommendation(con, rec_id)["id"]
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    with store.writer() as con:
        con.execute("BEGIN TRANSACTION")
        try:
            if dismissed:
                con.execute(
                    "INSERT OR REPLACE INTO recommendation_feedback VALUES (?, 'dismissed', ?, ?)",
                    [rec_id, reason.strip() if reason else None, now],
                )
                con.execute(
                    "UPDATE recommendations SET status = 'dismissed' "
                    "WHERE id = ? AND status = 'open'",
                    [rec_id],
                )
            else:
                con.execute("DELETE FROM recommendation_feedback WHERE id = ?", [rec_id])
                con.execute(
                    "UPDATE recommendations SET status = 'open' "
                    "WHERE id = ? AND status = 'dismissed'",
                    [rec_id],
                )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return rec_id
