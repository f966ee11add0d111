"""The catalogue stays complete by construction: every rule documented, parameterised,
validated, and tested firing and not firing (STYLE.md: Cloud Custodian's meta-tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlcost.errors import ConfigError
from mlcost.rules import RULE_IDS, all_rules
from mlcost.rules.base import DATA_KINDS, Rule
from tests.rules.cases import CASES

DESIGN_RULE_IDS = {
    "idle_vm", "idle_gpu", "stopped_vm_billed", "unattached_volume", "orphaned_snapshot",
    "unused_ip", "obsolete_image", "idle_endpoint", "idle_notebook", "rightsize_vm",
    "previous_generation", "commitment_underused", "commitment_purchase", "spot_candidate",
    "volume_type_upgrade", "idle_nat_gateway", "idle_load_balancer", "idle_file_system",
    "offhours_schedule",
}  # fmt: skip


def test_every_registered_rule_id_is_one_design_md_names() -> None:
    assert set(RULE_IDS) <= DESIGN_RULE_IDS
    assert list(all_rules()) == list(RULE_IDS)


@pytest.mark.parametrize("rule", all_rules().values(), ids=lambda r: r.id)
def test_every_rule_is_documented_for_its_users(rule: Rule) -> None:
    doc = rule.doc
    for section in ("What it finds", "Why it matters", "Safe action", "Saving"):
        assert section in doc, f"{rule.id}: its documentation has no {section!r}"
    assert len(rule.title) > 20 and rule.resource_types


@pytest.mark.parametrize("rule", all_rules().values(), ids=lambda r: r.id)
def test_every_parameter_is_declared_used_and_validated(rule: Rule) -> None:
    for param in rule.params:
        assert param.help, f"{rule.id}.{param.name} has no help"
        assert f"${param.name}" in rule.sql, f"{rule.id}.{param.name} is never used"
        wrong = "text" if not isinstance(param.default, str) else 3
        with pytest.raises(ConfigError, match=rf"rules\.{rule.id}\.{param.name}"):
            rule.settings({param.name: wrong})
    with pytest.raises(ConfigError, match=r"valid settings: .*enabled"):
        rule.settings({"no_such_setting": 1})
    assert rule.settings({"enabled": False})["enabled"] is False


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_every_rule_has_a_firing_case_and_a_near_miss(rule_id: str) -> None:
    fires, near_miss = CASES[rule_id]
    assert fires.savings is not None and near_miss.savings is None


def _docs_rule_table() -> list[list[str]]:
    """The rule table of docs/tasks/waste.md, one list of cells per rule row."""
    text = (Path(__file__).parent.parent.parent / "docs" / "tasks" / "waste.md").read_text()
    start = text.index("| rule | clouds | fires on | saving from | finds (defaults) |")
    rows = []
    for line in text[start:].splitlines()[2:]:
        if not line.startswith("| `"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return rows


def test_the_docs_rule_table_is_in_step_with_the_registry() -> None:
    """Every rule has a row in Find waste, in registry order, stating the clouds it covers,
    the data it cannot fire without and where its saving comes from, as the rule itself
    declares (the generated catalogue, docs/reference/rules.md, is checked in test_docs)."""
    rows = _docs_rule_table()
    assert [row[0] for row in rows] == [f"`{rule_id}`" for rule_id in RULE_IDS]
    for row, rule in zip(rows, all_rules().values(), strict=True):
        assert row[1] == ", ".join(rule.providers), rule.id
        assert row[2] == ", ".join(rule.needs), rule.id
        assert row[3] == ", else ".join(rule.saving_from), rule.id
        assert row[4], rule.id


@pytest.mark.parametrize("rule", all_rules().values(), ids=lambda r: r.id)
def test_every_rule_declares_its_clouds_and_data(rule: Rule) -> None:
    assert rule.providers and set(rule.providers) <= {"aws", "azure", "gcp"}
    assert rule.needs and set(rule.needs) <= set(DATA_KINDS)
    assert rule.saving_from and set(rule.saving_from) <= set(DATA_KINDS)
