"""Cost anomalies: each scope's daily EffectiveCost judged against a robust weekly model.

A scope is the whole bill (``total``), a provider, an account (``SubAccountId``), a
service, or one value of a configured tag key (``tag:team``...). For every complete day
of every scope with enough history, the expected cost is learnt from the trailing
``lookback_days`` (default 8 weeks) before it, with medians only, so past anomalies do
not bend the model:

* weekly rhythm: the median of the same weekday over the window, divided by the median
  of the whole window, is that weekday's factor (a weekend at 0.6 stays at 0.6);
* level and trend: the weekday-adjusted values' median over the last 14 days, moved
  forward by the slope between the medians of the window's two halves;
* spread: 1.4826 x the median absolute deviation of the adjusted values around that
  line (a robust standard deviation), scaled back to the day's weekday.

A day is an anomaly when its cost leaves the band ``expected ± k·spread`` (k from
``sensitivity``) *and* moves by at least ``min_impact`` money *and* ``min_impact_pct``
percent: the two thresholds keep small, noisy scopes from paging anyone. Spikes and
drops are judged alike. Why medians and not a seasonal decomposition (STL): a cost
series is short (weeks), full of the very outliers we look for, and must be explained
to a FinOps team in one sentence; medians ignore up to half the window being odd, need
no fitting, and vectorise over thousands of scopes (see bench/anomalies.py).

Only complete days are judged: the last day each provider has billed, minus
``lag_days``. Only ``Usage`` lines of at most one day are counted: EffectiveCost spreads
commitment purchases over their term, and taxes, credits, purchases and monthly fees are
left out, as AWS Cost Anomaly Detection does.

One more scope, ``gpus``, counts the GPUs running each day from the same billing lines
(inventory keeps no history) and reports the jumps.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import warnings
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
from numpy.lib.stride_tricks import sliding_window_view

from mlcost.choices import FEEDBACK_REASONS
from mlcost.config import ANOMALY_SENSITIVITIES, AnomalySettings
from mlcost.errors import InputError
from mlcost.schema import MONEY, arrow_schema
from mlcost.store import Batch, Store, quote_ident

#: Fixed scopes and the cost column that names their value (tag scopes are added).
SCOPE_COLUMNS = {"provider": "ProviderName", "account": "SubAccountId", "service": "ServiceName"}
#: Dimensions the drivers of an anomaly are looked for in (tag keys are added).
DRIVER_COLUMNS = {"service": "ServiceName", "account": "SubAccountId", "resource": "ResourceId"}
#: Days of the level estimate (the most recent part of the window).
LEVEL_DAYS = 14
#: Drivers kept per dimension.
TOP_DRIVERS = 3
#: The scope of running GPUs (a count, not money): GPUs of the instances billed that day.
GPU_SCOPE = "gpus"
#: GPUs of a billing line: FOCUS SkuPriceDetails.GpuCount, else the price list's.
_LINE_GPUS = (
    "coalesce(TRY_CAST(json_extract_string(c.SkuPriceDetails, '/GpuCount') AS INTEGER), "
    "(SELECT max(p.gpu_count) FROM prices AS p "
    "WHERE p.instance_type = json_extract_string(c.SkuPriceDetails, '/InstanceType')))"
)
#: Running GPUs per resource and day: the most any of its lines that day says.
_GPU_RESOURCES = (
    "SELECT CAST(c.ChargePeriodStart AS DATE) AS day, c.ResourceId AS resource, "  # noqa: S608
    "any_value(c.ProviderName) AS provider, any_value(c.SubAccountId) AS account, "
    "any_value(json_extract_string(c.SkuPriceDetails, '/InstanceType')) AS instance_type, "
    f"max({_LINE_GPUS}) AS gpus FROM cost AS c "
    "WHERE c.ChargeCategory = 'Usage' AND c.ResourceId IS NOT NULL "
    "AND c.ChargePeriodEnd <= c.ChargePeriodStart + INTERVAL 1 DAY GROUP BY 1, 2"
)

#: The billing lines that make a day's cost: usage charged for at most one day.
_DAILY_LINES = (
    "ChargeCategory = 'Usage' AND EffectiveCost IS NOT NULL "
    "AND ChargePeriodEnd <= ChargePeriodStart + INTERVAL 1 DAY"
)


def anomaly_id(scope: str, scope_value: str, day: date) -> str:
    """Stable id of an anomaly: the same scope, value and day give the same id."""
    key = f"{scope}\x1f{scope_value}\x1f{day:%Y-%m-%d}"
    return hashlib.md5(key.encode("utf-8"), usedforsecurity=False).hexdigest()[:12]


# -- the model: plain arrays, so the benchmark runs exactly what the store runs -----------


@dataclass(frozen=True)
class SeriesModel:
    """Per day of a series: the expected cost and its robust spread (NaN: not judged)."""

    expected: np.ndarray
    spread: np.ndarray


def model_series(values: np.ndarray, *, lookback_days: int, min_history_days: int) -> SeriesModel:
    """Expected cost and spread for every day of ``values`` from the days before it.

    Day ``t`` is judged only with at least ``min_history_days`` days before it. Every
    statistic is a median over a trailing window, computed for all days at once.
    """
    y = np.asarray(values, dtype=float)
    n = len(y)
    expected = np.full(n, np.nan)
    spread = np.full(n, np.nan)
    if n <= min_history_days:
        return SeriesModel(expected, spread)
    window = lookback_days
    padded = np.concatenate([np.full(window, np.nan), y])
    # Row t holds y[t-window .. t-1]; column j lies (window - j) days before t.
    rows = sliding_window_view(padded, window)[min_history_days:n]
    back = window - np.arange(window)
    weekday_group = back % 7  # 0: the same weekday as t
    with np.errstate(all="ignore"), _quiet_nan():
        base = np.nanmedian(rows, axis=1)
        weekday_median = np.stack(
            [np.nanmedian(rows[:, weekday_group == q], axis=1) for q in range(7)], axis=1
        )
        factor = np.where(base[:, None] > 0, weekday_median / base[:, None], np.nan)
        col_factor = factor[:, weekday_group]
        adjusted = np.where(col_factor > 0, rows / col_factor, np.nan)
        level = np.nanmedian(adjusted[:, back <= LEVEL_DAYS], axis=1)
        half = window // 2
        first, second = adjusted[:, :half], adjusted[:, half:]
        full = ~np.isnan(rows[:, 0])
        slope = np.where(
            full,
            (np.nanmedian(second, axis=1) - np.nanmedian(first, axis=1)) / (window - half),
            0.0,
        )
        slope = np.nan_to_num(slope)
        centre = (LEVEL_DAYS + 1) / 2  # the level describes the day this far back
        line = level[:, None] - slope[:, None] * (back[None, :] - centre)
        residual = adjusted - line
        mad = np.nanmedian(np.abs(residual - np.nanmedian(residual, axis=1)[:, None]), axis=1)
        today = factor[:, 0]
        exp_t = np.maximum((level + slope * centre) * today, 0.0)
        spread_t = 1.4826 * mad * today
        # A weekday that is always off (or a series that is mostly zero): its own median.
        same_day = rows[:, weekday_group == 0]
        flat = ~(today > 0) | np.isnan(exp_t)
        same_med = np.nanmedian(same_day, axis=1)
        same_mad = np.nanmedian(np.abs(same_day - same_med[:, None]), axis=1)
        exp_t = np.where(flat, same_med, exp_t)
        spread_t = np.where(flat, 1.4826 * same_mad, spread_t)
    expected[min_history_days:] = np.nan_to_num(exp_t)
    spread[min_history_days:] = np.nan_to_num(spread_t)
    return SeriesModel(expected, spread)


def flag_series(
    values: np.ndarray,
    model: SeriesModel,
    *,
    band_sigmas: float,
    min_impact: float,
    min_impact_pct: float,
) -> np.ndarray:
    """Days whose cost leaves the band and moves by both thresholds (spikes and drops)."""
    y = np.asarray(values, dtype=float)
    judged = ~np.isnan(model.expected)
    exp = np.nan_to_num(model.expected)
    impact = np.abs(y - exp)
    outside = impact > band_sigmas * np.nan_to_num(model.spread)
    big = impact >= min_impact
    with np.errstate(all="ignore"):
        pct_ok = np.where(exp > 0, impact / exp * 100 >= min_impact_pct, impact > 0)
    return judged & outside & big & pct_ok


@contextlib.contextmanager
def _quiet_nan() -> Iterator[None]:
    """Windows that are all NaN (a new series) are expected: no warning for them."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


# -- scopes from the store ---------------------------------------------------------------


@dataclass
class Anomaly:
    """One anomalous day of one scope, as stored in the ``anomalies`` table."""

    date: date
    provider: str | None
    scope: str
    scope_value: str
    currency: str | None
    actual: Decimal
    expected: Decimal
    low: Decimal
    high: Decimal
    direction: str
    severity: str
    drivers: list[dict[str, Any]] = field(default_factory=list)

    @property
    def id(self) -> str:
        return anomaly_id(self.scope, self.scope_value, self.date)

    @property
    def impact(self) -> Decimal:
        return self.actual - self.expected

    @property
    def impact_pct(self) -> float | None:
        return float(self.impact / self.expected * 100) if self.expected > 0 else None


@dataclass
class AnomalyResult:
    """What one detection run judged and found."""

    anomalies: list[Anomaly]
    judged_through: date | None
    scopes_judged: int
    #: (scope, value, days of history) of scopes not judged for lack of history.
    short_history: list[tuple[str, str, int]]

    def summary(self) -> str:
        """One line for ``mlcost analyze``."""
        if self.judged_through is None:
            return "Anomalies: no complete day of usage billing to judge yet."
        spikes = sum(a.direction == "spike" for a in self.anomalies)
        line = (
            f"Anomalies: {len(self.anomalies)} ({spikes} spikes, "
            f"{len(self.anomalies) - spikes} drops) in {self.scopes_judged} scopes, "
            f"days judged through {self.judged_through:%Y-%m-%d}"
        )
        if self.short_history:
            named = ", ".join(f"{s}={v} ({d} days)" for s, v, d in self.short_history[:5])
            more = f" and {len(self.short_history) - 5} more" if len(self.short_history) > 5 else ""
            line += (
                f"; {len(self.short_history)} scope(s) with too little history not judged: "
                f"{named}{more}"
            )
        return line + ". List them with `mlcost anomalies`."


@dataclass
class _Series:
    scope: str
    value: str
    currency: str | None
    provider: str | None
    days: list[date]
    costs: list[Decimal]


def _scope_columns(settings: AnomalySettings) -> list[tuple[str, str, list[Any]]]:
    """(scope, SQL expression of its value, parameters) for every scope kind."""
    scopes: list[tuple[str, str, list[Any]]] = [("total", "'total'", [])]
    scopes += [(s, quote_ident(col), []) for s, col in SCOPE_COLUMNS.items()]
    scopes += [
        (f"tag:{key}", "json_extract_string(Tags, ?)", [_pointer(key)]) for key in _keys(settings)
    ]
    return scopes


def _keys(settings: AnomalySettings) -> list[str]:
    return list(dict.fromkeys(k.strip() for k in settings.tag_keys))


def _pointer(key: str) -> str:
    """A JSON pointer to one tag key (any characters, never parsed as a path)."""
    return "/" + key.replace("~", "~0").replace("/", "~1")


def _read_series(
    con: duckdb.DuckDBPyConnection,
    settings: AnomalySettings,
    scopes: Collection[str] | None = None,
) -> list[_Series]:
    parts, params = [], []
    for scope, expr, expr_params in _scope_columns(settings):
        if scopes is not None and scope not in scopes:
            continue
        parts.append(
            f"SELECT ? AS scope, {expr} AS value, BillingCurrency AS currency, "  # noqa: S608
            "CAST(ChargePeriodStart AS DATE) AS day, "
            "CASE WHEN count(DISTINCT ProviderName) = 1 THEN min(ProviderName) END AS provider, "
            f"sum(EffectiveCost) AS cost FROM cost WHERE {_DAILY_LINES} GROUP BY ALL"
        )
        params += [scope, *expr_params]
    if scopes is None or GPU_SCOPE in scopes:
        parts.append(
            f"SELECT '{GPU_SCOPE}' AS scope, 'running' AS value, NULL AS currency, day, "  # noqa: S608
            "CASE WHEN count(DISTINCT provider) = 1 THEN min(provider) END AS provider, "
            f"CAST(sum(gpus) AS {MONEY}) AS cost FROM ({_GPU_RESOURCES}) WHERE gpus > 0 "
            "GROUP BY day"
        )
    if not parts:
        return []
    sql = (
        f"SELECT * FROM ({' UNION ALL '.join(parts)}) WHERE value IS NOT NULL "  # noqa: S608
        "ORDER BY scope, value, currency, day"
    )
    series: list[_Series] = []
    current: _Series | None = None
    for scope, value, currency, day, provider, cost in con.execute(sql, params).fetchall():
        if current is None or (current.scope, current.value, current.currency) != (
            scope,
            value,
            currency,
        ):
            current = _Series(scope, value, currency, provider, [], [])
            series.append(current)
        if current.provider != provider:
            current.provider = None
        current.days.append(day)
        current.costs.append(cost)
    return series


def _last_days(con: duckdb.DuckDBPyConnection) -> dict[str, date]:
    """The last day each provider has billed usage for."""
    rows = con.execute(
        f"SELECT ProviderName, max(CAST(ChargePeriodStart AS DATE)) FROM cost "  # noqa: S608
        f"WHERE {_DAILY_LINES} GROUP BY 1"
    ).fetchall()
    return {provider: last for provider, last in rows if provider is not None}


# -- detection ---------------------------------------------------------------------------


def detect_anomalies(store: Store, settings: AnomalySettings) -> AnomalyResult:
    """Judge every complete day of every scope and replace the ``anomalies`` table."""
    result, previous_scopes = find_anomalies(store, settings)
    by_scope: dict[str, list[Anomaly]] = {}
    for anomaly in result.anomalies:
        by_scope.setdefault(anomaly.scope, []).append(anomaly)
    # One load, one transaction: each scope judged now replaces its partition, and the
    # scopes that had anomalies before but none now are emptied.
    scopes = sorted(set(by_scope) | previous_scopes)
    store.load(
        Batch(
            "anomalies",
            _anomaly_table(by_scope.get(scope, [])),
            partition={"scope": scope},
            label="anomalies",
        )
        for scope in scopes
    )
    return result


def find_anomalies(store: Store, settings: AnomalySettings) -> tuple[AnomalyResult, set[str]]:
    """The anomalies of the store's billing, without writing them (and the scopes the
    store holds anomalies for now, which a new run replaces)."""
    band = ANOMALY_SENSITIVITIES[settings.sensitivity]
    with store.reader() as con:
        previous = {r[0] for r in con.execute("SELECT DISTINCT scope FROM anomalies").fetchall()}
        series, judged_through = scope_series(con, settings)
        anomalies: list[Anomaly] = []
        short: list[tuple[str, str, int]] = []
        judged = 0
        for s in series:
            if len(s.costs) <= settings.min_history_days:
                if s.active_within(settings.lookback_days):
                    short.append((s.scope, s.value, len(s.costs)))
                continue
            judged += 1
            anomalies += _judge(s, settings, band)
        _add_drivers(con, anomalies, settings)
    anomalies.sort(key=lambda a: (a.date, a.scope, a.scope_value))
    return AnomalyResult(anomalies, judged_through, judged, sorted(short)), previous


@dataclass
class ScopeSeries:
    """One scope's daily cost from its first billed day to its last complete day."""

    scope: str
    value: str
    currency: str | None
    provider: str | None
    start: date
    #: Exact cost per day (zero where nothing was billed), ``start`` first.
    costs: list[Decimal]

    @property
    def values(self) -> np.ndarray:
        return np.array([float(c) for c in self.costs])

    def day(self, index: int) -> date:
        return self.start + timedelta(days=index)

    def active_within(self, days: int) -> bool:
        return any(self.costs[-days:])


def scope_series(
    con: duckdb.DuckDBPyConnection,
    settings: AnomalySettings,
    *,
    scopes: Collection[str] | None = None,
) -> tuple[list[ScopeSeries], date | None]:
    """Every scope's complete days (only the scope kinds in ``scopes`` where given: the
    dashboard draws one), and the last complete day of the whole bill.

    A provider's days are complete up to the last day it billed minus ``lag_days``; a
    scope spanning providers (total, tags) waits for the slowest provider.
    """
    last = _last_days(con)
    if not last:
        return [], None
    lag = timedelta(days=settings.lag_days)
    overall = min(last.values()) - lag
    out = []
    for s in _read_series(con, settings, scopes):
        cutoff = last[s.provider] - lag if s.provider in last else overall
        n = (cutoff - s.days[0]).days + 1
        if n <= 0:
            continue
        exact = [Decimal(0)] * n
        for day, cost in zip(s.days, s.costs, strict=True):
            i = (day - s.days[0]).days
            if i < n:
                exact[i] = cost
        out.append(ScopeSeries(s.scope, s.value, s.currency, s.provider, s.days[0], exact))
    return out, overall


def _judge(s: ScopeSeries, settings: AnomalySettings, band: float) -> list[Anomaly]:
    """The anomalies of one series with enough history."""
    exact = s.costs
    start = s.start
    values = np.array([float(c) for c in exact])
    gpus = s.scope == GPU_SCOPE
    floor = settings.min_gpu_jump if gpus else settings.min_impact
    model = model_series(
        values,
        lookback_days=settings.lookback_days,
        min_history_days=settings.min_history_days,
    )
    flags = flag_series(
        values,
        model,
        band_sigmas=band,
        min_impact=floor,
        min_impact_pct=settings.min_impact_pct,
    )
    if gpus:  # fewer GPUs than usual costs nothing: only jumps are news
        flags &= values > np.nan_to_num(model.expected)
    out = []
    for i in np.flatnonzero(flags).tolist():
        expected = _money(model.expected[i])
        width = _money(band * model.spread[i])
        actual = exact[i]
        out.append(
            Anomaly(
                date=start + timedelta(days=int(i)),
                provider=s.provider,
                scope=s.scope,
                scope_value=s.value,
                currency=s.currency,
                actual=actual,
                expected=expected,
                low=max(expected - width, Decimal(0)),
                high=expected + width,
                direction="spike" if actual > expected else "drop",
                severity=_severity(abs(actual - expected), floor),
            )
        )
    return out


def _money(value: float) -> Decimal:
    """A modelled amount (a median, a spread) as money, to a millionth."""
    return Decimal(f"{float(value):.6f}")


def _severity(impact: Decimal, min_impact: float) -> str:
    """high: 10 times the minimum impact or more; medium: 3 times; low: below."""
    floor = Decimal(str(min_impact)) or Decimal(1)
    if impact >= 10 * floor:
        return "high"
    return "medium" if impact >= 3 * floor else "low"


def _dimensions(scope: str, settings: AnomalySettings) -> list[tuple[str, str, list[Any]]]:
    """(dimension, SQL expression, parameters) the drivers of a scope are looked for in."""
    dims: list[tuple[str, str, list[Any]]] = [
        (d, quote_ident(col), []) for d, col in DRIVER_COLUMNS.items() if d != scope
    ]
    dims += [
        (f"tag:{k}", "json_extract_string(Tags, ?)", [_pointer(k)])
        for k in _keys(settings)
        if f"tag:{k}" != scope
    ]
    return dims


def _add_drivers(
    con: duckdb.DuckDBPyConnection, anomalies: list[Anomaly], settings: AnomalySettings
) -> None:
    """Fill each anomaly's drivers: the services, accounts, resources and tag values
    whose cost that day moved most from the median of the same weekday in the window.

    One query per scope kind: the days each anomaly needs are joined in as a table.
    """
    weeks = settings.lookback_days // 7
    by_kind: dict[str, list[int]] = {}
    for i, anomaly in enumerate(anomalies):
        by_kind.setdefault(anomaly.scope, []).append(i)
    for kind, indices in by_kind.items():
        if kind == GPU_SCOPE:
            _add_gpu_drivers(con, [anomalies[i] for i in indices], weeks)
            continue
        wanted = pa.table(
            {
                "idx": [i for i in indices for _ in range(weeks + 1)],
                "scope_value": [
                    anomalies[i].scope_value for i in indices for _ in range(weeks + 1)
                ],
                "currency": [anomalies[i].currency for i in indices for _ in range(weeks + 1)],
                "day": [
                    anomalies[i].date - timedelta(days=7 * w)
                    for i in indices
                    for w in range(weeks + 1)
                ],
            }
        )
        scope_params: list[Any] = []
        if kind == "total":
            scope_expr = "'total'"
        elif kind in SCOPE_COLUMNS:
            scope_expr = quote_ident(SCOPE_COLUMNS[kind])
        else:
            scope_expr, scope_params = "json_extract_string(Tags, ?)", [_pointer(kind[4:])]
        dims = _dimensions(kind, settings)
        parts, params = [], []
        for dim, expr, expr_params in dims:
            parts.append(
                f"SELECT w.idx, ? AS dim, {expr} AS member, w.day, sum(c.EffectiveCost) "  # noqa: S608
                f"FROM cost AS c JOIN _mlcost_wanted AS w "
                f"ON CAST(c.ChargePeriodStart AS DATE) = w.day "
                f"AND {scope_expr} = w.scope_value AND c.BillingCurrency = w.currency "
                f"WHERE {_DAILY_LINES} GROUP BY ALL"
            )
            params += [dim, *expr_params, *scope_params]
        costs: dict[int, dict[tuple[str, str | None], dict[date, Decimal]]] = {}
        con.register("_mlcost_wanted", wanted)
        try:
            rows = con.execute(" UNION ALL ".join(parts), params).fetchall()
        finally:
            con.unregister("_mlcost_wanted")
        for idx, dim, member, day, cost in rows:
            costs.setdefault(idx, {}).setdefault((dim, member), {})[day] = cost
        for i in indices:
            anomalies[i].drivers = _rank_drivers(anomalies[i], costs.get(i, {}), dims, weeks)


def _add_gpu_drivers(con: duckdb.DuckDBPyConnection, anomalies: list[Anomaly], weeks: int) -> None:
    """Drivers of a jump in running GPUs: the resources, instance types and accounts
    running more GPUs than on the same weekday before."""
    days = sorted({a.date - timedelta(days=7 * w) for a in anomalies for w in range(weeks + 1)})
    marks = ", ".join("?" for _ in days)
    rows = con.execute(
        f"SELECT day, resource, instance_type, account, gpus FROM ({_GPU_RESOURCES}) "  # noqa: S608
        f"WHERE gpus > 0 AND day IN ({marks})",
        days,
    ).fetchall()
    costs: dict[tuple[str, str | None], dict[date, Decimal]] = {}
    for day, resource, instance_type, account, gpus in rows:
        for dim, member in (
            ("resource", resource),
            ("instance_type", instance_type),
            ("account", account),
        ):
            by_day = costs.setdefault((dim, member), {})
            by_day[day] = by_day.get(day, Decimal(0)) + Decimal(gpus)
    dims: list[tuple[str, str, list[Any]]] = [
        ("resource", "", []),
        ("instance_type", "", []),
        ("account", "", []),
    ]
    for anomaly in anomalies:
        anomaly.drivers = _rank_drivers(anomaly, costs, dims, weeks)


def _rank_drivers(
    anomaly: Anomaly,
    costs: dict[tuple[str, str | None], dict[date, Decimal]],
    dims: list[tuple[str, str, list[Any]]],
    weeks: int,
) -> list[dict[str, Any]]:
    # The same weekdays before, where the scope was billed at all (not before the data).
    billed = {d for by_day in costs.values() for d in by_day}
    days = [anomaly.date - timedelta(days=7 * w) for w in range(1, weeks + 1)]
    days = [d for d in days if d in billed]
    sign = 1 if anomaly.direction == "spike" else -1
    impact = anomaly.impact
    ranked: dict[str, list[dict[str, Any]]] = {}
    for (dim, member), by_day in costs.items():
        actual = by_day.get(anomaly.date, Decimal(0))
        expected = _median(sorted(by_day.get(d, Decimal(0)) for d in days))
        change = actual - expected
        if sign * change <= 0:
            continue
        ranked.setdefault(dim, []).append(
            {
                "dimension": dim,
                "value": member,
                "actual": str(actual),
                "expected": str(expected),
                "change": str(change),
                "share_pct": round(float(change / impact * 100), 1) if impact else None,
                "_change": change,
            }
        )
    out = []
    for dim, _, _ in dims:
        top = sorted(ranked.get(dim, []), key=lambda d: -sign * d["_change"])[:TOP_DRIVERS]
        out += [{k: v for k, v in d.items() if k != "_change"} for d in top]
    return out


def _median(values: Sequence[Decimal]) -> Decimal:
    if not values:
        return Decimal(0)
    mid = len(values) // 2
    if len(values) % 2:
        return values[mid]
    return (values[mid - 1] + values[mid]) / 2


def _anomaly_table(anomalies: list[Anomaly]) -> pa.Table:
    schema = arrow_schema("anomalies")
    rows = [
        {
            "date": a.date,
            "provider": a.provider,
            "scope": a.scope,
            "scope_value": a.scope_value,
            "actual": a.actual,
            "expected": a.expected,
            "low": a.low,
            "high": a.high,
            "direction": a.direction,
            "severity": a.severity,
            "drivers": json.dumps(
                {"unit": "GPUs", "top": a.drivers}
                if a.scope == GPU_SCOPE
                else {"currency": a.currency, "top": a.drivers}
            ),
        }
        for a in anomalies
    ]
    return pa.Table.from_pylist(rows, schema=schema)


# -- listing and feedback ----------------------------------------------------------------

_LIST_SQL = """
SELECT a.id, a.date, a.provider, a.scope, a.scope_value, a.direction, a.severity,
       a.drivers ->> '$.currency' AS currency, a.actual, a.expected, a.low, a.high,
       a.actual - a.expected AS impact,
       CASE WHEN a.expected > 0
            THEN round(CAST((a.actual - a.expected) / a.expected * 100 AS DOUBLE), 1)
       END AS impact_pct,
       coalesce(f.status, 'open') AS status, f.reason,
       CAST(a.drivers -> '$.top' AS VARCHAR) AS drivers, a.analyzed_at
FROM (SELECT *, substr(md5(scope || chr(31) || scope_value || chr(31)
                           || strftime(date, '%Y-%m-%d')), 1, 12) AS id
      FROM anomalies) AS a
LEFT JOIN anomaly_feedback AS f ON f.anomaly_id = a.id
WHERE ({scope_filter}) AND (CAST(? AS DATE) IS NULL OR a.date >= ?)
ORDER BY a.date DESC, a.scope, a.scope_value
"""


def list_anomalies(
    store: Store,
    *,
    scopes: Sequence[str] = (),
    since: date | None = None,
    tag_keys: Sequence[str] = (),
) -> pa.Table:
    """The stored anomalies, newest first, with their impact and any feedback.

    ``scopes`` are scope kinds (``service``, ``tag:team``) or ``kind=value``, matched by
    ``mlcost.vocabulary`` (any case; ``provider=aws`` names the AWS series); an unknown
    kind or value is an error listing the known ones (``tag_keys``: the configured tag
    scopes, known even before one has an anomaly).
    """
    if scopes:
        from mlcost.vocabulary import resolve_scopes

        keys = tag_keys or AnomalySettings().tag_keys
        with store.reader() as con:
            scopes = resolve_scopes(con, scopes, keys)
    conditions, params = [], []
    for scope in scopes:
        kind, sep, value = scope.partition("=")
        if sep:
            conditions.append("(a.scope = ? AND a.scope_value = ?)")
            params += [kind.strip(), value.strip()]
        else:
            conditions.append("a.scope = ?")
            params.append(kind.strip())
    scope_filter = " OR ".join(conditions) or "TRUE"
    with store.reader() as con:
        query = _LIST_SQL.format(scope_filter=scope_filter)
        return con.sql(query, params=[*params, since, since]).to_arrow_table()


def acknowledge(store: Store, anomaly: str, reason: str, note: str | None = None) -> str:
    """Record that an anomaly was expected or planned; kept across re-analysis (the id
    is its scope, value and day; a unique prefix of at least 4 characters will do).
    Returns the stored reason."""
    if reason not in FEEDBACK_REASONS:
        raise InputError(f"Unknown reason {reason!r}; choose one of {', '.join(FEEDBACK_REASONS)}.")
    text = f"{reason}: {note}" if note else reason
    from mlcost.vocabulary import resolve_id

    with store.reader() as con:
        found = resolve_id(
            con,
            f"SELECT * FROM ({_ID_SQL}) AS ids(id) WHERE id LIKE $prefix",  # noqa: S608 - ours
            anomaly,
            "anomaly",
            "Give more of the id (`mlcost anomalies` lists them).",
        )
    if found is None:
        raise InputError(
            f"No anomaly has the id {anomaly!r}.",
            "`mlcost anomalies` lists them with their ids (run `mlcost analyze` first).",
        )
    anomaly = found
    # anomaly_feedback has a primary key, which load() (insert, then replace) cannot
    # write; a user's acknowledgement is one upserted row.
    with store.writer() as con:
        con.execute(
            "INSERT INTO anomaly_feedback VALUES (?, 'acknowledged', ?, ?) "
            "ON CONFLICT (anomaly_id) DO UPDATE SET status = excluded.status, "
            "reason = excluded.reason, updated_at = excluded.updated_at",
            [anomaly, text, datetime.now(UTC).replace(tzinfo=None)],
        )
    return text


_ID_SQL = (
    "SELECT substr(md5(scope || chr(31) || scope_value || chr(31) "
    "|| strftime(date, '%Y-%m-%d')), 1, 12) FROM anomalies"
)


def terminal_view(table: pa.Table) -> pa.Table:
    """The list narrowed for a terminal: the key figures and the top resource driver."""
    rows = table.to_pylist()
    for row in rows:
        drivers = json.loads(row["drivers"] or "[]")
        pick = next((d for d in drivers if d["dimension"] == "resource"), None) or next(
            iter(drivers), None
        )
        row["top_driver"] = (
            f"{pick['dimension']} {(pick['value'] or '(none)').rsplit('/', 1)[-1]} "
            f"{Decimal(pick['change']):+,.2f} ({pick['share_pct']}%)"
            if pick
            else None
        )
    # impact (actual - expected) and the acknowledgement's reason are in the exports
    keep = [
        "id",
        "date",
        "scope",
        "scope_value",
        "direction",
        "severity",
        "actual",
        "expected",
        "impact_pct",
        "status",
        "top_driver",
    ]
    if not rows:
        return table.select([c for c in keep if c in table.column_names])
    return pa.Table.from_pylist([{k: r[k] for k in keep} for r in rows])


def seven_day_mean_rule(values: np.ndarray, *, threshold_pct: float = 30.0) -> np.ndarray:
    """The common open-source rule (OptScale's), kept to compare against: a day whose
    cost exceeds the mean of the 7 days before it by more than ``threshold_pct``.
    Spikes only; days without 7 days before them are not judged."""
    y = np.asarray(values, dtype=float)
    flags = np.zeros(len(y), dtype=bool)
    if len(y) <= 7:
        return flags
    means = sliding_window_view(y, 7)[:-1].mean(axis=1)
    flags[7:] = y[7:] > means * (1 + threshold_pct / 100)
    return flags
