"""The documentation site stays complete by construction: the generated reference pages are
current and leave out no command, rule, table or setting; the contract's lists match the
code; every SQL recipe runs (sqlite-utils' habit: a test fails when a command is
undocumented). `make test` builds the site itself with `mkdocs build --strict`."""

from __future__ import annotations

import dataclasses
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest
import typer.main
from typer.core import TyperGroup

from mlcost import config
from mlcost.cli import app
from mlcost.recommendations import FIELDS
from mlcost.rules import RULE_IDS, all_rules
from mlcost.store import Store
from tests.conftest import copy_store, run_main

ROOT = Path(__file__).parent.parent
DOCS = ROOT / "docs"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_reference", DOCS / "gen_reference.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gen_reference", module)
    spec.loader.exec_module(module)
    return module


gen = _generator()


def page(name: str) -> str:
    return (DOCS / name).read_text("utf-8")


def sections(text: str) -> dict[str, str]:
    """A page's `## heading` sections: {heading: its text up to the next one}."""
    parts = re.split(r"^## (.+)$", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_the_reference_pages_are_those_the_code_gives() -> None:
    stale = gen.stale_pages()
    assert not stale, f"docs/reference/{', '.join(stale)} stale: run `make docs` and commit"


def _commands(command: object, path: str) -> list[tuple[str, object]]:
    """Every command path under the typer app, walked here on its own (not the generator's)."""
    found = [(path, command)]
    if isinstance(command, TyperGroup):
        for name, sub in command.commands.items():
            found += _commands(sub, f"{path} {name}")
    return found


COMMANDS = _commands(typer.main.get_command(app), "mlcost")


def test_every_command_and_option_is_documented_in_the_cli_reference() -> None:
    reference = sections(page("reference/cli.md"))
    assert len(COMMANDS) > 25
    for path, command in COMMANDS:
        assert path in reference, f"{path} is missing from docs/reference/cli.md"
        assert (command.help or "").strip(), f"{path} has no help text"  # type: ignore[attr-defined]
        for param in command.params:  # type: ignore[attr-defined]
            if param.param_type_name == "option" and not getattr(param, "hidden", False):
                assert param.help, f"{path} {param.opts[0]} has no help"
                assert param.opts[-1] in reference[path], f"{path} {param.opts[-1]}"


def test_the_design_commands_are_all_in_the_cli_reference() -> None:
    """The contract's commands (DESIGN.md §3), named here so none can go missing with its
    documentation."""
    paths = {path for path, _ in COMMANDS}
    contract = {
        "mlcost init", "mlcost ingest billing", "mlcost ingest aws", "mlcost ingest azure",
        "mlcost ingest gcp", "mlcost ingest mlflow", "mlcost ingest sample", "mlcost analyze",
        "mlcost recommendations", "mlcost recommendations dismiss", "mlcost anomalies",
        "mlcost commitments", "mlcost experiments", "mlcost report", "mlcost schedule",
        "mlcost dashboard", "mlcost sql", "mlcost export focus", "mlcost demo",
    }  # fmt: skip
    assert contract <= paths, contract - paths
    assert contract <= set(sections(page("reference/cli.md")))


def test_commands_at_a_glance_names_every_command() -> None:
    glance = sections(page("concepts/command-line.md"))["Commands at a glance"]
    for path, command in COMMANDS:
        if isinstance(command, TyperGroup) and not command.invoke_without_command:
            continue  # `mlcost ingest`, `mlcost export`: only their commands run
        assert f"`{path}" in glance, f"{path} is not in the commands at a glance"


def test_every_rule_and_setting_of_it_is_in_the_catalogue() -> None:
    catalogue = sections(page("reference/rules.md"))
    assert list(catalogue) == list(RULE_IDS)
    for rule in all_rules().values():
        text = catalogue[rule.id]
        assert f"**clouds:** {', '.join(rule.providers)}" in text
        assert f"**fires on:** {', '.join(rule.needs)}" in text
        for section in ("What it finds", "Why it matters", "Safe action", "Saving"):
            assert section in text, (rule.id, section)
        for param in rule.all_params:
            assert f"| `{param.name}` |" in text, (rule.id, param.name)


def test_every_table_and_column_of_the_store_is_in_the_reference(tmp_path: Path) -> None:
    store = Store(tmp_path / "fresh.duckdb")
    store.init()
    tables: dict[str, list[str]] = {}
    with store.reader() as con:  # as users read it: `cost` is a view over the billing files
        for name, column in con.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'main' ORDER BY table_name, ordinal_position"
        ).fetchall():
            tables.setdefault(name, []).append(column)
    reference = sections(page("reference/tables.md"))
    assert {"cost", "resources", "recommendations", "loads"} <= set(tables)
    for name, columns in tables.items():
        assert name in reference, f"table {name} is missing from docs/reference/tables.md"
        assert gen.TABLE_DOCS.get(name), f"table {name} has no description in TABLE_DOCS"
        for column in columns:
            assert f"| `{column}` |" in reference[name], (name, column)


def test_every_setting_is_in_the_reference_with_what_it_means() -> None:
    reference = sections(page("reference/settings.md"))
    loaded = dict(config._SECTIONS)
    for section, subs in config._SUBSECTIONS.items():
        loaded |= {f"{section}.{sub}": cls for sub, cls in subs.items()}
    assert set(loaded) == {"store", "report", "report.slack", "report.email", "schedule",
                           "anomalies", "billing", "spark"}  # fmt: skip
    for section, cls in loaded.items():
        text = reference.get(f"[{section}]")
        assert text is not None, f"[{section}] is missing from docs/reference/settings.md"
        for field in dataclasses.fields(cls):
            if dataclasses.is_dataclass(getattr(cls(), field.name)):
                continue  # a sub-table: a section of its own
            row = next((r for r in text.splitlines() if r.startswith(f"| `{field.name}` |")), "")
            assert row, f"{section}.{field.name} is missing from the settings reference"
            meaning = row.rstrip(" |").rsplit(" | ", 1)[-1]
            assert len(meaning) > 10, f"{section}.{field.name}: write its `#:` comment"


def test_the_contract_lists_the_export_fields_in_order() -> None:
    text = sections(page("contract.md"))["Recommendations export"]
    listed = re.findall(r"^\| \d+ \| `(\w+)` \|$", text, flags=re.MULTILINE)
    assert listed == list(FIELDS)


def test_every_page_is_in_the_nav() -> None:
    """mkdocs --strict fails on this too; here it fails without a build, naming the page."""
    nav = (ROOT / "mkdocs.yml").read_text("utf-8")
    for path in DOCS.rglob("*.md"):
        assert f": {path.relative_to(DOCS).as_posix()}\n" in nav, f"{path} is not in the nav"


SQL_RECIPES = re.findall(r"```sql\n(.*?)```", page("tasks/sql.md"), flags=re.DOTALL)


@pytest.mark.parametrize("query", SQL_RECIPES, ids=lambda q: q.split()[1])
def test_every_sql_recipe_runs_on_the_sample(
    query: str, sample_master: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = copy_store(sample_master, tmp_path)
    ran = run_main(capsys, "--db", str(db), "sql", query, "--format", "csv")
    assert ran.code == 0, ran.stderr
    _header, *rows = ran.stdout.splitlines()
    assert rows, f"the recipe found nothing on the sample: {query}"


def test_the_sql_page_has_its_recipes() -> None:
    assert len(SQL_RECIPES) >= 8
