"""mlcost.toml: typed settings, layered as environment, then file, then defaults.

Only known sections and keys are accepted: a typo is refused with the valid names,
so a setting never silently does nothing. Later capabilities add their sections here.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlcost.errors import ConfigError

DEFAULT_CONFIG = "mlcost.toml"


@dataclass(frozen=True)
class StoreSettings:
    """[store]: how commands share the store file, and what a load may use."""

    #: Seconds a command waits for another process to release the store.
    lock_timeout_s: float = 60.0
    #: DuckDB memory limit of the writing connection (loads), e.g. "512MB": more is
    #: faster on very large single files (docs/performance.md). While a Parquet file is
    #: loaded it is raised by two of the file's largest row groups (compressed) per
    #: thread, so that a wide file is not spilled to disk (docs/performance-ingest.md).
    writer_memory_limit: str = "512MB"


@dataclass(frozen=True)
class BillingSettings:
    """[billing]: the dates a billing export may hold; a row outside them is refused."""

    #: No billing timestamp before 1 January of this year (a misread or placeholder date).
    earliest_year: int = 2000
    #: Nor after the end of the year this many years from now (room for a commitment's
    #: end: five-year reservations exist).
    years_ahead: int = 6
    #: A charge must start within its billing period, widened by this many days on each
    #: side: providers bill late usage in the next period (GCP's invoice month, a day's
    #: usage exported after the month closed). A Correction may start earlier still.
    period_tolerance_days: int = 31

    def __post_init__(self) -> None:
        if not 1970 <= self.earliest_year <= 2100:
            raise ConfigError("billing.earliest_year must be a year from 1970 to 2100.")
        if not 0 <= self.years_ahead <= 100:
            raise ConfigError("billing.years_ahead must be from 0 to 100.")
        if not 0 <= self.period_tolerance_days <= 3660:
            raise ConfigError("billing.period_tolerance_days must be from 0 to 3660.")

    @property
    def latest_year(self) -> int:
        """The last year a billing timestamp may fall in."""
        return datetime.now(UTC).year + self.years_ahead


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
    #: Tag keys whose values are scopes of their own (``tag:<key>``); also the keys the
    #: store's daily roll-up by tag holds (spend by another tag reads every billing line).
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
        for key in self.tag_keys:
            if not isinstance(key, str) or not key.strip():
                raise ConfigError(
                    f"anomalies.tag_keys must be a list of non-empty tag keys; {key!r} is not one."
                )
        for name in ("lag_days", "lookback_days", "min_history_days"):
            if getattr(self, name) < 0:
                raise ConfigError(f"anomalies.{name} must be zero or more.")
        if self.lookback_days < 14 or self.min_history_days < 14:
            raise ConfigError(
                "anomalies.lookback_days and min_history_days must be at least 14 "
                "(two of each weekday)."
            )

    @property
    def keys(self) -> tuple[str, ...]:
        """The tag keys, trimmed, each once: the anomaly scopes ``tag:<key>`` and the keys
        the store rolls spend up by (``mlcost.rollups``), one list so that they agree."""
        return tuple(dict.fromkeys(k.strip() for k in self.tag_keys))


@dataclass(frozen=True)
class SlackSettings:
    """[report.slack]: `report --send slack` and the schedule's `send = ["slack"]`."""

    #: Environment variable holding the incoming-webhook URL (a secret: never in the file).
    webhook_url_env: str = "MLCOST_SLACK_WEBHOOK_URL"
    #: Seconds to wait for Slack to answer.
    timeout_s: float = 10.0


@dataclass(frozen=True)
class EmailSettings:
    """[report.email]: `report --send email` and the schedule's `send = ["email"]`."""

    #: The SMTP server's host name.
    smtp_host: str = ""
    #: Its port: 587 for starttls, 465 for ssl, 25 for a local relay.
    smtp_port: int = 587
    #: "starttls" (port 587), "ssl" (port 465) or "none" (a local relay).
    security: str = "starttls"
    #: The sender's address.
    from_address: str = ""
    #: The recipients' addresses.
    to: list[str] = field(default_factory=list)
    #: Environment variable holding the SMTP user name (empty: no login).
    username_env: str = ""
    #: Environment variable holding the SMTP password.
    password_env: str = "MLCOST_SMTP_PASSWORD"
    #: Seconds to wait for the server at each step.
    timeout_s: float = 30.0


@dataclass(frozen=True)
class ReportSettings:
    """[report]: the periodic report of `mlcost report` and `mlcost schedule`."""

    #: The report's title.
    title: str = "mlcost report"
    #: The period reported when `--period` is not given: 7d, 30d or month.
    period: str = "7d"
    #: Where the full report can be read (a wiki page, a shared folder), linked from Slack.
    link: str = ""
    slack: SlackSettings = field(default_factory=SlackSettings)
    email: EmailSettings = field(default_factory=EmailSettings)


@dataclass(frozen=True)
class SparkSettings:
    """``[spark]``: where ``mlcost analyze --engine spark`` runs (docs/spark.md)."""

    #: Spark master URL: ``local[*]`` on this machine; ignored under spark-submit or a
    #: Databricks job, whose session is already there.
    master: str = "local[*]"
    #: Spark settings for the session (``spark.executor.memory`` …), as text.
    conf: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ScheduleSettings:
    """[schedule]: the long-running job of `mlcost schedule`."""

    #: Standard cron expression (5 fields; a 6th for seconds), in local time.
    cron: str = "0 7 * * 1"
    #: What to ingest each run: tables like {kind = "billing", paths = ["/exports/"]}.
    sources: list[dict[str, Any]] = field(default_factory=list)
    #: Report formats written to output_dir each run.
    formats: list[str] = field(default_factory=lambda: ["html"])
    #: The folder the reports are written to (created if missing).
    output_dir: str = "reports"
    #: Channels the report is sent on each run ([report.slack], [report.email]).
    send: list[str] = field(default_factory=list)
    #: Attempts after the first, per step (each source, analyze, each file and channel).
    retries: int = 3
    #: Seconds before the first retry, doubled after each failure.
    backoff_s: float = 60.0


@dataclass(frozen=True)
class Settings:
    store: StoreSettings = field(default_factory=StoreSettings)
    report: ReportSettings = field(default_factory=ReportSettings)
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    anomalies: AnomalySettings = field(default_factory=AnomalySettings)
    billing: BillingSettings = field(default_factory=BillingSettings)
    spark: SparkSettings = field(default_factory=SparkSettings)
    #: ``[rules.<id>]``: each named rule's parameters, validated, over its defaults.
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    path: Path | None = None


_SECTIONS: dict[str, type] = {
    "store": StoreSettings,
    "report": ReportSettings,
    "schedule": ScheduleSettings,
    "anomalies": AnomalySettings,
    "billing": BillingSettings,
    "spark": SparkSettings,
}
#: Tables inside a section, each its own settings class.
_SUBSECTIONS: dict[str, dict[str, type]] = {
    "report": {"slack": SlackSettings, "email": EmailSettings},
}
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
    values = dict(values)
    for name, sub in _SUBSECTIONS.get(section, {}).items():
        if name in values:
            values[name] = _build(path, f"{section}.{name}", sub, values[name])
    built = {k: v for k, v in values.items() if k not in _SUBSECTIONS.get(section, {})}
    for key, value in built.items():
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
    built_settings = cls(
        **{k: (float(v) if known.get(k) is float else v) for k, v in values.items()},
    )
    _check_choices(path, section, built_settings)
    return built_settings


#: Settings that take one of a few values (or a list of them).
_CHOICES: dict[str, tuple[str, ...]] = {
    "report.period": ("7d", "30d", "month"),
    "report.email.security": ("starttls", "ssl", "none"),
    "schedule.formats": ("html", "md", "json"),
    "schedule.send": ("slack", "email"),
}


def _check_choices(path: Path, section: str, settings: Any) -> None:
    for name in settings.__dataclass_fields__:
        choices = _CHOICES.get(f"{section}.{name}")
        value = getattr(settings, name)
        if choices is None:
            continue
        for item in value if isinstance(value, list) else [value]:
            if item not in choices:
                raise ConfigError(
                    f"{path}: {section}.{name} takes {', '.join(choices)}, not {item!r}."
                )
    if section == "schedule":
        from croniter import croniter

        if not croniter.is_valid(settings.cron):
            raise ConfigError(
                f"{path}: schedule.cron {settings.cron!r} is not a cron expression.",
                'Write five fields, minute hour day month weekday, like "0 7 * * 1".',
            )
        for i, source in enumerate(settings.sources):
            if not isinstance(source, dict) or "kind" not in source:
                raise ConfigError(
                    f"{path}: schedule.sources[{i}] needs a kind, like "
                    '{ kind = "billing", paths = ["/exports/"] }.'
                )


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
