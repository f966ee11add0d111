"""``mlcost sql``: read-only SQL over the store, its result streamed to the output."""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console

from mlcost.errors import InputError, ReadOnlyError
from mlcost.output import TABLE_ROW_LIMIT, resolve_format, write_csv, write_json, write_table
from mlcost.store import Store

#: Statement types ``mlcost sql`` runs; everything else is refused before it reaches DuckDB.
READ_ONLY_STATEMENTS = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}

#: Rows per batch as the result streams from DuckDB to the output (a batch of the cost
#: table's 60 columns is some 40 MB as Python values while CSV or JSON is written).
BATCH_ROWS = 8_192
#: DuckDB's memory for ``mlcost sql``.
MEMORY_LIMIT = "512MB"

#: ``EXPLAIN [ANALYZE] [(options)]`` before the statement it explains, after any comments.
_EXPLAIN = re.compile(
    r"^(?:\s|--[^\n]*(?:\n|$)|/\*.*?\*/)*EXPLAIN\s+(?:ANALY[SZ]E\s+)?(?:\([^)]*\)\s*)?",
    re.IGNORECASE | re.DOTALL,
)


def check_read_only(query: str) -> None:
    """Refuse anything but one SELECT, or EXPLAIN of one SELECT.

    ``EXPLAIN ANALYZE`` runs the statement it explains, and DuckDB lets even a read-only
    connection without file access write into its temporary folder (``<db>.tmp``): an
    ``EXPLAIN ANALYZE COPY … TO '<db>.tmp/x.csv'`` would write a file. So what an EXPLAIN
    explains must itself be a SELECT.
    """
    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error as exc:
        raise InputError(f"The SQL does not parse: {_first_line(exc)}") from exc
    if len(statements) != 1:
        raise InputError(
            f"Give exactly one SQL statement (got {len(statements)}).",
        )
    kind = statements[0].type
    if kind == duckdb.StatementType.EXPLAIN:
        explained = _explained(statements[0].query)
        if explained is not None:
            return
        raise ReadOnlyError(
            "mlcost sql is read-only: EXPLAIN is accepted of a SELECT only.",
            "Explain the SELECT itself; data changes only through `mlcost ingest`.",
        )
    if kind not in READ_ONLY_STATEMENTS:
        name = str(kind).rsplit(".", 1)[-1]
        raise ReadOnlyError(
            f"mlcost sql is read-only: {name} statements are refused.",
            "Use SELECT (or EXPLAIN); data changes only through `mlcost ingest`.",
        )


def _explained(text: str) -> duckdb.Statement | None:
    """The SELECT an EXPLAIN statement explains, or None where it explains anything else."""
    match = _EXPLAIN.match(text)
    if match is None:
        return None
    try:
        inner = duckdb.extract_statements(text[match.end() :])
    except duckdb.Error:
        return None
    if len(inner) != 1 or inner[0].type != duckdb.StatementType.SELECT:
        return None
    return inner[0]


def run_query(store: Store, query: str) -> pa.Table:
    """Run one read-only statement and return its rows (for small results: the whole
    table is in memory; :func:`write_query` streams).

    Three fences: the statement must be a query; the connection is read-only; and it
    cannot reach the file system (no COPY, ATTACH, read_csv of other files).
    """
    check_read_only(query)
    with store.reader(sandboxed=True) as con:
        try:
            return con.sql(query).to_arrow_table()
        except duckdb.Error as exc:
            raise InputError(f"The query failed: {_first_line(exc)}") from exc


def write_query(
    store: Store,
    query: str,
    *,
    fmt: str | None = None,
    output: Path | None = None,
    console: Console | None = None,
) -> int:
    """Run one read-only statement and write its rows as they come (CSV, JSON, Parquet:
    one batch in memory at a time, whatever the result's size; a terminal table keeps the
    rows it shows and counts the rest). Returns the number of rows."""
    check_read_only(query)
    chosen = resolve_format(fmt, output)
    if chosen == "parquet" and output is None:
        raise InputError("Parquet is binary: give --output FILE.parquet to write it.")
    with store.reader(sandboxed=True) as con:
        # DuckDB keeps the store's blocks it has read until it needs the memory: capped,
        # the whole of a large store is never cached (a large sort spills to disk).
        con.execute("SET memory_limit = ?", [MEMORY_LIMIT])
        # Without ORDER BY, SQL promises no order; keeping the scan's order made DuckDB
        # buffer out-of-order chunks when the writer fell behind (1.2 GB on a busy machine
        # for a 600 MB result). ORDER BY is still honoured.
        con.execute("SET preserve_insertion_order = false")
        con.execute("SET enable_progress_bar = false")  # stderr is for errors
        try:
            reader = con.sql(query).to_arrow_reader(BATCH_ROWS)
        except duckdb.Error as exc:
            raise InputError(f"The query failed: {_first_line(exc)}") from exc
        batches = _batches(reader)
        if chosen == "table":
            return _write_terminal(reader.schema, batches, output, console)
        if chosen == "parquet":
            assert output is not None
            return _write_parquet(reader.schema, batches, output)
        if output is None:
            return _write_text(chosen, reader.schema, batches, sys.stdout)
        try:
            with open(output, "w", encoding="utf-8", newline="") as handle:
                return _write_text(chosen, reader.schema, batches, handle)
        except OSError as exc:
            raise InputError(
                f"Cannot write {output}: {(exc.strerror or type(exc).__name__).lower()}.",
                "Check the path, its permissions and the free disk space.",
            ) from None


def _batches(reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
    """The result's batches; a failure half-way (a cast, a division by zero) is one
    sentence, as one at the start is."""
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except (duckdb.Error, pa.ArrowException) as exc:
            raise InputError(f"The query failed: {_first_line(exc)}") from exc
        yield batch


def _write_text(
    fmt: str, schema: pa.Schema, batches: Iterator[pa.RecordBatch], handle: IO[str]
) -> int:
    """CSV or JSON, batch by batch, byte for byte what ``write_table`` writes for the
    whole result (each batch is written by the same function; the header, the brackets
    and the separators between batches are written here once)."""
    rows = 0
    if fmt == "csv":
        header = _render(write_csv, schema.empty_table())
        handle.write(header)
        for batch in batches:
            handle.write(_render(write_csv, pa.Table.from_batches([batch]))[len(header) :])
            rows += batch.num_rows
        return rows
    handle.write("[")
    for batch in batches:
        if not batch.num_rows:
            continue
        text = _render(write_json, pa.Table.from_batches([batch]))
        # "[\n {…},\n {…}\n]\n": the objects, each after its separator.
        handle.write((",\n " if rows else "\n ") + text[len("[\n ") : -len("\n]\n")])
        rows += batch.num_rows
    handle.write("\n]\n" if rows else "]\n")
    return rows


def _render(writer: object, table: pa.Table) -> str:
    buffer = io.StringIO()
    writer(table, buffer)  # type: ignore[operator]
    return buffer.getvalue()


def _write_parquet(schema: pa.Schema, batches: Iterator[pa.RecordBatch], output: Path) -> int:
    rows = 0
    try:
        with pq.ParquetWriter(output, schema, compression="zstd") as writer:
            for batch in batches:
                writer.write_batch(batch)
                rows += batch.num_rows
    except OSError as exc:
        raise InputError(
            f"Cannot write {output}: {(exc.strerror or type(exc).__name__).lower()}.",
            "Check the path, its permissions and the free disk space.",
        ) from None
    return rows


def _write_terminal(
    schema: pa.Schema,
    batches: Iterator[pa.RecordBatch],
    output: Path | None,
    console: Console | None,
) -> int:
    """The first rows as a table; the others are counted, not kept."""
    shown: list[pa.RecordBatch] = []
    kept = rows = 0
    for batch in batches:
        if kept < TABLE_ROW_LIMIT:
            part = batch.slice(0, TABLE_ROW_LIMIT - kept)
            shown.append(part)
            kept += part.num_rows
        rows += batch.num_rows
    table = pa.Table.from_batches(shown, schema=schema)
    write_table(table, fmt="table", output=output, console=console)
    if rows > kept:
        (console or Console()).print(
            f"… {rows - kept:,} more rows "
            "(use --format csv, json or parquet with --output to get them all)"
        )
    return rows


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0]
