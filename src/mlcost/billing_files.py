"""The billing rows as Parquet files beside the store (docs/store-design.md): how a load
writes them, in one pass from its source; how it lists them in place of its partitions'
older files; how every connection sees the listed files (the view ``cost``); and how the
files no reader needs any more are deleted. The store (store.py) calls these from its
writer, inside the load's transaction.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from mlcost.errors import StoreError
from mlcost.schema import EXTRA_COLUMN, TABLES, quote_ident

#: The table kept as Parquet files, and its folder under ``<db>.parts``.
BILLING_TABLE = "cost"
#: The folder (under ``cost/``) of a file that holds several partitions' rows (no
#: billing period or source is named ``mixed`` in our encoding: see period_name).
MIXED = "BillingPeriod=mixed/x_source=mixed"
#: How long a billing file a load replaced is kept for readers still reading it.
RETAIN_REPLACED = timedelta(hours=1)


@dataclass(frozen=True)
class BillingFile:
    """A billing file a load wrote: its partition, its path under ``<db>.parts``, its
    rows and the extra ``x_*`` columns it holds."""

    source: Any
    period: Any
    path: str
    rows: int
    extras: tuple[str, ...]


def select_rows(
    names: Sequence[str],
    source: str,
    params: list[object],
    partition: Mapping[str, Any] | None,
    loaded_at: datetime,
) -> tuple[str, list[str]]:
    """A SELECT giving the rows of ``source`` (columns ``names``) as the cost table's
    columns, in its order and types, then the extra ``x_*`` columns as text, stamped with
    the load's time; missing partition columns are filled from ``partition``. Its
    values are appended to ``params``. Returns the SELECT and the extra columns."""
    spec = TABLES[BILLING_TABLE]
    given = {name.lower(): name for name in names}
    fill = {k: v for k, v in (partition or {}).items() if k.lower() not in given}
    select = []
    for column, sql_type in spec.columns.items():
        if column == spec.loaded_at:
            params.append(loaded_at)
            value = f"${len(params)}::TIMESTAMP"
        elif column.lower() in given:
            value = f"CAST({quote_ident(given[column.lower()])} AS {sql_type})"
        elif column in fill:
            params.append(fill[column])
            value = f"CAST(${len(params)} AS {sql_type})"
        else:
            value = f"CAST(NULL AS {sql_type})"
        select.append(f"{value} AS {quote_ident(column)}")
    known = {column.lower() for column in spec.columns}
    extras = [name for name in names if name.lower() not in known]
    for name in extras:
        if not EXTRA_COLUMN.match(name):
            raise StoreError(
                f"Table {BILLING_TABLE} has no column {name!r}; only extra columns "
                "named x_<letters, digits, _> can be added."
            )
        select.append(f"CAST({quote_ident(name)} AS VARCHAR) AS {quote_ident(name)}")
    return f"SELECT {', '.join(select)} FROM {source}", extras  # noqa: S608


def write(
    con: duckdb.DuckDBPyConnection,
    root: Path,
    select: str,
    params: Sequence[object],
    stamp: datetime,
    tag: str,
    extras: Sequence[str],
) -> list[BillingFile]:
    """Write the rows ``select`` yields (the cost table's columns; ``params`` fill its
    parameters) as one new Parquet file under ``root`` (``<db>.parts``), in its
    partition's folder (``BillingPeriod=…/x_source=…``, in our encoding: a string from a
    file is never a path) when its rows are of one (source, billing period), the usual
    file (a month's export of one account), else under ``BillingPeriod=mixed/``.
    Returns one BillingFile per partition the file holds (several share its path); no
    rows, no file. A failure (a row refused while the query runs, a full disk) leaves no
    file behind.

    The rows are written once, as the query yields them, and never split: a file of
    several partitions is listed once per partition (``swap``), and read whole while all
    of them are current, then only for those still current (``create_view``). Splitting
    it cost a re-read of the file per partition (two fifths of a 1M-row, 9-partition
    load); DuckDB's own partitioned COPY holds every partition's rows in memory, and
    under the writer's memory limit costs three times a plain write."""
    name = f"{stamp:%Y%m%dT%H%M%S%f}-{tag}"
    staging = root / BILLING_TABLE / f"_writing-{name}"
    staging.mkdir(parents=True, exist_ok=True)
    whole = staging / "rows.parquet"
    written: list[BillingFile] = []
    try:
        with _unordered(con):
            con.execute(f"COPY ({select}) TO {literal(str(whole))} ({WRITE_OPTIONS})", list(params))
            # Which partitions the file holds: its two columns read back (dictionary-coded,
            # a fraction of the write).
            found = con.execute(
                'SELECT x_source, "BillingPeriodStart", count(*) '
                "FROM read_parquet($1, hive_partitioning = false) GROUP BY ALL ORDER BY ALL",
                [str(whole)],
            ).fetchall()
            if not found:
                return []
            if len(found) == 1:
                folder = (
                    f"BillingPeriod={period_name(found[0][1])}/x_source={source_name(found[0][0])}"
                )
            else:
                folder = MIXED
            relative = f"{BILLING_TABLE}/{folder}/{name}.parquet"
            written = [
                BillingFile(source, period, relative, int(rows), tuple(extras))
                for source, period, rows in found
            ]
            target = root / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(whole, target)
            fsync(target)  # on disk before the transaction that lists it commits
    except BaseException:
        discard(root, written)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return written


def discard(root: Path, files: Sequence[BillingFile]) -> None:
    """Delete files a load wrote and will not list (it failed), and the folders they
    leave empty."""
    for file in files:
        path = root / file.path
        path.unlink(missing_ok=True)
        for folder in (path.parent, path.parent.parent):
            with contextlib.suppress(OSError):  # not empty: another file lives there
                folder.rmdir()


#: How billing files are written: zstd, in row groups of 64k rows (DuckDB's default of
#: 122,880 rows per group makes the writer hold twice the memory, and spill under the
#: writer's memory limit: a third more time at 1M rows).
WRITE_OPTIONS = "FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 65536"


@contextlib.contextmanager
def _unordered(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Let DuckDB write rows in any order (a table's rows have none): with the order kept,
    its writer buffers rows to put them back in order, and under the writer's memory
    limit that costs four times the write itself."""
    con.execute("SET preserve_insertion_order = false")
    try:
        yield
    finally:
        with contextlib.suppress(duckdb.Error):
            con.execute("RESET preserve_insertion_order")


def covered(
    explicit: Sequence[Mapping[str, Any]], written: Sequence[BillingFile]
) -> list[tuple[Any, Any]]:
    """The (source, billing period) partitions a load replaces: those it declared, and
    those it wrote files for."""
    return list(
        dict.fromkeys(
            [
                *((p.get("x_source"), p.get("BillingPeriodStart")) for p in explicit),
                *((f.source, f.period) for f in written),
            ]
        )
    )


def swap(
    con: duckdb.DuckDBPyConnection,
    loaded_at: datetime,
    explicit: Sequence[Mapping[str, Any]],
    written: Sequence[BillingFile],
) -> tuple[int, int]:
    """List a load's new billing files as the rows of the partitions it covers (those it
    declared, and those it wrote) in ``cost_files``, the older files of those partitions
    retired; inside the load's transaction. Returns (rows, partitions) replaced."""
    partitions = covered(explicit, written)
    replaced = 0
    now = utcnow()
    same = 'x_source IS NOT DISTINCT FROM ? AND "BillingPeriodStart" IS NOT DISTINCT FROM ?'
    for source, period in partitions:
        row = con.execute(
            f'SELECT coalesce(sum("rows"), 0) FROM cost_files WHERE {same}',  # noqa: S608
            [source, period],
        ).fetchone()
        replaced += int(row[0]) if row else 0
        con.execute(
            f"INSERT INTO cost_files_retired SELECT path, ? FROM cost_files WHERE {same}",  # noqa: S608
            [now, source, period],
        )
        con.execute(f"DELETE FROM cost_files WHERE {same}", [source, period])  # noqa: S608
    for file in written:
        con.execute(
            "INSERT INTO cost_files VALUES (?, ?, ?, ?, ?, ?)",
            [file.source, file.period, file.path, file.rows, list(file.extras), loaded_at],
        )
    return replaced, len(partitions)


#: How the view reads the files: by column name (a later load may bring extra columns),
#: and never taking a value from a folder's name (DuckDB's hive partitioning would read
#: ``x_source`` from ``x_source=mixed/``): the files hold every value themselves.
READ_OPTIONS = "union_by_name = true, hive_partitioning = false"


def create_view(
    con: duckdb.DuckDBPyConnection,
    root: Path,
    files: Sequence[tuple[str, Sequence[str]]] | None = None,
) -> None:
    """The view ``cost`` over the listed billing files (or ``files``: path under
    ``root``, extra columns), for this connection: the public columns in their order and
    types, then the extra ``x_*`` columns the files bring (a file without one reads NULL
    there).

    A file of several partitions (``write``) some of which a later load replaced is read
    for the partitions still listed only: its rows are matched to ``cost_files`` by file,
    source and billing period (a join on values, never a value pasted into the view)."""
    partial: set[str] = set()
    if files is None:
        listed = con.execute(
            "SELECT path, any_value(extra_columns), "
            "bool_or(path IN (SELECT path FROM cost_files_retired)) "
            "FROM cost_files GROUP BY path ORDER BY min(loaded_at), path"
        ).fetchall()
        files = [(path, names) for path, names, _ in listed]
        partial = {path for path, _, retired in listed if retired}
    files = list({path: names for path, names in files}.items())  # one file, once
    extras: list[str] = []
    seen: set[str] = set()
    for _, names in files:
        for name in names:
            if name.lower() not in seen:  # DuckDB's names ignore case
                seen.add(name.lower())
                extras.append(name)
    columns = {**TABLES[BILLING_TABLE].columns, **{name: "VARCHAR" for name in extras}}

    def select(group: Sequence[tuple[str, Sequence[str]]] | None) -> str:
        """The view's columns from the files ``group`` (None: no file): NULL for an
        extra column none of them has."""
        have = {n.lower() for _, names in group or () for n in names}
        public = TABLES[BILLING_TABLE].columns if group is not None else {}
        return ", ".join(
            f"CAST({quote_ident(n) if n in public or n.lower() in have else 'NULL'} AS {t}) "
            f"AS {quote_ident(n)}"
            for n, t in columns.items()
        )

    folder = str(root.resolve())
    # File names are ours (under the store's folder), as literals: DuckDB takes no
    # parameter in a view.
    parts = []
    whole = [f for f in files if f[0] not in partial]
    if whole:
        listed_files = ", ".join(literal(f"{folder}/{p}") for p, _ in whole)
        scan = f"read_parquet([{listed_files}], {READ_OPTIONS})"
        parts.append(f"SELECT {select(whole)} FROM {scan}")  # noqa: S608
    part = [f for f in files if f[0] in partial]
    if part:
        listed_files = ", ".join(literal(f"{folder}/{p}") for p, _ in part)
        scan = f"read_parquet([{listed_files}], {READ_OPTIONS}, filename = true)"
        parts.append(
            f"SELECT {select(part)} FROM {scan}"  # noqa: S608
            " AS _f WHERE EXISTS (SELECT 1 FROM main.cost_files AS _l "
            f"WHERE {literal(folder + '/')} || _l.path = _f.filename "
            "AND _l.x_source IS NOT DISTINCT FROM _f.x_source "
            'AND _l."BillingPeriodStart" IS NOT DISTINCT FROM _f."BillingPeriodStart")'
        )
    body = " UNION ALL ".join(parts) or f"SELECT {select(None)} WHERE false"
    con.execute(f"DROP VIEW IF EXISTS temp.{BILLING_TABLE}")
    con.execute(f"CREATE TEMP VIEW {BILLING_TABLE} AS {body}")


def sweep(con: duckdb.DuckDBPyConnection, root: Path) -> None:
    """Delete the billing files no reader can be reading: those a load replaced more
    than RETAIN_REPLACED ago (the last of its partitions, for a file of several: one
    still listed for a partition stays, and so does its ``cost_files_retired`` row, which
    tells the view to read it in part), and those no list names (written by a load that
    was killed or failed before it committed). Runs under the writer lock only."""
    cutoff = utcnow() - RETAIN_REPLACED
    expired = [
        path
        for (path,) in con.execute(
            "SELECT path FROM cost_files_retired WHERE path NOT IN (SELECT path FROM cost_files) "
            "GROUP BY path HAVING max(retired_at) < ?",
            [cutoff],
        ).fetchall()
    ]
    for path in expired:
        with contextlib.suppress(FileNotFoundError):
            (root / path).unlink()
    if expired:
        con.execute("DELETE FROM cost_files_retired WHERE list_contains(?, path)", [expired])
    folder = root / BILLING_TABLE
    if not folder.exists():
        return
    named = {
        row[0]
        for row in con.execute(
            "SELECT path FROM cost_files UNION ALL SELECT path FROM cost_files_retired"
        ).fetchall()
    }
    for dirpath, _dirs, names in os.walk(folder, topdown=False):
        here = Path(dirpath)
        for name in names:
            if (here / name).relative_to(root).as_posix() not in named:
                (here / name).unlink()
        if here != folder and not any(here.iterdir()):
            here.rmdir()


def literal(text: str) -> str:
    """A SQL string literal: for file names DuckDB takes only as literals (COPY TO, a
    view's read_parquet; the names are ours, the store's folder the user's), and for the
    constants a loader writes into its SQL (a source's name, FOCUS's enumerations)."""
    return "'" + text.replace("'", "''") + "'"


def fsync(path: Path) -> None:
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def period_name(period: Any) -> str:
    """A billing period as a folder name: ``2026-08`` for a month's start."""
    if not isinstance(period, datetime):
        return "none"
    if period.day == 1 and period.time() == datetime.min.time():
        return f"{period:%Y-%m}"
    return f"{period:%Y-%m-%dT%H%M%S}"


def source_name(source: Any) -> str:
    """A source as a folder name: every character but letters, digits, - and _
    percent-encoded (sources come from the files: never a path), long ones cut."""
    if source is None:
        return "none"
    name = urllib.parse.quote(str(source), safe="-_")
    return name if len(name) <= 80 else name[:80] + "~"


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
