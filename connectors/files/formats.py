"""Billing export formats: recognise a file from its header and convert it to FOCUS rows.

``--format auto`` reads each file's header and picks the format whose columns it has
(FOCUS, AWS CUR, Azure cost details, GCP BigQuery export); a file that is none of them
is refused, naming the formats mlcost knows. Every format ends in the FOCUS loader's
conversion, so its checks, errors and ``x_*`` extras are the same for all.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from mlcost.connectors.files import aws_cur, azure, gcp, scratch
from mlcost.connectors.files.focus import (
    _REFUSED,
    REQUIRED,
    Conversion,
    FileSummary,
    SourceColumn,
    _conversion_query,
    _open_scan,
    content_digests,
    conversion_scan,
    empty_file,
    expand_paths,
    focus_version,
    mark_clean,
    refused_row,
)

from mlcost import mappings
from mlcost.errors import InputError
from mlcost.store import Batch, Scan, memory_connection

Converter = Callable[[Path, str, Mapping[str, SourceColumn], str | None], Conversion]


@dataclass(frozen=True)
class BillingFormat:
    """A format mlcost reads: its ``--format`` name, what it covers, how its header is
    recognised (the variant's description, or None) and how a file is converted."""

    name: str
    title: str
    detect: Callable[[list[str]], str | None]
    convert: Converter


_FOCUS_ONLY = {
    c.lower()
    for c in REQUIRED
    if c not in ("BillingCurrency", "ProviderName")  # Azure and others have these too
}


def _focus_detect(names: list[str]) -> str | None:
    lowered = {n.lower() for n in names}
    # Any FOCUS-only column: a FOCUS file missing a required one is refused by name later.
    if lowered & _FOCUS_ONLY:
        return "FOCUS " + focus_version({n: SourceColumn("", "") for n in names})
    return None


def _focus_convert(
    path: Path, scan: str, columns: Mapping[str, SourceColumn], source: str | None
) -> Conversion:
    query, checks, extras = _conversion_query(path, scan, dict(columns), source)
    return Conversion(query, checks, scan, dict(columns), extras, [str(path)])


FORMATS: dict[str, BillingFormat] = {
    f.name: f
    for f in (
        BillingFormat(
            "focus",
            "FOCUS 1.0–1.3 (any provider, incl. AWS Data Exports and Azure FocusCost)",
            _focus_detect,
            _focus_convert,
        ),
        BillingFormat(
            "aws-cur", "AWS CUR (legacy CSV/Parquet, CUR 2.0)", aws_cur.detect, aws_cur.conversion
        ),
        BillingFormat(
            "azure", "Azure cost details (EA, MCA; actual, amortized)", azure.detect, azure.convert
        ),
        BillingFormat("gcp", "GCP BigQuery billing export", gcp.detect, gcp.conversion),
    )
}


def known_formats() -> str:
    return "; ".join(f"{f.name}: {f.title}" for f in FORMATS.values())


@dataclass
class _Planned:
    path: Path
    fmt: BillingFormat
    description: str
    summary: FileSummary


class BillingExport:
    """Billing files of any known format, loaded together: every (source, billing
    period) they cover replaces what the store held for it.

    ``fmt`` is ``auto`` (recognise each file from its header) or a format name;
    ``source`` names the export in x_source (default: per format, e.g.
    ``aws-cur:<payer account>``); ``scratch`` is the folder (the store's) where a CSV.gz
    is decompressed for DuckDB's parallel reader (see :mod:`.scratch`); without it,
    files are read as they are.
    """

    def __init__(
        self,
        paths: Sequence[str],
        *,
        fmt: str = "auto",
        source: str | None = None,
        allow_empty: bool = False,
        scratch: Path | None = None,
    ):
        if fmt != "auto" and fmt not in FORMATS:
            raise InputError(
                f"Unknown billing format {fmt!r}.", f"Known formats: auto; {known_formats()}."
            )
        self.paths = list(paths)
        self.fmt = fmt
        self.source = source
        self.allow_empty = allow_empty
        self.scratch = scratch
        self.files: list[FileSummary] = []
        #: Files of earlier loads by content hash: (name, when), read once per load.
        self._earlier: dict[str, tuple[str, str]] | None = None
        #: Files fetched from s3:// or bq:// into a temporary folder, by what they are.
        self._names: dict[str, str] = {}
        #: Rows of this load filed under ServiceCategory Other so far, by ServiceName.
        self._others: dict[str, int] = {}
        #: The connection that reads the files' headers and schemas (open in batches()).
        self._planner: duckdb.DuckDBPyConnection | None = None

    def batches(self) -> Generator[Batch, None, None]:
        """One lazy batch per file; nothing is read until the store iterates it."""
        with contextlib.ExitStack() as stack:
            # One connection plans every file (reads headers and schemas): opening one
            # costs a tenth of a second, which a load of hundreds of files paid per file.
            self._planner = stack.enter_context(memory_connection())
            local = self._local_paths(stack)
            digests = content_digests(local, self._names)
            try:
                planned = [self._plan(path) for path in local]
            except InputError as exc:
                raise self._renamed(exc) from exc.__cause__
            modes = azure.dataset_modes([p.path for p in planned if p.fmt.name == "azure"])
            gzipped = any(scratch.is_csv_gz(p.path) for p in planned)
            folder = stack.enter_context(scratch.scratch_folder(self.scratch if gzipped else None))
            for group in self._groups(list(zip(planned, digests, strict=True))):
                if len(group) > 1:
                    try:
                        yield self._group_batch(group)
                    except InputError as exc:
                        raise self._renamed(exc) from exc.__cause__
                    continue
                ((item, digest),) = group
                item.summary.path = self._names.get(str(item.path), item.summary.path)
                item.summary.sha256 = digest
                self.files.append(item.summary)
                # Decompressed just before the store reads it, removed once it has.
                with scratch.decompressed(item.path, folder) as copy:
                    try:
                        scan = self._scan(item, modes.get(item.path), copy)
                    except InputError as exc:
                        raise self._renamed(exc) from exc.__cause__
                    name = self._names.get(str(item.path), str(item.path.resolve()))
                    yield Batch(
                        "cost",
                        scan,
                        label=self._names.get(str(item.path), item.path.name),
                        files=[{"name": name, "sha256": digest}],
                    )

    def _groups(self, items: list[tuple[_Planned, str]]) -> Iterator[list[tuple[_Planned, str]]]:
        """The files in runs the store reads with one scan each: consecutive FOCUS Parquet
        files of one schema (an export's parts, a Spark job's output) go together; any
        other file goes alone. One scan of a hundred files costs what one of their rows'
        total costs; a scan each paid its planning, its look at the text, its write and
        its checks a hundred times."""
        run: list[tuple[_Planned, str]] = []
        key: object = None
        for item, digest in items:
            mine = self._group_key(item)
            if run and (mine is None or mine != key):
                yield run
                run = []
            run.append((item, digest))
            key = mine
            if mine is None:
                yield run
                run = []
        if run:
            yield run

    def _group_key(self, item: _Planned) -> object:
        """What files must share to be read together (None: read alone)."""
        if item.fmt.name != "focus" or not item.path.name.lower().endswith(".parquet"):
            return None
        assert self._planner is not None
        _, columns = _open_scan(self._planner, item.path)
        return tuple((name, column.type) for name, column in columns.items())

    def _group_batch(self, group: list[tuple[_Planned, str]]) -> Batch:
        """One batch, one scan, for FOCUS Parquet files of one schema. Each file's rows are
        its Parquet row count (FOCUS keeps every row, or refuses the load); a refused row
        is named by reading the files again, one by one, in order."""
        first = group[0][0]
        paths = [item.path for item, _ in group]
        records: list[dict[str, object]] = []
        for item, digest in group:
            item.summary.path = self._names.get(str(item.path), item.summary.path)
            item.summary.sha256 = digest
            self.files.append(item.summary)
            try:
                rows = pq.read_metadata(item.path).num_rows
            except (OSError, pa.ArrowException) as exc:
                raise InputError(
                    f"{item.path}: not a readable Parquet file ({exc}).",
                    "The file looks truncated or corrupt: download it again; nothing was loaded.",
                ) from exc
            if rows == 0 and not self.allow_empty:
                raise empty_file(item.path)
            name = self._names.get(str(item.path), str(item.path.resolve()))
            records.append({"name": name, "sha256": digest, "rows": rows})
        found = self._group_scan(group, records)
        label = self._names.get(str(first.path), first.path.name)
        return Batch("cost", found, label=f"{label} and {len(paths) - 1} more files", files=records)

    def _group_scan(
        self,
        group: list[tuple[_Planned, str]],
        records: list[dict[str, object]],
        *,
        trusting: bool = True,
    ) -> Scan:
        """The scan of a group of FOCUS Parquet files (``_group_batch``); their
        plain-coded text taken on trust unless ``trusting`` is false."""
        con = self._planner
        assert con is not None
        first = group[0][0]
        paths = [item.path for item, _ in group]
        scan, columns = _open_scan(con, first.path)
        columns = mark_clean(con, first.path, scan, columns, files=paths, trusting=trusting)
        conversion = first.fmt.convert(first.path, scan, columns, self.source)
        for item, _ in group:
            item.summary.extra_columns = conversion.extras
        rest = conversion.params[1:]
        conversion.params = [[str(p) for p in paths], *rest]
        found = conversion_scan(
            first.path,
            conversion,
            first.summary,
            allow_empty=True,
            careful=lambda: self._careful(lambda: self._group_scan(group, records, trusting=False)),
            planner=con,
        )
        explain = found.explain
        assert explain is not None

        def explain_group(exc: duckdb.Error) -> BaseException:
            if _REFUSED not in str(exc):
                return _renamed_any(self._renamed, explain(exc))
            for path in paths:
                alone = replace(conversion, params=[str(path), *rest])
                refused = refused_row(path, alone)
                if refused is not None:
                    return self._renamed(refused)
            return _renamed_any(self._renamed, explain(exc))

        def done(rows: int) -> None:
            expected = sum(int(str(r["rows"])) for r in records)
            if rows != expected:  # FOCUS keeps every row: anything else is a bug, loudly
                raise InputError(
                    f"{first.path} and {len(paths) - 1} more files: {rows} rows written "
                    f"where the files hold {expected}.",
                    "Nothing was loaded; please report this with the files' schema.",
                )
            for (item, _), record in zip(group, records, strict=True):
                item.summary.rows += int(str(record["rows"]))

        count_others = self._count_others(None)

        def after(con: duckdb.DuckDBPyConnection, loaded_at: datetime) -> None:
            count_others(con, loaded_at)
            for (item, _), record in zip(group, records, strict=True):
                earlier = self._earlier_files(con).get(item.summary.sha256)
                if earlier is not None and earlier[0] != record["name"]:
                    item.summary.loaded_before = earlier

        found.explain, found.on_done, found.after = explain_group, done, after
        return found

    def _careful(self, build: Callable[[], Scan]) -> Scan:
        """The careful scan the store falls back to (``Scan.careful``), its errors
        naming a fetched file as the others do."""
        try:
            return build()
        except InputError as exc:
            raise self._renamed(exc) from exc.__cause__

    def _scan(
        self,
        item: _Planned,
        mode: str | None,
        copy: scratch.Copy | None = None,
        *,
        trusting: bool = True,
    ) -> Scan:
        """The file's conversion, for the store to run; its errors name a fetched file
        by its S3 key or BigQuery table, not the temporary copy. ``copy``: a CSV.gz to
        be read decompressed (same bytes, same row numbers): whole, or, for a FOCUS
        file's scan taken on trust, part by part as it is decompressed
        (``scratch.Copy.parts``). A FOCUS file's plain-coded text is taken on trust
        (``focus.mark_clean``) unless ``trusting`` is false, as in the careful scan the
        store falls back to (``Scan.careful``)."""
        con = self._planner
        assert con is not None, "planned inside batches()"
        trusting = trusting and item.fmt.name == "focus"
        in_parts = trusting and copy is not None and copy.room_for_parts()
        plain = copy.whole() if copy is not None and not in_parts else None
        decompressed = in_parts or plain is not None
        if item.fmt.name == "gcp":
            scan, columns = gcp.open_scan(con, item.path, decompressed=decompressed)
        else:
            scan, columns = _open_scan(
                con, item.path, decompressed=decompressed, money_typed=trusting
            )
        columns = mark_clean(con, item.path, scan, columns, trusting=trusting)
        if item.fmt.name == "azure":
            conversion = azure.convert(item.path, scan, columns, self.source, mode=mode)
        else:
            conversion = item.fmt.convert(item.path, scan, columns, self.source)
        if plain is not None:
            conversion.params = [str(plain), *conversion.params[1:]]  # $1 is the file
        item.summary.extra_columns = conversion.extras
        careful = lambda: self._careful(lambda: self._scan(item, mode, copy, trusting=False))  # noqa: E731
        found = conversion_scan(
            item.path,
            conversion,
            item.summary,
            allow_empty=self.allow_empty,
            careful=careful,
            planner=con,
        )
        if in_parts:
            assert copy is not None
            found.parts, found.careful = copy.parts(), careful
        explain = found.explain
        assert explain is not None
        found.explain = lambda exc: _renamed_any(self._renamed, explain(exc))
        # A provider's unknown services are counted; a FOCUS file's Other rows are its
        # own, and only keep the running count right.
        count_others = self._count_others(None if item.fmt.name == "focus" else item.summary)
        name = self._names.get(str(item.path), str(item.path.resolve()))

        def after(con: duckdb.DuckDBPyConnection, loaded_at: datetime) -> None:
            count_others(con, loaded_at)
            earlier = self._earlier_files(con).get(item.summary.sha256)
            if earlier is not None and earlier[0] != name:
                item.summary.loaded_before = earlier

        found.after = after
        return found

    def _earlier_files(self, con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, str]]:
        """The files earlier loads recorded, by content hash: the latest (name, when)."""
        if self._earlier is None:
            self._earlier = {}
            rows = con.execute(_EARLIER_FILES).fetchall()
            for loaded_at, detail in rows:
                for entry in json.loads(detail).get("files", []):
                    if isinstance(entry, dict) and entry.get("sha256"):
                        when = f"{loaded_at:%Y-%m-%d %H:%M} UTC"
                        self._earlier[str(entry["sha256"])] = (str(entry.get("name")), when)
        return self._earlier

    def _count_others(
        self, summary: FileSummary | None
    ) -> Callable[[duckdb.DuckDBPyConnection, datetime], None]:
        """After a file is written: how many of its rows fell back to Other, by service
        (this load's Other rows now, less those of the files before it)."""

        def after(con: duckdb.DuckDBPyConnection, loaded_at: datetime) -> None:
            known = sorted({s.service_name for s in mappings.services()})
            rows = con.execute(_OTHER_ROWS, [loaded_at, *mappings.OTHER, known]).fetchall()
            now = {name or "": int(count) for name, count in rows}
            if summary is not None:
                summary.other_services = {
                    name: count - self._others.get(name, 0)
                    for name, count in sorted(now.items())
                    if count > self._others.get(name, 0)
                }
            self._others = now

        return after

    def _renamed(self, exc: InputError) -> InputError:
        message = exc.message
        for local, name in self._names.items():
            message = message.replace(local, name)
        return InputError(message, exc.hint) if message != exc.message else exc

    def _local_paths(self, stack: contextlib.ExitStack) -> list[Path]:
        cloud = [p for p in self.paths if p.startswith(("s3://", "bq://"))]
        rest = [p for p in self.paths if p not in cloud]
        found = expand_paths(rest) if rest else []
        if cloud:
            from mlcost.connectors.files import bigquery, s3

            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mlcost-cloud-")))
            for uri in cloud:
                if uri.startswith("s3://"):
                    fetched = s3.download_export(uri, tmp)
                    for path in fetched:  # saved as <tmp>/<bucket>/<key>
                        self._names[str(path)] = f"s3://{path.relative_to(tmp).as_posix()}"
                else:
                    fetched = bigquery.download_table(uri, tmp)
                    for path in fetched:
                        self._names[str(path)] = f"{uri} ({path.stem})"
                found.extend(fetched)
        return found

    def _plan(self, path: Path) -> _Planned:
        names = header_names(path, self._planner)
        if self.fmt != "auto":
            fmt = FORMATS[self.fmt]
            description = fmt.detect(names) or fmt.title
            summary = FileSummary(str(path), focus_version="?")
            summary.detected = False
        else:
            for fmt in FORMATS.values():
                found = fmt.detect(names)
                if found:
                    description = found
                    break
            else:
                shown = ", ".join(names[:8]) + (", …" if len(names) > 8 else "")
                raise InputError(
                    f"{path}: not a billing export mlcost recognises (its columns: {shown}).",
                    f"Known formats: {known_formats()}. Pass --format to choose one.",
                )
            summary = FileSummary(str(path), focus_version="?")
            summary.detected = True
        summary.format = fmt.name
        summary.description = description
        if fmt.name == "focus" and description.startswith("FOCUS 1."):
            summary.focus_version = description.removeprefix("FOCUS ")
        return _Planned(path, fmt, description, summary)


#: Earlier loads of billing that recorded their files, oldest first (the latest wins).
_EARLIER_FILES = (
    "SELECT loaded_at, CAST(detail AS VARCHAR) FROM loads "
    "WHERE \"table\" = 'cost' AND detail IS NOT NULL ORDER BY loaded_at"
)

#: This load's rows filed under Other for want of a mapping (a service the table files
#: under Other itself, such as GCP's invoice-level lines, is known, not counted).
_OTHER_ROWS = (
    'SELECT "ServiceName", count(*) FROM cost WHERE x_ingested_at = $1 '
    'AND "ServiceCategory" = $2 AND "ServiceSubcategory" = $3 '
    'AND NOT coalesce(list_contains($4::VARCHAR[], "ServiceName"), false) GROUP BY ALL'
)


def _renamed_any(rename: Callable[[InputError], InputError], exc: BaseException) -> BaseException:
    return rename(exc) if isinstance(exc, InputError) else exc


def header_names(path: Path, con: duckdb.DuckDBPyConnection | None = None) -> list[str]:
    """A file's column names (nested JSON and Parquet fields as ``a.b``), for detection
    (``con``: a connection to read them with, else one of its own)."""
    name = path.name.lower()
    if gcp.is_json(path):
        return gcp.json_names(path)
    if con is None:
        with memory_connection() as own:
            return header_names(path, own)
    if name.endswith(".parquet"):
        return gcp.parquet_names(con, path)
    _, columns = _open_scan(con, path)
    return list(columns)
