"""mlcost.toml: known settings only, right types, clear refusals."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlcost.config import load_settings
from mlcost.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mlcost.toml"
    path.write_text(text)
    return path


def test_settings_are_read_and_defaults_fill_the_rest(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, "[store]\nlock_timeout_s = 5\n"))
    assert settings.store.lock_timeout_s == 5.0


def test_no_file_means_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLCOST_CONFIG", raising=False)
    assert load_settings().store.lock_timeout_s == 60.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[stor]\nlock_timeout_s = 5\n",
            "unknown section [stor]; valid sections: anomalies, billing, report, rules, "
            "schedule, spark, store",
        ),
        ("[report.email]\nsmtp = 'x'\n", "unknown setting report.email.smtp; valid settings"),
        ("[report]\nperiod = '2w'\n", "report.period takes 7d, 30d, month, not '2w'"),
        ("[report.email]\nsecurity = 'tls'\n", "report.email.security takes starttls"),
        ("[schedule]\ncron = 'every monday'\n", "schedule.cron 'every monday' is not a cron"),
        ("[schedule]\nsend = ['teams']\n", "schedule.send takes slack, email, not 'teams'"),
        ("[schedule]\nsources = [{ paths = ['x'] }]\n", "schedule.sources[0] needs a kind"),
        (
            "[store]\nlock_timeout = 5\n",
            "unknown setting store.lock_timeout; valid settings: lock_timeout_s",
        ),
        ("[store]\nlock_timeout_s = 'soon'\n", "store.lock_timeout_s must be a float, not str"),
        ("[store\n", "cannot read it as TOML"),
    ],
)
def test_bad_settings_are_refused_by_name(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_settings(write(tmp_path, text))


def test_a_named_config_that_is_missing_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")
