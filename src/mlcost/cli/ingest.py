"""Commands that fill the store: init and ingest billing, inventory, runs."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from mlcost.cli.common import (
    BillingFormat,
    _ctx,
    _load_report,
    _progress,
    _split,
    app,
    err,
    ingest_app,
    out,
)


@app.command()
def init(ctx: typer.Context) -> None:
    """Create the store, or migrate it to this version's schema."""
    store = _ctx(ctx).store
    with _progress() as on_rows:
        applied = store.init(on_rows)
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
    from mlcost.ingest import ingest_billing

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
    from mlcost.ingest import ingest_aws

    with _progress() as on_rows:
        done = ingest_aws(
            _ctx(ctx).store,
            regions=_split(regions),
            accounts=_split(accounts),
            role_name=role_name,
            lookback_days=lookback_days,
            prices=prices,
            on_rows=on_rows,
            rules=_ctx(ctx).settings.rules,
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


@ingest_app.command("sample")
def ingest_sample_command(ctx: typer.Context) -> None:
    """Load the bundled sample organisation (90 days on AWS, Azure and GCP)."""
    from mlcost.ingest import ingest_sample

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
