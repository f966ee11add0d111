"""Property tests of the billing loaders (issue 23), with Hypothesis.

Generated files of every format (FOCUS CSV and Parquet, AWS CUR, Azure cost details, GCP
BigQuery export), built from a real line of each and given hostile values (NaN and
infinities, huge and tiny numbers, impossible dates, control characters, broken JSON,
spreadsheet formulas, stray spaces…), must either be refused with the file, the row or
line, and the column named and the store left as it was, or load exactly: every row, the
sum of each cost column to the last decimal, and text as written.

The run is bounded (profile ``ci``, in ``make test``); ``make fuzz`` runs the ``fuzz``
profile (``MLCOST_HYPOTHESIS_PROFILE=fuzz``). The terminal summary says how many files
were tried, loaded and refused.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from itertools import count
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlcost.errors import InputError
from mlcost.ingest import ingest_billing
from mlcost.store import Store
from tests.conftest import FIXTURES, focus_row

settings.register_profile(
    "ci",
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile(
    "fuzz",
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("MLCOST_HYPOTHESIS_PROFILE", "ci"))

#: Files tried, by outcome (read by tests/conftest.py's terminal summary).
TRIED: dict[str, int] = {"loaded": 0, "refused": 0}

# -- values ------------------------------------------------------------------------------

#: Amounts a file may hold that are numbers: exact within the store's 12 places.
good_money = st.decimals(
    min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=6, allow_nan=False
).map(lambda d: format(d, "f"))

#: Text that is no finite number, or not one the store can hold.
bad_money = st.sampled_from(
    [
        "NaN",
        "nan",
        "inf",
        "-Infinity",
        "1e400",
        "1,5",
        "12 50",
        "0x10",
        "١٢",
        "1.2.3",
        "$3.00",
        "true",
        "1e30",
        "- 1",
        "--1",
        "\x00",
        "1\x1b",
    ]
)

#: Text a file may hold; control characters among them are refused.
any_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30
) | st.sampled_from(
    [
        '=HYPERLINK("http://evil")',
        "+1",
        "@SUM(A1)",
        "[x](http://evil)",
        "<img src=x>",
        '"quoted", comma',
        "line\nbreak",
        "tab\there",
        "NUL\x00",
        "esc\x1b[2J",
        "csi\x9b",
        " spaced ",
        "NULL",
        "null",
        "é",
    ]
)

bad_time = st.sampled_from(
    [
        "9999-12-31",
        "0001-01-01",
        "1900-01-01T00:00:00Z",
        "2026-13-01",
        "2026-01-32",
        "13/1/26",
        "yesterday",
        "2026-01-05T25:00:00Z",
        "20260105",
        "2100-01-01",
    ]
)

bad_json = st.sampled_from(
    ["0", "[1,2]", '"text"', '{"a":', '{"a": 1, "a": 2}', '{"k": "\\u0000"}', "{}", "null"]
)


def money(good_share: float = 0.8) -> st.SearchStrategy[str]:
    return st.one_of(good_money, bad_money) if good_share < 1 else good_money


# -- the check ---------------------------------------------------------------------------


@dataclass
class Generated:
    """A generated file and what loading it must give, if it loads."""

    path: Path
    rows: int
    #: column → Σ expected, over every row.
    sums: dict[str, Decimal]
    #: (column, row index in file order, value as written) for text kept exactly.
    texts: list[tuple[str, int, str]]


_sources = count()


def check(store: Store, make: Callable[[Path], Generated], tmp: Path, fmt: str) -> None:
    """Load a generated file: refused by name with nothing changed, or loaded exactly."""
    source = f"prop-{next(_sources)}"
    folder = tmp / source
    folder.mkdir()
    generated = make(folder)
    before = _state(store)
    try:
        ingest_billing(store, [str(generated.path)], fmt=fmt, source=source)
    except InputError as exc:
        TRIED["refused"] += 1
        message = str(exc)
        assert str(generated.path) in message, message
        assert any(w in message for w in ("row ", "line ", "column ", "rows")), message
        assert "Traceback" not in message
        assert _state(store) == before, message
        return
    TRIED["loaded"] += 1
    with store.reader() as con:
        sums = "".join(f', coalesce(sum("{c}"), 0)' for c in generated.sums)
        got = con.execute(
            f"SELECT count(*){sums} FROM cost WHERE x_source = ?",  # noqa: S608
            [source],
        ).fetchone()
        assert got is not None
        assert got[0] == generated.rows
        assert dict(zip(generated.sums, got[1:], strict=True)) == generated.sums
        for column, index, value in generated.texts:
            stored = con.execute(
                f'SELECT "{column}" FROM cost WHERE x_source = ? AND "ResourceId" = ?',  # noqa: S608
                [source, f"r{index}"],
            ).fetchone()
            expected = None if value.strip() in ("", "NULL", "null", "Null") else value
            assert stored == (expected,), (column, value)


def _state(store: Store) -> tuple[Any, ...]:
    with store.reader() as con:
        row = con.execute(
            "SELECT count(*), sum(BilledCost), sum(EffectiveCost), max(x_ingested_at), "
            "(SELECT count(*) FROM loads) FROM cost"
        ).fetchone()
    assert row is not None
    return tuple(row)


def _number(text: str) -> Decimal:
    return Decimal(text.strip())


def _csv(path: Path, header: list[str], rows: list[dict[str, str]]) -> Path:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def prop_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = Store(tmp_path_factory.mktemp("props") / "mlcost.duckdb", lock_timeout_s=5)
    store.init()
    return store


# -- FOCUS CSV ---------------------------------------------------------------------------

focus_cell = st.one_of(
    st.tuples(st.just("BilledCost"), money(0.5)),
    st.tuples(st.just("EffectiveCost"), money(0.5)),
    st.tuples(st.just("ChargePeriodStart"), bad_time),
    st.tuples(st.just("Tags"), bad_json),
    st.tuples(st.just("ServiceName"), any_text),
    st.tuples(st.just("SubAccountId"), any_text),
)


@given(
    st.lists(
        st.tuples(good_money, good_money, st.lists(focus_cell, max_size=2)),
        min_size=1,
        max_size=6,
    )
)
def test_focus_csv(prop_store: Store, tmp_path_factory: pytest.TempPathFactory, rows: Any) -> None:
    def make(folder: Path) -> Generated:
        written = []
        texts = []
        for i, (billed, effective, cells) in enumerate(rows):
            row = focus_row(ResourceId=f"r{i}", BilledCost=billed, EffectiveCost=effective)
            row.update(dict(cells))
            written.append(row)
            texts += [
                (c, i, row[c]) for c in {c for c, _ in cells} & {"ServiceName", "SubAccountId"}
            ]
        sums = {
            c: sum((_number(r[c]) for r in written), Decimal(0))
            for c in ("BilledCost", "EffectiveCost")
            if all(_is_number(r[c]) for r in written)
        }
        path = _csv(folder / "focus.csv", list(focus_row()), written)
        return Generated(path, len(written), sums, texts)

    check(prop_store, make, tmp_path_factory.mktemp("f"), "focus")


def _is_number(text: str) -> bool:
    try:
        Decimal(text.strip())
    except ArithmeticError:
        return False
    return True


# -- FOCUS Parquet, typed ------------------------------------------------------------------

float_money = st.one_of(
    st.integers(-(10**9), 10**9).map(lambda i: i / 4),
    st.sampled_from([float("nan"), float("inf"), float("-inf")]),
)


@given(
    st.lists(
        st.tuples(float_money, float_money, any_text, st.none() | bad_json),
        min_size=1,
        max_size=6,
    ),
    st.sampled_from(["float64", "float32", "decimal", "text"]),
)
def test_focus_parquet(
    prop_store: Store, tmp_path_factory: pytest.TempPathFactory, rows: Any, kind: str
) -> None:
    def make(folder: Path) -> Generated:
        n = len(rows)
        table = pa.Table.from_pylist(
            [focus_row(ResourceId=f"r{i}", ResourceName=r[2]) for i, r in enumerate(rows)]
        )
        for index, column in ((0, "BilledCost"), (1, "EffectiveCost")):
            values = [r[index] for r in rows]
            if kind == "decimal":
                array = pa.array(
                    [Decimal(v) if v == v and abs(v) != float("inf") else None for v in values],
                    pa.decimal128(20, 2),
                )
            elif kind == "text":
                array = pa.array([str(v) for v in values])
            else:
                array = pa.array(values, pa.float64() if kind == "float64" else pa.float32())
            table = table.set_column(table.schema.get_field_index(column), column, array)
        tags = [r[3] if r[3] is not None else '{"team": "x"}' for r in rows]
        table = table.set_column(table.schema.get_field_index("Tags"), "Tags", pa.array(tags))
        path = folder / "focus.parquet"
        pq.write_table(table, path)
        sums: dict[str, Decimal] = {}
        for index, column in ((0, "BilledCost"), (1, "EffectiveCost")):
            values = [r[index] for r in rows]
            finite = all(v == v and abs(v) != float("inf") for v in values)
            # Multiples of 1/4 are exact in binary, in float32 too within 2^24.
            if finite and (kind != "float32" or all(abs(v) < 2**22 for v in values)):
                sums[column] = sum((Decimal(v) for v in values), Decimal(0))
        texts = [("ResourceName", i, r[2]) for i, r in enumerate(rows)]
        return Generated(path, n, sums, texts)

    check(prop_store, make, tmp_path_factory.mktemp("p"), "focus")


# -- AWS CUR (legacy CSV) ------------------------------------------------------------------

_CUR_LINES = list(csv.DictReader((FIXTURES / "providers" / "aws_legacy_cur.csv").open()))
_CUR_USAGE = next(r for r in _CUR_LINES if r["lineItem/LineItemType"] == "Usage")

cur_cell = st.one_of(
    st.tuples(st.just("lineItem/UnblendedCost"), money(0.5)),
    st.tuples(st.just("lineItem/UsageStartDate"), bad_time),
    st.tuples(st.just("lineItem/ProductCode"), any_text),
    st.tuples(st.just("resourceTags/user:team"), any_text),
    st.tuples(st.just("lineItem/UsageAmount"), money(0.5)),
)


def _provider_csv(
    template: dict[str, str], cost_column: str, id_column: str, name: str, rows: Any
) -> Callable[[Path], Generated]:
    """A provider CSV of one usage line per generated row (its cost and hostile cells set),
    and the BilledCost it must sum to when every cost is a number."""

    def make(folder: Path) -> Generated:
        written = []
        for i, (cost, cells) in enumerate(rows):
            row = dict(template)
            row.update({cost_column: cost, id_column: f"r{i}"})
            row.update(dict(cells))
            written.append(row)
        costs = [r[cost_column] for r in written]
        sums = (
            {"BilledCost": sum((_number(c) for c in costs), Decimal(0))}
            if all(_is_number(c) for c in costs)
            else {}
        )
        path = _csv(folder / f"{name}.csv", list(template), written)
        return Generated(path, len(written), sums, [])

    return make


@given(st.lists(st.tuples(good_money, st.lists(cur_cell, max_size=2)), min_size=1, max_size=6))
def test_aws_cur(prop_store: Store, tmp_path_factory: pytest.TempPathFactory, rows: Any) -> None:
    make = _provider_csv(_CUR_USAGE, "lineItem/UnblendedCost", "lineItem/ResourceId", "cur", rows)
    check(prop_store, make, tmp_path_factory.mktemp("c"), "aws-cur")


# -- Azure cost details (EA) ---------------------------------------------------------------

_AZURE_LINES = list(csv.DictReader((FIXTURES / "providers" / "azure_ea.csv").open()))
_AZURE_USAGE = next(r for r in _AZURE_LINES if r["ChargeType"] == "Usage")

azure_cell = st.one_of(
    st.tuples(st.just("CostInBillingCurrency"), money(0.5)),
    st.tuples(st.just("Date"), bad_time),
    st.tuples(st.just("Tags"), bad_json | any_text),
    st.tuples(st.just("MeterCategory"), any_text),
    st.tuples(st.just("Quantity"), money(0.5)),
)


@given(st.lists(st.tuples(good_money, st.lists(azure_cell, max_size=2)), min_size=1, max_size=6))
def test_azure(prop_store: Store, tmp_path_factory: pytest.TempPathFactory, rows: Any) -> None:
    make = _provider_csv(_AZURE_USAGE, "CostInBillingCurrency", "ResourceId", "azure", rows)
    check(prop_store, make, tmp_path_factory.mktemp("a"), "azure")


# -- GCP BigQuery export (JSON lines) ------------------------------------------------------

_GCP_LINE = json.loads(
    (FIXTURES / "providers" / "gcp_billing_export.jsonl").read_text().splitlines()[0]
)

gcp_json_money = st.one_of(
    st.integers(-(10**9), 10**9).map(lambda i: i / 8), st.sampled_from(["1,5", "NaN", None, True])
)
gcp_cell = st.one_of(
    st.tuples(st.just("cost"), gcp_json_money),
    st.tuples(st.just("usage_start_time"), bad_time),
    st.tuples(st.just("service"), any_text.map(lambda t: {"id": "x", "description": t})),
    st.tuples(st.just("labels"), st.just([{"key": "team", "value": "a\x00b"}]) | st.just(0)),
    st.tuples(st.just("credits"), st.just([{"amount": "x"}]) | st.just("[")),
)


@given(st.lists(st.tuples(gcp_json_money, st.lists(gcp_cell, max_size=2)), min_size=1, max_size=6))
def test_gcp(prop_store: Store, tmp_path_factory: pytest.TempPathFactory, rows: Any) -> None:
    def make(folder: Path) -> Generated:
        written = []
        for i, (cost, cells) in enumerate(rows):
            record = json.loads(json.dumps(_GCP_LINE))
            record["cost"] = cost
            record["resource"]["name"] = f"r{i}"
            record.update(dict(cells))
            written.append(record)
        sums: dict[str, Decimal] = {}
        if all(isinstance(r["cost"], float) for r in written) and all(
            r.get("credits") == _GCP_LINE["credits"] for r in written
        ):
            credit = sum(Decimal(str(c["amount"])) for c in _GCP_LINE["credits"])
            sums["BilledCost"] = sum((Decimal(r["cost"]) + credit for r in written), Decimal(0))
        path = folder / "gcp.jsonl"
        path.write_text("\n".join(json.dumps(r) for r in written) + "\n", encoding="utf-8")
        return Generated(path, len(written), sums, [])

    check(prop_store, make, tmp_path_factory.mktemp("g"), "gcp")
