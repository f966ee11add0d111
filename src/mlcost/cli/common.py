"""What every command shares: the app and its groups, options, consoles, the context.

`mlcost --help` imports every command module: they import DuckDB, Arrow, pandas and the
connectors only inside the commands that use them (tests/test_cli_start.py).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import Enum, StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from mlcost import __version__, redact
from mlcost.choices import BILLING_FORMATS, DEFAULT_DB
from mlcost.config import Settings, load_settings

if TYPE_CHECKING:
    from mlcost.api import Workspace
    from mlcost.filters import Filters
    from mlcost.store import LoadResult, ProgressCallback, Store


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
        from mlcost.store import Store

        return Store.from_settings(self.db, self.settings)

    @property
    def workspace(self) -> Workspace:
        """The store and settings as the library reads them (``mlcost.api``): the
        commands fetch their data through it, as the dashboard and notebooks do."""
        from mlcost.api import Workspace

        return Workspace(self.store, self.settings)


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


def _split(values: list[str] | None) -> list[str]:
    """``--regions a,b --regions c`` → ``[a, b, c]``."""
    return [v.strip() for value in values or [] for v in value.split(",") if v.strip()]


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
    from mlcost.filters import Filters

    return Filters(
        since=since.date() if since else None,
        until=until.date() if until else None,
        providers=tuple(_split(provider)),
        accounts=tuple(_split(account)),
    )
