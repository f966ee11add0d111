"""What a rule is: its id, its documentation, its parameters and one SQL query.

A rule module defines ``RULE = Rule(...)`` with its own docstring as the documentation.
The SQL reads the store's tables and the views the engine prepares (see
:mod:`mlcost.rules.engine`); parameters reach it as DuckDB named parameters
(``$cpu_max_pct``), never pasted into the text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from mlcost.errors import ConfigError

ParamValue = int | float | bool | str | dict[str, str]

#: Columns every rule query returns; the engine adds the resource's other fields.
REQUIRED_COLUMNS = (
    "resource_id",
    "title",
    "action",
    "evidence",
    "estimated_monthly_savings",
    "confidence",
)
#: Columns a rule may return to override what the inventory says (billing-only finds).
OPTIONAL_COLUMNS = (
    "provider",
    "account_id",
    "region",
    "resource_type",
    "resource_name",
    "monthly_cost",
    "currency",
    "tags",
)


#: What a rule may need: the store's tables, in the users' words.
DATA_KINDS = ("inventory", "metrics", "prices", "billing", "runs")

_KIND = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}


@dataclass(frozen=True)
class Param:
    """One setting of a rule, with its default and what it means."""

    name: str
    default: ParamValue
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()

    @property
    def type_name(self) -> str:
        if isinstance(self.default, dict):
            return "table"
        return type(self.default).__name__

    def check(self, value: Any, where: str) -> ParamValue:
        """``value`` if it is valid for this parameter, else a ConfigError naming it."""
        expected = type(self.default)
        if isinstance(self.default, dict):
            if not isinstance(value, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()
            ):
                raise ConfigError(f"{where} must be a table of text values, not {value!r}.")
            return dict(value)
        ok = isinstance(value, expected) and not (isinstance(value, bool) and expected is not bool)
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if not ok:
            raise ConfigError(
                f"{where} must be {_KIND[expected]}, not {type(value).__name__} ({value!r})."
            )
        if self.choices and value not in self.choices:
            raise ConfigError(f"{where} must be one of {', '.join(self.choices)}, not {value!r}.")
        if isinstance(value, int | float) and not isinstance(value, bool):
            if self.minimum is not None and value < self.minimum:
                raise ConfigError(f"{where} must be at least {self.minimum:g}, not {value!r}.")
            if self.maximum is not None and value > self.maximum:
                raise ConfigError(f"{where} must be at most {self.maximum:g}, not {value!r}.")
        return value


@dataclass(frozen=True)
class Rule:
    """A registered rule: data plus one query (DESIGN.md §1, STYLE.md)."""

    id: str
    doc: str
    sql: str
    params: tuple[Param, ...] = ()
    resource_types: tuple[str, ...] = ()
    #: The clouds it finds waste on, from what mlcost ingests there.
    providers: tuple[str, ...] = ("aws", "azure", "gcp")
    #: The data it cannot fire without (of :data:`DATA_KINDS`).
    needs: tuple[str, ...] = ("inventory",)
    #: Where its saving comes from, in order of preference (of :data:`DATA_KINDS`).
    saving_from: tuple[str, ...] = ("billing", "prices")
    #: Parameters every rule has, managed by the engine.
    _common: tuple[Param, ...] = field(
        default=(Param("enabled", True, "Run this rule in `mlcost analyze`."),), repr=False
    )

    @property
    def title(self) -> str:
        """The first line of the documentation."""
        return self.doc.strip().splitlines()[0].rstrip(".")

    @property
    def all_params(self) -> tuple[Param, ...]:
        return self._common + self.params

    def defaults(self) -> dict[str, ParamValue]:
        return {p.name: p.default for p in self.all_params}

    def settings(self, values: dict[str, Any], where: str = "mlcost.toml") -> dict[str, ParamValue]:
        """Defaults overlaid with ``values``; unknown keys and wrong types are refused."""
        known = {p.name: p for p in self.all_params}
        merged = self.defaults()
        for key, value in values.items():
            if key not in known:
                raise ConfigError(
                    f"{where}: unknown setting rules.{self.id}.{key}; valid settings: "
                    f"{', '.join(sorted(known))}."
                )
            merged[key] = known[key].check(value, f"{where}: rules.{self.id}.{key}")
        return merged

    def sql_parameters(self, settings: dict[str, ParamValue], **engine: Any) -> dict[str, Any]:
        """The named parameters this rule's SQL uses, from its settings and the engine's."""
        used = set(re.findall(r"\$([a-z_][a-z0-9_]*)", self.sql))
        values: dict[str, Any] = {}
        for name in used:
            if name in settings:
                value = settings[name]
                values[name] = json.dumps(value) if isinstance(value, dict) else value
            elif name in engine:
                values[name] = engine[name]
            else:
                raise KeyError(f"rule {self.id} uses ${name}, which nothing provides")
        return values
