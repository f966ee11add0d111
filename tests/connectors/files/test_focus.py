"""The FOCUS loader: versions, messy-but-valid values, exact totals, partitions, refusals."""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from mlcost.connectors.files import scratch
from mlcost.connectors.files.focus import FocusExport

from mlcost.errors import InputError
from mlcost.ingest import ingest_billing
from mlcost.store import Store
from tests.conftest import BASE_COLUMNS, FIXTURES, focus_row, spec_example, write_csv

SPEC_FIXTURES = FIXTURES / "focus_spec_examples"


def totals(store: Store, where: str = "TRUE") -> tuple[Decimal, Decimal, int]:
    with store.reader() as con:
        row = con.execute(
            f"SELECT coalesce(sum(BilledCost), 0), coalesce(sum(EffectiveCost), 0), count(*) "  # noqa: S608
            f"FROM cost WHERE {where}"
        ).fetchone()
    assert row is not None
    return row[0], row[1], row[2]


def store_contents(store: Store) -> tuple[list[tuple[object, ...]], int]:
    """Everything a user could see: every cost row, and how many loads were recorded."""
    with store.reader() as con:
        rows = con.execute("SELECT * EXCLUDE (x_ingested_at) FROM cost ORDER BY ALL").fetchall()
        loads = con.execute("SELECT count(*) FROM loads").fetchone()
    assert loads is not None
    return rows, loads[0]


# -- versions -----------------------------------------------------------------------

VERSION_COLUMNS = {
    "1.0": ([*BASE_COLUMNS, "ChargeClass", "PricingCategory"], {}),
    "1.1": (
        [*BASE_COLUMNS, "ServiceSubcategory", "CommitmentDiscountQuantity", "SkuPriceDetails"],
        {
            "ServiceSubcategory": "Virtual Machines",
            "CommitmentDiscountQuantity": "2.5",
            "SkuPriceDetails": '{"CoreCount": 8}',
        },
    ),
    "1.2": (
        [*BASE_COLUMNS, "InvoiceId", "PricingCurrency", "BillingAccountType"],
        {"InvoiceId": "INV-42", "PricingCurrency": "usd", "BillingAccountType": "Payer"},
    ),
    "1.3": (
        [c if c != "ProviderName" else "ServiceProviderName" for c in BASE_COLUMNS]
        + ["HostProviderName", "AllocatedMethodId"],
        {"ServiceProviderName": "AWS", "HostProviderName": "AWS", "AllocatedMethodId": "even"},
    ),
}


@pytest.mark.parametrize("version", sorted(VERSION_COLUMNS))
def test_each_focus_version_loads_into_the_12_columns(
    store: Store, tmp_path: Path, version: str
) -> None:
    columns, extra = VERSION_COLUMNS[version]
    rows = [focus_row(BilledCost="10.25", EffectiveCost="9.75", **extra)]
    path = write_csv(tmp_path / f"focus-{version}.csv", rows, columns)

    done = ingest_billing(store, [str(path)])

    assert done.files[0].focus_version == version
    assert totals(store) == (Decimal("10.25"), Decimal("9.75"), 1)
    with store.reader() as con:
        got = con.execute(
            "SELECT ProviderName, ServiceSubcategory, InvoiceId, PricingCurrency, "
            "CommitmentDiscountQuantity, SkuPriceDetails FROM cost"
        ).fetchone()
        names = {r[0] for r in con.execute("DESCRIBE cost").fetchall()}
    assert got is not None
    assert got[0] == "AWS"  # 1.3's ServiceProviderName fills the 1.2 ProviderName
    if version == "1.1":
        assert got[1] == "Virtual Machines"
        assert got[4] == Decimal("2.5")
        assert got[5] == '{"CoreCount": 8}'
    if version == "1.2":
        # PricingCurrency is kept as written (a virtual currency such as "Token" may be).
        assert (got[2], got[3]) == ("INV-42", "usd")
    if version == "1.3":
        assert {"x_HostProviderName", "x_AllocatedMethodId"} <= names


# -- what real exports look like ---------------------------------------------------------


def test_messy_but_valid_values_are_normalised(store: Store, tmp_path: Path) -> None:
    rows = [
        focus_row(
            ChargePeriodStart="2026-01-05 00:00:00",
            ChargePeriodEnd="2026-01-06",
            ChargeCategory="usage",
            ChargeFrequency="Usage-based",
            BillingCurrency="usd",
            Tags='{"team ": "vision", " cost center": "42"}',
            ResourceId="NULL",
            ListCost="",
        ),
        focus_row(
            ChargeCategory="PURCHASE",
            ChargeFrequency="one-time",
            ChargePeriodStart="2026-01-07T02:00:00+02:00",
            ChargePeriodEnd="2026-01-08T00:00:00Z",
            Tags='"team": "speech","env":"prod"',
            BilledCost="1.5E-7",
            EffectiveCost="null",
        ),
    ]
    # EffectiveCost cannot be null: the second row gets a number where the first had ""
    rows[1]["EffectiveCost"] = "0"
    path = write_csv(tmp_path / "messy.csv", rows, newline="\r\n")
    raw = path.read_bytes()
    path.write_bytes(b"\xef\xbb\xbf" + raw)  # Azure writes a byte-order mark

    ingest_billing(store, [str(path)])

    with store.reader() as con:
        got = con.execute(
            "SELECT ChargeCategory, ChargeFrequency, BillingCurrency, ChargePeriodStart, "
            "ChargePeriodEnd, Tags, ResourceId, ListCost, BilledCost FROM cost "
            "ORDER BY ChargePeriodStart"
        ).fetchall()
    first, second = got
    assert first[:5] == (
        "Usage",
        "Usage-Based",
        "USD",
        datetime(2026, 1, 5),
        datetime(2026, 1, 6),
    )
    assert first[5] == '{"team ":"vision"," cost center":"42"}'  # keys as written
    assert first[6] is None and first[7] is None
    assert second[:2] == ("Purchase", "One-Time")
    assert second[3] == datetime(2026, 1, 7, 0, 0)  # +02:00 converted to UTC
    assert second[5] == '{"team":"speech","env":"prod"}'
    assert second[8] == Decimal("0.00000015")


#: (Tags as written, as stored). Tidy objects take the loader's fast path (minified);
#: the rest are rebuilt. Either way the stored text must be the same.
TAG_CASES = [
    ('{"team": "vision", "env": "prod"}', '{"team":"vision","env":"prod"}'),
    (
        '{"n": 1, "f": 1.50, "o": {"x": [1, 2]}, "z": null}',
        '{"n":1,"f":1.5,"o":{"x":[1,2]},"z":null}',
    ),
    ('{"caf\\u00e9": "x"}', '{"café":"x"}'),
    ('{"q": "say \\"hi\\""}', '{"q":"say \\"hi\\""}'),
    ('{" team": "nlp"}', '{" team":"nlp"}'),
    ("{}", "{}"),
    ('"team": "speech"', '{"team":"speech"}'),
]

#: (ChargePeriodStart as written, in UTC). The first three take the plain cast.
TIME_CASES = [
    ("2026-01-07 02:00:00", datetime(2026, 1, 7, 2)),
    ("2026-01-07T02:00:00", datetime(2026, 1, 7, 2)),
    ("2026-01-07T02:00:00Z", datetime(2026, 1, 7, 2)),
    ("2026-01-07T02:00:00-05:00", datetime(2026, 1, 7, 7)),
    ("2026-01-07 02:00+02", datetime(2026, 1, 7, 0)),
    (" 2026-01-07 02:00:00 ", datetime(2026, 1, 7, 2)),
    ("2026-01-07T02:00:00.250Z", datetime(2026, 1, 7, 2, 0, 0, 250000)),
]


@pytest.mark.parametrize("share", [0.0, 1.0])  # tags rebuilt once per distinct value, per row
def test_tags_and_timestamps_read_the_same_whichever_path_they_take(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, share: float
) -> None:
    import mlcost.connectors.files.focus as focus

    monkeypatch.setattr(focus, "TAGS_SHARE", share)
    rows = [
        focus_row(
            ResourceId=f"r{i}",
            Tags=TAG_CASES[i][0],
            ChargePeriodStart=TIME_CASES[i][0],
            ChargePeriodEnd="2026-01-08T00:00:00Z",
        )
        for i in range(len(TAG_CASES))
    ]
    ingest_billing(store, [str(write_csv(tmp_path / "shapes.csv", rows))])

    with store.reader() as con:
        got = con.execute(
            "SELECT ResourceId, Tags, ChargePeriodStart FROM cost ORDER BY ResourceId"
        ).fetchall()
    assert [(r[1], r[2]) for r in got] == [
        (tags[1], time[1]) for tags, time in zip(TAG_CASES, TIME_CASES, strict=True)
    ]


def test_a_csv_rebuilds_its_tags_per_distinct_value_only_where_they_are_a_good_share(
    tmp_path: Path,
) -> None:
    """A second parse of a CSV for its tags pays only where they are a good share of each
    line (focus.TAGS_SHARE, from the first rows); a Parquet file reads them alone."""
    from mlcost.connectors.files.focus import TAGS_SHARE, _tags_per_distinct

    short = '{"team": "ml"}'
    long = "{" + ", ".join(f'"key-{k}": "a longer value {k}"' for k in range(12)) + "}"
    for tags, gzipped, wanted in [(short, False, False), (long, False, True), (long, True, True)]:
        path = write_csv(
            tmp_path / ("t.csv.gz" if gzipped else "t.csv"),
            [focus_row(ResourceId=f"i-{i}", Tags=tags) for i in range(50)],
        )
        header = next(
            csv.reader(
                io.StringIO(
                    path.read_bytes().decode()
                    if not gzipped
                    else gzip.decompress(path.read_bytes()).decode()
                )
            )
        )
        ref = f"c{header.index('Tags')}"
        assert _tags_per_distinct(path, "read_csv($1, …)", ref) is wanted, (tags, gzipped)
    assert _tags_per_distinct(tmp_path / "t.parquet", "read_parquet($1)", '"Tags"')
    assert 0 < TAGS_SHARE < 1


def test_a_tag_key_written_twice_is_refused(store: Store, tmp_path: Path) -> None:
    rows = [focus_row(), focus_row(Tags='{"team": "a", "team": "b"}')]

    with pytest.raises(InputError, match="row 2, column Tags: expected a JSON object of tags"):
        ingest_billing(store, [str(write_csv(tmp_path / "twice.csv", rows))])


def test_billed_and_effective_totals_equal_the_hand_computed_sum(
    store: Store, tmp_path: Path
) -> None:
    billed = ["0.0000001234", "1234567.891234", "-12.5", "3.3333333333", "0", "250000.07"]
    effective = ["0.0000001111", "1200000.000001", "-12.5", "3.3333333334", "17.99", "0"]
    rows = [
        focus_row(BilledCost=b, EffectiveCost=e, ResourceId=f"i-{i}")
        for i, (b, e) in enumerate(zip(billed, effective, strict=True))
    ]
    ingest_billing(store, [str(write_csv(tmp_path / "exact.csv.gz", rows))])

    # By hand: 1234567.891234 + 250000.07 + 3.3333333333 - 12.5 + 0.0000001234
    assert totals(store)[0] == Decimal("1484558.7945674567")
    # 1200000.000001 + 17.99 + 3.3333333334 - 12.5 + 0.0000001111
    assert totals(store)[1] == Decimal("1200008.8233344445")


def test_provider_columns_are_kept_as_x_columns(store: Store, tmp_path: Path) -> None:
    rows = [
        focus_row(x_ServiceCode="AmazonEC2", **{"Usage Type": "BoxUsage:p4d", "x_source": "s"}),
        # a line without its billing account is of the source "focus:AWS:"
        focus_row(x_ServiceCode="", BillingAccountId="", **{"Usage Type": "", "x_source": ""}),
    ]
    ingest_billing(store, [str(write_csv(tmp_path / "x.csv", rows))])
    with store.reader() as con:
        got = con.execute(
            "SELECT x_ServiceCode, x_Usage_Type, x_x_source, x_source FROM cost ORDER BY 1"
        ).fetchall()
    assert got == [
        ("AmazonEC2", "BoxUsage:p4d", "s", "focus:AWS:111111111111"),
        (None, None, None, "focus:AWS:"),
    ]


def test_typed_parquet_export_loads_exactly(store: Store, tmp_path: Path) -> None:
    n = 3
    table = pa.table(
        {
            "BillingCurrency": ["USD"] * n,
            "BillingPeriodStart": pa.array([datetime(2026, 1, 1, tzinfo=UTC)] * n),
            "BillingPeriodEnd": pa.array([datetime(2026, 2, 1, tzinfo=UTC)] * n),
            "ChargePeriodStart": pa.array([datetime(2026, 1, d + 1) for d in range(n)]),
            "ChargePeriodEnd": pa.array([datetime(2026, 1, d + 2) for d in range(n)]),
            "ChargeCategory": ["Usage"] * n,
            "ProviderName": ["Google Cloud"] * n,
            "BilledCost": pa.array(
                [Decimal("0.1"), Decimal("0.2"), Decimal("1e-10")], pa.decimal128(20, 10)
            ),
            "EffectiveCost": pa.array([0.1, 0.2, 0.3], pa.float64()),
            "Tags": pa.array([[("team", "nlp")], [], None], pa.map_(pa.string(), pa.string())),
        }
    )
    path = tmp_path / "gcp.parquet"
    pq.write_table(table, path)

    ingest_billing(store, [str(path)])

    assert totals(store)[:2] == (Decimal("0.3000000001"), Decimal("0.6"))
    with store.reader() as con:
        tags = [
            r[0] for r in con.execute("SELECT Tags FROM cost ORDER BY ChargePeriodStart").fetchall()
        ]
    assert tags == ['{"team":"nlp"}', "{}", None]


# -- partitions: nothing is ever counted twice --------------------------------------------


def test_loading_the_same_export_twice_leaves_totals_unchanged(
    store: Store, tmp_path: Path
) -> None:
    rows = [
        focus_row(BilledCost="100.10", EffectiveCost="90.01", ResourceId=f"i-{i}") for i in range(5)
    ]
    path = write_csv(tmp_path / "jan.csv", rows)
    ingest_billing(store, [str(path)])
    first = totals(store)
    second_load = ingest_billing(store, [str(path)])
    assert totals(store) == first == (Decimal("500.50"), Decimal("450.05"), 5)
    assert second_load.result.rows_replaced == {"cost": 5}


def test_a_restated_month_replaces_the_old_one_and_leaves_other_months(
    store: Store, tmp_path: Path
) -> None:
    feb = {
        "BillingPeriodStart": "2026-02-01T00:00:00Z",
        "BillingPeriodEnd": "2026-03-01T00:00:00Z",
        "ChargePeriodStart": "2026-02-03T00:00:00Z",
        "ChargePeriodEnd": "2026-02-04T00:00:00Z",
    }
    original = [
        focus_row(BilledCost="10", EffectiveCost="10"),
        focus_row(BilledCost="7", EffectiveCost="7", **feb),
    ]
    ingest_billing(store, [str(write_csv(tmp_path / "v1.csv", original))])
    restated_jan = [
        focus_row(BilledCost="11.5", EffectiveCost="11"),
        focus_row(BilledCost="-0.5", EffectiveCost="-0.5", ChargeCategory="Credit"),
    ]
    ingest_billing(store, [str(write_csv(tmp_path / "v2.csv", restated_jan))])

    jan = "BillingPeriodStart = TIMESTAMP '2026-01-01'"
    assert totals(store, jan) == (Decimal("11.0"), Decimal("10.5"), 2)
    assert totals(store) == (Decimal("18.0"), Decimal("17.5"), 3)


def test_two_billing_accounts_never_replace_each_other(store: Store, tmp_path: Path) -> None:
    a = write_csv(tmp_path / "a.csv", [focus_row(BilledCost="5")])
    b = write_csv(tmp_path / "b.csv", [focus_row(BilledCost="6", BillingAccountId="999999999999")])
    ingest_billing(store, [str(a)])
    ingest_billing(store, [str(b)])
    assert totals(store)[0] == Decimal("11")


def test_files_of_one_export_loaded_together_add_up(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "export" / "2026-01"
    write_csv(folder / "part-1.csv.gz", [focus_row(BilledCost="1.25")])
    write_csv(folder / "part-2.csv.gz", [focus_row(BilledCost="2.50", ResourceId="i-2")])
    done = ingest_billing(store, [str(tmp_path / "export")])
    assert [Path(f.path).name for f in done.files] == ["part-1.csv.gz", "part-2.csv.gz"]
    assert totals(store)[0] == Decimal("3.75")
    ingest_billing(store, [str(folder / "*.csv.gz")])
    assert totals(store)[0] == Decimal("3.75")
    # The same file named twice, by path and through its folder, is read once.
    ingest_billing(store, [str(folder / "part-1.csv.gz"), str(folder / ".." / "2026-01")])
    assert totals(store)[0] == Decimal("3.75")


# -- refusals: the file, the column, the row; the store untouched ---------------------------


def _good(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "good.csv", [focus_row(BilledCost="42")])


def _gz_bytes(text: str) -> bytes:
    return gzip.compress(text.encode())


def _csv_text(rows: list[dict[str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


BAD_FILES = {
    "missing_column": (
        "bill.csv",
        lambda: _csv_text(
            [{k: v for k, v in focus_row().items() if k != "EffectiveCost"}]
        ).encode(),
        ["bill.csv", "EffectiveCost"],
    ),
    "cost_not_a_number": (
        "bill.csv",
        lambda: _csv_text([focus_row(), focus_row(BilledCost="12,50")]).encode(),
        ["bill.csv", "row 2", "BilledCost", "'12,50'"],
    ),
    "bad_timestamp": (
        "bill.csv",
        lambda: _csv_text([focus_row(ChargePeriodStart="yesterday")]).encode(),
        ["bill.csv", "row 1", "ChargePeriodStart", "'yesterday'"],
    ),
    "unknown_charge_category": (
        "bill.csv",
        lambda: _csv_text([focus_row(), focus_row(), focus_row(ChargeCategory="Refund")]).encode(),
        ["bill.csv", "row 3", "ChargeCategory", "Usage, Purchase"],
    ),
    "csv_truncated_mid_row": (
        "bill.csv",
        lambda: _csv_text([focus_row(), focus_row()]).encode()[:-40],
        ["bill.csv", "line 3"],
    ),
    "gzip_truncated": (
        "bill.csv.gz",
        lambda: _gz_bytes(_csv_text([focus_row(ResourceId=f"i-{i}") for i in range(300)]))[:-200],
        ["bill.csv.gz", "truncated"],
    ),
    "parquet_truncated": (
        "bill.parquet",
        lambda: _parquet_bytes()[:-100],
        ["bill.parquet"],
    ),
    "not_parquet_at_all": (
        "bill.parquet",
        lambda: b"PK\x03\x04 this is a zip file, not parquet",
        ["bill.parquet"],
    ),
    "empty_file": ("bill.csv", lambda: b"", ["bill.csv", "empty"]),
}


def _parquet_bytes() -> bytes:
    rows = [focus_row(ResourceId=f"i-{i}") for i in range(50)]
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_file_is_refused_by_name_and_the_store_is_unchanged(
    store: Store, tmp_path: Path, case: str
) -> None:
    ingest_billing(store, [str(_good(tmp_path))])
    before = store_contents(store)
    name, content, expected = BAD_FILES[case]
    bad = tmp_path / "incoming" / name
    bad.parent.mkdir()
    bad.write_bytes(content())
    # The bad file comes second: the good one before it in the same load is undone too.
    other = write_csv(
        tmp_path / "incoming" / "a_first.csv", [focus_row(BilledCost="1000", BillingAccountId="3")]
    )

    with pytest.raises(InputError) as caught:
        ingest_billing(store, [str(other), str(bad)])

    message = str(caught.value)
    for fragment in expected:
        assert fragment in message, message
    assert store_contents(store) == before
    assert totals(store)[0] == Decimal("42")


def test_nothing_is_read_until_the_store_iterates() -> None:
    export = FocusExport(["/does/not/exist.csv"])
    batches = export.batches()  # a generator: building it touches no file
    with pytest.raises(InputError, match="no such file"):
        next(batches)


# -- CSV.gz: decompressed beside the store, read in parallel, the copy removed ------------


def _copies(monkeypatch: pytest.MonkeyPatch) -> list[Path | None]:
    """The decompressed copies the next loads make (None: the file was read compressed)."""
    made: list[Path | None] = []
    real = scratch._decompress

    def spy(path: Path, folder: Path) -> Path | None:
        made.append(real(path, folder))
        return made[-1]

    monkeypatch.setattr(scratch, "_decompress", spy)
    return made


def _parts(monkeypatch: pytest.MonkeyPatch) -> list[list[Path]]:
    """The parts each next load cuts a CSV.gz into (scratch.Copy.parts), in parts of
    20 kB read 1 kB at a time."""
    monkeypatch.setattr(scratch, "PART_BYTES", 20_000)
    monkeypatch.setattr(scratch, "CHUNK", 1_000)
    cut: list[list[Path]] = []
    real = scratch._parts

    def spy(path: Path, folder: Path, part_bytes: int) -> Iterator[tuple[Path, float]]:
        cut.append([])
        for part, share in real(path, folder, part_bytes):
            cut[-1].append(part)
            yield part, share

    monkeypatch.setattr(scratch, "_parts", spy)
    return cut


def test_a_csv_gz_is_read_in_parts_beside_the_store_and_the_parts_removed(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A FOCUS CSV.gz is decompressed in parts, each read while the next is decompressed
    and each written to billing files of its own; none is left behind. A description
    with a newline inside its quotes stays one record, whichever part it falls in."""
    made, cut = _copies(monkeypatch), _parts(monkeypatch)
    rows = [
        focus_row(BilledCost=f"{i}.25", ResourceId=f"i-{i}", ChargeDescription=f"GPU\n{i}")
        for i in range(1, 301)
    ]
    ingest_billing(store, [str(write_csv(tmp_path / "bill.csv.gz", rows))])

    # 1.25 + 2.25 + … + 300.25 = 45150 + 75
    assert totals(store) == (Decimal("45225.00"), Decimal("300.00"), 300)
    with store.reader() as con:
        described = con.execute(
            "SELECT count(*) FROM cost WHERE \"ChargeDescription\" = 'GPU' || chr(10) || "
            "split_part(\"ResourceId\", '-', 2)"
        ).fetchone()
        files = con.execute("SELECT count(DISTINCT path) FROM cost_files").fetchone()
    assert described == (300,)
    assert made == [] and len(cut) == 1 and len(cut[0]) > 3
    assert files == (len(cut[0]),)  # a part, its own billing file
    assert cut[0][0].parent.parent == store.path.parent and not any(p.exists() for p in cut[0])
    assert list(store.path.parent.glob(".mlcost-scratch-*")) == []


def test_a_bad_row_in_a_csv_gz_is_named_by_its_row_and_no_copy_is_left(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row refused in a later part sends the load to the careful scan, over the whole
    file decompressed: the row is named by its number in the file."""
    made, cut = _copies(monkeypatch), _parts(monkeypatch)
    rows = [focus_row(ResourceId=f"i-{i}") for i in range(300)]
    rows[250]["BilledCost"] = "12,50"
    before = store_contents(store)

    with pytest.raises(InputError, match=r"bill\.csv\.gz: row 251, column BilledCost: .*'12,50'"):
        ingest_billing(store, [str(write_csv(tmp_path / "bill.csv.gz", rows))])

    assert len(cut[0]) >= 2 and not any(p.exists() for p in cut[0])  # refused in a later part
    assert made[0] is not None and not made[0].exists()
    assert list(store.path.parent.glob(".mlcost-scratch-*")) == []
    assert list(store.parts_path.rglob("*.parquet")) == []
    assert store_contents(store) == before


def test_a_csv_gz_without_room_for_its_copy_is_read_compressed(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = _copies(monkeypatch)
    # 100 bytes free: the copy may take 50, and the file is larger.
    monkeypatch.setattr(scratch.shutil, "disk_usage", lambda _: SimpleNamespace(free=100))
    rows = [focus_row(BilledCost="2.50", ResourceId=f"i-{i}") for i in range(3)]
    ingest_billing(store, [str(write_csv(tmp_path / "bill.csv.gz", rows))])

    assert made == [None]
    assert totals(store)[0] == Decimal("7.50")
    assert list(store.path.parent.glob(".mlcost-scratch-*")) == []


# -- the FOCUS specification's worked examples ------------------------------------------


SPEC_TOTALS = {
    # file: (BilledCost, EffectiveCost, rows), summed by hand from the spec's tables
    "commitment_discount_usage_scenario_1.csv": ("0.00", "1.00", 1),
    "commitment_discount_usage_scenario_2.csv": ("0.00", "1.00", 1),
    "commitment_discount_usage_scenario_3.csv": ("0.00", "1.00", 2),
    "commitment_discount_usage_scenario_4.csv": ("0.50", "1.50", 2),
    "commitment_discount_purchase_scenario_1.csv": ("8760.00", "0.00", 1),
    "one_hundred_percent_utilization_with_commitment_discount_flexibility_with_1_resource.csv": (
        "2.75",
        "2.75",
        3,
    ),
    "one_hundred_percent_utilization_with_commitment_discount_flexibility_with_2_resources.csv": (
        "2.00",
        "2.00",
        3,
    ),
    "one_hundred_percent_utilization_without_commitment_discount_flexibility.csv": (
        "1.50",
        "1.50",
        2,
    ),
    "zero_percent_utilization_without_commitment_discount_flexibility.csv": ("3.50", "3.50", 3),
}


@pytest.mark.parametrize("name", sorted(SPEC_TOTALS))
def test_focus_spec_examples_load_with_their_totals(
    store: Store, tmp_path: Path, name: str
) -> None:
    ingest_billing(store, [str(spec_example(tmp_path, name))])
    billed, effective, rows = SPEC_TOTALS[name]
    assert totals(store) == (Decimal(billed), Decimal(effective), rows)


def test_focus_spec_unused_commitment_rows_keep_their_status(store: Store, tmp_path: Path) -> None:
    name = "commitment_discount_usage_scenario_3.csv"
    ingest_billing(store, [str(spec_example(tmp_path, name))])
    with store.reader() as con:
        got = con.execute(
            "SELECT CommitmentDiscountStatus, EffectiveCost, ConsumedQuantity FROM cost ORDER BY 1"
        ).fetchall()
    assert got == [("Unused", Decimal("0.25"), None), ("Used", Decimal("0.75"), Decimal("1"))]


@pytest.mark.parametrize(
    ("name", "row"),
    [
        ("commitment_discount_purchase_scenario_2.csv", 3),
        ("commitment_discount_purchase_scenario_3.csv", 4),
    ],
)
def test_focus_spec_examples_with_impossible_timestamps_are_refused(
    store: Store, tmp_path: Path, name: str, row: int
) -> None:
    with pytest.raises(InputError) as caught:
        ingest_billing(store, [str(spec_example(tmp_path, name))])
    assert f"row {row}, column ChargePeriodEnd" in str(caught.value)
    assert "'2023-02-01T30:00:00Z'" in str(caught.value)
    assert totals(store)[2] == 0


# -- values kept as the provider wrote them (issue 18) ----------------------------------


def test_tag_keys_that_differ_only_by_spaces_are_two_keys(store: Store, tmp_path: Path) -> None:
    # The FinOps Foundation's FOCUS 1.0 sample holds both "org" and " org" in one object.
    rows = [focus_row(Tags='{"org": "vision", " org": "research", "env ": "prod"}')]

    ingest_billing(store, [str(write_csv(tmp_path / "keys.csv", rows))])

    with store.reader() as con:
        got = con.execute("SELECT Tags, Tags->>'$.\" org\"' FROM cost").fetchone()
    assert got == ('{"org":"vision"," org":"research","env ":"prod"}', "research")


def test_text_values_are_stored_as_written(store: Store, tmp_path: Path) -> None:
    rows = [focus_row(ResourceName=" train-01 ", ChargeDescription="GPU  hours ", ResourceId="  ")]

    ingest_billing(store, [str(write_csv(tmp_path / "text.csv", rows))])

    with store.reader() as con:
        got = con.execute("SELECT ResourceName, ChargeDescription, ResourceId FROM cost").fetchone()
    assert got == (" train-01 ", "GPU  hours ", None)  # a value of spaces alone is blank


#: (ChargePeriodStart as written, what is stored, or None where the file is refused).
DATE_CASES = [
    ("4/1/25", datetime(2025, 4, 1)),
    ("4/1/2025", datetime(2025, 4, 1)),
    ("12/31/2025 13:30", datetime(2025, 12, 31, 13, 30)),
    ("2025-4-1", datetime(2025, 4, 1)),
    ("13/1/25", None),  # no month 13: day-first dates are not guessed at
    ("2025-13-01", None),
    ("0004-01-25", None),  # what DuckDB's own cast makes of 4/1/25
    ("9999-01-01", None),  # a placeholder, not a charge
    ("1999-12-31T23:00:00Z", None),
    ("01.04.2025", None),
    ("20250401", None),
]


@pytest.mark.parametrize(("written", "stored"), DATE_CASES)
def test_a_date_is_read_right_or_refused_naming_it(
    store: Store, tmp_path: Path, written: str, stored: datetime | None
) -> None:
    rows = [focus_row(), focus_row(ChargePeriodStart=written, ChargePeriodEnd="2026-01-01")]
    for row in rows:
        row.update(BillingPeriodStart="2025-04-01", BillingPeriodEnd="2026-01-01")
    rows[0].update(ChargePeriodStart="2025-04-01", ChargePeriodEnd="2025-04-02")
    path = write_csv(tmp_path / "dates.csv", rows)

    if stored is None:
        with pytest.raises(InputError) as caught:
            ingest_billing(store, [str(path)])
        message = str(caught.value)
        assert str(path) in message
        assert "row 2, column ChargePeriodStart: expected a timestamp" in message
        assert repr(written) in message
        assert totals(store)[2] == 0
        return
    ingest_billing(store, [str(path)])
    with store.reader() as con:
        got = con.execute("SELECT max(ChargePeriodStart) FROM cost").fetchone()
    assert got == (max(stored, datetime(2025, 4, 1)),)


def test_a_typed_parquet_timestamp_outside_the_years_is_refused(
    store: Store, tmp_path: Path
) -> None:
    table = pa.Table.from_pylist([focus_row(), focus_row()])
    starts = pa.array([datetime(2026, 1, 5), datetime(9999, 12, 31)], pa.timestamp("us"))
    table = table.set_column(
        table.schema.get_field_index("ChargePeriodStart"), "ChargePeriodStart", starts
    )
    pq.write_table(table, tmp_path / "typed.parquet")

    with pytest.raises(InputError, match=r"row 2, column ChargePeriodStart: expected a timestamp"):
        ingest_billing(store, [str(tmp_path / "typed.parquet")])
    assert totals(store)[2] == 0


#: The FOCUS specification's SaaS virtual-currency examples: (Σ BilledCost, Σ EffectiveCost,
#: rows), summed by hand from the files; every date in them is M/D/YY.
SAAS_TOTALS = {
    "virtual_currency_pricing_model_a1.csv": ("200000.00", "0.00", 1),
    "virtual_currency_pricing_model_a2.csv": ("0.00", "1230.00", 3),
    "virtual_currency_pricing_model_b1.csv": ("100000.00", "0.00", 1),
    "virtual_currency_pricing_model_b2.csv": ("0.00", "615.00", 3),
    "virtual_currency_pricing_model_b3.csv": ("0.00", "495.00", 3),
    "virtual_currency_pricing_model_c.csv": ("53000.00", "0.00", 2),
}


@pytest.mark.parametrize("name", sorted(SAAS_TOTALS))
def test_focus_spec_saas_examples_load_with_their_dates_and_currencies(
    store: Store, name: str
) -> None:
    ingest_billing(store, [str(SPEC_FIXTURES / name)])

    billed, effective, rows = SAAS_TOTALS[name]
    assert totals(store) == (Decimal(billed), Decimal(effective), rows)
    with store.reader() as con:
        got = con.execute(
            "SELECT min(ChargePeriodStart), min(BillingPeriodStart), "
            "list(DISTINCT PricingCurrency ORDER BY PricingCurrency) FROM cost"
        ).fetchone()
    assert got is not None
    assert got[0] == datetime(2025, 4, 1)
    # model c bills in October 2025 ("10/1/25"); the others in April
    assert got[1] == datetime(2025, 10 if name.endswith("_c.csv") else 4, 1)
    assert set(got[2]) <= {"USD", "Token"}  # Token stays Token, not TOKEN


def test_a_service_category_focus_does_not_define_is_refused(store: Store) -> None:
    path = SPEC_FIXTURES / "saas_spend_agreements_a1.csv"

    with pytest.raises(InputError) as caught:
        ingest_billing(store, [str(path)])

    assert "row 1, column ServiceCategory: expected one of AI and Machine Learning" in str(
        caught.value
    )
    assert "found 'Database'" in str(caught.value)
    assert totals(store)[2] == 0


@pytest.mark.parametrize(
    ("category", "subcategory", "refused"),
    [
        ("Compute", "Virtual Machines", None),
        ("compute", "virtual machines", None),  # any case, stored in FOCUS's spelling
        # each parent is found by the subcategory's place in FOCUS's list: the last of one
        # category, the first of the next, and the list's last
        ("AI and Machine Learning", "Other (AI and Machine Learning)", None),
        ("Analytics", "Analytics Platforms", None),
        ("Other", "Other (Other)", None),
        ("Analytics", "Other (AI and Machine Learning)", "expected a subcategory of the row"),
        ("Storage", "Virtual Machines", "expected a subcategory of the row.s ServiceCategory"),
        ("Compute", "Big Iron", "expected one of"),
    ],
)
def test_a_service_subcategory_must_belong_to_its_category(
    store: Store, tmp_path: Path, category: str, subcategory: str, refused: str | None
) -> None:
    columns = [*BASE_COLUMNS, "ServiceCategory", "ServiceSubcategory"]
    rows = [focus_row(ServiceCategory=category, ServiceSubcategory=subcategory)]
    path = write_csv(tmp_path / "sub.csv", rows, columns)

    if refused:
        with pytest.raises(InputError, match=f"row 1, column ServiceSubcategory: {refused}"):
            ingest_billing(store, [str(path)])
        assert totals(store)[2] == 0
        return
    ingest_billing(store, [str(path)])
    with store.reader() as con:
        got = con.execute("SELECT ServiceCategory, ServiceSubcategory FROM cost").fetchall()
    spelled = {"compute": "Compute", "virtual machines": "Virtual Machines"}
    assert got == [(spelled.get(category, category), spelled.get(subcategory, subcategory))]


#: Amounts as a CSV writes them, and what the store keeps: DuckDB's cast from text,
#: rounded once at the 12th place, whether the CSV reader parses the column itself
#: (the scan taken on trust) or the conversion casts the text (the careful scan).
CSV_AMOUNTS = [
    ("1.12345678901234", Decimal("1.123456789012")),
    ("0.0000000000005", Decimal("0.000000000001")),
    ("-0.0000000000005", Decimal("-0.000000000001")),
    ("1e-5", Decimal("0.00001")),
    (" 2.5 ", Decimal("2.5")),
    ("+3", Decimal("3")),
    (".5", Decimal("0.5")),
    ("12345678901234567890123456.1", Decimal("12345678901234567890123456.1")),
]


@pytest.mark.parametrize("gzipped", [False, True])
def test_csv_amounts_read_by_the_reader_keep_the_casts_values(
    store: Store, tmp_path: Path, gzipped: bool
) -> None:
    rows = [
        focus_row(ResourceId=f"i-{i}", BilledCost=written, ListCost=written)
        for i, (written, _) in enumerate(CSV_AMOUNTS)
    ]
    text = _csv_text(rows)
    path = tmp_path / ("bill.csv.gz" if gzipped else "bill.csv")
    path.write_bytes(_gz_bytes(text) if gzipped else text.encode())
    ingest_billing(store, [str(path)])
    with store.reader() as con:
        got = con.execute(
            'SELECT "ResourceId", "BilledCost", "ListCost" FROM cost ORDER BY "ResourceId"'
        ).fetchall()
    assert got == [(f"i-{i}", want, want) for i, (_, want) in enumerate(CSV_AMOUNTS)]
    # what the cast refuses, the reader refuses too: the row is named all the same
    bad = [focus_row(ResourceId="i-0"), focus_row(ResourceId="i-1", ListCost="NaN")]
    path.write_bytes(_gz_bytes(_csv_text(bad)) if gzipped else _csv_text(bad).encode())
    with pytest.raises(InputError, match="row 2, column ListCost: expected a number, found 'NaN'"):
        ingest_billing(store, [str(path)])
