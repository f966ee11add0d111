"""The loader's edge (issue 23): what a file may hold, the same for CSV, Parquet and every
provider format. Each refusal names the file, the row, the column and the value, and
leaves the store exactly as it was; nothing is ever stored silently wrong."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlcost.errors import InputError
from mlcost.ingest import ingest_billing
from mlcost.store import Store
from tests.conftest import FIXTURES, Cli, focus_row, write_csv


def contents(store: Store) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """Everything a user could see: every cost row, and every recorded load."""
    with store.reader() as con:
        rows = con.execute("SELECT * FROM cost ORDER BY ALL").fetchall()
        loads = con.execute("SELECT * FROM loads ORDER BY ALL").fetchall()
    return rows, loads


@pytest.fixture
def loaded(store: Store, tmp_path: Path) -> Store:
    """A store that already holds one good export (so "unchanged" means something)."""
    ingest_billing(store, [str(write_csv(tmp_path / "before" / "good.csv", [focus_row()]))])
    return store


def refused(store: Store, paths: list[Path], *fragments: str, **options: object) -> str:
    """Load ``paths``; it must fail naming every fragment, and change nothing."""
    before = contents(store)
    with pytest.raises(InputError) as caught:
        ingest_billing(store, [str(p) for p in paths], **options)  # type: ignore[arg-type]
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, message
    assert contents(store) == before
    return message


def focus_table(n: int, **columns: pa.Array) -> pa.Table:
    """``n`` FOCUS rows as text, with ``columns`` replaced by typed arrays."""
    table = pa.Table.from_pylist([focus_row(ResourceId=f"i-{i}") for i in range(n)])
    for name, values in columns.items():
        index = table.schema.get_field_index(name)
        if index < 0:
            table = table.append_column(name, values)
        else:
            table = table.set_column(index, name, values)
    return table


# -- money: a finite number of a numeric or text type ------------------------------------


@pytest.mark.parametrize(
    ("column", "bad", "arrow_type", "shown"),
    [
        ("BilledCost", float("nan"), pa.float64(), "'nan'"),
        ("BilledCost", float("nan"), pa.float32(), "'nan'"),
        ("EffectiveCost", float("nan"), pa.float64(), "'nan'"),
        ("BilledCost", float("inf"), pa.float64(), "'inf'"),
        ("EffectiveCost", float("-inf"), pa.float32(), "'-inf'"),
        ("ListCost", float("nan"), pa.float64(), "'nan'"),  # optional money too
    ],
)
def test_a_float_nan_or_infinity_is_refused_never_stored_as_null(
    loaded: Store, tmp_path: Path, column: str, bad: float, arrow_type: pa.DataType, shown: str
) -> None:
    # A thousand rows of 0.687 with one bad value: on today's main the file loads with
    # exit 0 and Σ BilledCost 686.313 (the NaN row's cost NULL), not 687.
    values = [0.687] * 1000
    values[500] = bad
    path = tmp_path / "float.parquet"
    pq.write_table(focus_table(1000, **{column: pa.array(values, arrow_type)}), path)

    refused(loaded, [path], str(path), "row 501", f"column {column}", "finite number", shown)


def test_a_cur_2_parquet_nan_cost_is_refused_naming_the_cur_column(
    store: Store, tmp_path: Path
) -> None:
    # A thousand usage lines (the fixture's first) with one NaN cost: on today's main
    # the file loads with 999 costs and one NULL.
    usage = pq.read_table(FIXTURES / "providers" / "aws_cur2.parquet").slice(0, 1)
    table = pa.concat_tables([usage] * 1000)
    costs = table.column("line_item_unblended_cost").to_pylist()
    costs[700] = float("nan")
    index = table.schema.get_field_index("line_item_unblended_cost")
    table = table.set_column(index, "line_item_unblended_cost", pa.array(costs, pa.float64()))
    path = tmp_path / "cur2.parquet"
    pq.write_table(table, path)

    refused(store, [path], str(path), "row 701, column line_item_unblended_cost", "'nan'")


def test_a_boolean_cost_column_is_refused_not_counted_as_one(loaded: Store, tmp_path: Path) -> None:
    path = tmp_path / "bool.parquet"
    flags = pa.array([False, True, True], pa.bool_())
    pq.write_table(focus_table(3, BilledCost=flags), path)

    refused(loaded, [path], str(path), "row 1, column BilledCost", "BOOLEAN", "'false'")


def test_text_nan_and_infinity_in_a_csv_are_refused(loaded: Store, tmp_path: Path) -> None:
    for value in ("NaN", "inf", "-Infinity"):
        path = write_csv(tmp_path / f"{value}.csv", [focus_row(), focus_row(EffectiveCost=value)])
        refused(loaded, [path], "row 2, column EffectiveCost: expected a number", repr(value))


def test_integer_and_decimal_costs_load_exactly(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "typed.parquet"
    table = focus_table(
        3,
        BilledCost=pa.array([1, 2, 40], pa.int64()),
        EffectiveCost=pa.array([Decimal("0.000000000001"), Decimal("2"), Decimal("3.5")]),
    )
    pq.write_table(table, path)

    ingest_billing(store, [str(path)])

    with store.reader() as con:
        got = con.execute("SELECT sum(BilledCost), sum(EffectiveCost) FROM cost").fetchone()
    assert got == (Decimal("43"), Decimal("5.500000000001"))


# -- tags: a JSON object, whatever the file type ----------------------------------------


@pytest.mark.parametrize(
    ("tags", "shown"),
    [
        (pa.array([None, None, 0], pa.int64()), "'0'"),
        (pa.array([None, None, [1, 2]], pa.list_(pa.int64())), "'[1, 2]'"),
        (pa.array(['{"team": "a"}', "{}", "[1,2]"]), "'[1,2]'"),
        (pa.array(['{"team": "a"}', "{}", "0"]), "'0'"),
    ],
    ids=["parquet-int", "parquet-list", "parquet-text-list", "parquet-text-number"],
)
def test_parquet_tags_that_are_not_an_object_are_refused(
    loaded: Store, tmp_path: Path, tags: pa.Array, shown: str
) -> None:
    path = tmp_path / "tags.parquet"
    pq.write_table(focus_table(3, Tags=tags), path)

    refused(loaded, [path], str(path), "row 3, column Tags: expected a JSON object", shown)


def test_csv_tags_that_are_not_an_object_are_refused(loaded: Store, tmp_path: Path) -> None:
    for value in ("0", "[1,2]", '"text"'):
        path = write_csv(tmp_path / "tags.csv", [focus_row(), focus_row(Tags=value)])
        refused(loaded, [path], "row 2, column Tags: expected a JSON object")


# -- control characters: refused in values, tags and headers -----------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("i-0\x00abc", "'i-0\\x00abc'"),
        ("\x1b[31mred\x1b[0m", "'\\x1b[31mred\\x1b[0m'"),
        ("bell\x07", "'bell\\x07'"),
        ("csi\x9b2J", "'csi\\x9b2J'"),
    ],
)
def test_a_control_character_in_a_csv_value_is_refused(
    loaded: Store, tmp_path: Path, value: str, shown: str
) -> None:
    path = write_csv(tmp_path / "ctl.csv", [focus_row(), focus_row(ResourceId=value)])

    refused(loaded, [path], "row 2, column ResourceId: expected text without control", shown)


def test_tabs_and_line_breaks_are_text_not_control_characters(store: Store, tmp_path: Path) -> None:
    text = "GPU hours\tp4d\r\nsecond line"
    path = write_csv(tmp_path / "ok.csv", [focus_row(ChargeDescription=text)])

    ingest_billing(store, [str(path)])

    with store.reader() as con:
        assert con.execute("SELECT ChargeDescription FROM cost").fetchone() == (text,)


def test_a_nul_in_a_parquet_value_or_an_extra_column_is_refused(
    loaded: Store, tmp_path: Path
) -> None:
    path = tmp_path / "nul.parquet"
    names = pa.array(["ok", "ok", "bad\x00name"])
    pq.write_table(focus_table(3, x_Project=names), path)

    refused(loaded, [path], "row 3, column x_Project", "'bad\\x00name'")


@pytest.mark.parametrize(
    ("escape", "character"),
    # NUL, then DEL and two C1 characters (NEL, CSI): the conversion of a tag object
    # keeps the first escaped and writes the others as they are, and both are refused.
    [("\\u0000", "\x1b"), ("\\u007F", "\x7f"), ("\\u0085", "\x85"), ("\\u009b", "\x9b")],
)
def test_a_control_character_escaped_inside_tags_is_refused(
    loaded: Store, tmp_path: Path, escape: str, character: str
) -> None:
    csv_path = write_csv(tmp_path / "t.csv", [focus_row(Tags='{"team": "a' + escape + 'b"}')])
    refused(loaded, [csv_path], "row 1, column Tags", "without control characters")

    parquet = tmp_path / "t.parquet"
    tags = pa.array(
        [[("team", "vision")], [("team", f"x{character}y")]], pa.map_(pa.string(), pa.string())
    )
    pq.write_table(focus_table(2, Tags=tags), parquet)
    refused(loaded, [parquet], "row 2, column Tags", "without control characters")

    # Tags as text in Parquet are converted, and searched, once per distinct value and
    # joined back: the row is named all the same, dictionary-coded or not.
    text = pa.array(['{"team": "vision"}', '{"team": "a' + escape + 'b"}', '{"team": "vision"}'])
    for coded in (True, False):
        pq.write_table(focus_table(3, Tags=text), parquet, use_dictionary=coded)
        refused(loaded, [parquet], "row 2, column Tags", "without control characters")


def test_a_nul_in_a_header_is_refused_not_renamed(loaded: Store, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "h.csv", [{**focus_row(), "x_Te\x00am": "a"}])
    refused(loaded, [path], str(path), "column 17 of the header", "'x_Te\\x00am'")

    parquet = tmp_path / "h.parquet"
    pq.write_table(focus_table(1, **{"Cost\x1bCenter": pa.array(["a"])}), parquet)
    refused(loaded, [parquet], "'Cost\\x1bCenter'", "control character")


def test_a_cur_column_with_a_control_character_is_named_as_the_cur_names_it(
    store: Store, tmp_path: Path
) -> None:
    fixture = pq.read_table(FIXTURES / "providers" / "aws_cur2.parquet")
    ids = fixture.column("line_item_resource_id").to_pylist()
    ids[2] = "i-0\x00evil"
    index = fixture.schema.get_field_index("line_item_resource_id")
    path = tmp_path / "cur2.parquet"
    pq.write_table(fixture.set_column(index, "line_item_resource_id", pa.array(ids)), path)

    refused(store, [path], "row 3, column line_item_resource_id", "'i-0\\x00evil'")


# -- dates: inside the window, periods the right way round, a charge in its period ---------


@pytest.mark.parametrize("written", ["9999-12-31T00:00:00Z", "1900-01-01", "0001-01-01T00:00:00Z"])
def test_a_placeholder_or_ancient_date_is_refused(
    loaded: Store, tmp_path: Path, written: str
) -> None:
    path = write_csv(tmp_path / "d.csv", [focus_row(), focus_row(ChargePeriodStart=written)])
    refused(loaded, [path], "row 2, column ChargePeriodStart: expected a timestamp", repr(written))


def test_typed_parquet_dates_of_1900_and_0001_are_refused(loaded: Store, tmp_path: Path) -> None:
    for year in (1900, 1):
        starts = pa.array([datetime(2026, 1, 5), datetime(year, 1, 5)], pa.timestamp("us"))
        path = tmp_path / f"y{year}.parquet"
        pq.write_table(focus_table(2, ChargePeriodStart=starts), path)
        refused(loaded, [path], "row 2, column ChargePeriodStart: expected a timestamp")


def test_a_charge_ending_before_it_starts_is_refused(loaded: Store, tmp_path: Path) -> None:
    rows = [focus_row(), focus_row(ChargePeriodStart="2026-01-05T10:00:00Z")]
    rows[1]["ChargePeriodEnd"] = "2026-01-05T09:00:00Z"
    path = write_csv(tmp_path / "d.csv", rows)

    refused(
        loaded,
        [path],
        "row 2, column ChargePeriodEnd: expected a time at or after ChargePeriodStart",
        "'2026-01-05T09:00:00Z'",
    )


def test_a_billing_period_ending_before_it_starts_is_refused(loaded: Store, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", [focus_row(BillingPeriodEnd="2025-12-01T00:00:00Z")])
    refused(loaded, [path], "row 1, column BillingPeriodEnd: expected a time at or after")


def test_a_charge_far_outside_its_billing_period_is_refused(loaded: Store, tmp_path: Path) -> None:
    # An August 2026 billing period holding a charge of 2001 (inside the years window).
    august = {
        "BillingPeriodStart": "2026-08-01T00:00:00Z",
        "BillingPeriodEnd": "2026-09-01T00:00:00Z",
        "ChargePeriodStart": "2026-08-03T00:00:00Z",
        "ChargePeriodEnd": "2026-08-04T00:00:00Z",
    }
    stray = {**august, "ChargePeriodStart": "2001-01-01", "ChargePeriodEnd": "2001-01-02"}
    path = write_csv(tmp_path / "d.csv", [focus_row(**august), focus_row(**stray)])
    refused(loaded, [path], "row 2, column ChargePeriodEnd: expected a charge ending after")

    late = {**august, "ChargePeriodStart": "2026-11-01", "ChargePeriodEnd": "2026-11-02"}
    path = write_csv(tmp_path / "late.csv", [focus_row(**august), focus_row(**late)])
    refused(loaded, [path], "row 2, column ChargePeriodStart: expected a charge starting before")


def test_late_usage_a_long_charge_and_a_correction_are_accepted(
    store: Store, tmp_path: Path
) -> None:
    february = {"BillingPeriodStart": "2026-02-01", "BillingPeriodEnd": "2026-03-01"}
    rows = [
        # January's last hours, billed in February (GCP's invoice month does this).
        focus_row(ChargePeriodStart="2026-01-31T22:00:00Z", ChargePeriodEnd="2026-01-31T23:00:00Z"),
        # A three-year commitment bought in February.
        focus_row(
            ChargeCategory="Purchase",
            ChargePeriodStart="2026-02-10",
            ChargePeriodEnd="2029-02-10",
        ),
        # A correction of a charge from last year.
        focus_row(
            ChargeClass="Correction",
            ChargePeriodStart="2025-06-01",
            ChargePeriodEnd="2025-06-02",
            BilledCost="-3",
        ),
    ]
    for row in rows:
        row.update(february)
    columns = [*rows[0], "ChargeClass"]
    ingest_billing(store, [str(write_csv(tmp_path / "ok.csv", rows, columns))])

    with store.reader() as con:
        assert con.execute("SELECT count(*), sum(BilledCost) FROM cost").fetchone() == (
            3,
            Decimal("-1"),
        )


def test_the_window_and_the_tolerance_are_settings(loaded: Store, tmp_path: Path) -> None:
    from mlcost.config import BillingSettings

    old = focus_row(
        BillingPeriodStart="1995-03-01",
        BillingPeriodEnd="1995-04-01",
        ChargePeriodStart="1995-03-02",
        ChargePeriodEnd="1995-03-03",
    )
    path = write_csv(tmp_path / "old.csv", [old])
    refused(loaded, [path], "expected a timestamp (ISO 8601, or M/D/YYYY) from 2000-01-01")
    ingest_billing(loaded, [str(path)], settings=BillingSettings(earliest_year=1990))

    early = focus_row(ChargePeriodStart="2025-12-29", ChargePeriodEnd="2025-12-30")
    path = write_csv(tmp_path / "early.csv", [early])
    ingest_billing(loaded, [str(path)])  # 3 days before January: within 31 days
    tight = BillingSettings(period_tolerance_days=1)
    refused(loaded, [path], "give or take 1 days", settings=tight)


def test_billing_settings_are_read_and_checked_from_mlcost_toml(
    tmp_path: Path, cli: Cli, db: str
) -> None:
    config = tmp_path / "mlcost.toml"
    row = focus_row(
        BillingPeriodStart="1999-01-01",
        BillingPeriodEnd="1999-02-01",
        ChargePeriodStart="1999-01-02",
        ChargePeriodEnd="1999-01-03",
    )
    path = write_csv(tmp_path / "y1999.csv", [row])

    done = cli("--db", db, "ingest", "billing", str(path))
    assert done.returncode == 1
    assert "expected a timestamp" in done.stderr

    config.write_text("[billing]\nearliest_year = 1995\n")
    done = cli("--db", db, "--config", str(config), "ingest", "billing", str(path))
    assert done.returncode == 0, done.stderr

    config.write_text("[billing]\nearliest_year = 1066\n")
    done = cli("--db", db, "--config", str(config), "ingest", "billing", str(path))
    assert done.returncode == 1
    assert "billing.earliest_year must be a year from 1970" in done.stderr


# -- empty exports ---------------------------------------------------------------------------


EMPTY: dict[str, Callable[[Path], Path]] = {
    "header.csv": lambda p: write_csv(p, [], list(focus_row())),
    "header.csv.gz": lambda p: write_csv(p, [], list(focus_row())),
    "none.parquet": lambda p: _write_parquet(p, focus_table(1).slice(0, 0)),
}


def _write_parquet(path: Path, table: pa.Table) -> Path:
    pq.write_table(table, path)
    return path


@pytest.mark.parametrize("name", sorted(EMPTY))
def test_an_empty_export_is_refused_unless_allowed(
    loaded: Store, tmp_path: Path, name: str
) -> None:
    path = EMPTY[name](tmp_path / name)

    refused(loaded, [path], str(path), "holds no billing rows", "--allow-empty")

    done = ingest_billing(loaded, [str(path)], allow_empty=True)
    assert done.files[0].rows == 0
    with loaded.reader() as con:  # loaded, and nothing replaced
        assert con.execute("SELECT count(*) FROM cost").fetchone() == (1,)


def test_a_provider_file_whose_rows_are_all_set_aside_is_not_empty(
    store: Store, tmp_path: Path
) -> None:
    # Loaded with its amortized twin, an Azure actual-cost file gives only its purchases:
    # a month without purchases gives no row, yet the file was not empty.
    providers = FIXTURES / "providers"
    lines = (providers / "azure_mca_actual.csv").read_text("utf-8-sig").splitlines()
    actual = tmp_path / "actual.csv"
    actual.write_text("\n".join(line for line in lines if ",Purchase," not in line) + "\n")
    amortized = tmp_path / "amortized.csv"
    amortized.write_bytes((providers / "azure_mca_amortized.csv").read_bytes())

    done = ingest_billing(store, [str(actual), str(amortized)])

    assert done.files[0].rows == 0
    assert done.files[1].rows > 0
    header = tmp_path / "empty" / "actual.csv"
    header.parent.mkdir()
    header.write_text(lines[0] + "\n")
    with pytest.raises(InputError, match="holds no billing rows"):
        ingest_billing(store, [str(header), str(amortized)])


def test_the_cli_refuses_a_header_only_csv_and_loads_it_with_allow_empty(
    tmp_path: Path, cli: Cli, db: str
) -> None:
    path = write_csv(tmp_path / "header.csv", [], list(focus_row()))

    done = cli("--db", db, "ingest", "billing", str(path))
    assert done.returncode == 1
    assert "holds no billing rows" in done.stderr
    assert "Traceback" not in done.stderr

    done = cli("--db", db, "ingest", "billing", "--allow-empty", str(path))
    assert done.returncode == 0, done.stderr
    assert "0 rows" in done.stdout


# -- the same file twice ---------------------------------------------------------------------


def test_two_copies_of_one_file_in_a_load_are_refused(loaded: Store, tmp_path: Path) -> None:
    folder = tmp_path / "export"
    original = write_csv(folder / "bill.csv", [focus_row(BilledCost="343.50")])
    copy = folder / "old" / "bill (copy).csv"
    copy.parent.mkdir()
    copy.write_bytes(original.read_bytes())

    refused(loaded, [folder], "bill.csv", "bill (copy).csv", "same content", "twice")


def test_two_header_only_files_are_alike_without_being_copies(store: Store, tmp_path: Path) -> None:
    a = write_csv(tmp_path / "d1.csv", [], list(focus_row()))
    b = write_csv(tmp_path / "d2.csv", [], list(focus_row()))

    done = ingest_billing(store, [str(a), str(b)], allow_empty=True)

    assert [f.rows for f in done.files] == [0, 0]


def test_a_file_loaded_before_under_another_name_is_reported(store: Store, tmp_path: Path) -> None:
    first = write_csv(tmp_path / "jan.csv", [focus_row(BilledCost="5")])
    ingest_billing(store, [str(first)])
    renamed = tmp_path / "downloads" / "jan-final.csv"
    renamed.parent.mkdir()
    renamed.write_bytes(first.read_bytes())

    again = ingest_billing(store, [str(first)])
    assert again.files[0].loaded_before is None  # the same file again: a plain re-load

    done = ingest_billing(store, [str(renamed)])

    assert done.files[0].loaded_before is not None
    assert done.files[0].loaded_before[0] == str(first.resolve())
    with store.reader() as con:
        detail = con.execute(
            "SELECT detail FROM loads WHERE \"table\" = 'cost' ORDER BY loaded_at DESC LIMIT 1"
        ).fetchone()
    assert detail is not None
    files = json.loads(detail[0])["files"]
    assert files == [{"name": str(renamed.resolve()), "sha256": done.files[0].sha256, "rows": 1}]


def test_the_cli_names_the_earlier_file(tmp_path: Path, cli: Cli, db: str) -> None:
    first = write_csv(tmp_path / "a" / "jan.csv", [focus_row()])
    second = tmp_path / "b" / "jan.csv"
    second.parent.mkdir()
    second.write_bytes(first.read_bytes())
    assert cli("--db", db, "ingest", "billing", str(first)).returncode == 0

    done = cli("--db", db, "ingest", "billing", str(second))

    assert done.returncode == 0, done.stderr
    assert f"the same content as {first.resolve()}, loaded" in done.stdout


def test_an_azure_file_duckdb_cannot_parse_is_refused_by_name(store: Store, tmp_path: Path) -> None:
    # Found by tests/test_properties.py: a tag value of a lone carriage return, left
    # unquoted (Python's csv module does so), made the Azure dataset check end in DuckDB's
    # own traceback, and DuckDB's message names no line.
    source = FIXTURES / "providers" / "azure_ea.csv"
    rows = list(csv.DictReader(source.open(encoding="utf-8-sig")))
    rows[0]["Tags"] = "0\r"
    path = write_csv(tmp_path / "azure.csv", rows[:1])

    with pytest.raises(InputError) as caught:
        ingest_billing(store, [str(path)], fmt="azure")

    assert str(path) in str(caught.value)
    assert "line 2 holds a carriage return that does not end it" in str(caught.value)
