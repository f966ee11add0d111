"""mlcost.toml: typed settings, layered as environment, then file, then defaults.

Only known sections and keys are accepted: a typo is refused with the valid names,
so a setting never silently does nothing. Later capabilities add their sections here.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlcost.errors import ConfigError

DEFAULT_CONFIG = "mlcost.toml"


@dataclass(frozen=True)
class StoreSettings:
    #: Seconds a command waits for another process to release the store.
    lock_timeout_s: float = 60.0
    #: DuckDB memory limit of the writing connection (loads), e.g. "2GB".
    writer_memory_limit: str = "2GB"


@dataclass(frozen=True)
class Settings:
    store: StoreSettings = field(default_factory=StoreSettings)
    #: ``[rules.<id>]``: each named rule's parameters, validated, over its defaults.
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    path: Path | None = None


_SECTIONS: dict[str, type] = {"store": StoreSettings}
#: Sections with their own validation (a table per rule id).
_SPECIAL_SECTIONS = ("rules",)


def load_settings(path: str | os.PathLike[str] | None = None) -> Settings:
    """Settings from ``path`` (or ``$MLCOST_CONFIG``, or ``./mlcost.toml`` if present)."""
    explicit = path is not None or "MLCOST_CONFIG" in os.environ
    chosen = Path(path or os.environ.get("MLCOST_CONFIG") or DEFAULT_CONFIG)
    if not chosen.exists():
        if explicit:
            raise ConfigError(f"The config file {chosen} does not exist.")
        return Settings()
    try:
        raw = tomllib.loads(chosen.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{chosen}: cannot read it as TOML ({exc}).") from exc
    sections: dict[str, Any] = {}
    for name, values in raw.items():
        if name == "rules":
            sections[name] = _rule_settings(chosen, values)
            continue
        if name not in _SECTIONS:
            raise ConfigError(
                f"{chosen}: unknown section [{name}]; valid sections: "
                f"{', '.join(sorted([*_SECTIONS, *_SPECIAL_SECTIONS]))}."
            )
        sections[name] = _build(chosen, name, _SECTIONS[name], values)
    return Settings(**sections, path=chosen)


def _build(path: Path, section: str, cls: type, values: Any) -> Any:
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: [{section}] must be a table of settings.")
    defaults = cls()
    known = {name: type(getattr(defaults, name)) for name in defaults.__dataclass_fields__}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(
                f"{path}: unknown setting {section}.{key}; valid settings: "
                f"{', '.join(sorted(known))}."
            )
        expected = known[key]
        ok = isinstance(value, expected) or (expected is float and isinstance(value, int))
        if not ok or (isinstance(value, bool) and expected is not bool):
            raise ConfigError(
                f"{path}: {section}.{key} must be a {expected.__name__}, "
                f"not {type(value).__name__} ({value!r})."
            )
    return cls(**{k: (float(v) if known[k] is float else v) for k, v in values.items()})


def _rule_settings(path: Path, values: Any) -> dict[str, dict[str, Any]]:
    """``[rules.<id>]`` tables: known rule ids, known parameters, right types."""
    from mlcost.rules import all_rules

    rules = all_rules()
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: [rules] must hold one table per rule, like [rules.idle_vm].")
    out: dict[str, dict[str, Any]] = {}
    for rule_id, params in values.items():
        if rule_id not in rules:
            raise ConfigError(
                f"{path}: unknown rule [rules.{rule_id}]; the rules are: {', '.join(rules)}."
            )
        if not isinstance(params, dict):
            raise ConfigError(f"{path}: [rules.{rule_id}] must be a table of settings.")
        out[rule_id] = rules[rule_id].settings(params, where=str(path))
    return out
