"""FOCUS billing exports (versions 1.0 to 1.3) read from CSV, CSV.gz and Parquet files.

Every file is converted to the store's FOCUS 1.2 columns by one DuckDB query that the
store runs as its INSERT (a :class:`~mlcost.store.Scan`): no row passes through Python
and no file is held in memory, however large. Real exports are
messy, so the reader accepts what providers really write: ``NULL`` and empty strings
as null, timestamps with or without ``T``/``Z``, enum values in another case
(``Usage-based``), Tags with stray spaces in keys or without their outer braces. What
cannot be trusted is refused with the file, the column and the row: a missing
required column, a cost that is not a number, a timestamp that is not a time, a
truncated or unreadable file. Columns that are not FOCUS 1.2 are kept as ``x_*``.
"""

from __future__ import annotations

import csv
import glob
import gzip
import hashlib
import io
import itertools
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from mlcost.connectors.files.values import (
    _CLEAN,
    _CONTROL_CODES,
    CONTROL_EXPECTED,
    NULL_TOKEN,
    _present,
    clean_text,
    control_check,
    current_window,
    has_control,
    json_control,
    money_sql,
    outside_years,
    timestamp_expected,
    timestamp_sql,
    widens_to_money,
    with_text,
)

from mlcost import mappings
from mlcost.billing_files import literal
from mlcost.errors import InputError
from mlcost.schema import FOCUS_COLUMNS, MONEY
from mlcost.store import (
    Batch,
    Scan,
    memory_connection,
    quote_ident,
    reading_limit,
)

#: Columns mlcost needs to place a cost in time and trust it; a file without one is refused.
REQUIRED = (
    "BilledCost",
    "EffectiveCost",
    "BillingCurrency",
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ChargeCategory",
    "ProviderName",
)

#: Columns each FOCUS version added after 1.0, used to name the version of a file.
ADDED_IN = {
    "1.1": {
        "CapacityReservationId",
        "CapacityReservationStatus",
        "CommitmentDiscountQuantity",
        "CommitmentDiscountUnit",
        "ServiceSubcategory",
        "SkuMeter",
        "SkuPriceDetails",
    },
    "1.2": {
        "BillingAccountType",
        "SubAccountType",
        "InvoiceId",
        "PricingCurrency",
        "PricingCurrencyContractedUnitPrice",
        "PricingCurrencyEffectiveCost",
        "PricingCurrencyListUnitPrice",
    },
    "1.3": {"ServiceProviderName", "HostProviderName", "AllocatedMethodId", "ContractApplied"},
}

#: FOCUS 1.3 renamed ProviderName to ServiceProviderName (ProviderName is deprecated).
RENAMED_LATER = {"ProviderName": "ServiceProviderName"}

#: Enumerated columns: canonical values, and whether an unknown value is refused.
ENUMS: dict[str, tuple[tuple[str, ...], bool]] = {
    "ChargeCategory": (("Usage", "Purchase", "Tax", "Credit", "Adjustment"), True),
    "ChargeClass": (("Correction",), True),
    "ChargeFrequency": (("One-Time", "Recurring", "Usage-Based"), True),
    "PricingCategory": (("Standard", "Dynamic", "Committed", "Other"), True),
    "CommitmentDiscountStatus": (("Used", "Unused"), True),
    "CommitmentDiscountCategory": (("Spend", "Usage"), True),
    "CapacityReservationStatus": (("Used", "Unused"), True),
    # FOCUS 1.2's lists, from the packaged table (mlcost.mappings): one truth.
    "ServiceCategory": (mappings.categories(), True),
    "ServiceSubcategory": (
        tuple(sub for subs in mappings.subcategories().values() for sub in subs),
        True,
    ),
}

BATCH_ROWS = 262_144
#: The FOCUS columns of money (amounts, prices, quantities).
MONEY_NAMES = frozenset(name for name, sql_type in FOCUS_COLUMNS.items() if sql_type == MONEY)
SUFFIXES = (
    ".csv",
    ".csv.gz",
    ".parquet",
    ".json",
    ".jsonl",
    ".ndjson",
    ".json.gz",
    ".jsonl.gz",
    ".ndjson.gz",
)


@dataclass(frozen=True)
class SourceColumn:
    """A column as the scan exposes it: how to refer to it in SQL, and its type.

    CSV columns are scanned under positional names (c0, c1…), so header names, which
    are data, never enter the SQL text; Parquet columns under their quoted names.
    """

    ref: str
    type: str
    #: Text already trimmed, with blanks and ``NULL`` made null (a converter's output),
    #: or holding none (``mark_clean``).
    cleaned: bool = False
    #: Text known to hold no control character (``mark_clean`` read it): not searched
    #: again row by row.
    no_control: bool = False
    #: Text taken on trust, unlooked at (``mark_clean(trusting=True)``): marked
    #: ``cleaned`` and ``no_control``, and the rows written are looked at instead
    #: (``written_clean``).
    trusted: bool = False


@dataclass
class FileSummary:
    """What was read from one file (for the CLI's ingest report)."""

    path: str
    focus_version: str
    rows: int = 0
    #: The file's content hash (SHA-256), recorded with the load.
    sha256: str = ""
    #: An earlier load of the same content under another name: (that name, when).
    loaded_before: tuple[str, str] | None = None
    extra_columns: list[str] = field(default_factory=list)
    #: The format it was read as (``--format`` name) and how it was recognised.
    format: str = "focus"
    description: str = ""
    detected: bool = False
    #: Converted rows whose service the packaged mapping does not know (filed under
    #: ServiceCategory Other), by ServiceName ("" where the file names none).
    other_services: dict[str, int] = field(default_factory=dict)


def expand_paths(paths: Sequence[str]) -> list[Path]:
    """Files named by paths, folders (searched recursively) and globs, in sorted order."""
    found: list[Path] = []
    for raw in paths:
        if raw.startswith(("s3://", "bq://", "gs://", "az://", "abfss://")):
            raise InputError(
                f"{raw}: reading billing from cloud storage URIs is not supported by this version.",
                "Download the export and pass the local folder.",
            )
        if any(ch in raw for ch in "*?["):
            matches = sorted(Path(p) for p in glob.glob(raw, recursive=True))
            files = [p for p in matches if p.is_file() and _has_billing_suffix(p)]
            if not files:
                raise InputError(f"{raw}: no CSV, CSV.gz or Parquet file matches this pattern.")
            found.extend(files)
        elif os.path.isdir(raw):
            files = sorted(
                p for p in Path(raw).rglob("*") if p.is_file() and _has_billing_suffix(p)
            )
            if not files:
                raise InputError(f"{raw}: the folder holds no CSV, CSV.gz or Parquet file.")
            _refuse_links_out(Path(raw), files)
            found.extend(files)
        elif os.path.isfile(raw):
            found.append(Path(raw))
        else:
            raise InputError(f"{raw}: no such file or folder.")
    if not found:
        raise InputError("No billing files were given.", "Pass files, folders or globs.")
    # A file named twice (itself and through its folder) is read once, or it would count twice.
    unique: dict[Path, Path] = {}
    for path in found:
        unique.setdefault(path.resolve(), path)
    return list(unique.values())


def content_digests(paths: Sequence[Path], names: Mapping[str, str] | None = None) -> list[str]:
    """Each file's SHA-256. Two files with the same rows are refused together, since
    loading both would count every cost in them twice (a copy left beside the original);
    files with no rows (a header alone, loaded with ``--allow-empty``) are alike without
    being copies."""
    names = names or {}
    digests: list[str] = []
    first: dict[str, Path] = {}
    for path in paths:
        shown = names.get(str(path), str(path))
        try:
            with open(path, "rb") as handle:
                digest = hashlib.file_digest(handle, "sha256").hexdigest()
        except OSError as exc:
            raise InputError(f"{shown}: cannot read it ({exc.strerror}).") from exc
        digests.append(digest)
        if digest in first and _holds_rows(path):
            other = names.get(str(first[digest]), str(first[digest]))
            raise InputError(
                f"{shown} and {other} have the same content: loading both would count "
                "every cost in them twice.",
                "Remove the copy and load again; nothing was loaded.",
            )
        first.setdefault(digest, path)
    return digests


def _holds_rows(path: Path) -> bool:
    """Whether a file has a row beyond its header (read only as far as needed)."""
    name = path.name.lower()
    try:
        if name.endswith(".parquet"):
            return bool(pq.ParquetFile(path).metadata.num_rows)
        opener = gzip.open if name.endswith(".gz") else open
        needed = 1 if name.removesuffix(".gz").endswith(_JSON_SUFFIXES) else 2
        with opener(path, "rb") as handle:
            lines = (line for line in handle if line.strip())
            return sum(1 for _ in itertools.islice(lines, needed)) >= needed
    except (OSError, EOFError, pa.ArrowException):
        return True  # unreadable: the load says so, by name; never guessed to be empty


_JSON_SUFFIXES = (".json", ".jsonl", ".ndjson")


def _refuse_links_out(folder: Path, files: list[Path]) -> None:
    """A link in an export folder to a file outside it is refused (a planted link to
    /etc/passwd would otherwise be read, and its first line shown in an error). A file
    named on the command line is read wherever it lies."""
    root = folder.resolve()
    for path in files:
        if path.is_symlink() and not path.resolve().is_relative_to(root):
            raise InputError(
                f"{path} is a link to a file outside {folder}.",
                "Name the file itself if it is meant to be loaded; nothing was loaded.",
            )


def _has_billing_suffix(path: Path) -> bool:
    name = path.name.lower()
    # AWS writes a manifest (JSON) beside each CUR assembly: it describes, it is not billing.
    return name.endswith(SUFFIXES) and not name.endswith("manifest.json")


class FocusExport:
    """A set of FOCUS files loaded together: every (source, billing period) they cover
    replaces what the store held for it.

    ``source`` names the export in ``x_source``; by default each row's is
    ``focus:<ProviderName>:<BillingAccountId>``, so two accounts' exports never replace
    each other, while a restated month of the same account replaces the old one.
    """

    def __init__(self, paths: Sequence[str], *, source: str | None = None) -> None:
        self.paths = list(paths)
        self.source = source
        self.files: list[FileSummary] = []

    def batches(self) -> Iterator[Batch]:
        """One batch per file, a :class:`Scan` the store runs: the file goes from disk
        to the table inside DuckDB, never through Python."""
        with memory_connection() as con:  # one for every file: opening one is slow
            yield from self._batches(con)

    def _batches(self, con: duckdb.DuckDBPyConnection) -> Iterator[Batch]:
        for path in expand_paths(self.paths):
            summary = FileSummary(str(path), focus_version="?")
            self.files.append(summary)
            scan, columns = _open_scan(con, path)
            columns = mark_clean(con, path, scan, columns)
            summary.focus_version = focus_version(columns)
            query, checks, extras = _conversion_query(path, scan, columns, self.source)
            summary.extra_columns = extras
            conversion = Conversion(query, checks, scan, columns, extras, [str(path)])
            yield Batch("cost", conversion_scan(path, conversion, summary), label=path.name)


# -- reading one file ---------------------------------------------------------------


@dataclass
class Conversion:
    """How one file becomes store rows: a query (``$1`` is the path, ``params`` fill the
    rest) yielding the store's columns plus ``_bad`` (0, or the 1-based index of the
    failed check) and, when ``filtered``, ``_keep`` (whether the row is stored)."""

    query: str
    checks: list[tuple[str, str]]
    scan: str
    columns: dict[str, SourceColumn]
    extras: list[str]
    params: list[object] = field(default_factory=list)
    filtered: bool = False
    #: Whether some rows are second rows of a file row (``_copy``, see convert.ProviderPlan).
    copies: bool = False


#: The message a refused row raises inside the store's INSERT (see ``conversion_scan``).
_REFUSED = "mlcost: a row failed its checks"


def conversion_scan(
    path: Path,
    conversion: Conversion,
    summary: FileSummary,
    *,
    allow_empty: bool = False,
    careful: Callable[[], Scan] | None = None,
    planner: duckdb.DuckDBPyConnection | None = None,
) -> Scan:
    """The conversion as a :class:`Scan`: DuckDB reads the file and writes the table in
    one parallel pass. A bad row stops it; the file is then read again, in order, by
    :func:`stream_conversion` to name the first bad row, its column and its value.

    A file with no rows is refused unless ``allow_empty``: an export whose period had
    charges is never empty, so it is a failed or truncated download.

    A conversion that takes text on trust (``mark_clean(trusting=True)``) is tried first:
    the store keeps what it writes where ``written_clean`` finds it clean, and otherwise,
    or where it fails, writes ``careful()``, the scan of the same file with every column
    looked at (which names a refused row). ``planner``: the connection that looks."""
    keep = "coalesce(_keep, false)" if conversion.filtered else "true"
    helpers = "_bad, _keep" if conversion.filtered else "_bad"
    if conversion.copies:
        helpers += ", _copy"
    sql = (
        f"SELECT * EXCLUDE ({helpers}) FROM ({conversion.query}) "  # noqa: S608
        f"WHERE CASE WHEN _bad <> 0 THEN error('{_REFUSED}') ELSE {keep} END"
    )

    def explain(exc: duckdb.Error) -> BaseException:
        if _REFUSED not in str(exc):
            return _file_error(path, exc)
        return refused_row(path, conversion) or InputError(
            f"{path}: a row failed a check.", "Fix or re-export the file."
        )

    def done(rows: int) -> None:
        summary.rows += rows
        if rows or allow_empty:
            return
        if conversion.filtered and _file_rows(conversion, path):
            return  # rows were read, and the format's own rules kept none of them
        raise empty_file(path)

    params = conversion.params or [str(path)]
    read = params[0] if isinstance(params[0], list) else [params[0]]
    groups = largest_row_group([Path(str(p)) for p in read]) if _is_parquet(conversion) else 0
    found = Scan(sql, params, explain, done, row_group_bytes=groups)
    if careful is not None and any(c.trusted for c in conversion.columns.values()):
        found.careful = careful
        found.trusted = lambda paths: written_clean(paths, planner)
    return found


def _is_parquet(conversion: Conversion) -> bool:
    return conversion.scan.startswith("read_parquet(")


def largest_row_group(paths: Sequence[Path]) -> int:
    """The largest row group of the Parquet files ``paths``, in compressed bytes (their
    metadata only); 0 where one cannot be read (the scan will say why)."""
    largest = 0
    for path in paths:
        try:
            meta = pq.read_metadata(path)
        except (OSError, pa.ArrowException):
            return 0
        for i in range(meta.num_row_groups):
            group = meta.row_group(i)
            size = sum(group.column(j).total_compressed_size for j in range(group.num_columns))
            largest = max(largest, size)
    return largest


def refused_row(path: Path, conversion: Conversion) -> InputError | None:
    """The first row of ``path`` the conversion refuses, named (file, row, column, value),
    or None: the file is read again, in order."""
    try:
        with memory_connection() as con:
            # One thread keeps the rows in the file's order, so the row is named right
            # even where tags are joined back (see per_distinct).
            con.execute("SET TimeZone = 'UTC'; SET threads = 1")
            for _ in stream_conversion(con, path, conversion, FileSummary(str(path), "?")):
                pass
    except InputError as found:
        return found
    return None


def empty_file(path: Path) -> InputError:
    """The refusal of a billing file without rows (unless ``--allow-empty``)."""
    return InputError(
        f"{path}: the file holds no billing rows"
        + (" (a header alone)." if not path.name.lower().endswith(".parquet") else "."),
        "An export of a period with charges is never empty: download it again, or pass "
        "--allow-empty if the period had none; nothing was loaded.",
    )


def _file_rows(conversion: Conversion, path: Path) -> int:
    """How many rows the file holds (asked only of a conversion that kept none)."""
    with memory_connection() as con:
        row = con.execute(
            f"SELECT count(*) FROM {conversion.scan}",  # noqa: S608
            conversion.params[:1] or [str(path)],
        ).fetchone()
    return int(row[0]) if row else 0


def stream_conversion(
    con: duckdb.DuckDBPyConnection, path: Path, conversion: Conversion, summary: FileSummary
) -> Iterator[pa.RecordBatch]:
    """Run a conversion in streamed batches; the first bad row stops it with the file,
    the row (1-based, in the file's order), the column and the value named."""
    params = conversion.params or [str(path)]
    try:
        reader = con.sql(conversion.query, params=params).to_arrow_reader(BATCH_ROWS)
        seen = 0
        for batch in reader:
            bad = batch.column("_bad")
            # Rows a file row gave a second time are not file rows (convert.ProviderPlan).
            original = pc.invert(batch.column("_copy")) if conversion.copies else None
            if pc.max(bad).as_py():
                at = pc.indices_nonzero(bad)[0].as_py()
                index = at if original is None else pc.sum(original.slice(0, at)).as_py() or 0
                column, expected = conversion.checks[bad[at].as_py() - 1]
                converted = column.removesuffix(" (as converted)")
                if column not in conversion.columns and converted in batch.schema.names:
                    # A check on a provider file's converted value: show that value.
                    found = _shown(batch.column(converted)[at].as_py())
                else:
                    found = _raw_value(
                        conversion.scan, params[0], conversion.columns, column, seen + index
                    )
                raise InputError(
                    f"{path}: row {seen + index + 1}, column {column}: expected "
                    f"{expected}, found {found}.",
                    "Fix or re-export the file; nothing was loaded.",
                )
            seen += batch.num_rows if original is None else (pc.sum(original).as_py() or 0)
            batch = batch.drop_columns(["_bad", *(["_copy"] if conversion.copies else [])])
            if conversion.filtered:
                batch = batch.filter(pc.fill_null(batch.column("_keep"), False))
                batch = batch.drop_columns(["_keep"])
            summary.rows += batch.num_rows
            if batch.num_rows:
                yield batch
    except duckdb.Error as exc:
        raise _file_error(path, exc) from exc


def _open_scan(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    decompressed: bool = False,
    money_typed: bool = False,
) -> tuple[str, dict[str, SourceColumn]]:
    """The table function that scans ``path`` (``$1`` stands for the path), and the
    file's columns by their header names. ``decompressed``: the scan is to read the
    CSV.gz's decompressed copy (connectors/files/scratch.py) in its place.

    ``money_typed`` (a FOCUS CSV's scan taken on trust, see ``mark_clean``): the CSV
    reader parses the FOCUS money columns as ``DECIMAL(38,12)`` itself, instead of
    handing over text the conversion casts. Its parse is DuckDB's cast from text, the
    one the conversion makes (``values.money_sql``): the same amount for every value it
    reads, an error for every value the cast refuses (the careful scan then names the
    row). Timestamps stay text: the reader's own parse drops an offset and reads
    ``4/1/25`` as the year 4."""
    name = path.name.lower()
    if name.endswith(".parquet"):
        # A path such as BillingPeriod=2026-10/ names no column: the file holds what it holds.
        scan = "read_parquet($1, hive_partitioning = false)"
        try:
            rows = con.sql(f"DESCRIBE SELECT * FROM {scan}", params=[str(path)]).fetchall()  # noqa: S608
        except duckdb.Error as exc:
            raise _file_error(path, exc) from exc
        _refuse_too_many(path, len(rows))
        _refuse_control_names(path, [r[0] for r in rows])
        names = [_clean_header(r[0]) for r in rows]
        _refuse_duplicates(path, names)
        return scan, {
            name: SourceColumn(quote_ident(r[0]), str(r[1]).upper())
            for name, r in zip(names, rows, strict=True)
        }
    header = _csv_header(path)
    cleaned = [_clean_header(h) for h in header]
    money = set()
    if money_typed:
        money = {
            actual for focus, actual in match_focus_columns(cleaned).items() if focus in MONEY_NAMES
        }
    types = [MONEY if name in money else "VARCHAR" for name in cleaned]
    # Positional names c0…cN: header names are data and never enter the SQL text.
    # Blanks and NULL tokens are null from the reader on (as cleaning would make them),
    # so casts and checks skip them.
    spec = ", ".join(f"'c{i}': '{sql_type}'" for i, sql_type in enumerate(types))
    gzipped = path.name.lower().endswith(".gz") and not decompressed
    scan = (
        f"read_csv($1, columns={{{spec}}}, header=true, auto_detect=false, delim=',', "
        "quote='\"', escape='\"', strict_mode=true, nullstr=['', 'NULL', 'null', 'Null'], "
        f"compression='{'gzip' if gzipped else 'none'}', hive_partitioning=false)"
    )
    _refuse_control_names(path, header)
    _refuse_duplicates(path, cleaned)
    return scan, {
        name: SourceColumn(f"c{i}", sql_type)
        for i, (name, sql_type) in enumerate(zip(cleaned, types, strict=True))
    }


def mark_clean(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    scan: str,
    columns: dict[str, SourceColumn],
    files: Sequence[Path] = (),
    *,
    trusting: bool = False,
) -> dict[str, SourceColumn]:
    """``columns`` with what one look at each distinct value of a Parquet file's text
    columns found: each that holds no blank or NULL token (``values.NULL_TOKEN``) marked
    cleaned, so that the conversion takes its values as they are instead of testing every
    row (``values.clean_text``); each that holds no control character marked
    ``no_control``, so that the conversion does not search its rows again (a column that
    has one is searched row by row, which names the row). ``files``: the files the scan
    reads together (one schema), looked at as one.

    One scan gathers each column's distinct values: on a 1M-row FOCUS file 0.45 s (a
    bill's text repeats, and the reader hands it over dictionary-coded), in one file or
    a hundred; the per-row cleaning of its 40 text columns cost 2.5 s inside the load
    (its CASE also undoes the reader's dictionary coding, which the writer then redoes),
    and the row-by-row search 1 s of CPU. The look runs under LOOK_MEMORY: text too
    varied to gather in it (a unique id per row, at tens of millions of rows) leaves every
    column to the row-by-row cleaning and search, as before. A CSV is left as it is: its
    reader already reads blanks and bare NULL tokens as null, and a second parse would
    cost more than it saves.

    ``trusting`` (a FOCUS file's own scan): text the file does not dictionary-code (a
    CSV's, all of it) and the conversion stores as it is (``passes_through``) is not
    looked at, nor cleaned or searched row by row, but marked ``trusted``. Gathering
    10M rows of plain-coded Parquet text cost 8 s of a 33 s load; the rows written,
    which DuckDB's writer dictionary-codes, are looked at in under 1 s
    (``written_clean``), and where that look finds anything the store writes the file
    again the careful way (``Scan.careful``)."""
    texts = [name for name, column in columns.items() if column.type == "VARCHAR"]
    if not scan.startswith("read_parquet(") or not texts:
        return _trusted(columns, texts) if trusting and scan.startswith("read_csv(") else columns
    # Text that repeats (a Parquet writer dictionary-coded it, or a sample of its first
    # rows shows it) has its distinct values gathered and looked at once each; text that
    # does not (a unique id per line) is looked at row by row: gathering it costs more.
    read = [str(f) for f in files] if files else str(path)
    coded = _dictionary_coded(files[0] if files else path)
    marked = dict(columns)
    if trusting:
        marked = _trusted(columns, [n for n in texts if columns[n].ref not in coded])
        texts = [name for name in texts if not marked[name].trusted]
        if not texts:
            return marked
    plain = [name for name in texts if columns[name].ref not in coded]
    varied = _varied(con, path, scan, read, [columns[n].ref for n in plain])
    distinct = [name for name in texts if name not in plain or columns[name].ref not in varied]
    rowwise = [name for name in texts if name not in distinct]
    # Column references are quoted names, the rest our own SQL: no value from the file.
    tokens, control = NULL_TOKEN.format(x="v"), has_control("v")
    inner = [f"list(DISTINCT {columns[n].ref}) AS _d{i}" for i, n in enumerate(distinct)]
    inner += [
        f"bool_or({NULL_TOKEN.format(x=columns[n].ref)}) AS _t{i}" for i, n in enumerate(rowwise)
    ]
    refs = [columns[n].ref for n in rowwise]
    inner.append(f"max({control_check(refs)}) AS _c")
    outer = [
        f"coalesce(list_bool_or(list_transform(_d{i}, lambda v: {tokens})), false), "
        f"coalesce(list_bool_or(list_transform(_d{i}, lambda v: {control})), false)"
        for i in range(len(distinct))
    ]
    outer += [f"coalesce(_t{i}, false)" for i in range(len(rowwise))]
    outer.append("coalesce(_c, 0) > 0")
    sql = (
        f"SELECT {', '.join(outer)} FROM (SELECT {', '.join(inner)} "  # noqa: S608
        f"FROM {with_text(scan, refs)})"
    )
    row = None
    # The distinct values' hash tables are bounded (LOOK_MEMORY, plus what the reading
    # threads hold of the file's row groups): on every thread first, then, if they do
    # not fit, on one (each thread's tables reserve memory of their own).
    groups = largest_row_group([Path(p) for p in read] if isinstance(read, list) else [path])
    raised = reading_limit(con, LOOK_MEMORY, groups)
    limit = f"{raised}B" if raised is not None else LOOK_MEMORY
    for threads in ("", "SET threads = 1"):
        try:
            con.execute(f"SET memory_limit = '{limit}'")
            con.execute("SET temp_directory = ''")
            if threads:
                con.execute(threads)
            row = con.execute(sql, [read]).fetchone()
            break
        except duckdb.OutOfMemoryException:
            continue
        except duckdb.Error as exc:
            raise _file_error(path, exc) from exc
        finally:
            con.execute("RESET memory_limit; RESET temp_directory; RESET threads")
    if row is None:
        return marked
    found: dict[str, tuple[bool, bool]] = {
        name: (row[2 * i], row[2 * i + 1]) for i, name in enumerate(distinct)
    }
    any_control = bool(row[-1])
    for i, name in enumerate(rowwise):
        found[name] = (row[2 * len(distinct) + i], any_control)
    for name in texts:
        tokens_found, control_found = found[name]
        column = columns[name]
        marked[name] = SourceColumn(
            column.ref,
            column.type,
            cleaned=column.cleaned or not tokens_found,
            no_control=not control_found,
        )
    return marked


def _trusted(columns: dict[str, SourceColumn], texts: Sequence[str]) -> dict[str, SourceColumn]:
    """``columns`` with those of ``texts`` whose rows written show what the file held
    (``passes_through``) taken on trust: marked cleaned (JSON aside), without control
    characters, and ``trusted``."""
    focus_of = {actual: focus for focus, actual in match_focus_columns(columns).items()}
    marked = dict(columns)
    for name in texts:
        focus = focus_of.get(name)
        if passes_through(focus):
            # JSON is cleaned as ever: a blank tag object would be rebuilt as {}, where the
            # careful scan stores null, and the rows written would not show it.
            cleaned = columns[name].cleaned if FOCUS_COLUMNS.get(focus or "") == "JSON" else True
            marked[name] = replace(columns[name], cleaned=cleaned, no_control=True, trusted=True)
    return marked


def written_clean(paths: Sequence[Path], con: duckdb.DuckDBPyConnection | None = None) -> bool:
    """Whether the billing files ``paths`` (the rows a scan that took text on trust
    wrote, see ``mark_clean``) hold what the careful scan guarantees: no blank, ``NULL``
    token or control character in any text or JSON column (that scan makes the first two
    null and refuses the third), but the store's own x_source. A look that cannot run
    (memory) is a no. ``con``: a planning connection to look on (opening one takes a tenth
    of a second), not the store's."""
    if not paths:
        return True
    if con is None:
        with memory_connection() as own:
            return written_clean(paths, own)
    scan = "read_parquet($1, hive_partitioning = false)"
    described = con.execute(
        f"DESCRIBE SELECT * FROM {scan}",  # noqa: S608
        [[str(p) for p in paths]],
    ).fetchall()
    columns = {
        str(name): SourceColumn(quote_ident(str(name)), "VARCHAR")
        for name, sql_type, *_ in described
        if str(sql_type) in ("VARCHAR", "JSON") and name != "x_source"
    }
    marked = mark_clean(con, paths[0], scan, columns, files=paths)
    return all(column.cleaned and column.no_control for column in marked.values())


def _varied(
    con: duckdb.DuckDBPyConnection, path: Path, scan: str, read: object, refs: list[str]
) -> set[str]:
    """Of the columns ``refs``, those whose first SAMPLE_ROWS rows are mostly distinct
    values (a line id): not worth gathering."""
    if not refs:
        return set()
    counts = ", ".join(f"approx_count_distinct({ref})" for ref in refs)
    try:
        row = con.execute(
            f"SELECT count(*), {counts} FROM (SELECT * FROM {scan} LIMIT {SAMPLE_ROWS})",  # noqa: S608
            [read],
        ).fetchone()
    except duckdb.Error as exc:
        raise _file_error(path, exc) from exc
    assert row is not None
    return {ref for ref, n in zip(refs, row[1:], strict=True) if n * 2 > row[0]}


#: The rows ``_varied`` samples.
SAMPLE_ROWS = 65_536


def _dictionary_coded(path: Path) -> set[str]:
    """The columns (as quoted references) a Parquet file codes with a dictionary in every
    row group; none where its metadata cannot be read (the scan will say why)."""
    try:
        meta = pq.ParquetFile(path).metadata
    except (OSError, pa.ArrowException):
        return set()
    coded = set()
    for j in range(meta.num_columns):
        chunks = [meta.row_group(i).column(j) for i in range(meta.num_row_groups)]
        if chunks and all(c.has_dictionary_page for c in chunks):
            coded.add(quote_ident(chunks[0].path_in_schema))
    return coded


#: The memory ``mark_clean``'s look may use (the planning connection's, apart from the
#: store's writer; the sample's 1M rows need 256MB of DuckDB's reservations, and the
#: process stays under 200 MB).
LOOK_MEMORY = "512MB"


def _refuse_control_names(path: Path, names: list[str]) -> None:
    """A column name with a control character (a NUL…) is refused, never renamed."""
    for i, name in enumerate(names, 1):
        if any(ord(ch) in _CONTROL_CODES for ch in name):
            raise InputError(
                f"{path}: column {i} of the header, {name!r}, holds a control character.",
                "Fix the header or re-export the file; nothing was loaded.",
            )


def _refuse_duplicates(path: Path, names: list[str]) -> None:
    lowered = [n.lower() for n in names]
    for name, low in zip(names, lowered, strict=True):
        if lowered.count(low) > 1:
            raise InputError(f"{path}: the column {name!r} appears twice in the header.")


#: The most columns a billing file may have: FOCUS has some 60, a CUR with many tag keys
#: some hundreds. Thousands are no export (DuckDB would spend minutes and gigabytes on them).
MAX_COLUMNS = 2_000

#: Byte-order marks of text that is not UTF-8 (UTF-32 first: its mark starts like UTF-16's).
_OTHER_ENCODINGS = (
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
)


def _tags_per_distinct(path: Path, scan: str, ref: str) -> bool:
    """Whether to rebuild the Tags (column ``ref``) once per distinct value
    (``per_distinct``) rather than row by row. In Parquet, always: the column is read
    alone. A CSV is parsed whole a second time for it, which pays only where the tags
    are a good share of each line: of 10M rows of the generator's bill (three short
    keys, 7% of a line) the second parse cost more CPU than it saved (124 s against
    146 s for the whole load); with ten keys (25% of a line) it saved a tenth. So a CSV
    whose first rows' tags take under TAGS_SHARE of their text rebuilds them row by row."""
    if not scan.startswith("read_csv("):
        return True
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as raw:
            text = raw.read(SAMPLE_BYTES).decode("utf-8-sig", errors="replace")
        rows = list(csv.reader(io.StringIO(text, newline="")))[1:-1]  # the last may be cut
    except (OSError, EOFError, csv.Error):
        return True
    column = int(ref.removeprefix("c"))
    tags = sum(len(row[column]) for row in rows if column < len(row))
    whole = sum(sum(len(value) + 1 for value in row) for row in rows)
    return not rows or tags >= TAGS_SHARE * whole


#: What ``_tags_per_distinct`` reads of a CSV, and the share of a line its tags must take.
SAMPLE_BYTES = 1 << 20
TAGS_SHARE = 0.15


def _csv_header(path: Path) -> list[str]:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as raw:
            start = raw.peek(4)[:4] if hasattr(raw, "peek") else b""
            encoding = next(
                (name for mark, name in _OTHER_ENCODINGS if start.startswith(mark)), None
            )
            if encoding is not None:
                raise InputError(
                    f"{path}: the file is {encoding} text; mlcost reads CSV in UTF-8.",
                    f"Convert it (iconv -f {encoding} -t UTF-8 {path.name} > utf8.csv) or export "
                    "it as UTF-8; nothing was loaded.",
                )
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
            header = next(csv.reader(text), None)
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: the header is not UTF-8 text (byte 0x{exc.object[exc.start]:02x}).",
            "Export the file as UTF-8 (or convert it with iconv); nothing was loaded.",
        ) from exc
    except (OSError, EOFError, csv.Error) as exc:
        raise InputError(
            f"{path}: cannot read the header; the file looks truncated or corrupt ({exc}).",
            "Download it again; nothing was loaded.",
        ) from exc
    if not header:
        raise InputError(f"{path}: the file is empty; a FOCUS export starts with a header row.")
    _refuse_too_many(path, len(header))
    return header


def _refuse_too_many(path: Path, columns: int) -> None:
    if columns > MAX_COLUMNS:
        raise InputError(
            f"{path}: the file has {columns:,} columns; a billing export has at most a few "
            f"hundred, and mlcost reads up to {MAX_COLUMNS:,}.",
            "Check that this is the billing export (not a pivot or a wide report); nothing "
            "was loaded.",
        )


def _clean_header(name: str) -> str:
    return name.replace("\ufeff", "").strip()


def focus_version(columns: dict[str, SourceColumn]) -> str:
    """The FOCUS version a file's columns say it follows (the newest whose columns appear)."""
    names = {c.lower() for c in columns}
    for version in ("1.3", "1.2", "1.1"):
        if any(c.lower() in names for c in ADDED_IN[version]):
            return version
    return "1.0"


# -- the conversion query --------------------------------------------------------------


def _conversion_query(
    path: Path,
    scan: str,
    columns: dict[str, SourceColumn],
    source: str | None,
    *,
    passthrough: Sequence[str] = (),
    source_sql: str | None = None,
    check_text: bool = True,
) -> tuple[str, list[tuple[str, str]], list[str]]:
    """SQL that converts one file to the store's FOCUS columns, plus a ``_bad`` column:
    0 for a good row, else the 1-based index into the returned checks (column, expected).

    ``passthrough`` columns of the scan are carried to the result unchanged (a provider
    converter's own checks); ``source_sql`` gives x_source when ``source`` is not named;
    ``check_text`` searches the text for control characters (a provider converter does
    that on its own columns, so that the message names them).
    """
    present = match_focus_columns(columns)
    refuse_missing(str(path), present, list(columns))

    inner: list[str] = []
    outer: list[str] = []
    checks: list[tuple[str, str]] = []
    cases: list[str] = []
    texts: list[str] = []
    tags_control: str | None = None  # SQL true where the tags hold a control character
    if check_text:
        # Every text value of the file, FOCUS or extra, before anything else is checked.
        texts = [
            name
            for name, column in columns.items()
            if column.type == "VARCHAR" and not column.no_control
        ]
        inner.append(f"{control_check([columns[n].ref for n in texts])} AS _ctl")
        checks += [(name, CONTROL_EXPECTED) for name in texts]
        cases.append("WHEN _ctl > 0 THEN _ctl")
    for focus, sql_type in FOCUS_COLUMNS.items():
        target = quote_ident(focus)
        if focus not in present:
            outer.append(f"CAST(NULL AS {sql_type}) AS {target}")
            continue
        raw, rtype = columns[present[focus]].ref, columns[present[focus]].type
        cleaned = columns[present[focus]].cleaned
        value, problem = _convert(focus, sql_type, raw, rtype, cleaned=cleaned)
        if focus == "Tags" and rtype == "VARCHAR" and _tags_per_distinct(path, scan, raw):
            # The search of the converted tags for control characters (json_control) is
            # made once per distinct value too: row by row it cost as much as their scan.
            control = f"coalesce({json_control(f'CAST({value} AS VARCHAR)')}, false)"
            formulas = {"_mlcost_tags": value, "_mlcost_tags_control": control}
            scan, refs = per_distinct(scan, [raw], formulas)
            value = refs["_mlcost_tags"]
            if refs != formulas:
                inner.append("_mlcost_tags_control")
                tags_control = "_mlcost_tags_control"
        inner.append(f"{value} AS {target}")
        outer.append(target)
        if focus in REQUIRED:
            checks.append((present[focus], problem))
            outside = f" OR {outside_years(target)}" if sql_type == "TIMESTAMP" else ""
            cases.append(f"WHEN {target} IS NULL{outside} THEN {len(checks)}")
        elif _can_fail(focus, sql_type, rtype):
            # A value the file has that did not convert (an empty one is just null).
            # The raw value is carried out so that it is examined only where the
            # converted one is null (CASE tests the second condition on those rows alone).
            kept = f"_r{len(checks)}"
            inner.append(f"{raw} AS {kept}")
            checks.append((present[focus], problem))
            outside = f" OR {outside_years(target)}" if sql_type == "TIMESTAMP" else ""
            cases.append(
                f"WHEN {target} IS NULL AND {_present(kept, rtype, cleaned=cleaned)}{outside} "
                f"THEN {len(checks)}"
            )

    if "ServiceCategory" in present and "ServiceSubcategory" in present:
        # FOCUS gives each subcategory one parent category: the pair must be one of its.
        # The parent is looked up by the subcategory's place in an ENUM of them: a CASE
        # over the 80 of them cost 1.9 CPU-s of a 10M-row file, the lookup a tenth of it.
        pairs = [(s, c) for c, subs in mappings.subcategories().items() for s in subs]
        subcategories = _listed([sub for sub, _ in pairs])
        place = f'enum_code(TRY_CAST("ServiceSubcategory" AS ENUM({subcategories})))'
        parent = f"[{_listed([category for _, category in pairs])}][{place}::INTEGER + 1]"
        checks.append((present["ServiceSubcategory"], "a subcategory of the row's ServiceCategory"))
        cases.append(
            'WHEN "ServiceSubcategory" IS NOT NULL AND "ServiceCategory" IS NOT NULL AND '
            f'"ServiceCategory" <> {parent} THEN {len(checks)}'
        )

    if "Tags" in present:
        # A control character written as a JSON escape ("\u001b") is one all the same; the
        # tags' conversion writes DEL and C1 ones as they are (json_control).
        checks.append((present["Tags"], "a JSON object of tags without control characters"))
        if tags_control is None:
            escaped = json_control('CAST("Tags" AS VARCHAR)')
            tags_control = f'"Tags" IS NOT NULL AND {escaped}'
        cases.append(f"WHEN {tags_control} THEN {len(checks)}")
    cases += _period_checks(present, checks)

    for name in passthrough:
        inner.append(quote_ident(name))
        outer.append(quote_ident(name))

    extras: list[str] = []
    for name, extra in extra_columns(columns, [*present.values(), *passthrough]):
        extras.append(extra)
        raw, rtype = columns[name].ref, columns[name].type
        text = clean_text(raw, rtype, columns[name].cleaned)
        inner.append(f"{text} AS {quote_ident(extra)}")
        outer.append(quote_ident(extra))

    if source is not None:
        source_sql = literal(source)
    elif source_sql is None:
        # concat() (NULL as '') builds the text at once: the || chain cost five times as
        # much (0.4 s of a 10M-row file). A row without its ProviderName is refused.
        source_sql = "concat('focus:', \"ProviderName\", ':', \"BillingAccountId\")"
    outer.append(f"{source_sql} AS x_source")
    outer.append(f"CASE {' '.join(cases)} ELSE 0 END::INTEGER AS _bad")
    scan = with_text(scan, [columns[n].ref for n in texts])
    query = f"SELECT {', '.join(outer)} FROM (SELECT {', '.join(inner)} FROM {scan})"  # noqa: S608
    return query, checks, extras


def _period_checks(present: dict[str, str], checks: list[tuple[str, str]]) -> list[str]:
    """CASE branches refusing a period that ends before it starts, and a charge whose
    period does not meet its billing period, widened by ``[billing]
    period_tolerance_days`` on each side (late usage is billed in the next period).

    A charge may run well outside its billing period as long as it meets it: FOCUS's own
    example bills in October a token overage for April to October, and a commitment
    bought in a month runs for years. A Correction, which restates an earlier period, may
    lie wholly before its billing period.
    """
    tolerance = current_window().period_tolerance_days
    cases = []
    for period in ("ChargePeriod", "BillingPeriod"):
        checks.append((present[f"{period}End"], f"a time at or after {period}Start"))
        cases.append(f'WHEN "{period}End" < "{period}Start" THEN {len(checks)}')
    meets = f"its billing period (give or take {tolerance} days)"
    checks.append((present["ChargePeriodStart"], f"a charge starting before the end of {meets}"))
    cases.append(
        f'WHEN "ChargePeriodStart" >= "BillingPeriodEnd" + INTERVAL {tolerance} DAY '
        f"THEN {len(checks)}"
    )
    before = f'"ChargePeriodEnd" < "BillingPeriodStart" - INTERVAL {tolerance} DAY'
    if "ChargeClass" in present:
        before += " AND \"ChargeClass\" IS DISTINCT FROM 'Correction'"
    checks.append((present["ChargePeriodEnd"], f"a charge ending after the start of {meets}"))
    cases.append(f"WHEN {before} THEN {len(checks)}")
    return cases


def per_distinct(
    scan: str, keys: Sequence[str], formulas: Mapping[str, str]
) -> tuple[str, dict[str, str]]:
    """``formulas`` (alias → a formula over the SQL expressions ``keys``) computed once per
    distinct value of the keys and joined back: the scan to read from instead, and how to
    refer to each result (the formula itself where it is left to run row by row).

    Rebuilding a tag object costs more than reading its row, and a bill has few
    distinct tag sets. A Parquet file reads those columns alone, cheaply; a plain CSV
    file (a CSV.gz's decompressed copy too) is read again in parallel, materialising
    those columns alone. A compressed CSV would be decompressed twice, on one thread:
    there the formula is left to run row by row. Keys are best text (a MAP column's
    JSON text hashes faster than the MAP).
    """
    plain_csv = scan.startswith("read_csv(") and "compression='none'" in scan
    if not (scan.startswith("read_parquet(") or plain_csv):
        return scan, dict(formulas)
    names = [f"_k{i}" for i in range(len(keys))]
    computed = []
    for alias, formula in formulas.items():
        for key, name in zip(keys, names, strict=True):
            # The key alone, not inside a longer name (c5 within c56).
            formula = re.sub(rf"(?<![\w\"]){re.escape(key)}(?![\w\"])", name, formula)
        computed.append(f"{formula} AS {alias}")
    distinct = ", ".join(f"{key} AS {name}" for key, name in zip(keys, names, strict=True))
    match = " AND ".join(
        f"{key} IS NOT DISTINCT FROM _t.{name}" for key, name in zip(keys, names, strict=True)
    )
    results = ", ".join(f"_t.{alias}" for alias in formulas)
    joined = (
        f"(SELECT _s.*, {results} FROM {scan} AS _s LEFT JOIN (SELECT {', '.join(names)}, "  # noqa: S608
        f"{', '.join(computed)} FROM (SELECT DISTINCT {distinct} FROM {scan})) AS _t "
        f"ON {match})"
    )
    return joined, {alias: alias for alias in formulas}


def _can_fail(focus: str, sql_type: str, rtype: str) -> bool:
    """Whether a present value can fail to convert (text and already-typed columns
    cannot, so they need no check: the check is a third of a plain load's time)."""
    if sql_type == "TIMESTAMP":
        return True  # even a typed timestamp can fall outside the years a bill covers
    if sql_type == MONEY:
        return not widens_to_money(rtype)
    if sql_type == "JSON":
        return rtype != sql_type or focus == "Tags"  # tags must be an object, whatever type
    return focus in ENUMS and ENUMS[focus][1]


def passes_through(focus: str | None) -> bool:
    """Whether the conversion of a text column named ``focus`` (None: not a FOCUS column,
    an extra) lets the look at the rows written (``written_clean``) see what a look at the
    file would have, so that it can be taken on trust: text stored as it is; the currency
    (``upper(trim(…))`` keeps a blank, a ``NULL`` token and a control character in
    sight); an enumeration, whose normalised spelling would drop a control character, but
    whose conversion refuses a value it does not know as it is written that holds one
    (``_convert``: the scan fails, and the careful one names the row); JSON (tags too),
    cleaned as ever (``_trusted``), since JSON cannot hold a C0 character as it is (the
    cast fails, and so does the scan), keeps DEL and C1 ones in sight, and tags are
    searched for them after their conversion all the same (``json_control``). Not
    money or timestamps."""
    if focus in ENUMS:
        return ENUMS[focus][1]  # one that keeps a value it does not know would not fail
    return focus is None or FOCUS_COLUMNS.get(focus) in ("VARCHAR", "JSON")


def _canonical(text: str, values: Sequence[str]) -> str:
    """SQL that is true where the text ``text`` is one of ``values`` as written. A list of
    six or more is a cast to an ENUM of them (one hash lookup a row): DuckDB makes such an
    ``IN`` a join against the list, which for FOCUS's 80 subcategories, read alone from
    10M plain-coded rows, cost 1.9 s against the cast's 0.15 s. A short list stays
    ``IN``, cheaper there than the cast (0.1 s against 0.3 s for ChargeCategory's five)."""
    if len(values) < 6:
        return f"{text} IN ({_listed(values)})"
    return f"TRY_CAST({text} AS ENUM({_listed(values)})) IS NOT NULL"


def _listed(values: Sequence[str]) -> str:
    """SQL string literals of ``values``, separated by commas."""
    return ", ".join(literal(v) for v in values)


def _convert(
    focus: str, sql_type: str, raw: str, rtype: str, *, cleaned: bool = False
) -> tuple[str, str]:
    """(DuckDB expression giving the FOCUS value, or NULL where it cannot be read;
    what the value should have been, for the error message)."""
    clean = raw if cleaned else _CLEAN.format(x=raw)
    if rtype == sql_type and sql_type not in ("VARCHAR", "TIMESTAMP") and focus != "Tags":
        return raw, "a value"  # already the store's type (a typed Parquet column)
    if sql_type == MONEY:
        return money_sql(raw, rtype)
    if sql_type == "TIMESTAMP":
        return timestamp_sql(raw, rtype), timestamp_expected()
    if sql_type == "JSON":
        if rtype != "VARCHAR":
            as_json = raw if rtype == "JSON" else f"TRY(to_json({raw}))"
            if focus == "Tags":
                # A MAP or STRUCT is an object; a number or a list is not tags, in any
                # file type (a CSV's "[1,2]" is refused as well).
                return (
                    f"CASE WHEN json_type({as_json}) = 'OBJECT' THEN {as_json} END",
                    "a JSON object of tags",
                )
            return as_json, "a JSON value"
        if focus == "Tags":
            # Azure writes tags without their outer braces: "k": "v", "k2": "v2".
            wrapped = (
                f"CASE WHEN starts_with({clean}, '{{') THEN {clean} "
                f"ELSE '{{' || {clean} || '}}' END"
            )
            # Keys are kept as written: " org" and "org" are two keys. A key written
            # twice is refused (the MAP cast fails), never resolved by a silent choice.
            rebuilt = f"TRY(to_json(TRY_CAST(TRY_CAST({wrapped} AS JSON) AS MAP(VARCHAR, JSON))))"
            # Most tag objects need no rebuilding: valid, with no escapes and no key
            # twice, they are only minified (json()), which gives the same text as the
            # rebuild at a third of its cost.
            keys = f"json_keys({clean})"
            return (
                f"CASE WHEN NOT json_valid({clean}) THEN {rebuilt} "
                f"WHEN json_type({clean}) = 'OBJECT' AND strpos({clean}, '\\') = 0 "
                f"AND len(list_distinct({keys})) = len({keys}) THEN json({clean}) "
                f"ELSE {rebuilt} END",
                "a JSON object of tags, each key once",
            )
        return f"TRY_CAST({clean} AS JSON)", "valid JSON"
    text = clean_text(raw, rtype, cleaned)
    if focus in ENUMS:
        values, strict = ENUMS[focus]
        key = f"regexp_replace(lower({text}), '[^a-z]', '', 'g')"
        whens = " ".join(f"WHEN '{re.sub('[^a-z]', '', v.lower())}' THEN '{v}'" for v in values)
        fallback = "NULL" if strict else text
        # Values already in their canonical spelling (most of them) skip the regex. One
        # that is not, with a control character, is not read (the key would drop it): a
        # scan taking the column on trust fails there (passes_through).
        # An empty value is let through first: it would otherwise run the whole chain
        # (a column mostly empty, ChargeClass or the commitment ones, cost 0.3 s a 10M
        # rows each).
        return (
            f"CASE WHEN {text} IS NULL THEN NULL WHEN {_canonical(text, values)} THEN {text} "
            f"WHEN {has_control(text)} THEN NULL "
            f"ELSE CASE {key} {whens} ELSE {fallback} END END",
            "one of " + ", ".join(values),
        )
    if focus == "BillingCurrency":
        # An ISO 4217 code ("usd" is USD). PricingCurrency may be a virtual currency
        # ("Token", "Credits") and is kept as written.
        return f"upper(trim({text}))", "a currency code"
    return text, "a value"


# -- a file's columns as the store's (the DuckDB loader's and the Spark lake's) -------------


def match_focus_columns(names: Iterable[str]) -> dict[str, str]:
    """The FOCUS 1.2 columns a file has: each FOCUS name → the file's column, matched in
    any case (``billedcost``); FOCUS 1.3's ServiceProviderName stands for ProviderName."""
    by_lower = {name.lower(): name for name in names}
    present: dict[str, str] = {}
    for focus in FOCUS_COLUMNS:
        actual = by_lower.get(focus.lower())
        if actual is None and focus in RENAMED_LATER:
            actual = by_lower.get(RENAMED_LATER[focus].lower())
        if actual is not None:
            present[focus] = actual
    return present


def refuse_missing(where: str, present: Mapping[str, str], names: Sequence[str]) -> None:
    """A file (or a lake's folder) without a column of :data:`REQUIRED` is refused, naming
    the columns it lacks and those it has."""
    missing = [c for c in REQUIRED if c not in present]
    if missing:
        shown = ", ".join(list(names)[:12]) + (", …" if len(names) > 12 else "")
        raise InputError(
            f"{where}: missing the required FOCUS column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)} (the file has: {shown}).",
            "Export billing in FOCUS format (1.0 to 1.3); docs/concepts/focus.md lists "
            "the columns mlcost needs.",
        )


def extra_columns(names: Iterable[str], used: Iterable[str]) -> list[tuple[str, str]]:
    """(the file's column, its name in the store) for each column that is not FOCUS 1.2
    (nor in ``used``): kept as ``x_<name>``, as providers' own columns are."""
    taken_by_file = {u.lower() for u in used}
    taken = {c.lower() for c in FOCUS_COLUMNS} | {"x_source", "x_ingested_at"}
    found: list[tuple[str, str]] = []
    for name in names:
        if name.lower() in taken_by_file:
            continue
        extra = _extra_name(name, taken)
        taken.add(extra.lower())
        found.append((name, extra))
    return found


def _extra_name(name: str, taken: set[str]) -> str:
    """A provider column's name in the store: ``x_`` + its name in letters, digits and _."""
    base = re.sub(r"[^A-Za-z0-9_]", "_", name)[:70] or "column"
    if not base.lower().startswith("x_") or base.lower() in ("x_source", "x_ingested_at"):
        base = "x_" + base
    candidate, n = base, 2
    while candidate.lower() in taken:
        candidate, n = f"{base}_{n}", n + 1
    return candidate


def _raw_value(
    scan: str,
    file: object,
    columns: dict[str, SourceColumn],
    column: str,
    offset: int,
) -> str:
    """The offending value as the file has it, quoted, for the error message (``file``:
    what the scan reads as ``$1``, the file or its decompressed copy)."""
    if column not in columns:
        return "a value that does not convert"
    ref = columns[column].ref
    try:
        # A connection of its own: the loading one is in the middle of a streamed result.
        with memory_connection() as con:
            row = con.execute(
                f"SELECT CAST({ref} AS VARCHAR) FROM {scan} "  # noqa: S608
                f"LIMIT 1 OFFSET {int(offset)}",
                [file],
            ).fetchone()
    except duckdb.Error:
        return "an unreadable value"
    if not row or row[0] is None or not row[0].strip():
        return "nothing"
    value = row[0] if len(row[0]) <= 60 else row[0][:57] + "…"
    return repr(value)


def _shown(value: object) -> str:
    """A value for a message: quoted, cut at 60 characters (control characters escaped)."""
    if value is None:
        return "nothing"
    text = value.isoformat(sep=" ") if isinstance(value, datetime) else str(value)
    return repr(text if len(text) <= 60 else text[:57] + "…")


def _stray_carriage_return(path: Path) -> int | None:
    """The first line holding a carriage return that does not end it, if any."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as raw:
            for number, line in enumerate(raw, 1):
                if b"\r" in line.rstrip(b"\r\n"):
                    return number
    except (OSError, EOFError):
        return None
    return None


def _file_error(path: Path, exc: duckdb.Error) -> InputError:
    """DuckDB's reading errors, retold as one sentence that names the file and line."""
    text = str(exc)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    detail = re.sub(r"^[A-Za-z ]*Error: ", "", lines[0] if lines else type(exc).__name__)
    line = re.search(r"CSV Error on Line: (\d+)", text)
    columns = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", text)
    if line and columns:
        detail = (
            f"line {line.group(1)} has {columns.group(2)} fields where the header has "
            f"{columns.group(1)} (the file is malformed or truncated)"
        )
    elif line and "unterminated quote" in text:
        detail = f"line {line.group(1)} has an unterminated quote (malformed or truncated)"
    elif line:
        detail = f"line {line.group(1)}: {detail}"
    if "state machine reached an invalid state" in text:
        # DuckDB names no line when a carriage return stands alone in a line that ends in
        # a line feed (mixed line endings, or a CR in a value left unquoted): find it.
        found = _stray_carriage_return(path)
        if found is not None:
            detail = (
                f"line {found} holds a carriage return that does not end it (mixed line "
                "endings, or a value with a line break left unquoted)"
            )
    if "out of memory" in text.lower():
        return InputError(
            f"{path}: loading it needed more memory than a load may use "
            "([store] writer_memory_limit).",
            "Raise writer_memory_limit in mlcost.toml, or load the export in smaller files; "
            "nothing was loaded.",
        )
    detail = re.sub(r' in file "[^"]*",?', "", detail).rstrip(".")
    lowered = detail.lower()
    if any(word in lowered for word in ("gzip", "magic bytes", "truncated", "corrupt")):
        hint = "The file looks truncated or corrupt: download it again; nothing was loaded."
    else:
        hint = "Fix or re-export the file; nothing was loaded."
    return InputError(f"{path}: {detail}.", hint)
