"""mlcost as a library: open a store, load billing, analyse, and read spend, findings,
anomalies, commitments and run costs, with the filters the CLI and the dashboard offer.

    import mlcost
    ws = mlcost.open("mlcost.duckdb")
    ws.analyze()
    by_service = mlcost.to_pandas(ws.spend(by="service", providers="aws"))

Every reading method returns an Arrow table with exact money (``decimal128(38, 12)``):
these are the functions `mlcost analyze`, `mlcost recommendations`, `mlcost anomalies`,
`mlcost commitments`, `mlcost experiments`, the dashboard and the report call, so the
same question gives the same figure everywhere. :func:`to_pandas` turns a table into a
pandas frame with money as ``float64`` (sums and plots work as expected; round a sum to
the cent and it is the exact figure for the sizes billing has); the exact totals are
:meth:`Workspace.headline` (``Decimal``) and the Arrow tables.

Filters are keywords every reading method takes: ``since`` and ``until`` (days, UTC,
inclusive; a ``date`` or ``"YYYY-MM-DD"``), ``providers`` and ``accounts`` (one value,
a comma-separated string or a list, in any case, by key or as billed), ``tags`` (tag key
→ the values kept), or ``filters`` (a ready :class:`mlcost.filters.Filters`, which the
keywords override). A misspelt value is an :class:`mlcost.errors.InputError` that lists
the valid ones.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Literal, TypedDict, Unpack

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from mlcost import figures, views, vocabulary
from mlcost.analysis import Analyses, run_analyses
from mlcost.config import Settings, load_settings
from mlcost.errors import InputError
from mlcost.filters import Filters, resolve
from mlcost.ingest import BillingIngest, ingest_billing, ingest_sample
from mlcost.store import DEFAULT_DB, LoadResult, ProgressCallback, Store
from mlcost.summary import spend_by, spend_summary

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["COMMITMENT_VIEWS", "FILTER_KEYWORDS", "Where", "Workspace", "open", "to_pandas"]

#: What :meth:`Workspace.commitments` can show.
COMMITMENT_VIEWS = ("utilisation", "coverage", "expiring")

Day = date | datetime | str | None
Values = str | Sequence[str] | None


class Where(TypedDict, total=False):
    """The filter keywords every reading method takes (all optional)."""

    filters: Filters
    since: Day
    until: Day
    providers: Values
    accounts: Values
    tags: Mapping[str, str | Sequence[str]]


#: The filter keywords, as :class:`Where` declares them.
FILTER_KEYWORDS = tuple(Where.__annotations__)


def open(
    path: str | os.PathLike[str] = DEFAULT_DB,
    *,
    config: str | os.PathLike[str] | Settings | None = None,
) -> Workspace:
    """The store at ``path`` with the settings of ``config`` (a file, or ready
    :class:`~mlcost.config.Settings`; default: ``$MLCOST_CONFIG``, else ./mlcost.toml if
    present, else the defaults), opened as the CLI opens it. Nothing is read until a
    method is called; loading creates the store if there is none."""
    settings = config if isinstance(config, Settings) else load_settings(config)
    return Workspace(Store.from_settings(path, settings), settings)


class Workspace:
    """A store and its settings: what a notebook, the CLI, the dashboard and the report
    read through. Each call opens a short read-only connection (or the writer, to load
    or analyse) and closes it, so a notebook never holds the store."""

    def __init__(self, store: Store, settings: Settings | None = None) -> None:
        self.store = store
        self.settings = settings if settings is not None else Settings()

    def __repr__(self) -> str:
        return f"Workspace({str(self.store.path)!r})"

    # -- writing ---------------------------------------------------------------------

    def load(
        self,
        paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        *,
        fmt: str = "auto",
        source: str | None = None,
        allow_empty: bool = False,
        on_rows: ProgressCallback | None = None,
    ) -> BillingIngest:
        """Load billing exports (`mlcost ingest billing`): files, folders, globs,
        s3:// or bq:// locations; each (source, billing period) replaces the old one."""
        if isinstance(paths, str | os.PathLike):
            paths = [paths]
        return ingest_billing(
            self.store,
            [os.fspath(p) for p in paths],
            fmt=fmt,
            source=source,
            allow_empty=allow_empty,
            on_rows=on_rows,
            settings=self.settings.billing,
        )

    def load_sample(self, *, seed: int = 7, on_rows: ProgressCallback | None = None) -> LoadResult:
        """Load the sample organisation (`mlcost ingest sample`; what `mlcost demo` shows)."""
        return ingest_sample(self.store, seed=seed, on_rows=on_rows)

    def analyze(self) -> Analyses:
        """Run every analysis (`mlcost analyze`): waste rules and commitment findings,
        anomaly detection, the cost of each ML run; the settings' parameters apply."""
        return run_analyses(self.store, self.settings)

    # -- reading ---------------------------------------------------------------------

    def filters(self, **where: Unpack[Where]) -> Filters:
        """The filter keywords as :class:`Filters`, in the store's spelling (an unknown
        provider or account is an error listing the known ones)."""
        with self.store.reader() as con:
            return self._resolve(con, where)

    def headline(self, **where: Unpack[Where]) -> figures.Headline:
        """The headline figures (``mlcost.figures``), exact: billed, amortised and usage
        spend per currency, savings a month, open anomalies, and the days they cover."""
        # figures.headline resolves the filters on its own reader (one store open less)
        return figures.headline(self.store, self._chosen(where))

    def spend(
        self,
        by: str | Sequence[str] = "service",
        *,
        limit: int | None = None,
        **where: Unpack[Where],
    ) -> pa.Table:
        """Billed, amortised (effective) and usage cost per value of ``by``: provider,
        account, service, service_category, region, charge_category, month, day, source
        or ``tag:KEY``; largest first. Several dimensions give one long table
        (dimension, value, currency, sums), as `mlcost analyze --format csv` writes."""
        with self.store.reader() as con:
            chosen = self._resolve(con, where)
            if isinstance(by, str):
                return spend_by(con, by, limit=limit, filters=chosen)
            table = spend_summary(con, list(by), chosen)
            return table if limit is None else table.slice(0, limit)

    def findings(
        self,
        *,
        rules: Values = None,
        status: str = "open",
        min_savings: float | None = None,
        limit: int | None = None,
        **where: Unpack[Where],
    ) -> pa.Table:
        """Findings (DESIGN.md §4 fields), largest saving first: ``rules`` by id,
        ``status`` open, dismissed, closed or all; the date range keeps those whose
        detection window overlaps it."""
        with self.store.reader() as con:
            return views.findings(
                con,
                self._resolve(con, where),
                rules=_values(rules),
                status=status,
                min_savings=min_savings,
                limit=limit,
            )

    def savings(self, **where: Unpack[Where]) -> pa.Table:
        """Open findings' monthly savings per rule and provider, and a ``total`` row per
        currency with each resource counted once (the headline's savings)."""
        with self.store.reader() as con:
            return views.savings(con, self._resolve(con, where))

    def anomalies(self, *, scopes: Values = None, **where: Unpack[Where]) -> pa.Table:
        """Cost anomalies, newest first, with any acknowledgement. ``scopes``: total,
        provider, account, service, tag:KEY, gpus or KIND=VALUE (``provider=aws,gcp``);
        a provider, account or tag filter keeps the series of those values."""
        chosen = self.filters(**where)
        return views.anomalies(
            self.store,
            chosen,
            scopes=(scopes,) if isinstance(scopes, str) else tuple(scopes or ()),
            tag_keys=self.settings.anomalies.tag_keys,
        )

    def commitments(
        self,
        view: Literal["utilisation", "coverage", "expiring"] = "utilisation",
        *,
        grain: str = "month",
        by: str = "provider",
        within_days: int = 60,
        **where: Unpack[Where],
    ) -> pa.Table:
        """Reservations, Savings Plans and CUDs from billing: ``utilisation`` per commitment
        and ``grain`` (day, month, all), ``coverage`` of eligible usage ``by`` provider,
        account, service, family or region (``grain`` month or all), or those
        ``expiring`` within ``within_days`` of the end of the data."""
        if view not in COMMITMENT_VIEWS:
            raise InputError(
                f"Unknown commitments view {view!r}; choose one of {', '.join(COMMITMENT_VIEWS)}."
            )
        with self.store.reader() as con:
            chosen = self._resolve(con, where)
            if view == "utilisation":
                return views.commitment_utilisation(con, chosen, grain=grain)
            if view == "coverage":
                return views.commitment_coverage(con, chosen, by=by, grain=grain)
            return views.expiring(con, chosen, within_days=within_days)

    def run_costs(
        self,
        experiments: Values = None,
        *,
        metric: str | None = None,
        maximize: bool = True,
        target: float | None = None,
        **where: Unpack[Where],
    ) -> pa.Table:
        """One row per ML run (sweeps with their trials summed): cost, GPU-hours, GPU
        efficiency, the metric, the Pareto front and cost to ``target``. The date range
        keeps runs started in it; the other filters count only their resources' cost."""
        with self.store.reader() as con:
            return views.experiment_runs(
                con,
                self._resolve(con, where),
                experiments=_values(experiments),
                metric=metric,
                maximize=maximize,
                target=target,
            )

    def experiments(
        self, *, metric: str | None = None, maximize: bool = True, **where: Unpack[Where]
    ) -> pa.Table:
        """One row per experiment: its runs' cost, GPU-hours, best metric, cost per
        point of metric, and GPU efficiency."""
        with self.store.reader() as con:
            return views.experiment_summary(
                con, self._resolve(con, where), metric=metric, maximize=maximize
            )

    def sql(self, query: str) -> pa.Table:
        """One read-only SQL statement over the store (`mlcost sql`); writes are refused."""
        from mlcost.sql import run_query

        return run_query(self.store, query)

    def _resolve(self, con: duckdb.DuckDBPyConnection, where: Where) -> Filters:
        return resolve(con, self._chosen(where))

    def _chosen(self, where: Where) -> Filters:
        """The filter keywords as :class:`Filters`, as given (not yet resolved)."""
        unknown = [k for k in where if k not in FILTER_KEYWORDS]
        if unknown:  # a notebook has no type checker to catch ``provider=``
            raise TypeError(
                f"Unknown keyword argument {unknown[0]!r}; the filters are "
                f"{', '.join(FILTER_KEYWORDS)}."
            )
        base = where.get("filters") or Filters()
        return replace(
            base,
            since=_day("since", where["since"]) if "since" in where else base.since,
            until=_day("until", where["until"]) if "until" in where else base.until,
            providers=_values(where["providers"]) if "providers" in where else base.providers,
            accounts=_values(where["accounts"]) if "accounts" in where else base.accounts,
            tags=(
                {k: _tag_values(v) for k, v in where["tags"].items()}
                if "tags" in where
                else base.tags
            ),
        )


def _values(values: Values) -> tuple[str, ...]:
    """``"aws,gcp"`` or ``["aws", "gcp"]`` → ``("aws", "gcp")``."""
    return tuple(vocabulary.split_values(values))


def _tag_values(values: str | Sequence[str]) -> tuple[str, ...]:
    # tag values may hold commas: a string is one value
    return (values,) if isinstance(values, str) else tuple(values)


def _day(name: str, value: Day) -> date | None:
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, datetime):
        return value.date()
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise InputError(
            f"{name}={value!r} is not a day.", "Give a date, or text such as '2026-10-01'."
        ) from None


def to_pandas(data: pa.Table | figures.Headline) -> pd.DataFrame:
    """A pandas frame of a table from :class:`Workspace` (or of a headline's figures):
    money, and every other decimal column, as ``float64`` so it sums, groups and plots;
    text, counts and timestamps as Arrow converts them. The exact decimals stay in the
    Arrow table; a frame's sum, rounded to the cent, is the exact figure for amounts of
    billing's size (pandas sums pairwise: the error stays far below a cent)."""
    if isinstance(data, figures.Headline):
        data = pa.Table.from_pylist(
            [{**f.as_dict(), "value": float(f.value)} for f in data.figures],
            schema=pa.schema(
                [
                    ("figure", pa.string()),
                    ("label", pa.string()),
                    ("currency", pa.string()),
                    ("value", pa.float64()),
                    ("meaning", pa.string()),
                ]
            ),
        )
    columns = [
        pc.cast(column, pa.float64()) if pa.types.is_decimal(column.type) else column
        for column in data.columns
    ]
    return pa.table(columns, names=data.column_names).to_pandas()
