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


#: Band half-widths, in robust standard deviations, for each anomaly sensitivity.
ANOMALY_SENSITIVITIES = {"low": 4.0, "medium": 3.0, "high": 2.0}


@dataclass(frozen=True)
class AnomalySettings:
    """[anomalies]: what counts as a cost anomaly worth a person's time."""

    #: An anomaly must move cost by at least this much money vs expected (per day) ...
    min_impact: float = 100.0
    #: ... and by at least this percentage of the expected cost.
    min_impact_pct: float = 30.0
    #: Days at the end of the billing data not judged yet: billing arrives late.
    lag_days: int = 1
    #: Trailing days of history the expected cost is learnt from.
    lookback_days: int = 56
    #: A scope needs this many days of history before its days are judged.
    min_history_days: int = 21
    #: Tag keys whose values are scopes of their own (``tag:<key>``).
    tag_keys: list[str] = field(default_factory=lambda: ["team", "project", "experiment"])
    #: low, medium or high: how wide the normal band is (high flags more).
    sensitivity: str = "medium"
    #: A jump in running GPUs (scope ``gpus``) must add at least this many GPUs.
    min_gpu_jump: float = 8.0

    def __post_init__(self) -> None:
        if self.sensitivity not in ANOMALY_SENSITIVITIES:
            raise ConfigError(
                f"anomalies.sensitivity must be one of {', '.join(ANOMALY_SENSITIVITIES)}, "
                f"not {self.sensitivity!r}."
            )
        if not all(isinstance(k, str) and k.strip() for k in self.tag_keys):
            raise ConfigError("anomalies.tag_keys must be a list of non-empty tag keys.")
        for name in ("lag_days", "lookback_days", "min_history_days"):
            if getattr(self, name) < 0:
                raise ConfigError(f"anomalies.{name} must be zero or more.")
        if self.lookback_days < 14 or self.min_history_days < 14:
            raise ConfigError(
                "anomalies.lookback_days and min_history_days must be at least 14 "
                "(two of each weekday)."
            )


@dataclass(frozen=True)
class Settings:
    store: StoreSettings = field(default_factory=StoreSettings)
    anomalies: AnomalySettings = field(default_factory=AnomalySettings)
    path: Path | None = None


_SECTIONS: dict[str, type] = {"store": StoreSettings, "anomalies": AnomalySettings}


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
        if name not in _SECTIONS:
            raise ConfigError(
                f"{chosen}: unknown section [{name}]; valid sections: "
                f"{', '.join(sorted(_SECTIONS))}."
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
