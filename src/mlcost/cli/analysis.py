"""Commands that analyse and print: analyze, demo, anomalies, commitments, experiments."""

from __future__ import annotations

import contextlib
import sys
from datetime import datetime, timedelta
from decimal import Decimal
from enum import Enum, StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from mlcost.choices import DEFAULT_DB, FEEDBACK_REASONS
from mlcost.cli.common import (
    AccountsOption,
    FormatOption,
    OutputOption,
    ProvidersOption,
    SinceOption,
    UntilOption,
    _ctx,
    _filters,
    _fmt,
    _load_report,
    _progress,
    app,
    err,
    out,
)
from mlcost.errors import MlcostError

if TYPE_CHECKING:
    from mlcost.api import Workspace
    from mlcost.figures import Headline
    from mlcost.filters import Filters

#: The spend summary `mlcost analyze` prints and exports: by provider, service, month.
SUMMARY_DIMENSIONS = ("provider", "service", "month")


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
            help="duckdb (the store) or spark (the analyses over --lake, their results into "
            "the store: docs/spark.md).",
        ),
    ] = "duckdb",
    lake: Annotated[
        str | None,
        typer.Option(
            "--lake", help="With --engine spark: the lake (folder or URI) `export lake` writes."
        ),
    ] = None,
    cost: Annotated[
        list[str] | None,
        typer.Option(
            "--cost",
            help="With --engine spark: a FOCUS export (folder or URI: AWS Data Exports, Azure "
            "FocusCost, GCP FOCUS, `export focus`) read in place as the billing, instead of "
            "the lake's cost/; repeat it for several.",
        ),
    ] = None,
) -> None:
    """Run every analysis, then print the headline figures (billed, amortised and usage
    spend, savings available, open anomalies) and spend by provider, service and month.

    --since/--until/--provider/--account narrow what is printed (the analyses always
    judge all the data). A terminal shows readable tables; --format json writes the
    headline figures and the spend summary as one object, csv/parquet the spend summary
    (export the findings with `mlcost recommendations`)."""
    from mlcost.engine import ENGINES
    from mlcost.output import resolve_format

    ws = _ctx(ctx).workspace
    if engine not in ENGINES:
        raise typer.BadParameter(f"choose one of {', '.join(ENGINES)}", param_hint="--engine")
    if (engine == "spark") != (lake is not None):
        raise typer.BadParameter("--lake goes with --engine spark, and it needs one")
    if cost and lake is None:
        raise typer.BadParameter("--cost goes with --engine spark and --lake", param_hint="--cost")
    on_terminal = resolve_format(_fmt(fmt), output) == "table" and output is None
    if lake is not None:
        from mlcost.engine.spark import analyze_lake

        result = analyze_lake(ws.store, lake, _ctx(ctx).settings, cost=cost or ())
        # the filters name the lake's providers and accounts: the store knows them now
        filters = ws.filters(filters=_filters(since, until, provider, account))
        as_of = result.recommendations.as_of
        (out if on_terminal else err).print(
            f"Analysed on Spark over {lake}"
            + (f" (data to {as_of:%Y-%m-%d})." if as_of is not None else "."),
            markup=False,
        )
    else:
        # bad filter values fail before the analyses run
        filters = ws.filters(filters=_filters(since, until, provider, account))
        result = ws.analyze()
    _print_spend(ws, _fmt(fmt), output, filters)
    if on_terminal:
        _print_findings_summary(ws, result.recommendations.findings, filters)
    (out if on_terminal else err).print(result.anomalies.summary(), markup=False)
    (out if on_terminal else err).print(
        f"Run costs: {result.run_costs.summary()} (mlcost experiments).", markup=False
    )


def _print_findings_summary(ws: Workspace, findings: int, filters: Filters | None = None) -> None:
    import pyarrow.compute as pc

    from mlcost.filters import Filters
    from mlcost.output import write_table

    summary = ws.savings(filters=filters if filters is not None else Filters())
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
    ws: Workspace, fmt: str | None, output: Path | None, filters: Filters | None = None
) -> None:
    """The headline figures, then spend by provider, service and month: readable tables
    on a terminal; in json one object (``figures`` and ``spend``), in csv and parquet
    the spend summary as one long table (dimension, value, currency, sums)."""
    from mlcost.filters import Filters
    from mlcost.output import json_document, open_output, resolve_format, write_table

    filters = filters if filters is not None else Filters()
    fmt = resolve_format(fmt, output)
    if fmt == "json":
        data = ws.headline(filters=filters).as_dict()
        data["spend"] = ws.spend(by=SUMMARY_DIMENSIONS, filters=filters)
        text = json_document(data)
        if output is None:
            sys.stdout.write(text)
        else:
            with open_output(output, "w", encoding="utf-8") as handle:
                handle.write(text)
        return
    if fmt != "table":
        summary = ws.spend(by=SUMMARY_DIMENSIONS, filters=filters)
        write_table(summary, fmt=fmt, output=output, console=out)
        return
    with contextlib.ExitStack() as stack:
        console = out
        if output is not None:
            handle = stack.enter_context(open_output(output, "w", encoding="utf-8"))
            console = Console(file=handle, width=120, highlight=False)
        _print_spend_tables(ws, console, filters)


def _print_spend_tables(ws: Workspace, console: Console, filters: Filters) -> None:
    from mlcost.output import write_table
    from mlcost.summary import overview

    with ws.store.reader() as con:
        info = overview(con)
    if not info.rows:
        console.print("The store holds no billing yet: run `mlcost ingest billing PATH…`.")
        return
    console.print(
        f"{info.rows:,} billing lines from {info.sources} source(s), "
        f"{info.first_charge:%Y-%m-%d} to {info.last_charge:%Y-%m-%d}."
    )
    _print_headline(ws.headline(filters=filters), console)
    for dimension, title, limit in (
        ("provider", "Spend by provider", None),
        ("service", "Top services", 12),
        ("month", "Spend by month", None),
    ):
        table = ws.spend(by=dimension, limit=limit, filters=filters)
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
    from mlcost.anomalies import terminal_view
    from mlcost.output import resolve_format, write_table

    table = _ctx(ctx).workspace.anomalies(scopes=scope or (), since=since)
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
    from mlcost.anomalies import acknowledge

    text = acknowledge(_ctx(ctx).store, anomaly, reason.value, note)
    out.print(f"Anomaly {anomaly} acknowledged ({text}).")


@app.command()
def demo(ctx: typer.Context) -> None:
    """Build a store from the sample organisation and show what mlcost sees."""
    from mlcost.output import write_table
    from mlcost.report import build_report, write_report

    context = _ctx(ctx)
    ws = context.workspace
    store = ws.store
    out.print(f"Building the demo store at {store.path} from the sample organisation…")
    store.init()
    with _progress() as on_rows:
        result = ws.load_sample(on_rows=on_rows)
    _load_report(result)
    analysis = ws.analyze()
    out.print()
    _print_spend(ws, "table", None)
    _print_findings_summary(ws, analysis.recommendations.findings)
    out.print(analysis.anomalies.summary(), markup=False)
    out.print(f"Run costs: {analysis.run_costs.summary()} (mlcost experiments).", markup=False)
    top = ws.findings(limit=10)
    everything = ws.findings()
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
    from mlcost.output import resolve_format, write_table
    from mlcost.summary import data_end

    ws = _ctx(ctx).workspace
    since = until = None
    if days is not None:
        with ws.store.reader() as con:
            end = data_end(con)  # exclusive: the last usage charge's end
        if end is not None:  # the last N whole days of the data
            until = (end - timedelta(microseconds=1)).date()
            since = until - timedelta(days=days - 1)
    tables = {
        "utilisation": ws.commitments("utilisation", grain=grain, since=since, until=until),
        "coverage": ws.commitments("coverage", grain="all", by=by, since=since, until=until),
        "expiring": ws.commitments("expiring", within_days=within_days),
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
    from mlcost.output import resolve_format, write_table

    runs = _ctx(ctx).workspace.run_costs(
        experiment or (), metric=metric, maximize=not minimize, target=target
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
