"""The periodic report: what was spent, what moved, what is wasted, what to do.

``build_report`` gathers every figure from the library functions (spend from ``cost``,
findings from ``recommendations``, commitments, anomalies, experiments) into one plain
dict; ``render`` turns it into self-contained HTML (inline SVG chart, no external
request), Markdown or JSON. Templates are Jinja2 with autoescaping on, so a tag value or
resource name from a cloud is always text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import jinja2
from markupsafe import Markup

from mlcost import commitments
from mlcost.anomalies import list_anomalies
from mlcost.errors import InputError
from mlcost.recommendations import list_recommendations, savings_summary
from mlcost.store import Store
from mlcost.summary import data_end

PERIODS = ("7d", "30d", "month")
FORMATS = ("html", "md", "json")
#: Rows in each "top" list of the report.
TOP = 5
#: Tag keys whose values are reported as movers (``cost.Tags``).
MOVER_TAGS = ("team", "experiment")

_MOVERS = """
WITH c AS (
    SELECT {key} AS name, BillingCurrency AS currency,
           sum(EffectiveCost) FILTER (WHERE ChargePeriodStart >= $start) AS current,
           sum(EffectiveCost) FILTER (WHERE ChargePeriodStart < $start) AS previous
    FROM cost
    WHERE ChargePeriodStart >= $previous_start AND ChargePeriodStart < $end
      AND ChargeCategory <> 'Purchase'
    GROUP BY 1, 2
)
SELECT coalesce(CAST(name AS VARCHAR), '(none)') AS name, currency,
       coalesce(current, 0) AS current, coalesce(previous, 0) AS previous,
       coalesce(current, 0) - coalesce(previous, 0) AS change
FROM c
WHERE name IS NOT NULL
ORDER BY abs(coalesce(current, 0) - coalesce(previous, 0)) DESC, name
LIMIT $top
"""

_MOVER_KEYS = {
    "services": "ServiceName",
    "accounts": "coalesce(SubAccountName, SubAccountId)",
    "teams": "json_extract_string(Tags, '$.team')",
    "experiments": "json_extract_string(Tags, '$.experiment')",
}


@dataclass(frozen=True)
class Window:
    """The reported period, ``[start, end)``, and the one before it."""

    start: datetime
    end: datetime
    previous_start: datetime
    label: str


def report_window(con: duckdb.DuckDBPyConnection, period: str) -> Window | None:
    """The last complete ``period`` of the billing data (None when there is none)."""
    if period not in PERIODS:
        raise InputError(f"Unknown period {period!r}; choose one of {', '.join(PERIODS)}.")
    last = data_end(con)
    if last is None:
        return None
    # whole days only: a day still being billed is not reported as if it were over
    end = datetime(last.year, last.month, last.day)
    if period == "month":
        # the last whole calendar month: the data may run into the next one
        month_end = datetime(end.year, end.month, 1)
        start = _month_before(month_end)
        return Window(start, month_end, _month_before(start), f"{start:%B %Y}")
    days = 7 if period == "7d" else 30
    start = end - timedelta(days=days)
    label = f"{start:%Y-%m-%d} to {end - timedelta(days=1):%Y-%m-%d}"
    return Window(start, end, start - timedelta(days=days), label)


def _month_before(ts: datetime) -> datetime:
    return datetime(ts.year - (ts.month == 1), (ts.month - 2) % 12 + 1, 1)


def build_report(
    store: Store, period: str = "7d", *, title: str = "mlcost report"
) -> dict[str, Any]:
    """Every figure of the report, as plain data (decimals stay exact)."""
    with store.reader() as con:
        window = report_window(con, period)
        report: dict[str, Any] = {
            "title": title,
            "period": period,
            "generated_at": datetime.now().replace(microsecond=0),
        }
        if window is None:
            report["empty"] = True
            return report
        params = {
            "start": window.start,
            "end": window.end,
            "previous_start": window.previous_start,
        }
        report.update(
            empty=False,
            window={"label": window.label, "start": window.start, "end": window.end},
            spend=_spend(con, params),
            daily=_daily(con, params),
            movers={
                name: con.sql(_MOVERS.format(key=key), params={**params, "top": TOP})
                .to_arrow_table()
                .to_pylist()
                for name, key in _MOVER_KEYS.items()
            },
            savings=_savings(con),
            recommendations=list_recommendations(con, limit=10).to_pylist(),
            commitments=commitments.utilisation(
                con, grain="all", since=window.start, until=window.end
            ).to_pylist(),
            expiring=commitments.expiring(con, within_days=60).to_pylist(),
            anomalies=_anomalies(store, window),
            experiments=_experiments(con, params),
        )
    return report


def _spend(con: duckdb.DuckDBPyConnection, params: dict[str, Any]) -> list[dict[str, Any]]:
    rows = (
        con.sql(
            """
        SELECT BillingCurrency AS currency,
               coalesce(sum(EffectiveCost) FILTER (WHERE ChargePeriodStart >= $start), 0)
                   AS effective_cost,
               coalesce(sum(EffectiveCost) FILTER (WHERE ChargePeriodStart < $start), 0)
                   AS previous_effective_cost,
               coalesce(sum(BilledCost) FILTER (WHERE ChargePeriodStart >= $start), 0)
                   AS billed_cost
        FROM cost
        WHERE ChargePeriodStart >= $previous_start AND ChargePeriodStart < $end
        GROUP BY 1 ORDER BY 1
        """,
            params=params,
        )
        .to_arrow_table()
        .to_pylist()
    )
    for row in rows:
        row["change"] = row["effective_cost"] - row["previous_effective_cost"]
        prev = row["previous_effective_cost"]
        row["change_pct"] = float(row["change"] / prev * 100) if prev else None
    return rows


def _daily(con: duckdb.DuckDBPyConnection, params: dict[str, Any]) -> list[dict[str, Any]]:
    return (
        con.sql(
            """
            SELECT CAST(date_trunc('day', ChargePeriodStart) AS DATE) AS day,
                   BillingCurrency AS currency, sum(EffectiveCost) AS effective_cost
            FROM cost WHERE ChargePeriodStart >= $start AND ChargePeriodStart < $end
            GROUP BY 1, 2 ORDER BY 1, 2
            """,
            params={"start": params["start"], "end": params["end"]},
        )
        .to_arrow_table()
        .to_pylist()
    )


def _savings(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    return [r for r in savings_summary(con).to_pylist() if r["scope"] == "total"]


def _anomalies(store: Store, window: Window) -> list[dict[str, Any]]:
    """Anomalies of the period, and the ones before it still open (not acknowledged)."""
    since = window.start.date()
    return [
        r
        for r in list_anomalies(store).to_pylist()
        if r["date"] < window.end.date() and (r["date"] >= since or r["status"] == "open")
    ]


def _experiments(con: duckdb.DuckDBPyConnection, params: dict[str, Any]) -> list[dict[str, Any]]:
    """The most expensive experiments of the period (from ``run_costs``)."""
    return (
        con.sql(
            """
            SELECT r.experiment, count(DISTINCT rc.run_id) AS runs, sum(rc.cost) AS cost
            FROM run_costs rc JOIN runs r ON r.run_id = rc.run_id
            WHERE rc.day >= CAST($start AS DATE) AND rc.day < CAST($end AS DATE)
            GROUP BY 1 ORDER BY cost DESC, 1 LIMIT $top
            """,
            params={"start": params["start"], "end": params["end"], "top": TOP},
        )
        .to_arrow_table()
        .to_pylist()
    )


# -- rendering --------------------------------------------------------------------------


def _environment(autoescape: bool) -> jinja2.Environment:
    # Markdown has no autoescape: every text a template writes is escaped on the way out
    # (finalize), so a field the template forgot (a currency, a provider) is text too.
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(_template_source),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=None if autoescape else _markdown_finalize,
    )
    env.filters["money"] = _money
    env.filters["pct"] = _pct
    env.filters["md"] = _markdown_text
    env.globals["bar_chart"] = _bar_chart
    return env


def _template_source(name: str) -> str:
    return resources.files("mlcost").joinpath("templates", name).read_text("utf-8")


def render(report: dict[str, Any], fmt: str) -> str:
    """The report as ``html``, ``md`` or ``json`` text."""
    if fmt not in FORMATS:
        raise InputError(f"Unknown report format {fmt!r}; choose one of {', '.join(FORMATS)}.")
    if fmt == "json":
        return json.dumps(report, default=_json_default, indent=2) + "\n"
    template = "report.html.j2" if fmt == "html" else "report.md.j2"
    return _environment(autoescape=fmt == "html").get_template(template).render(r=report)


def write_report(report: dict[str, Any], output: Path) -> str:
    """Render to ``output`` in the format its suffix names; returns the format."""
    suffix = output.suffix.lower().lstrip(".")
    fmt = {"htm": "html", "markdown": "md"}.get(suffix, suffix)
    if fmt not in FORMATS:
        raise InputError(
            f"{output}: the report is written as .html, .md or .json, not .{suffix}.",
        )
    output.write_text(render(report, fmt), encoding="utf-8")
    return fmt


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _money(value: Any) -> Markup:
    if value is None:
        return Markup("–")
    return Markup(f"{Decimal(value):,.2f}")


def _pct(value: Any) -> Markup:
    if value is None:
        return Markup("–")
    return Markup(f"{float(value):+.1f} %")


def _markdown_text(value: Any) -> Markup:
    """Cloud text in a Markdown table cell: no markup, links, HTML or column breaks
    (marked as done, so that the Markdown template's finalize leaves it)."""
    if isinstance(value, Markup):
        return value
    text = "" if value is None else str(value)
    for ch in "\\`*_{}[]()<>#+!|~&":
        text = text.replace(ch, "\\" + ch)
    return Markup(" ".join(text.split()))


def _markdown_finalize(value: Any) -> Any:
    """Every text the Markdown template writes is escaped; numbers and dates stay."""
    if isinstance(value, str):
        return _markdown_text(value)
    return value


def _bar_chart(daily: list[dict[str, Any]], width: int = 560, height: int = 120) -> Markup:
    """Daily spend as an inline SVG bar chart (numbers only: no text from the clouds)."""
    values = [float(d["effective_cost"]) for d in daily]
    if not values:
        return Markup("")
    top = max(max(values), 1e-9)
    bar = width / len(values)
    bars = "".join(
        f'<rect x="{i * bar + 1:.1f}" y="{height - v / top * (height - 4):.1f}" '
        f'width="{max(bar - 2, 1):.1f}" height="{v / top * (height - 4):.1f}" fill="#3b6ea5"/>'
        for i, v in enumerate(values)
    )
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="Daily spend">{bars}</svg>'
    )
