"""The periodic report: what was spent, what moved, what is wasted, what to do.

``build_report`` gathers every figure from the library functions (spend from ``cost``,
findings from ``recommendations``, commitments, anomalies, experiments) into one plain
dict; ``render`` turns it into self-contained HTML (inline SVG chart, no external
request), Markdown or JSON. Templates are Jinja2 with autoescaping on, so a tag value or
resource name from a cloud is always text.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import jinja2
from markupsafe import Markup, escape

from mlcost.errors import InputError
from mlcost.figures import SPEND_FIGURES, Headline
from mlcost.figures import spend as spend_figures
from mlcost.filters import ACCOUNT_ID, Filters, cost_where
from mlcost.filters import resolve as resolve_filters
from mlcost.output import markdown_text, open_output
from mlcost.store import Store
from mlcost.summary import ACCOUNT_NAME, data_end

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
      AND ChargeCategory <> 'Purchase' AND {where}
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
    # the name on the bill with the id: names are not unique (a GCP project id can be an
    # Azure subscription's name)
    "accounts": f"coalesce({ACCOUNT_NAME} || ' (' || {ACCOUNT_ID} || ')', {ACCOUNT_ID})",
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
    store: Store,
    period: str = "7d",
    *,
    title: str = "mlcost report",
    filters: Filters | None = None,
) -> dict[str, Any]:
    """Every figure of the report, as plain data (decimals stay exact).

    The headline figures are ``mlcost.figures.headline`` over the period's days, the
    same function the Overview and `mlcost analyze` call. ``filters`` (providers,
    accounts) narrow spend, movers, savings, findings and anomalies; commitments and
    experiments are reported whole. The figures come through ``mlcost.api``, the calls
    the CLI, the dashboard and notebooks make."""
    from mlcost.api import Workspace

    ws = Workspace(store)
    with store.reader() as con:
        chosen = resolve_filters(con, filters or Filters())
        window = report_window(con, period)
    report: dict[str, Any] = {
        "title": title,
        "period": period,
        "generated_at": datetime.now().replace(microsecond=0),
    }
    if window is None:
        report["empty"] = True
        return report
    last_day = (window.end - timedelta(days=1)).date()
    days = replace(chosen, since=window.start.date(), until=last_day)
    before = replace(chosen, since=window.previous_start.date(), until=window.start.date())
    before = replace(before, until=window.start.date() - timedelta(days=1))
    head = ws.headline(filters=days)
    found_savings = ws.savings(filters=days)
    found = ws.findings(filters=days, limit=10)
    used = ws.commitments("utilisation", grain="all", since=days.since, until=last_day)
    ending = ws.commitments("expiring", within_days=60)
    with store.reader() as con:
        previous = {f.currency: f.value for f in spend_figures(con, before) if f.key == _AMORTISED}
        params = {
            "start": window.start,
            "end": window.end,
            "previous_start": window.previous_start,
        }
        where, where_params = cost_where(replace(chosen, since=None, until=None))
        report.update(
            empty=False,
            window={"label": window.label, "start": window.start, "end": window.end},
            filters=head.as_dict()["filters"],
            headline=[f.as_dict() for f in head.figures],
            spend=_spend(head, previous),
            daily=_daily(con, params, where, where_params),
            movers={
                name: con.sql(
                    _MOVERS.format(key=key, where=where),
                    params={**params, **where_params, "top": TOP},
                )
                .to_arrow_table()
                .to_pylist()
                for name, key in _MOVER_KEYS.items()
            },
            savings=[r for r in found_savings.to_pylist() if r["scope"] == "total"],
            recommendations=found.to_pylist(),
            commitments=used.to_pylist(),
            expiring=ending.to_pylist(),
            experiments=_experiments(con, params),
        )
    listed = ws.anomalies(filters=replace(chosen, since=None, until=last_day)).to_pylist()
    report["anomalies"] = [a for a in listed if a["date"] >= days.since]
    report["older_open_anomalies"] = sum(
        1 for a in listed if a["date"] < days.since and a["status"] == "open"
    )
    return report


_AMORTISED = "amortised_spend"


def _spend(head: Headline, previous: dict[str | None, Any]) -> list[dict[str, Any]]:
    """Per currency: the headline's spend figures, and the change on the period before."""
    rows = []
    for currency in dict.fromkeys(f.currency for f in head.figures if f.key in SPEND_FIGURES):
        current = head.get(_AMORTISED, currency)
        prev = previous.get(currency, Decimal(0))
        change = current - prev
        rows.append(
            {
                "currency": currency,
                "effective_cost": current,
                "previous_effective_cost": prev,
                "billed_cost": head.get("billed_spend", currency),
                "usage_cost": head.get("usage_spend", currency),
                "change": change,
                "change_pct": float(change / prev * 100) if prev else None,
            }
        )
    return rows


def _daily(
    con: duckdb.DuckDBPyConnection,
    params: dict[str, Any],
    where: str = "TRUE",
    where_params: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Amortised spend per day of the period (the chart; it sums to the headline)."""
    return (
        con.sql(
            f"""
            SELECT CAST(date_trunc('day', ChargePeriodStart) AS DATE) AS day,
                   BillingCurrency AS currency, sum(EffectiveCost) AS effective_cost
            FROM cost WHERE ChargePeriodStart >= $start AND ChargePeriodStart < $end
              AND {where}
            GROUP BY 1, 2 ORDER BY 1, 2
            """,  # noqa: S608 - the WHERE is built from constants; values are parameters
            params={"start": params["start"], "end": params["end"], **(where_params or {})},
        )
        .to_arrow_table()
        .to_pylist()
    )


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
    text = render(report, fmt)
    with open_output(output, "w", encoding="utf-8") as handle:
        handle.write(text)
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
    return Markup(markdown_text(value))


def _markdown_finalize(value: Any) -> Any:
    """Every text the Markdown template writes is escaped; numbers and dates stay."""
    if isinstance(value, str):
        return _markdown_text(value)
    return value


def _bar_chart(daily: list[dict[str, Any]], width: int = 640, height: int = 220) -> Markup:
    """Daily spend as an inline SVG bar chart per currency, with a value axis (gridlines
    at round amounts), dated days and each bar's date and amount as its tooltip. Only
    numbers and dates are drawn: no text from the clouds."""
    charts = []
    for currency in dict.fromkeys(d["currency"] for d in daily):
        days = [d for d in daily if d["currency"] == currency]
        charts.append(_one_chart(days, str(currency or ""), width, height))
    return Markup("".join(charts))


def _one_chart(days: list[dict[str, Any]], currency: str, width: int, height: int) -> str:
    left, right, top, bottom = 72, 8, 22, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [float(d["effective_cost"]) for d in days]
    step = _nice_step(max(max(values), 0.0) / 4 or 1.0)
    ceiling = step * max(1, -(-max(max(values), 0.0) // step))
    y = lambda v: top + plot_h - max(v, 0.0) / ceiling * plot_h  # noqa: E731
    bar = plot_w / len(values)
    parts = [
        f'<text x="{left}" y="14" font-size="12" fill="#52606d">Daily amortised spend '
        f"({escape(currency)}, EffectiveCost)</text>"
    ]
    tick = 0.0
    while tick <= ceiling + step / 2:
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
            'stroke="#d9e2ec"/>'
            f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" font-size="11" text-anchor="end" '
            f'fill="#52606d">{tick:,.0f}</text>'
        )
        tick += step
    every = max(1, round(len(days) / 6))
    for i, (d, v) in enumerate(zip(days, values, strict=True)):
        x = left + i * bar
        parts.append(
            f'<rect x="{x + 1:.1f}" y="{y(v):.1f}" width="{max(bar - 2, 1):.1f}" '
            f'height="{top + plot_h - y(v):.1f}" fill="#3b6ea5">'
            f"<title>{d['day']:%Y-%m-%d}: {Decimal(d['effective_cost']):,.2f} "
            f"{escape(currency)}</title></rect>"
        )
        if i % every == 0 or (i == len(days) - 1 and len(days) % every > every / 2):
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{height - bottom + 16}" font-size="11" '
                f'text-anchor="middle" fill="#52606d">{d["day"]:%b %d}</text>'
            )
    peak = max(range(len(values)), key=values.__getitem__)
    parts.append(
        f'<text x="{left + peak * bar + bar / 2:.1f}" y="{max(y(values[peak]) - 4, 12):.1f}" '
        f'font-size="11" text-anchor="middle" fill="#1f2933">'
        f"{Decimal(days[peak]['effective_cost']):,.0f}</text>"
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="Daily amortised spend in {escape(currency)}, '
        f'{days[0]["day"]:%Y-%m-%d} to {days[-1]["day"]:%Y-%m-%d}">{"".join(parts)}</svg>'
    )


def _nice_step(raw: float) -> float:
    """A round step (1, 2 or 5 × a power of ten) at least ``raw``."""
    power = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
