"""Ingest: run a connector's batches through the store's one writer."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow.parquet as pq

from mlcost.choices import BILLING_FORMATS
from mlcost.config import BillingSettings
from mlcost.connectors.files.focus import FileSummary, FocusExport
from mlcost.connectors.files.formats import BillingExport, known_formats
from mlcost.connectors.files.values import billing_window
from mlcost.errors import InputError
from mlcost.rules import get_rule
from mlcost.store import Batch, LoadResult, ProgressCallback, Store

if TYPE_CHECKING:
    from mlcost.connectors.aws import Summary as AwsSummary

SAMPLE_SOURCE = "sample"
SAMPLE_TABLES = ("resources", "metrics", "runs", "prices")


@dataclass(frozen=True)
class BillingIngest:
    result: LoadResult
    files: list[FileSummary]


def ingest_billing(
    store: Store,
    paths: Sequence[str],
    *,
    fmt: str = "auto",
    source: str | None = None,
    on_rows: ProgressCallback | None = None,
    allow_empty: bool = False,
    settings: BillingSettings | None = None,
) -> BillingIngest:
    """Load billing exports; each (source, billing period) they hold replaces the old one.

    ``settings`` (``[billing]``) bound the dates a row may hold; ``allow_empty`` loads a
    file with no rows instead of refusing it."""
    if fmt not in BILLING_FORMATS:
        raise InputError(
            f"Unknown billing format {fmt!r}; this version reads: {', '.join(BILLING_FORMATS)}.",
            f"Known formats: {known_formats()}.",
        )
    export = BillingExport(
        paths, fmt=fmt, source=source, allow_empty=allow_empty, scratch=store.path.parent
    )
    # Closed on failure too, so that a CSV.gz's decompressed copy is removed at once.
    with billing_window(settings), contextlib.closing(export.batches()) as batches:
        result = store.load(batches, on_rows=on_rows)
    return BillingIngest(result, export.files)


def ingest_sample(
    store: Store, *, seed: int = 7, on_rows: ProgressCallback | None = None
) -> LoadResult:
    """Generate the sample organisation and load all of it in one transaction.

    Its billing goes through the FOCUS file loader, like any export.
    """
    from mlcost.sample import generate

    data = generate(seed=seed)
    with tempfile.TemporaryDirectory(prefix="mlcost-sample-") as tmp:
        cost_file = Path(tmp) / "sample_cost.parquet"
        pq.write_table(data.tables["cost"], cost_file)

        def batches() -> Iterator[Batch]:
            yield from FocusExport([str(cost_file)], source=SAMPLE_SOURCE).batches()
            for table in SAMPLE_TABLES:
                # Partitions come from the data (runs carry their own sources, mlflow and
                # sagemaker), so re-loading the sample replaces exactly what it loaded.
                yield Batch(table, data.tables[table], label=table)

        return store.load(batches(), on_rows=on_rows)


@dataclass(frozen=True)
class AwsIngest:
    result: LoadResult
    summary: AwsSummary


def ingest_aws(
    store: Store,
    *,
    regions: Sequence[str] | None = None,
    accounts: Sequence[str] | None = None,
    role_name: str | None = None,
    lookback_days: int = 30,
    prices: bool = True,
    on_rows: ProgressCallback | None = None,
    rules: Mapping[str, Mapping[str, Any]] | None = None,
) -> AwsIngest:
    """Scan AWS accounts × regions and load inventory, metrics, training jobs and the
    prices they need in one load. ``rules``: the ``[rules]`` settings, so the successor
    families priced are those previous_generation will advise (its override included)."""
    from mlcost.connectors.aws import AwsSource  # boto3 is imported only when AWS is asked for

    successors = get_rule("previous_generation").settings(
        dict((rules or {}).get("previous_generation", {}))
    )["successors"]
    assert isinstance(successors, dict)
    source = AwsSource(
        regions=regions,
        accounts=accounts,
        role_name=role_name,
        lookback_days=lookback_days,
        prices=prices,
        successors=successors,
    )
    result = store.load(source.batches(), on_rows=on_rows)
    return AwsIngest(result, source.summary)


def ingest_azure(
    store: Store,
    *,
    subscriptions: Sequence[str] | None = None,
    regions: Sequence[str] | None = None,
    lookback_days: int = 30,
    prices: bool = True,
    on_rows: ProgressCallback | None = None,
) -> tuple[LoadResult, list[Any]]:
    """Scan Azure (inventory, power state, Azure Monitor metrics) and load it in one go."""
    from mlcost.connectors.azure.inventory import AzureInventory

    scan = AzureInventory(
        subscriptions=list(subscriptions) if subscriptions else None,
        regions=list(regions) if regions else None,
        lookback_days=lookback_days,
        prices=prices,
    )
    result = store.load(scan.batches(), on_rows=on_rows)
    return result, [*scan.summaries, *scan.warnings]


def ingest_gcp(
    store: Store,
    *,
    projects: Sequence[str] | None = None,
    regions: Sequence[str] | None = None,
    lookback_days: int = 30,
    billing_account: str | None = None,
    prices: bool = True,
    on_rows: ProgressCallback | None = None,
) -> tuple[LoadResult, list[Any]]:
    """Scan GCP (Compute Engine inventory, Cloud Monitoring metrics, Cloud Billing Catalog
    prices) and load it in one go; ``billing_account``: the projects it pays for."""
    from mlcost.connectors.gcp.inventory import GcpInventory

    scan = GcpInventory(
        projects=list(projects) if projects else None,
        regions=list(regions) if regions else None,
        lookback_days=lookback_days,
        billing_account=billing_account,
        prices=prices,
    )
    result = store.load(scan.batches(), on_rows=on_rows)
    return result, [*scan.summaries, *scan.warnings]


def ingest_mlflow(
    store: Store,
    tracking_uri: str,
    experiments: Sequence[str] = (),
    *,
    on_rows: ProgressCallback | None = None,
    timeout_s: float | None = None,
) -> LoadResult:
    """Load MLflow experiments and runs; each experiment read replaces what it held.
    ``timeout_s``: how long one request to a tracking server may take."""
    from mlcost.connectors.mlflow import MlflowRuns
    from mlcost.connectors.mlflow.runs import DEFAULT_TIMEOUT_S

    source = MlflowRuns(tracking_uri, experiments, timeout_s=timeout_s or DEFAULT_TIMEOUT_S)
    return store.load(source.batches(), on_rows=on_rows)
