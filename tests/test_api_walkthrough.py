"""docs/python-api.md runs as written: its code blocks, in order, in one namespace, on the
sample organisation, print what the page shows after each, and the figures they print are
those `mlcost analyze` and `mlcost experiments` print for the same store."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import run_main

PAGE = Path(__file__).resolve().parent.parent / "docs" / "python-api.md"
_BLOCK = re.compile(r"^```(\w+)\n(.*?)^```$", re.S | re.M)


def walkthrough(page: Path = PAGE) -> list[tuple[str, str | None]]:
    """The page's python blocks, each with the text block that follows it (its output)."""
    blocks = [(m.group(1), m.group(2)) for m in _BLOCK.finditer(page.read_text("utf-8"))]
    steps: list[tuple[str, str | None]] = []
    for i, (kind, text) in enumerate(blocks):
        if kind == "python":
            after = blocks[i + 1] if i + 1 < len(blocks) else None
            steps.append((text, after[1] if after and after[0] == "text" else None))
    return steps


def run_walkthrough(folder: Path) -> list[tuple[str, str | None]]:
    """Each block's printed output and the output the page shows, run in ``folder``."""
    namespace: dict[str, object] = {"__name__": "walkthrough"}
    ran = []
    old = Path.cwd()
    os.chdir(folder)
    try:
        for code, expected in walkthrough():
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                exec(compile(code, str(PAGE), "exec"), namespace)  # our own docs, as written
            ran.append((printed.getvalue(), expected))
    finally:
        os.chdir(old)
    return ran


def test_the_page_has_a_walk_through_with_outputs() -> None:
    steps = walkthrough()
    assert len(steps) >= 8
    assert sum(expected is not None for _, expected in steps) >= 7


def test_the_walk_through_prints_what_the_page_shows_and_what_mlcost_analyze_prints(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    ran = run_walkthrough(tmp_path)
    for printed, expected in ran:
        if expected is not None:
            assert printed == expected
    printed = "".join(p for p, _ in ran)

    # `mlcost analyze` on the store the walk-through built and analysed
    db = str(tmp_path / "mlcost.duckdb")
    done = run_main(capsys, "--db", db, "analyze", "--format", "json")
    assert done.code == 0, done.stderr
    analyzed = json.loads(done.stdout, parse_float=Decimal)
    lines = printed.splitlines()
    for figure in analyzed["figures"]:
        value = figure["value"]
        shown = (
            f"{figure['currency']} {Decimal(value):,.2f}" if figure["currency"] else f"{value:,}"
        )
        assert any(
            line.startswith(figure["label"] + ":") and line.endswith(shown) for line in lines
        ), (figure, shown)
    services = [r for r in analyzed["spend"] if r["dimension"] == "service"][:5]
    for row in services:
        shown = f"{row['value']:<30} {row['currency']} {Decimal(row['effective_cost']):>12,.2f}"
        assert shown in lines, shown
    amortised = next(f["value"] for f in analyzed["figures"] if f["figure"] == "amortised_spend")
    assert f"All services                   USD {Decimal(amortised):>12,.2f}" in lines
    assert f"{Decimal(amortised)} = {Decimal(amortised):,.2f} to the cent" in lines

    # ... and `mlcost experiments` the same cost per experiment
    done = run_main(capsys, "--db", db, "experiments", "--format", "json")
    assert done.code == 0, done.stderr
    experiments = json.loads(done.stdout, parse_float=Decimal)
    top = sorted(experiments, key=lambda e: Decimal(e["cost"]), reverse=True)[:3]
    for e in top:
        assert any(
            line.startswith(e["experiment"])
            and f"{e['runs']:>4} runs  USD {Decimal(e['cost']):>10,.2f}" in line
            for line in lines
        ), e
