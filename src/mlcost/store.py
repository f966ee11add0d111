"""The store: one DuckDB file, the billing rows' Parquet files beside it, its
migrations, and ``load()``, the only writer.

Billing at scale (docs/store-design.md). The ``cost`` rows are Parquet files under
``<db>.parts/cost/``, one per (billing period, source) and load; the store file lists
the current ones (``cost_files``) and every connection sees them as a view named
``cost``. A load writes its partitions' new files and swaps them into the list in its
one transaction: its cost grows with the load, not with the store, and the store file
(everything but billing) stays small. Files a load replaced are deleted by a later
load, ``RETAIN_REPLACED`` after (a reader may still be reading them); files no list
names (a killed load's) are deleted by the next writer.

Sharing the file between processes. DuckDB lets one process open a file for writing
and then no other process may open it at all, not even to read. mlcost therefore:

* serialises writers on a lock file (``<db>.lock``): a second ingest waits, with
  back-off, up to ``lock_timeout_s`` and then stops with a clear message;
* after each committed write, publishes a read snapshot (``<db>.snapshot``, copied to
  a temporary name and renamed into place, so it is always a whole, committed store;
  it is a copy of the small store file, not of the billing files, which it names);
* opens readers (CLI, dashboard, report) read-only and short-lived on the newest
  committed state: the main file when no writer holds it, else the snapshot. A long
  ingest therefore never makes the dashboard fail, and a dashboard never makes an
  ingest fail (a writer that finds a reader on the main file retries with back-off).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import itertools
import json
import os
import re
import shutil
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pyarrow as pa

from mlcost import rollups
from mlcost.choices import DEFAULT_DB as DEFAULT_DB
from mlcost.errors import StoreBusyError, StoreError
from mlcost.schema import TABLES

SNAPSHOT_SUFFIX = ".snapshot"
LOCK_SUFFIX = ".lock"
#: The folder beside the store file holding the billing rows as Parquet files.
PARTS_SUFFIX = ".parts"
#: The table kept as Parquet files, and its folder under ``<db>.parts``.
BILLING_TABLE = "cost"
#: How long a billing file a load replaced is kept for readers still reading it.
RETAIN_REPLACED = timedelta(hours=1)
#: Extra columns a loader may add to a table: provider columns such as ``x_ServiceCode``.
EXTRA_COLUMN = re.compile(r"^x_[A-Za-z0-9_]{1,80}$")


def quote_ident(name: str) -> str:
    """Quote an identifier for DuckDB (names from files are data, never SQL)."""
    if "\x00" in name:
        raise StoreError(f"Column name {name!r} contains a NUL character.")
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations() -> list[Migration]:
    """The recorded migrations shipped with this version, in order."""
    found = []
    for entry in resources.files("mlcost.migrations").iterdir():
        match = re.match(r"^(\d{3})_(\w+)\.sql$", entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text("utf-8")))
    return sorted(found, key=lambda m: m.version)


@dataclass
class Scan:
    """Rows a query computes inside the store's own engine: how a file connector hands
    over a file DuckDB can read (``read_parquet($1)``…), so the rows go from the file to
    the table without a copy through Python, in parallel.

    ``sql`` is one SELECT yielding the table's columns, with ``$1``, ``$2``… filled from
    ``params`` (file names and other data are parameters, never SQL text). ``explain``
    turns a DuckDB error raised while it runs (a bad row, a corrupt file) into the
    exception to report; ``on_done`` is told how many rows were written; ``after`` runs
    on the writing connection once the rows are in (inside the load's transaction, with
    the load's time, which stamps them), to read back what was written.
    """

    sql: str
    params: Sequence[object] = ()
    explain: Callable[[duckdb.Error], BaseException] | None = None
    on_done: Callable[[int], None] | None = None
    after: Callable[[duckdb.DuckDBPyConnection, datetime], None] | None = None


@dataclass
class Batch:
    """What a connector yields: rows for one table, and the partition they replace.

    ``data`` is an Arrow table, a RecordBatchReader, any iterable of RecordBatches
    (lazy: a file is read while it is loaded) or a :class:`Scan`. With ``partition``
    given, exactly that partition is replaced (rows must match it; missing partition
    columns are filled). Without it, every partition (``TableSpec.partition_by``)
    present in the data is replaced.
    """

    table: str
    data: pa.Table | pa.RecordBatchReader | Iterable[pa.RecordBatch] | Scan
    partition: Mapping[str, Any] | None = None
    label: str = ""
    #: What the ``loads`` table keeps of this batch, under ``detail.files`` (a file's
    #: name and content hash, so that a later load can tell the same file by content).
    record: Mapping[str, Any] | None = None


@dataclass
class LoadResult:
    """What one ``load()`` did: per table, rows written and rows they replaced."""

    loaded_at: datetime
    rows_in: dict[str, int] = field(default_factory=dict)
    rows_replaced: dict[str, int] = field(default_factory=dict)
    partitions: dict[str, int] = field(default_factory=dict)


class ProgressCallback(Protocol):
    """Told as a load goes: ``rows`` more rows written for ``label``. A :class:`Scan`'s
    rows are counted only when it ends; while it runs, ``done`` says how much of it
    DuckDB has done (0 to 1) and ``rows`` is 0."""

    def __call__(self, label: str, rows: int, done: float | None = None) -> None: ...


#: How often a running Scan's progress is read, in seconds.
PROGRESS_POLL_S = 0.5


class Store:
    """A DuckDB store file. Connections are short-lived: open, work, close."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        lock_timeout_s: float = 60.0,
        writer_memory_limit: str = "512MB",
    ) -> None:
        self.path = Path(path)
        self.lock_timeout_s = lock_timeout_s
        self.writer_memory_limit = writer_memory_limit
        #: Migrations the last writer applied (``mlcost init`` reports them).
        self.applied_migrations: list[str] = []

    @property
    def snapshot_path(self) -> Path:
        return self.path.with_name(self.path.name + SNAPSHOT_SUFFIX)

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + LOCK_SUFFIX)

    @property
    def parts_path(self) -> Path:
        """The folder of the billing rows' Parquet files (``<db>.parts``)."""
        return self.path.with_name(self.path.name + PARTS_SUFFIX)

    # -- opening ---------------------------------------------------------------

    def _connect(
        self, path: Path, *, read_only: bool, sandboxed: bool = False
    ) -> duckdb.DuckDBPyConnection:
        """Open ``path``, retrying with back-off while another process holds it.

        ``sandboxed`` connections cannot touch any other file (for user-typed SQL).
        """
        deadline = time.monotonic() + self.lock_timeout_s
        delay = 0.05
        while True:
            try:
                con = duckdb.connect(str(path), read_only=read_only)
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower() or time.monotonic() >= deadline:
                    raise self._busy(exc) from exc
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
                continue
            return self._prepare(con, sandboxed)

    def _prepare(
        self, con: duckdb.DuckDBPyConnection, sandboxed: bool
    ) -> duckdb.DuckDBPyConnection:
        """UTC, and for user-typed SQL no file access but to the billing files (DuckDB
        takes the allowed folder only once the database is open)."""
        con.execute("SET TimeZone = 'UTC'")
        if sandboxed:
            con.execute("SET allowed_directories = ?", [[_folder(self.parts_path)]])
            con.execute("SET enable_external_access = false")
        return con

    def _busy(self, exc: Exception) -> StoreError:
        if "lock" in str(exc).lower():
            return StoreBusyError(
                f"The store {self.path} is held by another process "
                f"(waited {self.lock_timeout_s:g} s).",
                "Wait for the other mlcost command to finish, or raise [store] "
                "lock_timeout_s in mlcost.toml.",
            )
        return StoreError(f"Cannot open the store {self.path}: {_first_line(exc)}")

    @contextlib.contextmanager
    def reader(self, *, sandboxed: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection on the newest committed state of the store."""
        if not self.path.exists() and not self.snapshot_path.exists():
            raise StoreError(
                f"There is no store at {self.path}.",
                "Run `mlcost init` and `mlcost ingest …` first (or `mlcost demo`).",
            )
        con = self._open_for_reading(sandboxed)
        try:
            self._check_version(con)
            self._create_billing_view(con)
            yield con
        finally:
            con.close()

    def _open_for_reading(self, sandboxed: bool) -> duckdb.DuckDBPyConnection:
        snapshot = self.snapshot_path
        if not snapshot.exists():
            return self._connect(self.path, read_only=True, sandboxed=sandboxed)
        if not self.path.exists() or snapshot.stat().st_mtime >= self.path.stat().st_mtime:
            return self._connect(snapshot, read_only=True, sandboxed=sandboxed)
        # The main file changed after the last snapshot: read it unless a writer holds it.
        try:
            con = duckdb.connect(str(self.path), read_only=True)
        except duckdb.IOException:
            return self._connect(snapshot, read_only=True, sandboxed=sandboxed)
        return self._prepare(con, sandboxed)

    def _check_version(self, con: duckdb.DuckDBPyConnection) -> None:
        have = _applied_versions(con)
        latest = migrations()[-1].version
        self._refuse_newer(have, latest)
        if not have or max(have) < latest:
            raise StoreError(
                f"The store {self.path} is not initialised for this mlcost "
                f"(schema version {max(have) if have else 0}, need {latest}).",
                "Run `mlcost init` to create or migrate it.",
            )

    def _refuse_newer(self, have: Iterable[int], latest: int) -> None:
        newest = max(have, default=0)
        if newest > latest:
            raise StoreError(
                f"The store {self.path} was written by a newer mlcost "
                f"(schema version {newest}, this one knows {latest}).",
                "Upgrade mlcost.",
            )

    @contextlib.contextmanager
    def writer(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The one read-write connection: migrated, and snapshotted after it closes."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._writer_lock():
            con = self._connect(self.path, read_only=False)
            try:
                # Bounds the blocks a long load keeps cached: the rest are on disk already.
                con.execute("SET memory_limit = ?", [self.writer_memory_limit])
                self._migrate(con)
                self._sweep_billing_files(con)
                self._create_billing_view(con)
                yield con
                con.execute("CHECKPOINT")
            finally:
                con.close()
            self._publish_snapshot()

    @contextlib.contextmanager
    def _writer_lock(self) -> Iterator[None]:
        deadline = time.monotonic() + self.lock_timeout_s
        with open(self.lock_path, "a+") as handle:
            delay = 0.05
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES):
                        raise
                    if time.monotonic() >= deadline:
                        raise StoreBusyError(
                            f"Another mlcost process is writing to {self.path} "
                            f"(waited {self.lock_timeout_s:g} s).",
                            "Wait for it to finish, or raise [store] lock_timeout_s "
                            "in mlcost.toml.",
                        ) from exc
                    time.sleep(delay)
                    delay = min(delay * 2, 1.0)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _publish_snapshot(self) -> None:
        tmp = self.snapshot_path.with_name(self.snapshot_path.name + ".tmp")
        shutil.copyfile(self.path, tmp)
        os.replace(tmp, self.snapshot_path)

    # -- the billing files --------------------------------------------------------

    def _create_billing_view(self, con: duckdb.DuckDBPyConnection) -> None:
        """The view ``cost`` over the current billing files, for this connection: the
        public columns in their order and types, then the extra ``x_*`` columns the
        files bring (a file without one reads NULL there)."""
        files = con.execute(
            "SELECT path, extra_columns FROM cost_files ORDER BY loaded_at, path"
        ).fetchall()
        extras: list[str] = []
        for _, names in files:
            extras.extend(n for n in names if n not in extras)
        columns = {**TABLES[BILLING_TABLE].columns, **{name: "VARCHAR" for name in extras}}
        if files:
            select = ", ".join(
                f"CAST({quote_ident(n)} AS {t}) AS {quote_ident(n)}" for n, t in columns.items()
            )
            listed = ", ".join(_literal(str(self.parts_path.resolve() / p)) for p, _ in files)
            source = f" FROM read_parquet([{listed}], union_by_name = true)"
        else:
            select = ", ".join(f"CAST(NULL AS {t}) AS {quote_ident(n)}" for n, t in columns.items())
            source = " WHERE false"
        con.execute(f"DROP VIEW IF EXISTS temp.{BILLING_TABLE}")
        con.execute(f"CREATE TEMP VIEW {BILLING_TABLE} AS SELECT {select}{source}")

    def _sweep_billing_files(self, con: duckdb.DuckDBPyConnection) -> None:
        """Delete the billing files no reader can be reading: those a load replaced more
        than RETAIN_REPLACED ago, and those no list names (written by a load that was
        killed or failed before it committed). Runs under the writer lock only."""
        cutoff = _utcnow() - RETAIN_REPLACED
        expired = con.execute(
            "SELECT path FROM cost_files_retired WHERE retired_at < ?", [cutoff]
        ).fetchall()
        root = self.parts_path
        for (path,) in expired:
            with contextlib.suppress(FileNotFoundError):
                (root / path).unlink()
        if expired:
            con.execute("DELETE FROM cost_files_retired WHERE retired_at < ?", [cutoff])
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

    def _write_billing_parts(
        self,
        con: duckdb.DuckDBPyConnection,
        table: str,
        partitions: Sequence[tuple[Any, Any]],
        stamp: datetime,
    ) -> list[tuple[Any, Any, str, int]]:
        """Write each (source, billing period) of ``table`` to a new Parquet file;
        returns (source, period, path under ``<db>.parts``, rows) of the files written
        (a partition without rows gets no file: the load empties it)."""
        written = []
        for index, (source, period) in enumerate(partitions):
            relative = (
                f"{BILLING_TABLE}/BillingPeriod={_period_name(period)}/"
                f"x_source={_source_name(source)}/{stamp:%Y%m%dT%H%M%S%f}-{index}.parquet"
            )
            target = self.parts_path / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            row = con.execute(
                f"COPY (SELECT * FROM {table} WHERE x_source IS NOT DISTINCT FROM ? "  # noqa: S608
                f'AND "BillingPeriodStart" IS NOT DISTINCT FROM ?) '
                f"TO {_literal(str(target))} (FORMAT parquet, COMPRESSION zstd)",
                [source, period],
            ).fetchone()
            rows = int(row[0]) if row else 0
            if rows == 0:
                target.unlink(missing_ok=True)
                continue
            _fsync(target)  # on disk before the transaction that lists it commits
            written.append((source, period, relative, rows))
        return written

    def _swap_billing_parts(
        self,
        con: duckdb.DuckDBPyConnection,
        loaded_at: datetime,
        explicit: list[Mapping[str, Any]],
    ) -> tuple[int, int]:
        """Write this load's billing rows (the temporary table ``cost``) as new files
        and make them the partitions' rows in ``cost_files``, the older files of those
        partitions retired; inside the load's transaction. Returns (rows, partitions)
        replaced, as ``_replace_partitions``."""
        if explicit:
            partitions = list(
                dict.fromkeys((p.get("x_source"), p.get("BillingPeriodStart")) for p in explicit)
            )
        else:
            partitions = [
                (r[0], r[1])
                for r in con.execute(
                    f'SELECT DISTINCT x_source, "BillingPeriodStart" FROM temp.{BILLING_TABLE}'  # noqa: S608
                ).fetchall()
            ]
        extras = [
            c for c in _table_columns(con, BILLING_TABLE) if c not in TABLES[BILLING_TABLE].columns
        ]
        written = self._write_billing_parts(con, f"temp.{BILLING_TABLE}", partitions, loaded_at)
        replaced = 0
        now = _utcnow()
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
        for source, period, relative, rows in written:
            con.execute(
                "INSERT INTO cost_files VALUES (?, ?, ?, ?, ?, ?)",
                [source, period, relative, rows, extras, loaded_at],
            )
        # the roll-ups of these partitions from their new rows (the temporary table
        # ``cost`` holds them all), in this same transaction
        rollups.rebuild(con, partitions, loaded_at)
        return replaced, len(partitions)

    def _move_billing_to_parts(self, con: duckdb.DuckDBPyConnection) -> None:
        """Migration 004: the old ``cost`` table's rows become billing files, one per
        (source, billing period), and the table is dropped (inside the migration's
        transaction: a store killed half-way is still the old one)."""
        partitions = con.execute(
            f'SELECT x_source, "BillingPeriodStart", max(x_ingested_at) FROM main.{BILLING_TABLE} '  # noqa: S608
            "GROUP BY ALL ORDER BY 2, 1"
        ).fetchall()
        extras = [
            c for c in _table_columns(con, BILLING_TABLE) if c not in TABLES[BILLING_TABLE].columns
        ]
        stamp = _utcnow()
        written = self._write_billing_parts(
            con, f"main.{BILLING_TABLE}", [(p[0], p[1]) for p in partitions], stamp
        )
        newest = {(p[0], p[1]): p[2] for p in partitions}
        for source, period, relative, rows in written:
            con.execute(
                "INSERT INTO cost_files VALUES (?, ?, ?, ?, ?, ?)",
                [source, period, relative, rows, extras, newest[(source, period)] or stamp],
            )
        con.execute(f"DROP TABLE main.{BILLING_TABLE}")

    # -- schema ------------------------------------------------------------------

    def init(self) -> list[str]:
        """Create the store or bring it to the latest schema; returns what was applied."""
        with self.writer():
            return list(self.applied_migrations)

    def _migrate(self, con: duckdb.DuckDBPyConnection) -> None:
        con.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            "version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
        )
        have = set(_applied_versions(con))
        known = migrations()
        self._refuse_newer(have, known[-1].version)
        applied = []
        for migration in known:
            if migration.version in have:
                continue
            con.execute("BEGIN TRANSACTION")
            try:
                con.execute(migration.sql)
                if migration.version == BILLING_PARTS_MIGRATION:
                    self._move_billing_to_parts(con)
                if migration.version == ROLLUPS_MIGRATION:
                    # the roll-ups of the billing already there
                    self._create_billing_view(con)
                    rollups.rebuild(con, None, _utcnow())
                con.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                    [migration.version, migration.name, _utcnow()],
                )
                con.execute("COMMIT")
            except Exception:
                con.execute("ROLLBACK")
                raise
            applied.append(f"{migration.version:03d}_{migration.name}")
        self.applied_migrations = applied

    # -- the one writer ---------------------------------------------------------------

    def load(
        self, batches: Iterable[Batch], *, on_rows: ProgressCallback | None = None
    ) -> LoadResult:
        """Write every batch and replace the partitions they cover, in one transaction.

        Rows are inserted stamped with this load's time; then the older rows of each
        partition the new rows cover are deleted. Any failure (a bad file half-way
        through, a full disk) rolls everything back: the store is as it was, and a store
        this load created is removed (no empty store file is left behind).
        """
        fresh = not self.path.exists() and not self.snapshot_path.exists()
        try:
            return self._load(batches, on_rows)
        except BaseException:
            if fresh:
                self._remove_files()
            raise

    def _remove_files(self) -> None:
        """Delete the store's files (a store the failed first load had just created)."""
        wal = self.path.with_name(self.path.name + ".wal")
        for path in (self.path, wal, self.snapshot_path, self.lock_path):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        shutil.rmtree(self.parts_path, ignore_errors=True)

    def _load(self, batches: Iterable[Batch], on_rows: ProgressCallback | None) -> LoadResult:
        with self.writer() as con:
            loaded_at = _next_load_time(con)
            result = LoadResult(loaded_at=loaded_at)
            con.execute("BEGIN TRANSACTION")
            # This load's billing rows gather in a temporary table of the view's name (it
            # spills to <db>.tmp past the memory limit) and become files when it commits.
            con.execute(f"DROP VIEW temp.{BILLING_TABLE}")
            columns = ", ".join(
                f"{quote_ident(n)} {t}" for n, t in TABLES[BILLING_TABLE].columns.items()
            )
            con.execute(f"CREATE TEMP TABLE {BILLING_TABLE} ({columns})")
            try:
                explicit: dict[str, list[Mapping[str, Any]]] = {}
                records: dict[str, list[Mapping[str, Any]]] = {}
                for batch in batches:
                    rows = _insert_batch(con, batch, loaded_at, on_rows)
                    result.rows_in[batch.table] = result.rows_in.get(batch.table, 0) + rows
                    if batch.partition is not None:
                        explicit.setdefault(batch.table, []).append(batch.partition)
                    if batch.record is not None:
                        records.setdefault(batch.table, []).append({**batch.record, "rows": rows})
                for table in result.rows_in:
                    if table == BILLING_TABLE:
                        replaced, parts = self._swap_billing_parts(
                            con, loaded_at, explicit.get(table, [])
                        )
                    else:
                        replaced, parts = _replace_partitions(
                            con, table, loaded_at, explicit.get(table, [])
                        )
                    result.rows_replaced[table] = replaced
                    result.partitions[table] = parts
                    con.execute(
                        "INSERT INTO loads VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [
                            loaded_at,
                            table,
                            None,
                            json.dumps(explicit.get(table, []), default=str),
                            result.rows_in[table],
                            replaced,
                            json.dumps(
                                {"partitions": parts, "files": records[table]}
                                if table in records
                                else {"partitions": parts},
                                default=str,
                            ),
                        ],
                    )
                con.execute("COMMIT")
                con.execute(f"DROP TABLE temp.{BILLING_TABLE}")
            except BaseException:
                # A ROLLBACK that fails too (DuckDB out of memory) must not hide the cause:
                # the transaction is discarded with the connection all the same.
                with contextlib.suppress(duckdb.Error):
                    con.execute("ROLLBACK")
                raise
            return result


#: The migration that moves billing rows out of the store file (see _move_billing_to_parts).
BILLING_PARTS_MIGRATION = 4
#: The migration that adds the daily roll-ups (``mlcost.rollups``), filled from the billing.
ROLLUPS_MIGRATION = 5


def _literal(text: str) -> str:
    """A SQL string literal (for file names DuckDB takes only as literals: COPY TO, a
    view's read_parquet; the names are ours, the store's folder the user's)."""
    return "'" + text.replace("'", "''") + "'"


def _fsync(path: Path) -> None:
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def _folder(path: Path) -> str:
    return str(path.resolve()) + os.sep


def _period_name(period: Any) -> str:
    """A billing period as a folder name: ``2026-08`` for a month's start."""
    if not isinstance(period, datetime):
        return "none"
    if period.day == 1 and period.time() == datetime.min.time():
        return f"{period:%Y-%m}"
    return f"{period:%Y-%m-%dT%H%M%S}"


def _source_name(source: Any) -> str:
    """A source as a folder name: every character but letters, digits, - and _
    percent-encoded (sources come from the files: never a path), long ones cut."""
    if source is None:
        return "none"
    name = urllib.parse.quote(str(source), safe="-_")
    return name if len(name) <= 80 else name[:80] + "~"


def _insert_batch(
    con: duckdb.DuckDBPyConnection,
    batch: Batch,
    loaded_at: datetime,
    on_rows: ProgressCallback | None,
) -> int:
    """Stream one batch into its table with a single INSERT; returns the rows written.

    DuckDB pulls the record batches as it inserts, so a file of any size passes
    through in constant memory. An error raised while producing them (a bad row the
    connector found) reaches the caller as itself, not as DuckDB's retelling.
    """
    spec = TABLES.get(batch.table)
    if spec is None:
        raise StoreError(f"Unknown table {batch.table!r}; the store has: {', '.join(TABLES)}.")
    if isinstance(batch.data, Scan):
        return _insert_scan(con, batch, batch.data, loaded_at, on_rows)
    batches = iter(_record_batches(batch.data))
    first = next(batches, None)
    if first is None:
        return 0
    _add_extra_columns(con, batch.table, first.schema.names)
    fill = {k: v for k, v in (batch.partition or {}).items() if k not in first.schema.names}
    counted = _CountingBatches(
        itertools.chain([first], batches), batch.label or batch.table, on_rows
    )
    reader = pa.RecordBatchReader.from_batches(first.schema, counted)
    # Rows of earlier batches of this load in other partitions are not this batch's strays.
    strays_before = _strays(con, batch, spec.loaded_at, loaded_at) if batch.partition else 0
    con.register("_mlcost_incoming", reader)
    try:
        extra_sql = "".join(f", ? AS {quote_ident(k)}" for k in fill)
        con.execute(
            f"INSERT INTO {quote_ident(batch.table)} BY NAME SELECT *{extra_sql}, "  # noqa: S608
            f"?::TIMESTAMP AS {quote_ident(spec.loaded_at)} FROM _mlcost_incoming",
            [*fill.values(), loaded_at],
        )
    except duckdb.Error:
        if counted.error is not None:
            raise counted.error from None
        raise
    finally:
        with contextlib.suppress(duckdb.Error):  # an aborted transaction refuses even this
            con.unregister("_mlcost_incoming")
    if counted.error is not None:
        raise counted.error
    if batch.partition:
        _check_partition(con, batch, spec.loaded_at, loaded_at, strays_before)
    return counted.rows


def _insert_scan(
    con: duckdb.DuckDBPyConnection,
    batch: Batch,
    scan: Scan,
    loaded_at: datetime,
    on_rows: ProgressCallback | None,
) -> int:
    """Run a :class:`Scan` as one INSERT … SELECT; returns the rows written."""
    spec = TABLES[batch.table]
    label = batch.label or batch.table
    params = list(scan.params)
    try:
        described = con.execute(f"DESCRIBE {scan.sql}", params).fetchall()
    except duckdb.Error as exc:
        raise (scan.explain(exc) if scan.explain else exc) from exc
    names = [row[0] for row in described]
    _add_extra_columns(con, batch.table, names)
    fill = {k: v for k, v in (batch.partition or {}).items() if k not in names}
    strays_before = _strays(con, batch, spec.loaded_at, loaded_at) if batch.partition else 0
    extra_sql = "".join(f", ${len(params) + i + 1} AS {quote_ident(k)}" for i, k in enumerate(fill))
    marker = f"${len(params) + len(fill) + 1}::TIMESTAMP AS {quote_ident(spec.loaded_at)}"
    if on_rows is not None:
        on_rows(label, 0)
    try:
        with _watch(con, label, on_rows):
            written = con.execute(
                f"INSERT INTO {quote_ident(batch.table)} BY NAME "  # noqa: S608
                f"SELECT *{extra_sql}, {marker} FROM ({scan.sql})",
                [*params, *fill.values(), loaded_at],
            ).fetchall()
    except duckdb.Error as exc:
        raise (scan.explain(exc) if scan.explain else exc) from exc
    rows = int(written[0][0]) if written else 0
    if on_rows is not None:
        on_rows(label, rows)
    if scan.on_done is not None:
        scan.on_done(rows)
    if scan.after is not None:
        scan.after(con, loaded_at)
    if batch.partition:
        _check_partition(con, batch, spec.loaded_at, loaded_at, strays_before)
    return rows


@contextlib.contextmanager
def _watch(
    con: duckdb.DuckDBPyConnection, label: str, on_rows: ProgressCallback | None
) -> Iterator[None]:
    """Report how far the query running on ``con`` has got, from a thread of its own,
    every PROGRESS_POLL_S seconds (DuckDB tracks it only with its progress bar on;
    its printing stays off)."""
    if on_rows is None:
        yield
        return
    con.execute("SET enable_progress_bar = true; SET enable_progress_bar_print = false")
    stop = threading.Event()

    def poll() -> None:
        while not stop.wait(PROGRESS_POLL_S):
            percent = con.query_progress()
            if percent >= 0:
                on_rows(label, 0, min(percent, 100.0) / 100)

    watcher = threading.Thread(target=poll, name="mlcost-progress", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join()


class _CountingBatches:
    """Record batches as DuckDB pulls them: counted, reported, and any error kept."""

    def __init__(
        self,
        batches: Iterator[pa.RecordBatch],
        label: str,
        on_rows: ProgressCallback | None,
    ) -> None:
        self._batches = batches
        self._label = label
        self._on_rows = on_rows
        self.rows = 0
        self.error: BaseException | None = None

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        return self

    def __next__(self) -> pa.RecordBatch:
        try:
            record_batch = next(self._batches)
        except StopIteration:
            raise
        except BaseException as exc:
            self.error = exc
            raise
        self.rows += record_batch.num_rows
        if self._on_rows is not None:
            self._on_rows(self._label, record_batch.num_rows)
        return record_batch


def _add_extra_columns(con: duckdb.DuckDBPyConnection, table: str, names: list[str]) -> None:
    """Add the provider columns (``x_*``) a batch brings that the table lacks."""
    known = {name.lower() for name in _table_columns(con, table)}
    for name in names:
        if name.lower() in known:
            continue
        if not EXTRA_COLUMN.match(name):
            raise StoreError(
                f"Table {table} has no column {name!r}; only extra columns "
                "named x_<letters, digits, _> can be added."
            )
        con.execute(f"ALTER TABLE {quote_ident(table)} ADD COLUMN {quote_ident(name)} VARCHAR")
        known.add(name.lower())


def _strays(con: duckdb.DuckDBPyConnection, batch: Batch, marker: str, loaded_at: datetime) -> int:
    """Rows of this load in ``batch.table`` outside ``batch.partition``."""
    assert batch.partition is not None
    cond = " OR ".join(f"{quote_ident(k)} IS DISTINCT FROM ?" for k in batch.partition)
    stray = con.execute(
        f"SELECT count(*) FROM {quote_ident(batch.table)} "  # noqa: S608
        f"WHERE {quote_ident(marker)} = ? AND ({cond})",
        [loaded_at, *batch.partition.values()],
    ).fetchall()
    return int(stray[0][0]) if stray else 0


def _check_partition(
    con: duckdb.DuckDBPyConnection, batch: Batch, marker: str, loaded_at: datetime, before: int
) -> None:
    """Every row this batch wrote lies in the partition it declared (several batches of
    one load may each replace their own partition of the same table)."""
    assert batch.partition is not None
    stray = _strays(con, batch, marker, loaded_at) - before
    if stray:
        raise StoreError(
            f"{stray} rows for {batch.table} do not belong to the partition "
            f"{dict(batch.partition)} they were loaded into."
        )


def _replace_partitions(
    con: duckdb.DuckDBPyConnection,
    table: str,
    loaded_at: datetime,
    explicit: list[Mapping[str, Any]],
) -> tuple[int, int]:
    """Delete the older rows of every partition this load wrote; returns (rows, parts)."""
    spec = TABLES[table]
    t, marker = quote_ident(table), quote_ident(spec.loaded_at)
    replaced = 0
    parts = 0
    if explicit:
        for partition in explicit:
            cond = " AND ".join(f"{quote_ident(k)} IS NOT DISTINCT FROM ?" for k in partition)
            row = con.execute(
                f"DELETE FROM {t} WHERE {cond} AND {marker} <> ?",  # noqa: S608
                [*partition.values(), loaded_at],
            ).fetchone()
            replaced += row[0] if row else 0
            parts += 1
        return replaced, parts
    keys = [quote_ident(k) for k in spec.partition_by]
    match = " AND ".join(f"old.{k} IS NOT DISTINCT FROM new.{k}" for k in keys)
    new_parts = f"SELECT DISTINCT {', '.join(keys)} FROM {t} WHERE {marker} = ?"  # noqa: S608
    count = con.execute(f"SELECT count(*) FROM ({new_parts})", [loaded_at]).fetchone()  # noqa: S608
    parts = count[0] if count else 0
    row = con.execute(
        f"DELETE FROM {t} AS old USING ({new_parts}) AS new "  # noqa: S608
        f"WHERE {match} AND old.{marker} <> ?",
        [loaded_at, loaded_at],
    ).fetchone()
    replaced = row[0] if row else 0
    return replaced, parts


def _record_batches(
    data: pa.Table | pa.RecordBatchReader | Iterable[pa.RecordBatch],
) -> Iterator[pa.RecordBatch]:
    if isinstance(data, pa.Table):
        yield from data.to_batches(max_chunksize=1_000_000)
    else:
        yield from data


def _table_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_name = ? AND table_schema = 'main' ORDER BY ordinal_position",
        [table],
    ).fetchall()
    return [r[0] for r in rows]


def _applied_versions(con: duckdb.DuckDBPyConnection) -> list[int]:
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations'"
    ).fetchone()
    if not exists or not exists[0]:
        return []
    return [r[0] for r in con.execute("SELECT version FROM schema_migrations").fetchall()]


def _next_load_time(con: duckdb.DuckDBPyConnection) -> datetime:
    """Now, but strictly after the previous load, so a load's rows are told apart."""
    now = _utcnow()
    last = con.execute("SELECT max(loaded_at) FROM loads").fetchone()
    if last and last[0] is not None and last[0] >= now:
        return last[0] + timedelta(microseconds=1)
    return now


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
