"""``mlcost sql``: read-only SQL over the store."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from mlcost.errors import InputError, ReadOnlyError
from mlcost.store import Store

#: Statement types ``mlcost sql`` runs; everything else is refused before it reaches DuckDB.
READ_ONLY_STATEMENTS = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}


def run_query(store: Store, query: str) -> pa.Table:
    """Run one read-only statement and return its rows.

    Three fences: the statement type must be a query; the connection is read-only;
    and it cannot reach the file system (no COPY, ATTACH, read_csv of other files).
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
    if kind not in READ_ONLY_STATEMENTS:
        name = str(kind).rsplit(".", 1)[-1]
        raise ReadOnlyError(
            f"mlcost sql is read-only: {name} statements are refused.",
            "Use SELECT (or EXPLAIN); data changes only through `mlcost ingest`.",
        )
    with store.reader(sandboxed=True) as con:
        try:
            return con.sql(query).to_arrow_table()
        except duckdb.Error as exc:
            raise InputError(f"The query failed: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0]
