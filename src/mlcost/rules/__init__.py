"""The rule registry: one module per rule, each defining ``RULE`` (DESIGN.md §4).

``mlcost rules`` lists them; ``mlcost rules show ID`` prints a rule's documentation.
Adding a rule: write ``src/mlcost/rules/<id>.py`` with a docstring (what it finds, why
it matters, the safe action, the saving's formula), its parameters and its query, add
the id to ``RULE_IDS``, and give it a firing case and a near miss in the tests.
"""

from __future__ import annotations

import importlib
from functools import cache

from mlcost.errors import InputError
from mlcost.rules.base import Param, Rule

#: Registered rules, in the order they are listed and run.
RULE_IDS = (
    "idle_vm",
    "idle_gpu",
    "stopped_vm_billed",
    "unattached_volume",
    "orphaned_snapshot",
    "unused_ip",
    "obsolete_image",
    "idle_endpoint",
    "idle_notebook",
    "rightsize_vm",
    "previous_generation",
    "spot_candidate",
    "volume_type_upgrade",
    "idle_nat_gateway",
    "idle_load_balancer",
    "idle_file_system",
    "offhours_schedule",
    # last: they see what the waste rules flagged (fix waste first, then commit)
    "commitment_underused",
    "commitment_purchase",
)


@cache
def all_rules() -> dict[str, Rule]:
    """Every registered rule by id."""
    rules = {}
    for rule_id in RULE_IDS:
        module = importlib.import_module(f"mlcost.rules.{rule_id}")
        rule = module.RULE
        assert isinstance(rule, Rule) and rule.id == rule_id, rule_id
        rules[rule_id] = rule
    return rules


def get_rule(rule_id: str) -> Rule:
    rules = all_rules()
    if rule_id not in rules:
        raise InputError(
            f"Unknown rule {rule_id!r}; the rules are: {', '.join(rules)}.",
            "Run `mlcost rules` to list them.",
        )
    return rules[rule_id]


__all__ = ["RULE_IDS", "Param", "Rule", "all_rules", "get_rule"]
