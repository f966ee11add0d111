"""One way to write any result: ``--format table|csv|json|parquet`` and ``--output``.

Every command that prints rows goes through :func:`write_table`, so the formats, the
exact rendering of money and the protection of cloud strings are the same everywhere:

* money stays exact: decimals are written in plain notation (``0.000000150000``),
  never as floats or in scientific notation;
* CSV cells that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``, tab,
  carriage return at the start of a text cell) are prefixed with ``'``;
* the terminal table shows strings as plain text (no markup is interpreted).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import sys
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table
from rich.text import Text

from mlcost.errors import InputError

FORMATS = ("table", "csv", "json", "parquet")
#: Rows shown in a terminal table before the rest are summarised in one line.
TABLE_ROW_LIMIT = 200
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def default_format(stream: IO[str] | None = None) -> str:
    """``table`` on a terminal, ``csv`` in a pipe or a file."""
    stream = stream or sys.stdout
    return "table" if stream.isatty() else "csv"


def resolve_format(fmt: str | None, output: Path | None) -> str:
    """The format asked for, or the one the output file's extension names (.csv, .json,
    .parquet, .txt for a table), or the default. An extension mlcost does not write
    (.xlsx, .tsv…) is refused rather than silently written as something else."""
    if fmt:
        if fmt not in FORMATS:
            raise InputError(f"Unknown format {fmt!r}; choose one of {', '.join(FORMATS)}.")
        return fmt
    if output is not None:
        suffix = output.suffix.lower().lstrip(".")
        if suffix in ("csv", "json", "parquet"):
            return suffix
        if suffix == "txt":
            return "table"
        named = f"a .{suffix} file" if suffix else "a file without an extension"
        raise InputError(
            f"{output}: mlcost does not write {named}; it writes .csv, .json, .parquet and "
            ".txt (a table).",
            "Name the file .csv (spreadsheets open it, exact to the cent) or give --format."
            if suffix in SPREADSHEETS
            else "Give the file one of those extensions, or choose with --format.",
        )
    return default_format()


#: Spreadsheet extensions: refused with a pointer to CSV. Not written as .xlsx: Excel keeps
#: numbers as binary floats (15 digits), which would break the exact decimals of money, and
#: every spreadsheet opens CSV.
SPREADSHEETS = ("xlsx", "xls", "xlsm", "ods", "numbers")


@contextlib.contextmanager
def open_output(path: Path, mode: str = "w", **kwargs: Any) -> Iterator[IO[Any]]:
    """``open(path)`` for writing an output, its OSError turned into one sentence (a
    missing folder, a read-only place, a full disk: exit 1, not a traceback)."""
    try:
        handle = open(path, mode, **kwargs)  # noqa: SIM115 - closed below
    except OSError as exc:
        raise output_error(path, exc) from None
    try:
        with handle:
            yield handle
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):
            raise
        raise output_error(path, exc) from None


def output_error(path: Path, exc: OSError) -> InputError:
    """An OSError while writing ``path`` as one sentence and what to do."""
    reason = exc.strerror or type(exc).__name__
    if isinstance(exc, FileNotFoundError) and not path.parent.exists():
        return InputError(
            f"Cannot write {path}: the folder {path.parent} does not exist.",
            "Create it first, or choose another --output.",
        )
    if isinstance(exc, IsADirectoryError):
        return InputError(f"Cannot write {path}: it is a folder.", "Give a file name.")
    return InputError(
        f"Cannot write {path}: {reason.lower()}.",
        "Check the path and its permissions and the free disk space, or choose another --output.",
    )


def write_table(
    table: pa.Table,
    *,
    fmt: str | None = None,
    output: Path | None = None,
    title: str | None = None,
    console: Console | None = None,
) -> None:
    """Write ``table`` in the chosen format to ``output`` (default: stdout)."""
    fmt = resolve_format(fmt, output)
    if fmt == "parquet":
        if output is None:
            raise InputError("Parquet is binary: give --output FILE.parquet to write it.")
        try:
            pq.write_table(table, output, compression="zstd")
        except OSError as exc:
            raise output_error(output, exc) from None
        return
    if fmt == "table":
        if output is not None:
            with open_output(output, "w", encoding="utf-8") as handle:
                _print_table(table, Console(file=handle, width=160), title)
        else:
            _print_table(table, console or Console(), title)
        return
    if output is not None:
        with open_output(output, "w", encoding="utf-8", newline="") as handle:
            (write_csv if fmt == "csv" else write_json)(table, handle)
    else:
        (write_csv if fmt == "csv" else write_json)(table, sys.stdout)


def cell_text(value: Any) -> str:
    """A value as text: exact decimals, ISO timestamps, empty for null."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def neutralise(text: str) -> str:
    """Make a cloud-supplied string safe in a spreadsheet (no formula execution)."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def write_csv(table: pa.Table, handle: IO[str]) -> None:
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(table.column_names)
    text_columns = [
        pa.types.is_string(f.type) or pa.types.is_large_string(f.type) for f in table.schema
    ]
    for row in _rows(table):
        writer.writerow(
            neutralise(cell_text(v)) if is_text and v is not None else cell_text(v)
            for v, is_text in zip(row, text_columns, strict=True)
        )


def write_json(table: pa.Table, handle: IO[str]) -> None:
    """A JSON array of objects; decimals are JSON numbers written exactly."""
    names = [json.dumps(n) for n in table.column_names]
    handle.write("[")
    for i, row in enumerate(_rows(table)):
        handle.write(",\n " if i else "\n ")
        handle.write(
            "{" + ", ".join(f"{n}: {_json_value(v)}" for n, v in zip(names, row, strict=True)) + "}"
        )
    handle.write("\n]\n" if table.num_rows else "]\n")


def _json_value(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return json.dumps(value.isoformat())
    if isinstance(value, float) and value != value:  # NaN is not JSON
        return "null"
    return json.dumps(value, ensure_ascii=False, default=str)


def _rows(table: pa.Table) -> Iterable[tuple[Any, ...]]:
    for batch in table.to_batches(max_chunksize=10_000):
        columns = [c.to_pylist() for c in batch.columns]
        yield from zip(*columns, strict=True)


def _print_table(table: pa.Table, console: Console, title: str | None) -> None:
    shown = table.slice(0, TABLE_ROW_LIMIT)
    out = Table(title=title, title_justify="left", show_lines=False, header_style="bold")
    for field in table.schema:
        numeric = (
            pa.types.is_decimal(field.type)
            or pa.types.is_integer(field.type)
            or (pa.types.is_floating(field.type))
        )
        out.add_column(
            field.name, justify="right" if numeric else "left", overflow="ellipsis", max_width=60
        )
    for row in _rows(shown):
        out.add_row(*(Text(_display(v)) for v in row))
    console.print(out)
    if table.num_rows > TABLE_ROW_LIMIT:
        console.print(
            f"… {table.num_rows - TABLE_ROW_LIMIT:,} more rows "
            "(use --format csv, json or parquet with --output to get them all)"
        )


def _display(value: Any) -> str:
    """Terminal rendering: thousands separators; money to the cent."""
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    if isinstance(value, float):
        return f"{value:,.4g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return cell_text(value)


def table_to_text(table: pa.Table, fmt: str) -> str:
    """The rendering of ``table`` as a string (for tests and reports)."""
    buffer = io.StringIO()
    if fmt == "csv":
        write_csv(table, buffer)
    elif fmt == "json":
        write_json(table, buffer)
    else:
        _print_table(table, Console(file=buffer, width=160), None)
    return buffer.getvalue()
