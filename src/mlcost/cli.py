"""The ``mlcost`` command: thin shells over the library (DESIGN.md §3).

Each command parses its options, calls one library function and prints. Exit codes:
0 success, 1 failure or bad input (one clear message on stderr), 2 usage error.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import Enum, StrEnum
from pathlib import Path
from typing import Annotated, Any

import pyarrow as pa
import pyarrow.compute as pc
import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from mlcost import __version__, redact
from mlcost import commitments as commitments_lib
from mlcost import schedule as schedule_lib
from mlcost.analysis import run_analyses
from mlcost.anomalies import (
    FEEDBACK_REASONS,
    acknowledge,
    list_anomalies,
    terminal_view,
)
from mlcost.config import Settings, load_settings
from mlcost.delivery import send as deliver
from mlcost.engine import ENGINES
from mlcost.errors import MlcostError
from mlcost.figures import Headline, headline
from mlcost.filters import Filters
from mlcost.filters import resolve as resolve_filters
from mlcost.ingest import BILLING_FORMATS, ingest_aws, ingest_billing, ingest_sample
from mlcost.output import json_document, open_output, resolve_format, write_table
from mlcost.recommendations import (
    STATUSES,
    get_recommendation,
    list_recommendations,
    savings_summary,
    set_status,
)
from mlcost.report import build_report, render, write_report
from mlcost.rules import all_rules, get_rule
from mlcost.sql import write_query
from mlcost.store import DEFAULT_DB, LoadResult, ProgressCallback, Store
from mlcost.summary import data_end, overview, spend_by, spend_summary


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    parquet = "parquet"


BillingFormat = Enum("BillingFormat", {f.replace("-", "_"): f for f in BILLING_FORMATS}, type=str)  # type: ignore[misc]

app = typer.Typer(
    name="mlcost",
    help="FinOps cost and utilisation analysis for ML infrastructure on AWS, Azure and GCP.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
ingest_app = typer.Typer(
    help="Load billing exports, cloud inventory or the sample into the store.",
    no_args_is_help=True,
)
app.add_typer(ingest_app, name="ingest")
rules_app = typer.Typer(help="The waste rules: list them, read what each one does.")
app.add_typer(rules_app, name="rules")
export_app = typer.Typer(
    help="Write the store's data out for other tools: the billing as a FOCUS dataset.",
    no_args_is_help=True,
)
app.add_typer(export_app, name="export")
recommendations_app = typer.Typer(
    help="List or export findings (DESIGN.md §4 fields); dismiss, reopen or show one."
)
app.add_typer(recommendations_app, name="recommendations")

#: Columns of the findings list on a terminal (exports carry every field).
_FINDING_COLUMNS = (
    "id",
    "rule",
    "provider",
    "resource_name",
    "estimated_monthly_savings",
    "confidence",
    "status",
)

FormatOption = Annotated[
    OutputFormat | None,
    typer.Option("--format", "-f", help="table (on a terminal), csv, json or parquet."),
]
OutputOption = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Write to this file (default: stdout; parquet needs it)."),
]

out = Console(highlight=False, soft_wrap=False)
err = Console(stderr=True, highlight=False)


@dataclass
class Context:
    db: Path
    settings: Settings

    @property
    def store(self) -> Store:
        settings = self.settings.store
        return Store(
            self.db,
            lock_timeout_s=settings.lock_timeout_s,
            writer_memory_limit=settings.writer_memory_limit,
        )


def _version(value: bool) -> None:
    if value:
        print(f"mlcost {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    db: Annotated[
        Path,
        typer.Option(envvar="MLCOST_DB", help="The store file.", show_default=True),
    ] = Path(DEFAULT_DB),
    config: Annotated[
        Path | None,
        typer.Option(
            envvar="MLCOST_CONFIG", help="Settings file (default: ./mlcost.toml if present)."
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    settings = load_settings(config)
    redact.remember_settings(settings)
    ctx.obj = Context(db=db, settings=settings)


def _ctx(ctx: typer.Context) -> Context:
    assert isinstance(ctx.obj, Context)
    return ctx.obj


@contextlib.contextmanager
def _progress(enabled: bool = True) -> Iterator[ProgressCallback | None]:
    """Rows loaded so far, per file, on a terminal; nothing in pipes and CI logs."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed:,.0f} rows"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=True) as progress:
        tasks: dict[str, TaskID] = {}

        def on_rows(label: str, rows: int, done: float | None = None) -> None:
            if label not in tasks:
                tasks[label] = progress.add_task(label, total=None)
            if done is not None:  # a file DuckDB loads whole: how much it has read
                progress.update(tasks[label], description=f"{label} {done:.0%}")
            progress.advance(tasks[label], rows)

        yield on_rows


def _fmt(value: OutputFormat | None) -> str | None:
    return value.value if value is not None else None


def _load_report(result: LoadResult) -> None:
    for table, rows in result.rows_in.items():
        out.print(
            f"{table}: {rows:,} rows loaded in {result.partitions.get(table, 0):,} "
            f"partition(s), replacing {result.rows_replaced.get(table, 0):,} older rows."
        )


# -- commands ------------------------------------------------------------------------


@app.command()
def init(ctx: typer.Context) -> None:
    """Create the store, or migrate it to this version's schema."""
    store = _ctx(ctx).store
    applied = store.init()
    if applied:
        out.print(f"Store {store.path} ready (applied: {', '.join(applied)}).")
    else:
        out.print(f"Store {store.path} is up to date.")


@ingest_app.command("billing")
def ingest_billing_command(
    ctx: typer.Context,
    paths: Annotated[
        list[str],
        typer.Argument(
            help="Files, folders, globs, s3://bucket/prefix or bq://project.dataset.table."
        ),
    ],
    fmt: Annotated[
        BillingFormat,
        typer.Option(
            "--format",
            help="Export format; auto recognises FOCUS, AWS CUR, Azure cost details and "
            "the GCP BigQuery export from each file's header.",
        ),
    ] = BillingFormat("auto"),  # noqa: B008
    source: Annotated[
        str | None,
        typer.Option(
            help="Name of this export in x_source (default: per format, e.g. "
            "focus:<provider>:<billing account>, aws-cur:<payer account>)."
        ),
    ] = None,
    allow_empty: Annotated[
        bool,
        typer.Option("--allow-empty", help="Load a file with no rows (a period without charges)."),
    ] = False,
) -> None:
    """Load billing exports: FOCUS 1.0–1.3, AWS CUR, Azure cost details, GCP BigQuery
    export (CSV, CSV.gz, Parquet, JSON lines; local paths, s3://bucket/prefix,
    bq://project.dataset.table).

    All files given together are one load: each (source, billing period) they cover
    replaces what the store held for it, so re-loading or restating never duplicates.
    """
    context = _ctx(ctx)
    with _progress() as on_rows:
        done = ingest_billing(
            context.store,
            paths,
            fmt=fmt.value,
            source=source,
            on_rows=on_rows,
            allow_empty=allow_empty,
            settings=context.settings.billing,
        )
    for f in done.files:
        extra = f", {len(f.extra_columns)} extra column(s) kept as x_*" if f.extra_columns else ""
        how = " (format auto-detected)" if f.detected else ""
        out.print(f"{f.path}: {f.description}, {f.rows:,} rows{extra}{how}", markup=False)
        if f.loaded_before:
            out.print(
                f"  the same content as {f.loaded_before[0]}, loaded {f.loaded_before[1]}",
                markup=False,
            )
        if f.other_services:
            names = ", ".join(
                f"{name or '(no service name)'} ({count:,})"
                for name, count in f.other_services.items()
            )
            out.print(
                f"  {sum(f.other_services.values()):,} rows of {len(f.other_services)} "
                f"service(s) not in mlcost's mapping, filed under ServiceCategory Other: "
                f"{names}",
                markup=False,
            )
    _load_report(done.result)


@ingest_app.command("aws")
def ingest_aws_command(
    ctx: typer.Context,
    regions: Annotated[
        list[str] | None,
        typer.Option(help="Regions to scan, comma-separated (default: all enabled regions)."),
    ] = None,
    accounts: Annotated[
        list[str] | None,
        typer.Option(
            help="Account ids to scan through --role-name, comma-separated, or 'organization' "
            "for every active account of AWS Organizations (default: the caller's account)."
        ),
    ] = None,
    role_name: Annotated[
        str | None, typer.Option(help="Read-only role to assume in each of --accounts.")
    ] = None,
    lookback_days: Annotated[
        int, typer.Option(help="Days of CloudWatch utilisation to fetch (daily and hourly).")
    ] = 30,
    prices: Annotated[
        bool,
        typer.Option(help="Also load list and spot prices (Price List API, spot price history)."),
    ] = True,
) -> None:
    """Load AWS inventory, CloudWatch utilisation, SageMaker training jobs and prices
    (boto3's standard credentials). Each account × region scanned replaces its previous
    inventory and prices."""
    with _progress() as on_rows:
        done = ingest_aws(
            _ctx(ctx).store,
            regions=_split(regions),
            accounts=_split(accounts),
            role_name=role_name,
            lookback_days=lookback_days,
            prices=prices,
            on_rows=on_rows,
        )
    summary = done.summary
    for (account, region, kind), count in sorted(summary.resources.items()):
        out.print(f"{account} {region} {kind}: {count:,}", markup=False)
    out.print(
        f"{sum(summary.resources.values()):,} resources, {summary.metric_samples:,} metric "
        f"samples, {summary.runs:,} training jobs; {summary.api_calls:,} API calls."
    )
    if summary.prices:
        out.print(f"{summary.prices:,} prices (on-demand and spot).")
    for warning in summary.warnings:
        err.print(f"warning: {warning}", markup=False)
    _load_report(done.result)


def _split(values: list[str] | None) -> list[str]:
    """``--regions a,b --regions c`` → ``[a, b, c]``."""
    return [v.strip() for value in values or [] for v in value.split(",") if v.strip()]


@ingest_app.command("sample")
def ingest_sample_command(ctx: typer.Context) -> None:
    """Load the bundled sample organisation (90 days on AWS, Azure and GCP)."""
    with _progress() as on_rows:
        result = ingest_sample(_ctx(ctx).store, on_rows=on_rows)
    _load_report(result)


def _scan_report(summaries: list[Any], scope: str) -> None:
    for s in summaries:
        if isinstance(s, str):  # a skipped subscription or project
            err.print(f"warning: {s}", markup=False)
            continue
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(s.resources.items())) or "nothing"
        out.print(
            f"{scope} {getattr(s, 'subscription_id', None) or getattr(s, 'project_id', '')}: "
            f"{kinds} in {s.regions} region(s) scanned; {s.metric_samples:,} metric samples."
        )


@ingest_app.command("azure")
def ingest_azure_command(
    ctx: typer.Context,
    subscriptions: Annotated[
        list[str] | None,
        typer.Option(help="Subscription ids (repeat or comma-separate; default: all listable)."),
    ] = None,
    regions: Annotated[
        list[str] | None,
        typer.Option(help="Only these regions, e.g. eastus (default: all of each subscription)."),
    ] = None,
    lookback_days: Annotated[
        int, typer.Option(help="Days of Azure Monitor metrics to fetch.", min=1, max=93)
    ] = 30,
    prices: Annotated[
        bool, typer.Option(help="Also load VM prices from the Azure Retail Prices API.")
    ] = True,
) -> None:
    """Load Azure inventory (VMs with power state, disks, snapshots, images, public IPs)
    and Azure Monitor utilisation, using DefaultAzureCredential."""
    from mlcost.ingest import ingest_azure

    with _progress() as on_rows:
        result, summaries = ingest_azure(
            _ctx(ctx).store,
            subscriptions=_split(subscriptions) or None,
            regions=_split(regions) or None,
            lookback_days=lookback_days,
            prices=prices,
            on_rows=on_rows,
        )
    _scan_report(summaries, "subscription")
    _load_report(result)


@ingest_app.command("gcp")
def ingest_gcp_command(
    ctx: typer.Context,
    projects: Annotated[
        list[str] | None,
        typer.Option(help="Project ids (repeat or comma-separate; default: all listable)."),
    ] = None,
    regions: Annotated[
        list[str] | None,
        typer.Option(help="Only these regions, e.g. us-central1 (global ones always)."),
    ] = None,
    lookback_days: Annotated[
        int, typer.Option(help="Days of Cloud Monitoring metrics to fetch.", min=1, max=93)
    ] = 30,
    billing_account: Annotated[
        str | None,
        typer.Option(
            help="Scan exactly the projects this billing account pays for (instead of "
            "--projects), e.g. 01A2B3-C4D5E6-F7A8B9."
        ),
    ] = None,
    prices: Annotated[
        bool, typer.Option(help="Also load prices from the Cloud Billing Catalog.")
    ] = True,
) -> None:
    """Load Compute Engine inventory (instances, disks, snapshots, images, addresses),
    Cloud Monitoring utilisation and Cloud Billing Catalog prices, using application
    default credentials."""
    from mlcost.ingest import ingest_gcp

    with _progress() as on_rows:
        result, summaries = ingest_gcp(
            _ctx(ctx).store,
            projects=_split(projects) or None,
            regions=_split(regions) or None,
            lookback_days=lookback_days,
            billing_account=billing_account,
            prices=prices,
            on_rows=on_rows,
        )
    _scan_report(summaries, "project")
    _load_report(result)


@ingest_app.command("mlflow")
def ingest_mlflow_command(
    ctx: typer.Context,
    tracking_uri: Annotated[
        str,
        typer.Option(
            envvar="MLFLOW_TRACKING_URI",
            help="The MLflow store: sqlite:///PATH, a folder (file:PATH) or http(s)://server.",
        ),
    ],
    experiment: Annotated[
        list[str] | None, typer.Option(help="Only this experiment (repeatable; default: all).")
    ] = None,
    timeout: Annotated[
        float,
        typer.Option(help="Seconds one request to a tracking server may take.", min=1),
    ] = 30.0,
) -> None:
    """Load MLflow experiments and runs (params, metrics, tags, system metrics)."""
    from mlcost.ingest import ingest_mlflow

    with _progress() as on_rows:
        result = ingest_mlflow(
            _ctx(ctx).store, tracking_uri, experiment or (), on_rows=on_rows, timeout_s=timeout
        )
    _load_report(result)


@app.command()
def experiments(
    ctx: typer.Context,
    experiment: Annotated[
        list[str] | None,
        typer.Option(help="List this experiment's runs (repeatable); default: experiments."),
    ] = None,
    metric: Annotated[
        str | None, typer.Option(help="The metric to rank by (a key of the runs' metrics).")
    ] = None,
    minimize: Annotated[bool, typer.Option(help="Lower metric is better (a loss).")] = False,
    target: Annotated[
        float | None, typer.Option(help="Sweeps: the cost until the best metric reached this.")
    ] = None,
    write_back: Annotated[
        bool, typer.Option(help="Set mlcost.cost and GPU tags on the MLflow runs listed.")
    ] = False,
    tracking_uri: Annotated[
        str | None,
        typer.Option(envvar="MLFLOW_TRACKING_URI", help="The MLflow store for --write-back."),
    ] = None,
    fmt: FormatOption = None,
    output: OutputOption = None,
) -> None:
    """Experiments and runs with cost, GPU-hours, GPU efficiency and the metric (run
    `mlcost analyze` first): a cost-aware leaderboard with its Pareto front."""
    from mlcost import experiments as experiments_lib

    with _ctx(ctx).store.reader() as con:
        runs = experiments_lib.run_table(
            con, experiments=experiment or (), metric=metric, maximize=not minimize, target=target
        )
    if write_back:
        if not tracking_uri:
            raise MlcostError("--write-back needs --tracking-uri (or MLFLOW_TRACKING_URI).")
        from mlcost.connectors.mlflow.runs import write_back as write_tags

        done = write_tags(tracking_uri, experiments_lib.write_back_tags(runs))
        err.print(f"Tagged {done} MLflow run(s) with their cost.")
    table = runs if experiment else experiments_lib.experiment_table(runs, maximize=not minimize)
    chosen = resolve_format(_fmt(fmt), output)
    if chosen == "table" and output is None:
        names = sorted({n for n in runs.column("metric_name").to_pylist() if n})
        better = "lower" if minimize else "higher"
        if len(names) == 1:
            line = f"Metric: {names[0]} ({better} is better)."
        elif names:
            line = (
                "Metric: each experiment's own (the metric column names it); choose one "
                f"with --metric NAME ({better} is better)."
            )
        else:
            line = "No run reports a single numeric metric; choose one with --metric NAME."
        out.print(line, markup=False)
    if experiment and chosen == "table" and output is None:
        table = table.select(list(experiments_lib.RUN_TERMINAL_COLUMNS))
    write_table(table, fmt=chosen, output=output, console=out)


@app.command()
def sql(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="One SELECT statement.")],
    fmt: FormatOption = None,
    output: OutputOption = None,
) -> None:
    """Run read-only SQL over the store (writes are refused)."""
    write_query(_ctx(ctx).store, query, fmt=_fmt(fmt), output=output, console=out)


class ExportFormat(StrEnum):
    parquet = "parquet"
    csv = "csv"


class FocusVersion(StrEnum):
    v1_0 = "1.0"
    v1_2 = "1.2"
    v1_3 = "1.3"


@export_app.command("lake")
def export_lake_command(
    ctx: typer.Context,
    folder: Annotated[Path, typer.Argument(help="The folder to write the lake into.")],
) -> None:
    """Write the tables the analyses read (FOCUS cost per billing period, inventory,
    metrics, prices, runs) as Parquet: the layout `analyze --engine spark --lake` reads."""
    from mlcost.lake import export_lake

    files = export_lake(_ctx(ctx).store, folder)
    err.print(f"Wrote {len(files)} Parquet file(s) under {folder}.", markup=False)


@export_app.command("focus")
def export_focus_command(
    ctx: typer.Context,
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="A file (.parquet, .csv, .csv.gz) or a folder (one partition per billing "
            "period, BillingPeriod=YYYY-MM/).",
        ),
    ],
    focus_version: Annotated[
        FocusVersion, typer.Option("--focus-version", help="The FOCUS version's columns.")
    ] = FocusVersion.v1_2,
    fmt: Annotated[
        ExportFormat | None,
        typer.Option("--format", "-f", help="parquet or csv (default: from the output's name)."),
    ] = None,
    since: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="Charges starting on or after this day (UTC)."),
    ] = None,
    until: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="Charges starting before this day (UTC)."),
    ] = None,
    provider: Annotated[
        list[str] | None,
        typer.Option(
            help="ProviderName values or aws/azure/gcp, any case, repeated or comma-separated."
        ),
    ] = None,
    with_extensions: Annotated[
        bool, typer.Option("--with-extensions", help="Also write the x_ columns.")
    ] = False,
) -> None:
    """Write the billing as a FOCUS dataset, for other tools and data interchange.

    Values are written as stored, byte for byte: unlike the CSV exports of findings,
    text starting with = + - @ is NOT neutralised for spreadsheets (open the file in a
    spreadsheet with care). Timestamps are YYYY-MM-DDTHH:mm:ssZ; money is exact. Loading
    the export back gives the same totals."""
    from mlcost.export import export_focus

    summary = export_focus(
        _ctx(ctx).store,
        output,
        focus_version=focus_version.value,
        fmt=fmt.value if fmt is not None else None,
        since=since.date() if since else None,
        until=until.date() if until else None,
        providers=_split(provider),
        with_extensions=with_extensions,
    )
    sums = "; ".join(
        f"{cur} {summary.billed_cost[cur]:,.2f} billed, {summary.effective_cost[cur]:,.2f} "
        "effective"
        for cur in summary.billed_cost
    )
    where = f"{len(summary.files)} file(s) under {output}" if len(summary.files) > 1 else output
    err.print(
        f"Exported {summary.rows:,} FOCUS {focus_version.value} rows to {where}"
        + (f" ({sums})." if sums else "."),
        markup=False,
        soft_wrap=True,
    )


SinceOption = Annotated[
    datetime | None,
    typer.Option(formats=["%Y-%m-%d"], help="Only charges from this day (UTC, inclusive)."),
]
UntilOption = Annotated[
    datetime | None,
    typer.Option(formats=["%Y-%m-%d"], help="Only charges up to this day (UTC, inclusive)."),
]
ProvidersOption = Annotated[
    list[str] | None,
    typer.Option(help="Only these providers (aws, azure, gcp, or as billed; any case, lists)."),
]
AccountsOption = Annotated[
    list[str] | None,
    typer.Option(help="Only these accounts/subscriptions/projects (id or bill name)."),
]


def _filters(
    since: datetime | None,
    until: datetime | None,
    provider: list[str] | None,
    account: list[str] | None,
) -> Filters:
    return Filters(
        since=since.date() if since else None,
        until=until.date() if until else None,
        providers=tuple(_split(provider)),
        accounts=tuple(_split(account)),
    )


@app.command()
def analyze(
    ctx: typer.Context,
    since: SinceOption = None,
    until: UntilOption = None,
    provider: ProvidersOption = None,
    account: AccountsOption = None,
    fmt: FormatOption = None,
    output: OutputOption = None,
    engine: Annotated[
        str,
        typer.Option(
            "--engine",
            help="duckdb (the store) or spark (the rules over --lake, findings into the "
            "store: docs/spark.md).",
        ),
    ] = "duckdb",
    lake: Annotated[
        str | None,
        typer.Option(
            "--lake", help="With --engine spark: the lake (folder or URI) `export lake` writes."
        ),
    ] = None,
) -> None:
    """Run every analysis, then print the headline figures (billed, amortised and usage
    spend, savings available, open anomalies) and spend by provider, service and month.

    --since/--until/--provider/--account narrow what is printed (the analyses always
    judge all the data). A terminal shows readable tables; --format json writes the
    headline figures and the spend summary as one object, csv/parquet the spend summary
    (export the findings with `mlcost recommendations`)."""
    context = _ctx(ctx)
    store = context.store
    if engine not in ENGINES:
        raise typer.BadParameter(f"choose one of {', '.join(ENGINES)}", param_hint="--engine")
    if (engine == "spark") != (lake is not None):
        raise typer.BadParameter("--lake goes with --engine spark, and it needs one")
    if lake is not None:
        from mlcost.engine.spark import analyze_lake

        found = analyze_lake(store, lake, context.settings)
        out.print(
            f"{found.findings} findings on Spark over {lake} (data to {found.as_of}); "
            "anomalies and run costs do not run on Spark yet (docs/spark.md).",
            markup=False,
            soft_wrap=True,
        )
        return
    filters = _filters(since, until, provider, account)
    with store.reader() as con:  # bad filter values fail before the analyses run
        filters = resolve_filters(con, filters)
    result = run_analyses(store, context.settings)
    _print_spend(store, _fmt(fmt), output, filters)
    on_terminal = resolve_format(_fmt(fmt), output) == "table" and output is None
    if on_terminal:
        _print_findings_summary(store, result.recommendations.findings, filters)
    (out if on_terminal else err).print(result.anomalies.summary(), markup=False)
    (out if on_terminal else err).print(
        f"Run costs: {result.run_costs.summary()} (mlcost experiments).", markup=False
    )


def _print_findings_summary(store: Store, findings: int, filters: Filters = Filters()) -> None:
    with store.reader() as con:
        summary = savings_summary(
            con, providers=filters.providers, accounts=filters.accounts, tags=filters.tags
        )
    totals = [r for r in summary.to_pylist() if r["scope"] == "total"]
    out.print()
    if not totals:
        out.print(
            "No waste found: no open findings. Load inventory and metrics "
            "(`mlcost ingest aws|azure|gcp`) for the rules to judge."
        )
        return
    by_rule = summary.filter(pc.equal(summary.column("scope"), "rule")).select(
        ["rule", "provider", "findings", "monthly_savings"]
    )
    write_table(by_rule, fmt="table", console=out, title="Open findings by rule and provider")
    for total in totals:
        out.print(
            f"{total['findings']} findings on {total['resources']} resources: "
            f"{total['currency']} {total['monthly_savings']:,.2f}/month (each resource once)."
        )
    out.print("See them: mlcost recommendations   (export: --format csv|json|parquet -o FILE)")


def _print_spend(
    store: Store, fmt: str | None, output: Path | None, filters: Filters = Filters()
) -> None:
    """The headline figures, then spend by provider, service and month: readable tables
    on a terminal; in json one object (``figures`` and ``spend``), in csv and parquet
    the spend summary as one long table (dimension, value, currency, sums)."""
    fmt = resolve_format(fmt, output)
    if fmt == "json":
        data = headline(store, filters).as_dict()
        with store.reader() as con:
            data["spend"] = spend_summary(con, ["provider", "service", "month"], filters)
        text = json_document(data)
        if output is None:
            sys.stdout.write(text)
        else:
            with open_output(output, "w", encoding="utf-8") as handle:
                handle.write(text)
        return
    with store.reader() as con:
        if fmt != "table":
            summary = spend_summary(con, ["provider", "service", "month"], filters)
            write_table(summary, fmt=fmt, output=output, console=out)
            return
    with contextlib.ExitStack() as stack:
        console = out
        if output is not None:
            handle = stack.enter_context(open_output(output, "w", encoding="utf-8"))
            console = Console(file=handle, width=120, highlight=False)
        _print_spend_tables(store, console, filters)


def _print_spend_tables(store: Store, console: Console, filters: Filters) -> None:
    with store.reader() as con:
        info = overview(con)
    if not info.rows:
        console.print("The store holds no billing yet: run `mlcost ingest billing PATH…`.")
        return
    console.print(
        f"{info.rows:,} billing lines from {info.sources} source(s), "
        f"{info.first_charge:%Y-%m-%d} to {info.last_charge:%Y-%m-%d}."
    )
    _print_headline(headline(store, filters), console)
    with store.reader() as con:
        for dimension, title, limit in (
            ("provider", "Spend by provider", None),
            ("service", "Top services", 12),
            ("month", "Spend by month", None),
        ):
            table = spend_by(con, dimension, limit=limit, filters=filters)
            write_table(table, fmt="table", console=console, title=title)


def _print_headline(head: Headline, console: Console) -> None:
    """The headline figures, each with what it sums (the same as the dashboard's)."""
    narrowed = [
        f"{name} {', '.join(values)}"
        for name, values in (("provider", head.filters.providers),
                             ("account", head.filters.accounts))
        if values
    ]  # fmt: skip
    console.print()
    console.print(
        f"Headline, charges of {head.period}"
        + (f" ({'; '.join(narrowed)})" if narrowed else "")
        + ":",
        markup=False,
    )
    for figure in head.figures:
        value = (
            f"{figure.currency or ''} {figure.value:,.2f}".strip()
            if isinstance(figure.value, Decimal)
            else f"{figure.value:,}"
        )
        console.print(f"  {figure.label + ':':<27} {value:>18}", markup=False)
        console.print(f"    {figure.meaning}", markup=False, style="dim")
    console.print()


anomalies_app = typer.Typer(help="Cost anomalies: list them, or acknowledge one.")
app.add_typer(anomalies_app, name="anomalies")
AnomalyReason = Enum("AnomalyReason", {r: r for r in FEEDBACK_REASONS}, type=str)  # type: ignore[misc]


@anomalies_app.callback(invoke_without_command=True)
def anomalies_command(
    ctx: typer.Context,
    scope: Annotated[
        list[str] | None,
        typer.Option(
            help="total, provider, account, service, tag:KEY, gpus, or KIND=VALUE (any case; "
            "comma-separated lists: provider=aws,gcp)."
        ),
    ] = None,
    since: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Only days from this date.")
    ] = None,
    fmt: FormatOption = None,
    output: OutputOption = None,
) -> None:
    """List the anomalies `mlcost analyze` found, newest first, with any acknowledgement."""
    if ctx.invoked_subcommand is not None:
        return
    context = _ctx(ctx)
    table = list_anomalies(
        context.store,
        scopes=scope or [],
        since=since.date() if since else None,
        tag_keys=context.settings.anomalies.tag_keys,
    )
    if resolve_format(_fmt(fmt), output) == "table":
        table = terminal_view(table)
    write_table(table, fmt=_fmt(fmt), output=output, console=out, title="Cost anomalies")


@anomalies_app.command("ack")
def anomalies_ack(
    ctx: typer.Context,
    anomaly: Annotated[str, typer.Argument(metavar="ID", help="The anomaly's id (see the list).")],
    reason: Annotated[AnomalyReason, typer.Option(help="expected or planned.")],
    note: Annotated[str | None, typer.Option(help="A word on why, kept with it.")] = None,
) -> None:
    """Acknowledge an anomaly as expected or planned; kept across re-analysis."""
    text = acknowledge(_ctx(ctx).store, anomaly, reason.value, note)
    out.print(f"Anomaly {anomaly} acknowledged ({text}).")


@app.command()
def demo(ctx: typer.Context) -> None:
    """Build a store from the sample organisation and show what mlcost sees."""
    context = _ctx(ctx)
    store = context.store
    out.print(f"Building the demo store at {store.path} from the sample organisation…")
    store.init()
    with _progress() as on_rows:
        result = ingest_sample(store, on_rows=on_rows)
    _load_report(result)
    analysis = run_analyses(store, context.settings)
    out.print()
    _print_spend(store, "table", None)
    _print_findings_summary(store, analysis.recommendations.findings)
    out.print(analysis.anomalies.summary(), markup=False)
    out.print(f"Run costs: {analysis.run_costs.summary()} (mlcost experiments).", markup=False)
    with store.reader() as con:
        top = list_recommendations(con, limit=10)
        everything = list_recommendations(con)
    out.print()
    write_table(
        top.select(["rule", "provider", "resource_name", "estimated_monthly_savings", "id"]),
        fmt="table",
        console=out,
        title="Top findings",
    )
    export = Path("recommendations.csv")
    write_table(everything, fmt="csv", output=export)
    out.print(f"All {everything.num_rows} findings written to {export.resolve()}.")
    report_file = Path("mlcost-report.html")
    write_report(build_report(store, "30d", title="mlcost demo report"), report_file)
    out.print(f"The 30-day report written to {report_file.resolve()}.")
    db_flag = "" if str(context.db) == DEFAULT_DB else f" --db {context.db}"
    out.print()
    out.print("Next: read the evidence of a finding, or explore with SQL, for example")
    out.print(f"  mlcost{db_flag} recommendations show {top.column('id')[0].as_py()}")
    out.print(f"  mlcost{db_flag} experiments")
    out.print(f"  mlcost{db_flag} dashboard")
    out.print(
        f'  mlcost{db_flag} sql "SELECT ServiceName, sum(EffectiveCost) FROM cost GROUP BY 1"'  # noqa: S608
    )


class CommitmentView(StrEnum):
    utilisation = "utilisation"
    coverage = "coverage"
    expiring = "expiring"


@app.command()
def commitments(
    ctx: typer.Context,
    view: Annotated[
        CommitmentView | None,
        typer.Option(help="One view to print or export (a terminal shows all three)."),
    ] = None,
    days: Annotated[
        int | None,
        typer.Option(help="Only the last N days of billing data (default: all of it)."),
    ] = None,
    grain: Annotated[
        str, typer.Option(help="Utilisation per day, month or all (the whole window).")
    ] = "month",
    by: Annotated[
        str, typer.Option(help="Coverage by provider, account, service, family or region.")
    ] = "provider",
    within_days: Annotated[
        int, typer.Option(help="Expiring: terms ending within this many days.")
    ] = 60,
    fmt: FormatOption = None,
    output: OutputOption = None,
) -> None:
    """RI, Savings Plan, reservation and CUD utilisation, coverage and expiry, from billing."""
    with _ctx(ctx).store.reader() as con:
        since = until = None
        if days is not None:
            until = data_end(con)
            since = until - timedelta(days=days) if until else None
        tables = {
            "utilisation": commitments_lib.utilisation(con, grain=grain, since=since, until=until),
            "coverage": commitments_lib.coverage(con, by=by, since=since, until=until),
            "expiring": commitments_lib.expiring(con, within_days=within_days),
        }
    chosen = resolve_format(_fmt(fmt), output)
    if view is not None or chosen != "table" or output is not None:
        name = view.value if view is not None else "utilisation"
        write_table(tables[name], fmt=chosen, output=output, console=out)
        return
    if tables["utilisation"].num_rows == 0:
        out.print("No commitment rows in the billing data (CommitmentDiscountId is empty).")
    else:
        write_table(
            tables["utilisation"].select(
                ["provider", "name", "period", "utilisation_cost_pct", "unused_cost",
                 "net_savings"]
            ),
            fmt="table",
            console=out,
            title="Utilisation",
        )  # fmt: skip
    write_table(
        tables["coverage"].select(
            [by, "coverage_hours_pct", "coverage_cost_pct", "on_demand_cost"]
        ),
        fmt="table",
        console=out,
        title=f"Coverage by {by} (on-demand equivalent cost)",
    )
    if tables["expiring"].num_rows:
        write_table(
            tables["expiring"].select(["provider", "name", "term_end", "days_left"]),
            fmt="table",
            console=out,
            title=f"Ending within {within_days} days (negative: ended)",
        )
    else:
        out.print(f"No commitment ends within {within_days} days.")


@app.command()
def report(
    ctx: typer.Context,
    period: Annotated[
        str | None, typer.Option(help="7d, 30d or month (default: report.period, 7d).")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="FILE.html, FILE.md or FILE.json (default: Markdown on stdout)."
        ),
    ] = None,
    send_to: Annotated[
        list[str] | None,
        typer.Option("--send", help="Deliver it: slack or email (repeatable; see mlcost.toml)."),
    ] = None,
    provider: ProvidersOption = None,
    account: AccountsOption = None,
) -> None:
    """The periodic report: spend and its change, movers, anomalies, savings, commitments."""
    context = _ctx(ctx)
    settings = context.settings.report
    data = build_report(
        context.store,
        period or settings.period,
        title=settings.title,
        filters=_filters(None, None, provider, account),
    )
    if output is not None:
        fmt = write_report(data, output)
        err.print(f"Report ({fmt}) written to {output}.", markup=False)
    elif not send_to:
        sys.stdout.write(render(data, "md"))
    for channel in send_to or []:
        err.print(f"Report {deliver(data, channel, settings)}.", markup=False)


@app.command()
def schedule(
    ctx: typer.Context,
    status: Annotated[bool, typer.Option("--status", help="Show the last run and exit.")] = False,
    once: Annotated[
        bool, typer.Option("--once", help="Run one cycle now and exit (for cron or a timer).")
    ] = False,
    cycles: Annotated[
        int | None, typer.Option(help="Stop after this many scheduled cycles.", hidden=True)
    ] = None,
) -> None:
    """Long-running job: on the configured cron, ingest → analyze → report and delivery."""
    context = _ctx(ctx)
    store = context.store
    if status:
        last = schedule_lib.read_status(store)
        if last is None:
            out.print("The schedule has not run for this store yet.")
            raise typer.Exit()
        out.print(
            f"Last run: {last['state']}, started {last['started_at']}"
            + (f", finished {last['finished_at']}" if last.get("finished_at") else "")
            + f" (pid {last['pid']}).",
            markup=False,
        )
        for item in last["steps"]:
            line = f"  {item['state']:<7} {item['name']} ({item['attempts']} attempt(s))"
            out.print(line + (f": {item['error']}" if item.get("error") else ""), markup=False)
        if last.get("next_run"):
            out.print(f"Next run: {last['next_run']}.", markup=False)
        if last["state"] in ("failed", "partial", "interrupted"):
            raise typer.Exit(1)
        return
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )
    redact.install_log_filter()
    if once:
        with schedule_lib.ScheduleLock(store):
            run = schedule_lib.run_cycle(store, context.settings)
            schedule_lib.write_status(store, run)
        if run.state != "ok":
            raise typer.Exit(1)
        return
    schedule_lib.run_schedule(store, context.settings, cycles=cycles)


@rules_app.callback(invoke_without_command=True)
def rules_list(ctx: typer.Context, fmt: FormatOption = None, output: OutputOption = None) -> None:
    """List the rules with their parameters (as mlcost.toml sets them)."""
    if ctx.invoked_subcommand:
        return
    configured = _ctx(ctx).settings.rules
    rows = []
    for rule in all_rules().values():
        values = {**rule.defaults(), **configured.get(rule.id, {})}
        params = ", ".join(
            f"{p.name}={values[p.name]}" for p in rule.params if not isinstance(p.default, dict)
        )
        rows.append(
            {
                "rule": rule.id,
                "enabled": bool(values["enabled"]),
                "providers": " ".join(rule.providers),
                "finds": rule.title,
                "parameters": params,
            }
        )
    write_table(pa.Table.from_pylist(rows), fmt=_fmt(fmt), output=output, console=out)


@rules_app.command("show")
def rules_show(
    ctx: typer.Context, rule_id: Annotated[str, typer.Argument(help="A rule id.")]
) -> None:
    """Print a rule's documentation and its parameters."""
    rule = get_rule(rule_id)
    configured = _ctx(ctx).settings.rules.get(rule.id, {})
    out.print(f"{rule.id} ({', '.join(rule.providers)})", markup=False)
    out.print()
    for paragraph in textwrap.dedent(rule.doc).strip().split("\n\n"):
        # the docstring's lines re-flowed to the terminal's width
        out.print(" ".join(paragraph.split()), markup=False)
        out.print()
    rows = [
        {
            "parameter": p.name,
            "value": str(configured.get(p.name, p.default)),
            "default": str(p.default),
            "meaning": p.help,
        }
        for p in rule.all_params
    ]
    write_table(pa.Table.from_pylist(rows), fmt="table", console=out, title="Parameters")
    out.print(f"Set them in mlcost.toml under [rules.{rule.id}].", markup=False)


@recommendations_app.callback(invoke_without_command=True)
def recommendations(
    ctx: typer.Context,
    rule: Annotated[
        list[str] | None, typer.Option(help="Only these rules (repeat or comma-separate).")
    ] = None,
    provider: Annotated[
        list[str] | None,
        typer.Option(
            help="Only aws, azure, gcp (or AWS, Microsoft, Google Cloud); any case, "
            "repeat or comma-separate."
        ),
    ] = None,
    account: Annotated[
        list[str] | None,
        typer.Option(help="Only these accounts/subscriptions/projects, by id or bill name."),
    ] = None,
    min_savings: Annotated[
        float | None, typer.Option(help="Only findings saving at least this much a month.")
    ] = None,
    status: Annotated[
        str, typer.Option(help=f"One of {', '.join(STATUSES)}.", show_default=True)
    ] = "open",
    fmt: FormatOption = None,
    output: OutputOption = None,
) -> None:
    """List findings, largest saving first; export them with --format and --output."""
    if ctx.invoked_subcommand:
        return
    with _ctx(ctx).store.reader() as con:
        table = list_recommendations(
            con,
            rules=rule or (),
            providers=provider or (),
            accounts=account or (),
            min_savings=min_savings,
            status=status,
        )
    chosen = resolve_format(_fmt(fmt), output)
    if chosen == "table" and output is None:
        if table.num_rows == 0:
            out.print(f"No {status} findings match. Run `mlcost analyze` after loading data.")
            return
        found_currencies = table.column("currency").to_pylist()
        columns = [c for c in _FINDING_COLUMNS if c != "status" or status in ("all", "closed")]
        table = table.select(columns).rename_columns(
            ["monthly_saving" if c == "estimated_monthly_savings" else c for c in columns]
        )
        currencies = sorted({c for c in found_currencies if c})
        title = (
            f"{status.capitalize()} findings, largest saving first"
            + (f" (monthly saving in {', '.join(currencies)})" if currencies else "")
            if status != "all"
            else "Findings, largest saving first"
        )
        write_table(table, fmt=chosen, console=out, title=title)
        return
    write_table(table, fmt=chosen, output=output, console=out)


@recommendations_app.command("show")
def recommendations_show(
    ctx: typer.Context,
    rec_id: Annotated[str, typer.Argument(help="A finding's id, or a unique prefix of it.")],
) -> None:
    """Everything about one finding: the resource, the evidence, the action."""
    with _ctx(ctx).store.reader() as con:
        found = get_recommendation(con, rec_id)
    for name, value in found.items():
        if value is None:
            continue
        if name == "evidence" or name == "tags":
            value = json.dumps(json.loads(value), indent=2, sort_keys=True)
        out.print(f"{name}: ", end="", markup=False)
        out.print(str(value), markup=False)


@recommendations_app.command("dismiss")
def recommendations_dismiss(
    ctx: typer.Context,
    rec_id: Annotated[str, typer.Argument(help="A finding's id.")],
    reason: Annotated[str, typer.Option(help="Why it is not waste (kept with it).")],
) -> None:
    """Dismiss a finding: it stays dismissed when analyze runs again."""
    rec_id = set_status(_ctx(ctx).store, rec_id, dismissed=True, reason=reason)
    out.print(f"Dismissed {rec_id}. Undo with: mlcost recommendations reopen {rec_id}")


@recommendations_app.command("reopen")
def recommendations_reopen(
    ctx: typer.Context, rec_id: Annotated[str, typer.Argument(help="A finding's id.")]
) -> None:
    """Reopen a dismissed finding."""
    rec_id = set_status(_ctx(ctx).store, rec_id, dismissed=False)
    out.print(f"Reopened {rec_id}.")


@app.command()
def dashboard(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8501,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
) -> None:
    """Serve the dashboard (Streamlit) on localhost; Ctrl-C or SIGTERM stops it. The app
    reads the store of --db and the settings of --config (or ./mlcost.toml if present)."""
    import signal
    import subprocess

    from mlcost.app import SCRIPT

    env = {**os.environ, "MLCOST_DB": str(_ctx(ctx).db.resolve())}
    env.pop("MLCOST_CONFIG", None)
    config = _ctx(ctx).settings.path
    if config is not None:
        env["MLCOST_CONFIG"] = str(config.resolve())
    # toolbarMode minimal: no "Deploy" button or developer menu for the people reading it;
    # no file watcher: the app's files do not change under a running dashboard
    command = [sys.executable, "-m", "streamlit", "run", str(SCRIPT), "--server.port",
               str(port), "--server.address", host, "--server.headless", "true",
               "--browser.gatherUsageStats", "false",
               "--client.toolbarMode", "minimal", "--server.fileWatcherType", "none"]  # fmt: skip
    used = f" with the settings of {env['MLCOST_CONFIG']}" if "MLCOST_CONFIG" in env else ""
    out.print(f"Dashboard on http://{host}:{port} for {env['MLCOST_DB']}{used}")
    server = subprocess.Popen(command, env=env)
    stopping: list[int] = []

    def stop(signum: int, _frame: object) -> None:
        # a service manager's SIGTERM (or a closed terminal's SIGHUP) stops the server
        # too, instead of leaving it serving without us; the loop below waits for it
        stopping.append(signum)
        with contextlib.suppress(ProcessLookupError):
            server.send_signal(signal.SIGTERM)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGHUP)}
    deadline: float | None = None
    try:
        while True:
            try:
                code = server.wait(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                if stopping and deadline is None:
                    deadline = time.monotonic() + STOP_TIMEOUT_S
                if deadline is not None and time.monotonic() > deadline:
                    server.kill()
            except KeyboardInterrupt:  # Ctrl-C reached both: the server stops itself
                stopping.append(signal.SIGINT)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    raise typer.Exit(128 + stopping[0] if stopping and stopping[0] != signal.SIGINT else code)


#: Seconds the dashboard server gets to stop after SIGTERM before it is killed.
STOP_TIMEOUT_S = 10


def main() -> None:
    """Console entry point: run the app, turning our errors into one line and exit 1."""
    try:
        app()
    except MlcostError as exc:
        sys.stderr.write(f"mlcost: {redact.redact(exc.message)}\n")
        if exc.hint:
            sys.stderr.write(f"  {redact.redact(exc.hint)}\n")
        sys.exit(1)
    except KeyboardInterrupt:
        sys.stderr.write("mlcost: interrupted; the store is unchanged.\n")
        sys.exit(130)
    except BrokenPipeError:
        _reader_gone()
    except SystemExit as exc:
        # Click turns a broken pipe into exit 1; the reader going away is no failure
        if exc.code == 1 and isinstance(exc.__context__, BrokenPipeError):
            _reader_gone()
        raise
    except Exception as exc:
        # A failure we did not foresee: one redacted line, not a traceback that may quote a
        # secret (MLCOST_DEBUG=1 shows the traceback).
        if os.environ.get("MLCOST_DEBUG"):
            raise
        line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        sys.stderr.write(
            redact.redact(f"mlcost: unexpected {type(exc).__name__}: {line}".rstrip(": "))
            + "\n  This is a bug in mlcost: please report it (MLCOST_DEBUG=1 shows where).\n"
        )
        sys.exit(1)


def _reader_gone() -> None:
    """The reader of stdout went away (`mlcost … | head`): stop quietly with exit 0, like
    other Unix tools. stdout goes to /dev/null so the interpreter's last flush finds no
    broken pipe to complain about."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.__stdout__.fileno() if sys.__stdout__ else 1)
    sys.exit(0)


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("COLUMNS", "120")
    main()
