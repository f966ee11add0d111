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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pyarrow as pa

from mlcost import billing_files, rollups
from mlcost.billing_files import BILLING_TABLE, BillingFile
from mlcost.choices import DEFAULT_DB as DEFAULT_DB
from mlcost.config import Settings
from mlcost.errors import StoreBusyError, StoreError
from mlcost.schema import EXTRA_COLUMN, TABLES, quote_ident

SNAPSHOT_SUFFIX = ".snapshot"
LOCK_SUFFIX = ".lock"
#: The folder beside the store file holding the billing rows as Parquet files.
PARTS_SUFFIX = ".parts"


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
    #: The largest row group (compressed bytes) of the Parquet files the query reads, 0
    #: for other sources: the writer's memory limit is raised by what its reading threads
    #: hold of such groups (``reading_memory``), so a wide file is not spilled to disk.
    row_group_bytes: int = 0
    #: A billing scan that takes some of its file on trust, unlooked at (a FOCUS file's
    #: plain-coded text, see ``focus.mark_clean``): it is written first, on a connection
    #: of its own, and its files are kept where ``trusted(their paths)`` says they hold
    #: what the careful scan would have written. Where they do not, or where the scan
    #: fails, they are deleted and ``careful()``, the same file's scan with nothing
    #: taken on trust, is written instead (its errors are the ones reported).
    careful: Callable[[], Scan] | None = None
    trusted: Callable[[Sequence[Path]], bool] | None = None
    #: For a scan taken on trust: the inputs it runs over one after the other in place
    #: of its ``$1`` (a CSV.gz's parts as they are decompressed), each written to files
    #: of its own, with how far through the whole each ends (0 to 1, for the progress).
    #: Raising :class:`NotTrusted` sends the load to the careful scan.
    parts: Iterable[tuple[Path, float]] | None = None


class NotTrusted(Exception):
    """A scan taken on trust cannot go on (its input is not as it expected): the
    careful scan is written instead, and says what is wrong."""


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
    #: What the ``loads`` table keeps of the files this batch reads, under
    #: ``detail.files``: each one's name, content hash (so that a later load can tell the
    #: same file by content) and rows; a batch of one file may leave its rows out (they
    #: are the batch's).
    files: Sequence[Mapping[str, Any]] = ()


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
        rollup_tag_keys: Sequence[str] = rollups.DEFAULT_TAG_KEYS,
    ) -> None:
        self.path = Path(path)
        self.lock_timeout_s = lock_timeout_s
        self.writer_memory_limit = writer_memory_limit
        #: The tag keys the roll-up by tag holds once a writer has opened the store
        #: (``anomalies.tag_keys``; :meth:`from_settings`).
        self.rollup_tag_keys: tuple[str, ...] = tuple(dict.fromkeys(rollup_tag_keys))
        #: Migrations the last writer applied (``mlcost init`` reports them).
        self.applied_migrations: list[str] = []
        #: The connection every :meth:`reader` returns inside :meth:`shared_reader`.
        self._shared: duckdb.DuckDBPyConnection | None = None

    @classmethod
    def from_settings(cls, path: str | os.PathLike[str], settings: Settings) -> Store:
        """The store at ``path`` as the settings have it: ``[store]``'s lock timeout and
        memory limit, and ``anomalies.tag_keys`` as the roll-ups' tag keys (how the CLI,
        the dashboard and ``mlcost.api`` open it)."""
        return cls(
            path,
            lock_timeout_s=settings.store.lock_timeout_s,
            writer_memory_limit=settings.store.writer_memory_limit,
            rollup_tag_keys=settings.anomalies.keys,
        )

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
        """Open ``path``, retrying with back-off while another process holds it (or, in
        this process, a connection opened the other way: the dashboard's readers and a
        change one of its pages makes).

        ``sandboxed`` connections cannot touch any other file (for user-typed SQL).
        """
        deadline = time.monotonic() + self.lock_timeout_s
        delay = 0.05
        while True:
            try:
                con = duckdb.connect(str(path), read_only=read_only)
            except (duckdb.IOException, duckdb.ConnectionException) as exc:
                if not _held(exc) or time.monotonic() >= deadline:
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
        # DuckDB's own bar would print on stdout, over the CLI's progress (``_watch``
        # turns it on, unprinted, to read how far a load has got).
        con.execute("SET enable_progress_bar = false")
        if sandboxed:
            con.execute("SET allowed_directories = ?", [[str(self.parts_path.resolve()) + os.sep]])
            con.execute("SET enable_external_access = false")
        return con

    def _busy(self, exc: Exception) -> StoreError:
        if _held(exc):
            return StoreBusyError(
                f"The store {self.path} is held by another process "
                f"(waited {self.lock_timeout_s:g} s).",
                "Wait for the other mlcost command to finish, or raise [store] "
                "lock_timeout_s in mlcost.toml.",
            )
        return StoreError(f"Cannot open the store {self.path}: {_first_line(exc)}")

    @contextlib.contextmanager
    def reader(self, *, sandboxed: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection on the newest committed state of the store (inside
        :meth:`shared_reader`, its connection, unless ``sandboxed``)."""
        if self._shared is not None and not sandboxed:
            yield self._shared
            return
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

    @contextlib.contextmanager
    def shared_reader(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One read-only connection that every :meth:`reader` of this object opened inside
        the block returns: several library calls on one opening of the store (about
        0.1 s each) and on one committed state of it, as the dashboard renders a page.
        Held for the block: a writer waits for it as for any reader (with back-off)."""
        if self._shared is not None:
            yield self._shared
            return
        with self.reader() as con:
            self._shared = con
            try:
                yield con
            finally:
                self._shared = None

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
        except duckdb.ConnectionException as exc:  # held for writing in this process
            if not _held(exc):
                raise self._busy(exc) from exc
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
    def writer(
        self, on_rows: ProgressCallback | None = None
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """The one read-write connection: migrated, its roll-ups by tag holding the
        configured keys (``on_rows`` told while a key is rolled up), and snapshotted
        after it closes."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._writer_lock():
            con = self._connect(self.path, read_only=False)
            try:
                # Bounds the blocks a long load keeps cached: the rest are on disk already.
                con.execute("SET memory_limit = ?", [self.writer_memory_limit])
                self._migrate(con)
                self._sweep_billing_files(con)
                self._create_billing_view(con)
                self._retag(con, on_rows)
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

    def _create_billing_view(
        self,
        con: duckdb.DuckDBPyConnection,
        files: Sequence[tuple[str, Sequence[str]]] | None = None,
    ) -> None:
        billing_files.create_view(con, self.parts_path, files)

    def _sweep_billing_files(self, con: duckdb.DuckDBPyConnection) -> None:
        billing_files.sweep(con, self.parts_path)

    def _write_billing_parts(
        self,
        con: duckdb.DuckDBPyConnection,
        select: str,
        params: Sequence[object],
        stamp: datetime,
        tag: str,
        extras: Sequence[str],
    ) -> list[BillingFile]:
        return billing_files.write(con, self.parts_path, select, params, stamp, tag, extras)

    def _swap_billing_parts(
        self,
        con: duckdb.DuckDBPyConnection,
        loaded_at: datetime,
        explicit: list[Mapping[str, Any]],
        written: Sequence[BillingFile],
    ) -> tuple[int, int]:
        replaced, parts = billing_files.swap(con, loaded_at, explicit, written)
        # the roll-ups of these partitions from their new rows (the view ``cost`` over
        # this load's files), in this same transaction
        self._create_billing_view(con, [(f.path, f.extras) for f in written])
        rollups.rebuild(
            con, billing_files.covered(explicit, written), loaded_at, self.rollup_tag_keys
        )
        return replaced, parts

    def _load_billing(
        self,
        con: duckdb.DuckDBPyConnection,
        batch: Batch,
        loaded_at: datetime,
        tag: str,
        on_rows: ProgressCallback | None,
    ) -> list[BillingFile]:
        """Write one batch of billing rows straight from its source (a Scan's query, or
        record batches) to new files, checked as they go: a row a Scan refuses stops the
        write, and the files are listed only when the load commits (_swap_billing_parts).
        Returns the files written."""
        label = batch.label or batch.table
        scan = batch.data if isinstance(batch.data, Scan) else None
        if scan is not None and scan.careful is not None:
            trusted = self._write_on_trust(con, scan, batch, loaded_at, tag, on_rows)
            if trusted is not None:
                return self._billing_written(con, batch, scan, trusted, loaded_at, on_rows)
            scan = scan.careful()
        if scan is not None:
            if on_rows is not None:
                on_rows(label, 0)
            try:
                files = self._write_scan(con, scan, None, batch, loaded_at, tag, on_rows)
            except duckdb.Error as exc:
                raise (scan.explain(exc) if scan.explain else exc) from exc
            return self._billing_written(con, batch, scan, files, loaded_at, on_rows)
        assert not isinstance(batch.data, Scan)
        pulled = iter(_record_batches(batch.data))
        first = next(pulled, None)
        if first is None:
            return []
        counted = _CountingBatches(itertools.chain([first], pulled), label, on_rows)
        con.register("_mlcost_incoming", pa.RecordBatchReader.from_batches(first.schema, counted))
        params: list[object] = []  # select_rows fills it
        select, extras = billing_files.select_rows(
            first.schema.names, "_mlcost_incoming", params, batch.partition, loaded_at
        )
        try:
            files = self._write_billing_parts(con, select, params, loaded_at, tag, extras)
        except duckdb.Error:
            if counted.error is not None:
                raise counted.error from None
            raise
        finally:
            with contextlib.suppress(duckdb.Error):
                con.unregister("_mlcost_incoming")
        if counted.error is not None:
            raise counted.error
        return self._billing_written(con, batch, None, files, loaded_at, on_rows)

    def _write_scan(
        self,
        con: duckdb.DuckDBPyConnection,
        scan: Scan,
        part: tuple[int, Path, tuple[float, float]] | None,
        batch: Batch,
        loaded_at: datetime,
        tag: str,
        on_rows: ProgressCallback | None,
    ) -> list[BillingFile]:
        """Write a scan's rows to new billing files on ``con`` (the store's connection, or
        a cursor of it), its progress watched; ``part``: (number, input in place of its
        ``$1``, share of the whole) for a part of a scan in parts. DuckDB's errors are
        raised as they are."""
        params = list(scan.params)
        if part is not None:
            params[0] = str(part[1])
            tag = f"{tag}.{part[0]}"
        described = con.execute(f"DESCRIBE {scan.sql}", params).fetchall()
        select, extras = billing_files.select_rows(
            [str(row[0]) for row in described], f"({scan.sql})", params, batch.partition, loaded_at
        )
        label = batch.label or batch.table
        span = part[2] if part is not None else (0.0, 1.0)
        with (
            _watch(con, label, on_rows, span),
            _reading(con, self.writer_memory_limit, scan),
        ):
            return self._write_billing_parts(con, select, params, loaded_at, tag, extras)

    def _billing_written(
        self,
        con: duckdb.DuckDBPyConnection,
        batch: Batch,
        scan: Scan | None,
        files: list[BillingFile],
        loaded_at: datetime,
        on_rows: ProgressCallback | None,
    ) -> list[BillingFile]:
        """A batch's billing files are written: the scan is told (its ``after`` reads
        them back) and the partition checked; on a failure the files are deleted."""
        try:
            rows = sum(f.rows for f in files)
            # What a Scan's ``after`` and the partition check read: this batch's rows.
            self._create_billing_view(con, [(f.path, f.extras) for f in files])
            if scan is not None:
                _scan_done(con, scan, batch.label or batch.table, rows, on_rows, loaded_at)
            if batch.partition:
                _check_partition(con, batch, TABLES[BILLING_TABLE].loaded_at, loaded_at, 0)
        except BaseException:
            billing_files.discard(self.parts_path, files)
            raise
        return files

    def _write_on_trust(
        self,
        con: duckdb.DuckDBPyConnection,
        scan: Scan,
        batch: Batch,
        loaded_at: datetime,
        tag: str,
        on_rows: ProgressCallback | None,
    ) -> list[BillingFile] | None:
        """Write a scan that takes text on trust (``Scan.careful``); its files, or None
        where it failed or ``scan.trusted`` finds them unlike the careful scan's (they are
        deleted). It runs on a cursor, a connection of its own: a row it refuses aborts
        that connection's statement, not the load's transaction."""
        label = batch.label or batch.table
        cursor = self._prepare(con.cursor(), sandboxed=False)
        parts = iter(scan.parts) if scan.parts is not None else None
        files: list[BillingFile] = []
        try:
            if on_rows is not None:
                on_rows(label, 0)
            if parts is None:
                files = self._write_scan(cursor, scan, None, batch, loaded_at, tag, on_rows)
            start = 0.0
            for number, (source, end) in enumerate(parts or ()):
                part = (number, source, (start, end))
                files += self._write_scan(cursor, scan, part, batch, loaded_at, tag, on_rows)
                start = end
        except (duckdb.Error, NotTrusted):
            billing_files.discard(self.parts_path, files)
            return None  # the careful scan is written next, and says what is wrong
        except BaseException:
            billing_files.discard(self.parts_path, files)
            raise
        finally:
            cursor.close()
            close = getattr(parts, "close", None)
            if close is not None:
                close()  # a generator's parts removed, its thread stopped
        kept = False
        try:
            paths = sorted({self.parts_path / f.path for f in files})
            kept = scan.trusted is None or scan.trusted(paths)
        finally:
            if not kept:  # unlike the careful scan's rows, or the look failed
                billing_files.discard(self.parts_path, files)
        return files if kept else None

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
        every_row = f"SELECT * FROM main.{BILLING_TABLE}"  # noqa: S608
        written = self._write_billing_parts(con, every_row, [], stamp, "0", extras)
        newest = {(p[0], p[1]): p[2] for p in partitions}
        for file in written:
            con.execute(
                "INSERT INTO cost_files VALUES (?, ?, ?, ?, ?, ?)",
                [
                    file.source,
                    file.period,
                    file.path,
                    file.rows,
                    extras,
                    newest[(file.source, file.period)] or stamp,
                ],
            )
        con.execute(f"DROP TABLE main.{BILLING_TABLE}")

    # -- schema ------------------------------------------------------------------

    def init(self, on_rows: ProgressCallback | None = None) -> list[str]:
        """Create the store or bring it to the latest schema (and its roll-ups to the
        configured tag keys); returns the migrations applied."""
        with self.writer(on_rows):
            return list(self.applied_migrations)

    def _retag(self, con: duckdb.DuckDBPyConnection, on_rows: ProgressCallback | None) -> None:
        """Make the roll-up by tag hold exactly :attr:`rollup_tag_keys`: a key newly
        configured is rolled up from all of ``cost``, a key no longer configured is
        dropped, in one transaction (a writer killed half-way leaves the old keys, still
        recorded as they are)."""
        recorded = rollups.recorded_tag_keys(con)
        added = [k for k in self.rollup_tag_keys if k not in recorded]
        dropped = [k for k in recorded if k not in self.rollup_tag_keys]
        if not added and not dropped:
            return
        stamp = _utcnow()
        con.execute("BEGIN TRANSACTION")
        try:
            for key in dropped:
                rollups.drop_tag_key(con, key)
            for key in added:
                label = f"roll-up by tag {key}"
                if on_rows is not None:
                    on_rows(label, 0)
                with _watch(con, label, on_rows):
                    rollups.add_tag_key(con, key, stamp)
            con.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            raise

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
                    rollups.rebuild(con, None, _utcnow(), self.rollup_tag_keys)
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
        with self.writer(on_rows) as con:
            loaded_at = _next_load_time(con)
            result = LoadResult(loaded_at=loaded_at)
            # This load's billing rows go straight to new files, listed when it commits.
            written: list[BillingFile] = []
            con.execute("BEGIN TRANSACTION")
            try:
                explicit: dict[str, list[Mapping[str, Any]]] = {}
                records: dict[str, list[Mapping[str, Any]]] = {}
                for index, batch in enumerate(batches):
                    if batch.table == BILLING_TABLE:
                        files = self._load_billing(con, batch, loaded_at, str(index), on_rows)
                        written.extend(files)
                        rows = sum(f.rows for f in files)
                    else:
                        rows = _insert_batch(con, batch, loaded_at, on_rows)
                    result.rows_in[batch.table] = result.rows_in.get(batch.table, 0) + rows
                    if batch.partition is not None:
                        explicit.setdefault(batch.table, []).append(batch.partition)
                    for record in batch.files:
                        records.setdefault(batch.table, []).append({"rows": rows, **record})
                for table in result.rows_in:
                    if table == BILLING_TABLE:
                        replaced, parts = self._swap_billing_parts(
                            con, loaded_at, explicit.get(table, []), written
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
            except BaseException:
                # A ROLLBACK that fails too (DuckDB out of memory) must not hide the cause:
                # the transaction is discarded with the connection all the same.
                with contextlib.suppress(duckdb.Error):
                    con.execute("ROLLBACK")
                # Never listed: deleted now rather than by the next writer.
                billing_files.discard(self.parts_path, written)
                raise
            return result


#: The migration that moves billing rows out of the store file (see _move_billing_to_parts).
BILLING_PARTS_MIGRATION = 4
#: The migration that adds the daily roll-ups (``mlcost.rollups``), filled from the billing.
ROLLUPS_MIGRATION = 5


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
    _scan_done(con, scan, label, rows, on_rows, loaded_at)
    if batch.partition:
        _check_partition(con, batch, spec.loaded_at, loaded_at, strays_before)
    return rows


def _scan_done(
    con: duckdb.DuckDBPyConnection,
    scan: Scan,
    label: str,
    rows: int,
    on_rows: ProgressCallback | None,
    loaded_at: datetime,
) -> None:
    """A scan's rows are in: the progress told, then the scan's own ``on_done`` and
    ``after`` (which read the rows it wrote)."""
    if on_rows is not None:
        on_rows(label, rows)
    if scan.on_done is not None:
        scan.on_done(rows)
    if scan.after is not None:
        scan.after(con, loaded_at)


@contextlib.contextmanager
def _watch(
    con: duckdb.DuckDBPyConnection,
    label: str,
    on_rows: ProgressCallback | None,
    span: tuple[float, float] = (0.0, 1.0),
) -> Iterator[None]:
    """Report how far the query running on ``con`` has got, from a thread of its own,
    every PROGRESS_POLL_S seconds (DuckDB tracks it only with its progress bar on;
    its printing stays off); ``span``: the share of the whole the query is (a part of
    a file), from, to."""
    if on_rows is None:
        yield
        return
    con.execute("SET enable_progress_bar = true; SET enable_progress_bar_print = false")
    stop = threading.Event()

    def poll() -> None:
        while not stop.wait(PROGRESS_POLL_S):
            percent = con.query_progress()
            if percent >= 0:
                on_rows(label, 0, span[0] + (span[1] - span[0]) * min(percent, 100.0) / 100)

    watcher = threading.Thread(target=poll, name="mlcost-progress", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join()


def memory_connection() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection, for reading and planning files: its progress
    bar off (DuckDB prints it on stdout, over the CLI's own, from a query of 2 s on)."""
    con = duckdb.connect(":memory:")
    con.execute("SET enable_progress_bar = false")
    return con


@contextlib.contextmanager
def _reading(con: duckdb.DuckDBPyConnection, limit: str, scan: Scan | None) -> Iterator[None]:
    """The writer's memory limit raised, while ``scan`` runs, by what its reading
    threads hold of its Parquet row groups (``reading_memory``); as it was after."""
    raised = None
    if scan is not None and scan.row_group_bytes:
        raised = reading_limit(con, limit, scan.row_group_bytes)
    if raised is None:
        yield
        return
    con.execute("SET memory_limit = ?", [f"{raised}B"])
    try:
        yield
    finally:
        # A failed scan aborts the load's transaction, and the load ends with it: the
        # scan's own error is the one to report.
        with contextlib.suppress(duckdb.Error):
            con.execute("SET memory_limit = ?", [limit])


def reading_limit(con: duckdb.DuckDBPyConnection, limit: str, row_group_bytes: int) -> int | None:
    """The memory setting ``limit`` in bytes plus what ``con``'s reading threads hold of
    row groups of ``row_group_bytes`` (``reading_memory``); None where ``limit`` is a form
    ``memory_bytes`` does not know."""
    base = memory_bytes(limit)
    if base is None:
        return None
    threads = int(con.execute("SELECT current_setting('threads')").fetchall()[0][0])
    return base + reading_memory(row_group_bytes, threads)


def reading_memory(row_group_bytes: int, threads: int) -> int:
    """The memory a Parquet scan's reading threads hold beyond what the writer needs:
    about two of the file's largest row groups each (compressed; one being decoded, one
    read ahead). A file of wide plain-coded text (10M rows of the 57 FOCUS columns
    without dictionaries: 69 MB a 500k-row group) spilled under a 512MB limit and took
    twice as long to write (45 s against 25 s); a dictionary-coded file's groups are a
    seventh of that, and its limit barely moves. A property of the file, not of its
    length: memory stays flat in rows."""
    return 2 * max(threads, 1) * row_group_bytes


_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}


def memory_bytes(text: str) -> int | None:
    """A DuckDB memory setting ("512MB", "1GiB") in bytes; None for a form it does not
    know (the limit is then left as it is)."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    if found is None or found.group(2).lower() not in _UNITS:
        return None
    return int(float(found.group(1)) * _UNITS[found.group(2).lower()])


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


_utcnow = billing_files.utcnow


def _held(exc: BaseException) -> bool:
    """DuckDB refused a file because it is held: by another process (its lock), or in
    this process by a connection opened the other way (read-only vs read-write)."""
    text = str(exc).lower()
    return "lock" in text or "different configuration" in text


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
