"""Commands that read the store's data out: sql and export focus."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from mlcost.cli.common import (
    FormatOption,
    OutputOption,
    _ctx,
    _fmt,
    _split,
    app,
    err,
    export_app,
    out,
)


@app.command()
def sql(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="One SELECT statement.")],
    fmt: FormatOption = None,
    output: OutputOption = None,
) -> None:
    """Run read-only SQL over the store (writes are refused)."""
    from mlcost.sql import write_query

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
