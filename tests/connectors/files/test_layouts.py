"""One bill, every physical layout the clouds write: the stored rows are the same.

The loader picks each conversion from the file's schema (a DECIMAL(18,6) widens with a
plain cast, a zone-less or INT96 timestamp is taken as UTC as it is, a TIMESTAMPTZ goes
through its epoch); whatever the file's types, encodings, row groups or number of files,
the store must hold exactly the same rows, and what cannot be trusted is still refused.
"""

from __future__ import annotations

import gzip
import math
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from mlcost.errors import InputError
from mlcost.ingest import ingest_billing
from mlcost.sample import write_sample
from mlcost.schema import FOCUS_COLUMNS, MONEY
from mlcost.store import Store

MONEY_COLUMNS = [c for c, t in FOCUS_COLUMNS.items() if t == MONEY]
TIME_COLUMNS = [c for c, t in FOCUS_COLUMNS.items() if t == "TIMESTAMP"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> pa.Table:
    """Generated FOCUS rows, money rounded to 6 places (so that DECIMAL(18,6) and DOUBLE
    hold the same amounts), timestamps as UTC TIMESTAMPTZ."""
    folder = tmp_path_factory.mktemp("reference")
    base = write_sample(folder, rows=3_000, fmt="parquet")["cost"]
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        names = [r[0] for r in con.execute("DESCRIBE FROM read_parquet(?)", [str(base)]).fetchall()]
        select = [
            f'CAST(CAST("{n}" AS DECIMAL(18,6)) AS {MONEY}) AS "{n}"'
            if n in MONEY_COLUMNS
            else f'CAST("{n}" AS TIMESTAMPTZ) AS "{n}"'
            if n in TIME_COLUMNS
            else f'"{n}"'
            for n in names
        ]
        table = con.sql(f"SELECT {', '.join(select)} FROM read_parquet(?)", params=[str(base)])  # noqa: S608
        result = table.to_arrow_table()
    assert result.num_rows == 3_000
    assert any(n in MONEY_COLUMNS for n in result.column_names)
    return result


def _with(table: pa.Table, names: list[str], convert: Any) -> pa.Table:
    for name in names:
        if name in table.column_names:
            i = table.column_names.index(name)
            table = table.set_column(i, name, convert(table.column(name)))
    return table


def _write(table: pa.Table, folder: Path, *, files: int = 1, **options: Any) -> Path:
    folder.mkdir()
    step = -(-table.num_rows // files)
    for i in range(files):
        part = table.slice(i * step, step)
        pq.write_table(part, folder / f"part-{i}.parquet", **options)
    return folder


LAYOUTS: dict[str, Any] = {
    "money DECIMAL(18,6)": lambda t, f: _write(
        _with(t, MONEY_COLUMNS, lambda c: c.cast(pa.decimal128(18, 6))), f
    ),
    "money DOUBLE": lambda t, f: _write(
        _with(t, MONEY_COLUMNS, lambda c: c.cast(pa.float64(), safe=False)), f
    ),
    "money DECIMAL(24,6)": lambda t, f: _write(
        _with(t, MONEY_COLUMNS, lambda c: c.cast(pa.decimal128(24, 6))), f
    ),
    "timestamps TIMESTAMP, no zone": lambda t, f: _write(
        _with(t, TIME_COLUMNS, lambda c: c.cast(pa.timestamp("us"))), f
    ),
    "timestamps INT96": lambda t, f: _write(t, f, use_deprecated_int96_timestamps=True),
    "timestamps in ms with a zone": lambda t, f: _write(
        _with(t, TIME_COLUMNS, lambda c: c.cast(pa.timestamp("ms", tz="UTC"))), f
    ),
    "timestamps as ISO text": lambda t, f: _write(
        _with(t, TIME_COLUMNS, lambda c: pc.strftime(c, format="%Y-%m-%dT%H:%M:%SZ")), f
    ),
    "strings plain": lambda t, f: _write(t, f, use_dictionary=False),
    "small row groups": lambda t, f: _write(t, f, row_group_size=256),
    "several files": lambda t, f: _write(t, f, files=4),
    "Spark: DOUBLE, INT96, plain, several files": lambda t, f: _write(
        _with(t, MONEY_COLUMNS, lambda c: c.cast(pa.float64(), safe=False)),
        f,
        files=3,
        use_dictionary=False,
        use_deprecated_int96_timestamps=True,
    ),
}


def _stored(path: Path, tmp_path: Path, name: str) -> list[tuple[object, ...]]:
    store = Store(tmp_path / f"{name}.duckdb")
    store.init()
    ingest_billing(store, [str(path)])
    with store.reader() as con:
        return con.execute("SELECT * EXCLUDE (x_ingested_at) FROM cost ORDER BY ALL").fetchall()


@pytest.fixture(scope="module")
def expected(reference: pa.Table, tmp_path_factory: pytest.TempPathFactory) -> list[tuple]:
    folder = tmp_path_factory.mktemp("expected")
    rows = _stored(_write(reference, folder / "files"), folder, "reference")
    assert len(rows) == reference.num_rows
    return rows


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_every_layout_stores_the_same_rows(
    layout: str, reference: pa.Table, expected: list[tuple], tmp_path: Path
) -> None:
    folder = LAYOUTS[layout](reference, tmp_path / "files")
    assert _stored(folder, tmp_path, "layout") == expected


def test_csv_gz_stores_the_same_rows(
    reference: pa.Table, expected: list[tuple], tmp_path: Path
) -> None:
    plain = tmp_path / "cost.csv"
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        con.register("reference", reference)
        con.execute(f"COPY reference TO '{plain}' (FORMAT csv, HEADER)")
    with open(plain, "rb") as raw, gzip.open(tmp_path / "cost.csv.gz", "wb") as out:
        shutil.copyfileobj(raw, out)
    plain.unlink()
    assert _stored(tmp_path / "cost.csv.gz", tmp_path, "csv") == expected


def _one_row(**changes: Any) -> pa.Table:
    row: dict[str, Any] = {
        "BilledCost": pa.array([Decimal("1.5")], pa.decimal128(18, 6)),
        "EffectiveCost": pa.array([Decimal("1.25")], pa.decimal128(18, 6)),
        "BillingCurrency": pa.array(["USD"]),
        "BillingPeriodStart": pa.array([1_761_955_200_000_000], pa.timestamp("us", "UTC")),
        "BillingPeriodEnd": pa.array([1_764_547_200_000_000], pa.timestamp("us", "UTC")),
        "ChargePeriodStart": pa.array([1_761_955_200_000_000], pa.timestamp("us", "UTC")),
        "ChargePeriodEnd": pa.array([1_761_958_800_000_000], pa.timestamp("us", "UTC")),
        "ChargeCategory": pa.array(["Usage"]),
        "ProviderName": pa.array(["AWS"]),
    }
    row.update(changes)
    return pa.table(row)


def test_typed_fast_paths_keep_exact_amounts_and_utc(tmp_path: Path) -> None:
    pq.write_table(_one_row(), tmp_path / "one.parquet")
    store = Store(tmp_path / "s.duckdb")
    store.init()
    ingest_billing(store, [str(tmp_path / "one.parquet")])
    with store.reader() as con:
        row = con.execute(
            "SELECT BilledCost, EffectiveCost, CAST(ChargePeriodStart AS VARCHAR), "
            "CAST(ChargePeriodEnd AS VARCHAR) FROM cost"
        ).fetchone()
    assert row == (Decimal("1.5"), Decimal("1.25"), "2025-11-01 00:00:00", "2025-11-01 01:00:00")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"BilledCost": pa.array([None], pa.decimal128(18, 6))}, "column BilledCost"),
        ({"EffectiveCost": pa.array([math.nan])}, "column EffectiveCost"),
        ({"EffectiveCost": pa.array([math.inf])}, "column EffectiveCost"),
        ({"EffectiveCost": pa.array([True])}, "column EffectiveCost"),
        # a typed timestamp outside the years a bill covers, with a zone and without
        (
            {"ChargePeriodEnd": pa.array([32_503_680_000_000_000], pa.timestamp("us", "UTC"))},
            "column ChargePeriodEnd",
        ),
        (
            {"ChargePeriodEnd": pa.array([32_503_680_000_000_000], pa.timestamp("us"))},
            "column ChargePeriodEnd",
        ),
    ],
)
def test_typed_fast_paths_still_refuse_what_cannot_be_trusted(
    tmp_path: Path, changes: dict[str, Any], message: str
) -> None:
    pq.write_table(_one_row(**changes), tmp_path / "bad.parquet")
    store = Store(tmp_path / "s.duckdb")
    store.init()
    with pytest.raises(InputError, match=f"row 1, {message}"):
        ingest_billing(store, [str(tmp_path / "bad.parquet")])
    with store.reader() as con:
        assert con.execute("SELECT count(*) FROM cost").fetchone() == (0,)


@pytest.mark.parametrize(
    ("look_memory", "dictionary"), [("512MB", True), ("512MB", False), ("2MB", True)]
)
def test_text_columns_are_cleaned_and_searched_only_where_they_need_it(
    reference: pa.Table,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    look_memory: str,
    dictionary: bool,
) -> None:
    """The loader looks once at each text column's distinct values (focus.mark_clean):
    a column with a blank or a NULL token is still cleaned row by row, one without is
    taken as it is, and a control character anywhere is still refused with its row.
    Plain-coded text whose values do not repeat is looked at row by row; text too varied
    for the look's memory (2MB here) is all cleaned and searched row by row in the load:
    the same rows, the same refusal."""
    import mlcost.connectors.files.focus as focus

    monkeypatch.setattr(focus, "LOOK_MEMORY", look_memory)
    rows = reference.slice(0, 5)
    names = rows.column("ResourceName").to_pylist()
    tokens = [" NULL ", "", names[2], "null", "Null  "]
    table = rows.set_column(
        rows.schema.get_field_index("ResourceName"), "ResourceName", pa.array(tokens)
    )
    pq.write_table(table, tmp_path / "tokens.parquet", use_dictionary=dictionary)
    store = Store(tmp_path / "s.duckdb")
    store.init()
    ingest_billing(store, [str(tmp_path / "tokens.parquet")])
    want_ids = rows.column("ResourceId").to_pylist()
    with store.reader() as con:
        got = con.execute(
            'SELECT "ResourceName", "ResourceId" FROM cost ORDER BY "ResourceId"'
        ).fetchall()
    assert sorted(got, key=lambda r: str(r[1])) == sorted(
        [(names[2] if i == 2 else None, want_ids[i]) for i in range(5)],
        key=lambda r: str(r[1]),
    )
    # a control character in the fourth row of a column with no token: refused by row
    bad = rows.column("ResourceId").to_pylist()
    bad[3] = f"{bad[3]}\x07"
    table = rows.set_column(rows.schema.get_field_index("ResourceId"), "ResourceId", pa.array(bad))
    pq.write_table(table, tmp_path / "bell.parquet", use_dictionary=dictionary)
    with pytest.raises(InputError, match="row 4, column ResourceId"):
        ingest_billing(store, [str(tmp_path / "bell.parquet")])
    with store.reader() as con:
        assert con.execute("SELECT count(*) FROM cost").fetchone() == (5,)


def test_files_of_one_schema_load_in_one_scan_each_named_in_the_load(
    reference: pa.Table, tmp_path: Path
) -> None:
    """Three FOCUS Parquet files of one schema are one batch (one scan): the load records
    each file with its own rows and hash, and a refused row names its own file and its
    row in that file, with the store left as it was."""
    import hashlib
    import json

    from mlcost.connectors.files.formats import BillingExport

    folder = _write(reference.slice(0, 30), tmp_path / "parts", files=3)
    export = BillingExport([str(folder)])
    batches = list(export.batches())
    assert len(batches) == 1 and [f["rows"] for f in batches[0].files] == [10, 10, 10]
    store = Store(tmp_path / "s.duckdb")
    store.init()
    result = ingest_billing(store, [str(folder)])
    assert result.result.rows_in == {"cost": 30}
    with store.reader() as con:
        (detail,) = con.execute("""SELECT detail FROM loads WHERE "table" = 'cost'""").fetchone()
    files = json.loads(detail)["files"]
    parts = sorted(folder.iterdir())
    assert [(Path(f["name"]).name, f["rows"], f["sha256"]) for f in files] == [
        (p.name, 10, hashlib.sha256(p.read_bytes()).hexdigest()) for p in parts
    ]
    assert [s.rows for s in result.files] == [10, 10, 10]
    # the seventh row of the second file: a currency that is no currency
    second = pq.read_table(parts[1])
    currency = second.column("BillingCurrency").to_pylist()
    currency[6] = None
    index = second.schema.get_field_index("BillingCurrency")
    pq.write_table(second.set_column(index, "BillingCurrency", pa.array(currency)), parts[1])
    with pytest.raises(InputError, match=r"part-1\.parquet: row 7, column BillingCurrency"):
        ingest_billing(store, [str(folder)])
    with store.reader() as con:
        assert con.execute("SELECT count(*) FROM cost").fetchone() == (30,)
        assert con.execute("""SELECT count(*) FROM loads WHERE "table" = 'cost'""").fetchone() == (
            1,
        )


def test_plain_coded_text_the_load_stores_as_it_is_is_taken_on_trust(
    reference: pa.Table, tmp_path: Path
) -> None:
    """Text a FOCUS file does not dictionary-code, which the load stores as it is, is not
    looked at before the write (focus.mark_clean(trusting=True)): the rows written are
    (focus.written_clean), and the file is written again the careful way where they hold
    a blank, a NULL token or a control character. An enumeration, whose normalised
    spelling would drop a control character, refuses an unknown spelling that holds one
    (the careful scan then names it). JSON too: it is cleaned as ever, and holds a C0
    character only where it is not JSON (the scan fails), DEL and C1 ones in sight."""
    from mlcost.connectors.files.focus import _open_scan, mark_clean, written_clean

    from mlcost.store import memory_connection

    rows = reference.slice(0, 6).append_column("x_Team", pa.array(["ml"] * 6))
    pq.write_table(rows, tmp_path / "plain.parquet", use_dictionary=False)
    pq.write_table(rows, tmp_path / "coded.parquet")
    with memory_connection() as con:
        scan, columns = _open_scan(con, tmp_path / "plain.parquet")
        marked = mark_clean(con, tmp_path / "plain.parquet", scan, columns, trusting=True)
        trusted = {name for name, column in marked.items() if column.trusted}
        assert {"ResourceId", "SubAccountName", "x_Team", "ChargeCategory"} <= trusted
        assert {"BillingCurrency", "ServiceCategory", "Tags", "SkuPriceDetails"} <= trusted
        assert all(marked[name].no_control for name in trusted)
        # JSON is cleaned as ever (a blank tag object would be rebuilt as {})
        json = {"Tags", "SkuPriceDetails"}
        assert all(marked[name].cleaned is (name not in json) for name in trusted)
        scan, columns = _open_scan(con, tmp_path / "coded.parquet")
        coded = mark_clean(con, tmp_path / "coded.parquet", scan, columns, trusting=True)
        assert not any(column.trusted for column in coded.values())

    # the store's own files: text clean, but for the source, which is ours
    written = tmp_path / "written.parquet"
    with duckdb.connect() as con:
        for name, value in [("clean", "'ml'"), ("blank", "''"), ("token", "' Null'")]:
            con.execute(
                f"COPY (SELECT 'NULL' AS x_source, {value} AS x_Team, 1 AS n) "
                f"TO '{written}' (FORMAT parquet)"
            )
            assert written_clean([written]) is (name == "clean"), name
        con.execute(f"COPY (SELECT 'a\x07' AS \"ResourceId\") TO '{written}' (FORMAT parquet)")
        assert written_clean([written]) is False
        # a JSON column is looked at as text: DEL or a C1 character in it is seen
        for held in ("\x7f", "\x85"):
            con.execute(
                f'COPY (SELECT \'{{"k": "a{held}"}}\'::JSON AS "SkuPriceDetails") '
                f"TO '{written}' (FORMAT parquet)"
            )
            assert written_clean([written]) is False, repr(held)

    def load(table: pa.Table, name: str, columns: str = "x_Team") -> list[tuple[object, ...]]:
        """The plain-coded file's ``columns`` as stored, by resource (our own SQL)."""
        pq.write_table(table, tmp_path / f"{name}.parquet", use_dictionary=False)
        store = Store(tmp_path / f"{name}.duckdb")
        store.init()
        ingest_billing(store, [str(tmp_path / f"{name}.parquet")])
        with store.reader() as con:
            return con.execute(
                f'SELECT "ResourceId", {columns} FROM cost ORDER BY "ResourceId"'  # noqa: S608
            ).fetchall()

    ids = rows.column("ResourceId").to_pylist()
    teams = ["ml", "", "NULL", " null ", "ml", "data"]
    got = load(rows.set_column(rows.num_columns - 1, "x_Team", pa.array(teams)), "tokens")
    want = ["ml", None, None, None, "ml", "data"]
    assert got == sorted(zip(ids, want, strict=True), key=lambda r: str(r[0]))
    # a control character in an enumeration of a plain-coded file: refused by its row
    categories = rows.column("ChargeCategory").to_pylist()
    categories[1] = f"{categories[1]}\x1b"
    index = rows.schema.get_field_index("ChargeCategory")
    with pytest.raises(InputError, match="row 2, column ChargeCategory"):
        load(rows.set_column(index, "ChargeCategory", pa.array(categories)), "escape")
    # ... and in the currency, which is upper-cased
    currencies = rows.column("BillingCurrency").to_pylist()
    currencies[4] = f"{currencies[4]}\x07"
    index = rows.schema.get_field_index("BillingCurrency")
    with pytest.raises(InputError, match="row 5, column BillingCurrency"):
        load(rows.set_column(index, "BillingCurrency", pa.array(currencies)), "bell")
    # a NULL token in an enumeration a row may leave empty: null, as the careful scan makes it
    index = rows.schema.get_field_index("CommitmentDiscountStatus")
    statuses = [" NULL ", "", None, "Used", "unused", "Null"]
    table = rows.set_column(index, "CommitmentDiscountStatus", pa.array(statuses))
    got = load(table, "status", '"CommitmentDiscountStatus"')
    want = [None, None, None, "Used", "Unused", None]
    assert got == sorted(zip(ids, want, strict=True), key=lambda r: str(r[0]))
    # JSON of a plain-coded file: blanks and NULL tokens null, as the careful scan makes
    # them (a blank tag object is not {}), and a control character refused by its row
    tags_at = rows.schema.get_field_index("Tags")
    details_at = rows.schema.get_field_index("SkuPriceDetails")
    tags = ["", ' {"team": "ml"} ', " null ", None, '"team": "data"', '{"team": "ml"}']
    details = ["null", '{"a": 1}', "", '{"a":\t2}', " NULL", None]
    table = rows.set_column(tags_at, "Tags", pa.array(tags))
    table = table.set_column(details_at, "SkuPriceDetails", pa.array(details))
    got = load(table, "json", 'CAST("Tags" AS VARCHAR), CAST("SkuPriceDetails" AS VARCHAR)')
    want_tags = [None, '{"team":"ml"}', None, None, '{"team":"data"}', '{"team":"ml"}']
    want_details = [None, '{"a": 1}', None, '{"a":\t2}', None, None]
    assert got == sorted(zip(ids, want_tags, want_details, strict=True), key=lambda r: str(r[0]))
    for column, at, value, row in [
        ("Tags", tags_at, '{"team": "m\x07l"}', 3),
        ("Tags", tags_at, '{"team": "m\x9bl"}', 4),
        ("SkuPriceDetails", details_at, '{"a": "\x7f"}', 2),
    ]:
        held = [value if i == row - 1 else v for i, v in enumerate(rows.column(column).to_pylist())]
        with pytest.raises(InputError, match=f"row {row}, column {column}"):
            load(rows.set_column(at, column, pa.array(held)), f"json{row}")


def test_plain_coded_files_read_together_still_name_a_refused_row(
    reference: pa.Table, tmp_path: Path
) -> None:
    """FOCUS Parquet files of one schema and plain-coded text, read by one scan that takes
    their text on trust: a control character in the second file's fifth row is refused,
    naming that file and row, and nothing is stored."""
    folder = _write(reference.slice(0, 30), tmp_path / "parts", files=3, use_dictionary=False)
    parts = sorted(folder.iterdir())
    second = pq.read_table(parts[1])
    names = second.column("ResourceName").to_pylist()
    names[4] = f"{names[4]}\x00"
    index = second.schema.get_field_index("ResourceName")
    pq.write_table(
        second.set_column(index, "ResourceName", pa.array(names)), parts[1], use_dictionary=False
    )
    store = Store(tmp_path / "s.duckdb")
    store.init()
    with pytest.raises(InputError, match=r"part-1\.parquet: row 5, column ResourceName"):
        ingest_billing(store, [str(folder)])
    with store.reader() as con:
        assert con.execute("SELECT count(*) FROM cost").fetchone() == (0,)
    assert not list((tmp_path / "s.duckdb.parts").rglob("*.parquet"))
