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
import functools
import hashlib
import itertools
import json
import warnings
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.lib.stride_tricks import sliding_window_view

from mlcost.choices import FEEDBACK_REASONS
from mlcost.config import ANOMALY_SENSITIVITIES, AnomalySettings
from mlcost.engine import DuckDBEngine, Engine, EngineLike, as_engine
from mlcost.errors import InputError
from mlcost.schema import MONEY, MONEY_ARROW, arrow_schema
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
#: Running GPUs per resource and day: the most any of its lines that day says (a line's
#: GPUs: FOCUS SkuPriceDetails.GpuCount, else the price list's for its instance type).
_GPU_RESOURCES = (
    "SELECT CAST(c.ChargePeriodStart AS DATE) AS day, c.ResourceId AS resource, "
    "any_value(c.ProviderName) AS provider, any_value(c.SubAccountId) AS account, "
    "any_value(json_extract_string(c.SkuPriceDetails, '/InstanceType')) AS instance_type, "
    "max(coalesce(TRY_CAST(json_extract_string(c.SkuPriceDetails, '/GpuCount') AS INTEGER), "
    "p.gpu_count)) AS gpus FROM cost AS c "
    "LEFT JOIN (SELECT instance_type, max(gpu_count) AS gpu_count FROM prices "
    "GROUP BY instance_type) AS p "
    "ON p.instance_type = json_extract_string(c.SkuPriceDetails, '/InstanceType') "
    "WHERE c.ChargeCategory = 'Usage' AND c.ResourceId IS NOT NULL "
    "AND c.ChargePeriodEnd <= c.ChargePeriodStart + INTERVAL 1 DAY GROUP BY 1, 2"
)

#: The billing lines that make a day's cost: usage charged for at most one day.
_DAILY_LINES = (
    "ChargeCategory = 'Usage' AND EffectiveCost IS NOT NULL "
    "AND ChargePeriodEnd <= ChargePeriodStart + INTERVAL 1 DAY"
)
#: The last day each provider has billed usage for.
_LAST_DAYS = (
    f"SELECT ProviderName, max(CAST(ChargePeriodStart AS DATE)) FROM cost "  # noqa: S608
    f"WHERE {_DAILY_LINES} GROUP BY 1"
)
#: The drivers of a jump in running GPUs: the GPUs each resource ran on the days asked.
_GPU_DRIVERS = (
    f"SELECT day, resource, instance_type, account, gpus FROM ({_GPU_RESOURCES}) AS g "  # noqa: S608
    f"WHERE gpus > 0 AND day IN (SELECT day FROM {{days}})"
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


#: The columns of a series' daily rows (:func:`_series_sql`); a series is one
#: (scope, value, currency).
_SERIES_COLUMNS = ("scope", "value", "currency", "day", "provider", "cost")
_SERIES_KEY = ["scope", "value", "currency"]
#: What judging one series returns (:func:`_judge_group`): a row per anomaly, and one
#: verdict on the series (``judged``, or ``short`` with its days of history).
_VERDICTS = pa.schema(
    [
        ("scope", pa.string()),
        ("value", pa.string()),
        ("currency", pa.string()),
        ("provider", pa.string()),
        ("verdict", pa.string()),
        ("history_days", pa.int64()),
        ("date", pa.date32()),
        ("actual", MONEY_ARROW),
        ("expected", MONEY_ARROW),
        ("low", MONEY_ARROW),
        ("high", MONEY_ARROW),
        ("direction", pa.string()),
        ("severity", pa.string()),
    ]
)
#: The registered tables the drivers' queries join.
_WANTED = "_mlcost_wanted"
_DAYS = "_mlcost_days"

JsonPath = Callable[[str], str]


def _scope_columns(
    settings: AnomalySettings, json_path: JsonPath
) -> list[tuple[str, str, dict[str, Any]]]:
    """(scope, SQL expression of its value, its parameters) for every scope kind."""
    scopes: list[tuple[str, str, dict[str, Any]]] = [("total", "'total'", {})]
    scopes += [(s, quote_ident(col), {}) for s, col in SCOPE_COLUMNS.items()]
    scopes += [
        (f"tag:{key}", f"json_extract_string(Tags, $tag_{i})", {f"tag_{i}": json_path(key)})
        for i, key in enumerate(_keys(settings))
    ]
    return scopes


def _keys(settings: AnomalySettings) -> list[str]:
    return list(settings.keys)


def _series_sql(
    settings: AnomalySettings, json_path: JsonPath, scopes: Collection[str] | None = None
) -> tuple[str, dict[str, Any]]:
    """Every series' daily cost (only the scope kinds in ``scopes`` where given), as rows
    of :data:`_SERIES_COLUMNS` (provider NULL on a day several bill); "" if none.

    One pass over the billing for every money scope (a grouping set each), one for the
    running GPUs."""
    chosen = [
        (scope, expr, expr_params)
        for scope, expr, expr_params in _scope_columns(settings, json_path)
        if scopes is None or scope in scopes
    ]
    parts: list[str] = []
    params: dict[str, Any] = {}
    if chosen:
        values = ", ".join(f"{expr} AS v_{i}" for i, (_, expr, _) in enumerate(chosen))
        sets = ", ".join(f"(v_{i}, currency, day)" for i in range(len(chosen)))
        scope = " ".join(f"WHEN grouping(v_{i}) = 0 THEN $scope_{i}" for i in range(len(chosen)))
        value = " ".join(f"WHEN grouping(v_{i}) = 0 THEN v_{i}" for i in range(len(chosen)))
        parts.append(
            f"SELECT CASE {scope} END AS scope, CASE {value} END AS value, currency, day, "  # noqa: S608
            "CASE WHEN count(DISTINCT provider) = 1 THEN min(provider) END AS provider, "
            "sum(EffectiveCost) AS cost "
            f"FROM (SELECT {values}, BillingCurrency AS currency, "
            "CAST(ChargePeriodStart AS DATE) AS day, ProviderName AS provider, EffectiveCost "
            f"FROM cost WHERE {_DAILY_LINES}) AS c GROUP BY GROUPING SETS ({sets})"
        )
        for i, (scope_name, _, expr_params) in enumerate(chosen):
            params[f"scope_{i}"] = scope_name
            params |= expr_params
    if scopes is None or GPU_SCOPE in scopes:
        parts.append(
            f"SELECT '{GPU_SCOPE}' AS scope, 'running' AS value, NULL AS currency, day, "  # noqa: S608
            "CASE WHEN count(DISTINCT provider) = 1 THEN min(provider) END AS provider, "
            f"CAST(sum(gpus) AS {MONEY}) AS cost FROM ({_GPU_RESOURCES}) AS g WHERE gpus > 0 "
            "GROUP BY day"
        )
    if not parts:
        return "", params
    union = " UNION ALL ".join(parts)
    return f"SELECT * FROM ({union}) AS s WHERE value IS NOT NULL", params  # noqa: S608


def _last_days(engine: Engine) -> dict[str, date]:
    """The last day each provider has billed usage for."""
    return {provider: last for provider, last in engine.rows(_LAST_DAYS) if provider is not None}


@dataclass(frozen=True)
class _Cutoff:
    """Where each series' complete days end: the last day its provider billed minus
    ``lag``; a series spanning providers waits for the slowest (``overall``)."""

    last: dict[str, date]
    lag: timedelta
    overall: date

    @classmethod
    def of(cls, engine: Engine, settings: AnomalySettings) -> _Cutoff | None:
        last = _last_days(engine)
        if not last:
            return None
        lag = timedelta(days=settings.lag_days)
        return cls(last, lag, min(last.values()) - lag)


# -- detection ---------------------------------------------------------------------------


def detect_anomalies(
    store: Store, settings: AnomalySettings, *, engine: Engine | None = None
) -> AnomalyResult:
    """Judge every complete day of every scope and replace the ``anomalies`` table
    (on ``engine`` where given, its tables the store's input: ``--engine spark``)."""
    result, previous_scopes = find_anomalies(store, settings, engine=engine)
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


def find_anomalies(
    store: Store, settings: AnomalySettings, *, engine: Engine | None = None
) -> tuple[AnomalyResult, set[str]]:
    """The anomalies of the store's billing (or ``engine``'s), without writing them, and
    the scopes the store holds anomalies for now, which a new run replaces."""
    with store.reader() as con:
        previous = {r[0] for r in con.execute("SELECT DISTINCT scope FROM anomalies").fetchall()}
        if engine is None:
            return judge_anomalies(DuckDBEngine(con), settings), previous
    return judge_anomalies(engine, settings), previous


def judge_anomalies(engine: Engine, settings: AnomalySettings) -> AnomalyResult:
    """Every series judged by :func:`_judge_group`, one group per series (on Spark, on
    the executors), and the anomalies' drivers; only the verdicts come back."""
    cutoff = _Cutoff.of(engine, settings)
    if cutoff is None:
        return AnomalyResult([], None, 0, [])
    sql, params = _series_sql(settings, engine.json_path)
    judge = functools.partial(
        _judge_group,
        settings=settings,
        band=ANOMALY_SENSITIVITIES[settings.sensitivity],
        cutoff=cutoff,
    )
    verdicts = engine.group_apply(sql, _SERIES_KEY, judge, _VERDICTS, params)
    rows = sorted(
        verdicts.to_pylist(),
        key=lambda r: (r["scope"], r["value"], r["currency"] or "", r["date"] or date.min),
    )
    anomalies: list[Anomaly] = []
    short: list[tuple[str, str, int]] = []
    judged = 0
    for r in rows:
        if r["verdict"] == "short":
            short.append((r["scope"], r["value"], r["history_days"]))
        elif r["verdict"] == "judged":
            judged += 1
        else:
            anomalies.append(
                Anomaly(
                    **{k: r[k] for k in ("date", "provider", "currency", "actual", "expected")},
                    **{k: r[k] for k in ("low", "high", "direction", "severity")},
                    scope=r["scope"],
                    scope_value=r["value"],
                )
            )
    _add_drivers(engine, anomalies, settings)
    anomalies.sort(key=lambda a: (a.date, a.scope, a.scope_value))
    return AnomalyResult(anomalies, cutoff.overall, judged, sorted(short))


def _judge_group(
    group: pa.Table, *, settings: AnomalySettings, band: float, cutoff: _Cutoff
) -> pa.Table:
    """One series' daily rows judged: its anomalies and its verdict (see
    :data:`_VERDICTS`). The group function of :func:`judge_anomalies`, on any engine."""
    rows = sorted(
        zip(*(group.column(c).to_pylist() for c in _SERIES_COLUMNS), strict=True),
        key=lambda r: r[3],
    )
    s = _complete(rows, cutoff)
    out: list[dict[str, Any]] = []
    if s is None:
        return pa.Table.from_pylist(out, schema=_VERDICTS)
    head = {"scope": s.scope, "value": s.value, "currency": s.currency, "provider": s.provider}
    if len(s.costs) <= settings.min_history_days:
        if s.active_within(settings.lookback_days):
            out.append({**head, "verdict": "short", "history_days": len(s.costs)})
        return pa.Table.from_pylist(out, schema=_VERDICTS)
    out.append({**head, "verdict": "judged", "history_days": len(s.costs)})
    for a in _judge(s, settings, band):
        out.append(
            {
                **head,
                "verdict": "anomaly",
                "history_days": len(s.costs),
                **{k: getattr(a, k) for k in ("date", "actual", "expected", "low", "high")},
                "direction": a.direction,
                "severity": a.severity,
            }
        )
    return pa.Table.from_pylist(out, schema=_VERDICTS)


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
    con: EngineLike,
    settings: AnomalySettings,
    *,
    scopes: Collection[str] | None = None,
) -> tuple[list[ScopeSeries], date | None]:
    """Every scope's complete days (only the scope kinds in ``scopes`` where given: the
    dashboard draws one), and the last complete day of the whole bill.

    A provider's days are complete up to the last day it billed minus ``lag_days``; a
    scope spanning providers (total, tags) waits for the slowest provider.
    """
    engine = as_engine(con)
    cutoff = _Cutoff.of(engine, settings)
    if cutoff is None:
        return [], None
    sql, params = _series_sql(settings, engine.json_path, scopes)
    if not sql:
        return [], cutoff.overall
    rows = engine.rows(f"{sql} ORDER BY scope, value, currency, day", params)
    out = []
    for _, group in itertools.groupby(rows, key=lambda r: r[:3]):
        s = _complete(list(group), cutoff)
        if s is not None:
            out.append(s)
    return out, cutoff.overall


def _complete(rows: Sequence[tuple[Any, ...]], cutoff: _Cutoff) -> ScopeSeries | None:
    """One series (its :data:`_SERIES_COLUMNS` rows, by day) from its first billed day
    to its last complete day, zero where nothing was billed; None if none is complete."""
    scope, value, currency = rows[0][:3]
    providers = {r[4] for r in rows}
    provider = rows[0][4] if len(providers) == 1 else None
    first = rows[0][3]
    end = cutoff.last[provider] - cutoff.lag if provider in cutoff.last else cutoff.overall
    n = (end - first).days + 1
    if n <= 0:
        return None
    exact = [Decimal(0)] * n
    for _, _, _, day, _, cost in rows:
        i = (day - first).days
        if i < n:
            exact[i] = cost
    return ScopeSeries(scope, value, currency, provider, first, exact)


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


def _dimensions(settings: AnomalySettings) -> list[str]:
    """The dimensions drivers are looked for in (a scope's own kind left out)."""
    return [*DRIVER_COLUMNS, *(f"tag:{k}" for k in _keys(settings))]


def _drivers_sql(settings: AnomalySettings, json_path: JsonPath) -> tuple[str, dict[str, Any]]:
    """The cost per driver member of every dimension on the days :data:`_WANTED` asks
    for (each row of it: an anomaly's scope kind and value, currency and one day)."""
    keys = _keys(settings)
    params: dict[str, Any] = {f"tag_{i}": json_path(k) for i, k in enumerate(keys)}
    params |= {f"kind_{i}": f"tag:{k}" for i, k in enumerate(keys)}
    scope = "CASE w.kind WHEN 'total' THEN 'total' "
    scope += "".join(f"WHEN '{s}' THEN c.{quote_ident(col)} " for s, col in SCOPE_COLUMNS.items())
    scope += "".join(
        f"WHEN $kind_{i} THEN json_extract_string(c.Tags, $tag_{i}) " for i in range(len(keys))
    )
    scope += "END"
    members = [f"c.{quote_ident(col)}" for col in DRIVER_COLUMNS.values()]
    members += [f"json_extract_string(c.Tags, $tag_{i})" for i in range(len(keys))]
    dims = _dimensions(settings)
    params |= {f"dim_{j}": dim for j, dim in enumerate(dims)}
    columns = ", ".join(f"{member} AS m_{j}" for j, member in enumerate(members))
    sets = ", ".join(f"(idx, kind, day, m_{j})" for j in range(len(dims)))
    dim = " ".join(f"WHEN grouping(m_{j}) = 0 THEN $dim_{j}" for j in range(len(dims)))
    member = " ".join(f"WHEN grouping(m_{j}) = 0 THEN m_{j}" for j in range(len(dims)))
    # one join, a grouping set per dimension; a scope's own kind is no driver of it
    sql = (
        "SELECT idx, dim, member, day, cost FROM ("  # noqa: S608
        f"SELECT idx, kind, CASE {dim} END AS dim, CASE {member} END AS member, day, "
        "sum(EffectiveCost) AS cost FROM ("
        f"SELECT w.idx, w.kind, w.day, {columns}, c.EffectiveCost "
        f"FROM cost AS c JOIN {_WANTED} AS w "
        "ON CAST(c.ChargePeriodStart AS DATE) = w.day AND c.BillingCurrency = w.currency "
        f"AND ({scope}) = w.scope_value WHERE {_DAILY_LINES}) AS j "
        f"GROUP BY GROUPING SETS ({sets})) AS g WHERE kind <> dim"
    )
    return sql, params


def _add_drivers(engine: Engine, anomalies: list[Anomaly], settings: AnomalySettings) -> None:
    """Fill each anomaly's drivers: the services, accounts, resources and tag values
    whose cost that day moved most from the median of the same weekday in the window.

    One query for them all: the days each anomaly needs are joined in as a table.
    """
    weeks = settings.lookback_days // 7
    gpus = [a for a in anomalies if a.scope == GPU_SCOPE]
    if gpus:
        _add_gpu_drivers(engine, gpus, weeks)
    money = [i for i, a in enumerate(anomalies) if a.scope != GPU_SCOPE]
    if not money:
        return
    each = [(i, w) for i in money for w in range(weeks + 1)]
    wanted = pa.table(
        {
            "idx": pa.array([i for i, _ in each], pa.int64()),
            "kind": pa.array([anomalies[i].scope for i, _ in each], pa.string()),
            "scope_value": pa.array([anomalies[i].scope_value for i, _ in each], pa.string()),
            "currency": pa.array([anomalies[i].currency for i, _ in each], pa.string()),
            "day": pa.array(
                [anomalies[i].date - timedelta(days=7 * w) for i, w in each], pa.date32()
            ),
        }
    )
    sql, params = _drivers_sql(settings, engine.json_path)
    with engine.registered(_WANTED, wanted):
        rows = engine.rows(sql, params)
    costs: dict[int, dict[tuple[str, str | None], dict[date, Decimal]]] = {}
    for idx, dim, member, day, cost in rows:
        costs.setdefault(idx, {}).setdefault((dim, member), {})[day] = cost
    dims = _dimensions(settings)
    for i in money:
        a = anomalies[i]
        a.drivers = _rank_drivers(a, costs.get(i, {}), [d for d in dims if d != a.scope], weeks)


def _add_gpu_drivers(engine: Engine, anomalies: list[Anomaly], weeks: int) -> None:
    """Drivers of a jump in running GPUs: the resources, instance types and accounts
    running more GPUs than on the same weekday before."""
    days = sorted({a.date - timedelta(days=7 * w) for a in anomalies for w in range(weeks + 1)})
    with engine.registered(_DAYS, pa.table({"day": pa.array(days, pa.date32())})):
        rows = engine.rows(_GPU_DRIVERS.format(days=_DAYS))
    costs: dict[tuple[str, str | None], dict[date, Decimal]] = {}
    for day, resource, instance_type, account, gpus in rows:
        for dim, member in (
            ("resource", resource),
            ("instance_type", instance_type),
            ("account", account),
        ):
            by_day = costs.setdefault((dim, member), {})
            by_day[day] = by_day.get(day, Decimal(0)) + Decimal(gpus)
    for anomaly in anomalies:
        anomaly.drivers = _rank_drivers(
            anomaly, costs, ["resource", "instance_type", "account"], weeks
        )


def _rank_drivers(
    anomaly: Anomaly,
    costs: dict[tuple[str, str | None], dict[date, Decimal]],
    dims: list[str],
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
    for dim in dims:
        # ties (four identical instances) by member, so every engine picks the same
        top = sorted(
            ranked.get(dim, []),
            key=lambda d: (-sign * d["_change"], d["value"] is None, d["value"] or ""),
        )[:TOP_DRIVERS]
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
