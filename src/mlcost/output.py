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
import re
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
from mlcost.schema import TABLES

FORMATS = ("table", "csv", "json", "parquet")
#: Columns holding JSON text in the store (evidence, tags, drivers…): JSON exports nest
#: them as objects; CSV and Parquet keep the text.
JSON_COLUMNS = frozenset(
    name for spec in TABLES.values() for name, kind in spec.columns.items() if kind == "JSON"
)
#: Columns a terminal table never cuts: the ids `show`, `ack` and `dismiss` take.
WHOLE_COLUMNS = frozenset({"id"})
#: Values this short (dates, statuses, providers) are never cut in a terminal table either.
SHORT = 12
#: The widest a text column grows in a terminal table.
MAX_WIDTH = 60
#: The narrowest a long text column gets before the table outgrows the terminal.
TEXT_MIN = 8
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


def markdown_text(value: Any) -> str:
    """A cloud string as Markdown that shows it as typed, on one line: no link, image,
    HTML, emphasis, formula or list, wherever Markdown is read (the Markdown report, the
    dashboard's metrics, captions and messages).

    Every character that starts Markdown (CommonMark, GitHub's extensions, Streamlit's
    ``$…$`` formulas and ``:red[…]`` colours) is backslash-escaped. Links that renderers
    find in the text after parsing (``http://…``, ``www.…``, ``name@host``, Streamlit's
    ``:material/…:`` icons), which escapes cannot stop, are broken by an invisible word
    joiner (U+2060) after the ``:``, ``@`` or ``www``: the text reads the same."""
    text = " ".join(cell_text(value).split())
    text = _AUTOLINK.sub(lambda m: m.group(0) + WORD_JOINER, text)
    text = "".join("\\" + c if c in _MARKDOWN else c for c in text)
    # a list item where the text starts a line: "- x", "1. x"
    return re.sub(r"^(-|\d+\.)", lambda m: m.group(0)[:-1] + "\\" + m.group(0)[-1], text)


#: Invisible, and no break: what markdown_text puts inside a would-be link.
WORD_JOINER = "\u2060"
_MARKDOWN = frozenset("\\`*_{}[]()<>#+!|~&$:@")
_AUTOLINK = re.compile(r"(?i):(?=//)|:(?=\w+/)|@|\bwww(?=\.)")


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
    """A JSON array of objects; decimals are JSON numbers written exactly, and JSON text
    (``evidence``, ``tags``, ``drivers``…) is nested as the object it is."""
    names = [json.dumps(n) for n in table.column_names]
    nested = [
        n in JSON_COLUMNS and (pa.types.is_string(f.type) or pa.types.is_large_string(f.type))
        for n, f in zip(table.column_names, table.schema, strict=True)
    ]
    handle.write("[")
    for i, row in enumerate(_rows(table)):
        handle.write(",\n " if i else "\n ")
        handle.write(
            "{"
            + ", ".join(
                f"{n}: {_nested_json(v) if is_json else _json_value(v)}"
                for n, v, is_json in zip(names, row, nested, strict=True)
            )
            + "}"
        )
    handle.write("\n]\n" if table.num_rows else "]\n")


def json_document(data: Any, indent: int = 0) -> str:
    """A JSON document of dicts, lists, scalars and Arrow tables (as ``write_json``
    writes them: exact decimals, nested JSON columns), ending in a newline."""
    return _document(data, indent) + ("\n" if indent == 0 else "")


def _document(data: Any, indent: int) -> str:
    pad = " " * (indent + 1)
    if isinstance(data, pa.Table):
        buffer = io.StringIO()
        write_json(data, buffer)
        return buffer.getvalue().rstrip("\n").replace("\n", "\n" + " " * indent)
    if isinstance(data, dict):
        if not data:
            return "{}"
        items = [f"{pad}{json.dumps(str(k))}: {_document(v, indent + 1)}" for k, v in data.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    if isinstance(data, list | tuple):
        if not data:
            return "[]"
        items = [f"{pad}{_document(v, indent + 1)}" for v in data]
        return "[\n" + ",\n".join(items) + "\n" + " " * indent + "]"
    return _json_value(data)


def _nested_json(value: Any) -> str:
    """JSON text as itself (kept byte for byte: its decimals stay exact), else a string."""
    if isinstance(value, str):
        try:
            json.loads(value)
        except ValueError:
            return _json_value(value)
        return value.strip()
    return _json_value(value)


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
    cells = [[_display(v) for v in shown.column(i).to_pylist()] for i in range(shown.num_columns)]
    widths = _column_widths(table.schema, cells, console.width)
    for field, width in zip(table.schema, widths, strict=True):
        header = Text(field.name.replace("_", " "), no_wrap=False, overflow="fold")
        out.add_column(
            header, justify="right" if _numeric(field) else "left", width=width, no_wrap=True
        )
    for row in zip(*cells, strict=True):
        out.add_row(*(Text(v, no_wrap=True, overflow="ellipsis") for v in row))
    needed = sum(widths) + 3 * len(widths) + 1
    if needed > console.width:
        # never narrower than its whole columns: a line that wraps beats a cut id or amount
        console = Console(
            file=console.file,
            width=needed,
            force_terminal=console.is_terminal,
            no_color=console.no_color,
            highlight=False,
        )
    console.print(out)
    if table.num_rows > TABLE_ROW_LIMIT:
        console.print(
            f"… {table.num_rows - TABLE_ROW_LIMIT:,} more rows "
            "(use --format csv, json or parquet with --output to get them all)"
        )


def _numeric(field: pa.Field) -> bool:
    return bool(
        pa.types.is_decimal(field.type)
        or pa.types.is_integer(field.type)
        or pa.types.is_floating(field.type)
    )


def _column_widths(schema: pa.Schema, cells: list[list[str]], total: int) -> list[int]:
    """Each column's width in a terminal of ``total`` columns: ids (what `show`, `ack` and
    `dismiss` take), figures and short values (dates, statuses) whole; long text (names,
    titles, drivers) shares what is left, cut with an ellipsis. Headers wrap at their
    words. Where even the whole columns do not fit, the table is wider than the terminal
    rather than an id or an amount cut."""
    natural, need = [], []
    for field, values in zip(schema, cells, strict=True):
        words = max((len(w) for w in field.name.split("_")), default=0)
        widest = max((len(v) for v in values), default=0)
        whole = field.name in WHOLE_COLUMNS or _numeric(field) or widest <= SHORT
        full = min(max(widest, len(field.name)), MAX_WIDTH)
        natural.append(full)
        need.append(max(widest, words) if whole else min(full, max(words, TEXT_MIN)))
    room = total - (3 * len(natural) + 1)  # a border and two spaces of padding each
    if sum(natural) <= room:
        return natural
    spare = room - sum(need)
    give = [n - m for n, m in zip(natural, need, strict=True)]
    if spare <= 0 or not sum(give):
        return need
    return [m + g * spare // sum(give) for m, g in zip(need, give, strict=True)]


def _display(value: Any) -> str:
    """Terminal rendering: thousands separators; money to the cent."""
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    if isinstance(value, float):
        # plain digits: 33,650.4 GPU-hours, never 3.365e+04; small values to 4 figures
        if value != value:
            return ""
        if abs(value) >= 1000:
            return f"{value:,.1f}"
        return f"{value:.4g}" if abs(value) >= 1e-4 or value == 0 else f"{value:.2e}"
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
