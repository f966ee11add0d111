"""Output formats: exact money, neutralised CSV, plain-text terminal tables."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlcost.errors import InputError
from mlcost.output import TABLE_ROW_LIMIT, table_to_text, write_table

MONEY = pa.decimal128(38, 12)


def findings() -> pa.Table:
    return pa.table(
        {
            "resource_name": ['=HYPERLINK("http://x")', "+1-555", "@SUM(A1)", "-rm", "plain", None],
            "cost": pa.array(
                [
                    Decimal("0.000000150000"),
                    Decimal("1234.5"),
                    Decimal("-2"),
                    Decimal("0"),
                    Decimal("99999999999.999999999999"),
                    None,
                ],
                MONEY,
            ),
            "delta": pa.array([-1, 2, 3, 4, 5, 6], pa.int64()),
            "seen": [datetime(2026, 1, 2, 3, 4, 5)] * 6,
        }
    )


def test_csv_neutralises_formulas_in_text_but_not_negative_numbers() -> None:
    lines = table_to_text(findings(), "csv").splitlines()
    assert lines[0] == "resource_name,cost,delta,seen"
    assert lines[1] == '"\'=HYPERLINK(""http://x"")",0.000000150000,-1,2026-01-02 03:04:05'
    assert lines[2].startswith("'+1-555,1234.500000000000,2,")
    assert lines[3].startswith("'@SUM(A1),-2.000000000000,3,")
    assert lines[4].startswith("'-rm,")
    assert lines[5].startswith("plain,99999999999.999999999999,")
    assert lines[6] == ",,6,2026-01-02 03:04:05"


def test_json_numbers_are_exact_decimals() -> None:
    text = table_to_text(findings(), "json")
    assert '"cost": 0.000000150000' in text
    rows = json.loads(text, parse_float=Decimal)
    assert rows[4]["cost"] == Decimal("99999999999.999999999999")
    assert rows[0]["resource_name"] == '=HYPERLINK("http://x")'  # JSON is data, not a sheet
    assert rows[5]["cost"] is None


def test_terminal_table_prints_markup_as_text_and_summarises_long_results() -> None:
    table = pa.table({"name": ["[bold red]boom[/]"] * (TABLE_ROW_LIMIT + 5)})
    text = table_to_text(table, "table")
    assert "[bold red]boom[/]" in text
    assert "… 5 more rows" in text


def test_parquet_needs_an_output_file_and_keeps_types(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="--output"):
        write_table(findings(), fmt="parquet")
    path = tmp_path / "out.parquet"
    write_table(findings(), output=path)  # format from the suffix
    assert pq.read_table(path).schema.field("cost").type == MONEY


def test_markdown_text_shows_a_cloud_string_as_typed() -> None:
    from mlcost.output import WORD_JOINER as J
    from mlcost.output import markdown_text

    assert markdown_text("[a](http://x.example)") == f"\\[a\\]\\(http\\:{J}//x.example\\)"
    assert markdown_text("<img src=x> **b** $x$ :red[y]") == (
        "\\<img src=x\\> \\*\\*b\\*\\* \\$x\\$ \\:red\\[y\\]"
    )
    assert markdown_text("a@b.example www.c.example") == f"a\\@{J}b.example www{J}.c.example"
    # one line; a list marker at its start is text; ordinary names stay readable
    assert markdown_text("- us-east-1\n\n m5.large") == "\\- us-east-1 m5.large"
    assert markdown_text("12. Team") == "12\\. Team"
    assert markdown_text(None) == "" and markdown_text("USD") == "USD"
