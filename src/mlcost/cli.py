"""The ``mlcost`` command: thin shells over the library (DESIGN.md §3).

Each command parses its options, calls one library function and prints. Exit codes:
0 success, 1 failure or bad input (one clear message on stderr), 2 usage error.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum, StrEnum
from pathlib import Path
from typing import Annotated, Any

import duckdb
import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from mlcost import __version__
from mlcost.config import Settings, load_settings
from mlcost.errors import MlcostError
from mlcost.ingest import BILLING_FORMATS, ingest_billing, ingest_sample
from mlcost.output import resolve_format, write_table
from mlcost.sql import run_query
from mlcost.store import DEFAULT_DB, LoadResult, ProgressCallback, Store
from mlcost.summary import overview, spend_by, spend_summary


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
    ctx.obj = Context(db=db, settings=load_settings(config))


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
        tasks: dict[str, int] = {}

        def on_rows(label: str, rows: int) -> None:
            if label not in tasks:
                tasks[label] = progress.add_task(label, total=None)
            progress.advance(tasks[label], rows)  # type: ignore[arg-type]

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
    paths: Annotated[list[str], typer.Argument(help="Files, folders or globs of the export.")],
    fmt: Annotated[
        BillingFormat,
        typer.Option("--format", help="Export format; auto recognises FOCUS."),
    ] = BillingFormat("auto"),  # noqa: B008
    source: Annotated[
        str | None,
        typer.Option(
            help="Name of this export in x_source (default: focus:<provider>:<billing account>)."
        ),
    ] = None,
) -> None:
    """Load billing exports (FOCUS 1.0–1.3 CSV, CSV.gz, Parquet).

    All files given together are one load: each (source, billing period) they cover
    replaces what the store held for it, so re-loading or restating never duplicates.
    """
    with _progress() as on_rows:
        done = ingest_billing(_ctx(ctx).store, paths, fmt=fmt.value, source=source, on_rows=on_rows)
    for f in done.files:
        extra = f", {len(f.extra_columns)} extra column(s) kept as x_*" if f.extra_columns else ""
        out.print(f"{f.path}: FOCUS {f.focus_version}, {f.rows:,} rows{extra}")
    _load_report(done.result)


@ingest_app.command("sample")
def ingest_sample_command(ctx: typer.Context) -> None:
    """Load the bundled sample organisation (90 days on AWS, Azure and GCP)."""
    with _progress() as on_rows:
        result = ingest_sample(_ctx(ctx).store, on_rows=on_rows)
    _load_report(result)


def _option_list(values: list[str] | None) -> list[str] | None:
    """Repeated or comma-separated option values, as one list (None when not given)."""
    found = [v.strip() for value in values or [] for v in value.split(",") if v.strip()]
    return found or None


def _scan_report(summaries: list[Any], scope: str) -> None:
    for s in summaries:
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
            subscriptions=_option_list(subscriptions),
            regions=_option_list(regions),
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
) -> None:
    """Load Compute Engine inventory (instances, disks, snapshots, images, addresses) and
    Cloud Monitoring utilisation, using application default credentials."""
    from mlcost.ingest import ingest_gcp

    with _progress() as on_rows:
        result, summaries = ingest_gcp(
            _ctx(ctx).store,
            projects=_option_list(projects),
            regions=_option_list(regions),
            lookback_days=lookback_days,
            on_rows=on_rows,
        )
    _scan_report(summaries, "project")
    _load_report(result)


@app.command()
def sql(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="One SELECT statement.")],
    fmt: FormatOption = None,
    output: OutputOption = None,
) -> None:
    """Run read-only SQL over the store (writes are refused)."""
    table = run_query(_ctx(ctx).store, query)
    write_table(table, fmt=_fmt(fmt), output=output, console=out)


@app.command()
def analyze(ctx: typer.Context, fmt: FormatOption = None, output: OutputOption = None) -> None:
    """Run every analysis and print a summary (for now: spend by provider, service, month)."""
    _print_spend(_ctx(ctx).store, _fmt(fmt), output)


def _print_spend(store: Store, fmt: str | None, output: Path | None) -> None:
    """Spend by provider, service and month: readable tables on a terminal, one long
    table (dimension, value, currency, sums) in csv, json or parquet."""
    fmt = resolve_format(fmt, output)
    with store.reader() as con:
        if fmt != "table":
            summary = spend_summary(con, ["provider", "service", "month"])
            write_table(summary, fmt=fmt, output=output, console=out)
            return
        with contextlib.ExitStack() as stack:
            console = out
            if output is not None:
                handle = stack.enter_context(open(output, "w", encoding="utf-8"))
                console = Console(file=handle, width=120, highlight=False)
            _print_spend_tables(con, console)


def _print_spend_tables(con: duckdb.DuckDBPyConnection, console: Console) -> None:
    info = overview(con)
    if not info.rows:
        console.print("The store holds no billing yet: run `mlcost ingest billing PATH…`.")
        return
    totals = "; ".join(
        f"{cur} {info.billed_cost[cur]:,.2f} billed, {info.effective_cost[cur]:,.2f} effective"
        for cur in info.billed_cost
    )
    console.print(
        f"{info.rows:,} billing lines from {info.sources} source(s), "
        f"{info.first_charge:%Y-%m-%d} to {info.last_charge:%Y-%m-%d}: {totals}."
    )
    for dimension, title, limit in (
        ("provider", "Spend by provider", None),
        ("service", "Top services", 12),
        ("month", "Spend by month", None),
    ):
        table = spend_by(con, dimension, limit=limit)
        write_table(table, fmt="table", console=console, title=title)


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
    out.print()
    _print_spend(store, "table", None)
    db_flag = "" if str(context.db) == DEFAULT_DB else f" --db {context.db}"
    out.print()
    out.print("Next: explore it with SQL, for example")
    out.print(
        f'  mlcost{db_flag} sql "SELECT ServiceName, sum(EffectiveCost) FROM cost GROUP BY 1"'  # noqa: S608
    )


def main() -> None:
    """Console entry point: run the app, turning our errors into one line and exit 1."""
    try:
        app()
    except MlcostError as exc:
        sys.stderr.write(f"mlcost: {exc.message}\n")
        if exc.hint:
            sys.stderr.write(f"  {exc.hint}\n")
        sys.exit(1)
    except KeyboardInterrupt:
        sys.stderr.write("mlcost: interrupted; the store is unchanged.\n")
        sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("COLUMNS", "120")
    main()
