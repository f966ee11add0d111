"""Secrets out of every message: the one place errors and log lines are redacted.

Two nets. The values of the secret settings (the Slack webhook URL, the SMTP login, the
cloud SDKs' secret variables) are replaced wherever they appear, whole or in part (a
webhook's path alone is its token). And anything shaped like a credential is cut: a
URL's user and password, query string and, for web URLs, path (a Slack webhook's path
is its token); bearer tokens, Slack and GitHub tokens, AWS access keys, ``password=…``.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from typing import Any

#: What stands where a secret was.
MASK = "***"

#: Variables that hold secrets for the SDKs mlcost drives (never printed either).
SECRET_VARIABLES = (
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PASSWORD",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_TOKEN",
    "DATABRICKS_TOKEN",
)

_secrets: set[str] = set()

_URL = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*)://([^\s/?#'\"<>|]*)([^\s'\"<>|]*)")
_PATTERNS = (
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+"), "Bearer " + MASK),
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9-]+"), MASK),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"), MASK),
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), MASK),
    (
        re.compile(
            r"(?i)\b(password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|signature)"
            r"(\s*[=:]\s*)[^\s&,;]+"
        ),
        r"\1\2" + MASK,
    ),
)


def remember(values: Iterable[str | None]) -> None:
    """Add secret values to redact (too short a value would mask ordinary words)."""
    for value in values:
        if value and len(value) >= 6:
            _secrets.add(value)
            # A URL's path is often the secret part (a webhook's token): mask it alone too.
            match = _URL.fullmatch(value.strip())
            if match and len(match.group(3)) >= 6:
                _secrets.add(match.group(3))


def remember_settings(settings: Any) -> None:
    """The secret variables ``settings`` names (mlcost.toml) and the SDKs' own."""
    report = settings.report
    names = [
        report.slack.webhook_url_env,
        report.email.password_env,
        report.email.username_env,
        *SECRET_VARIABLES,
    ]
    remember(os.environ.get(name) for name in names if name)


def redact(text: str) -> str:
    """``text`` with every known secret and anything shaped like a credential masked."""
    for secret in sorted(_secrets, key=len, reverse=True):
        text = text.replace(secret, MASK)
    text = _URL.sub(_url, text)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _url(match: re.Match[str]) -> str:
    scheme, authority, rest = match.group(1), match.group(2), match.group(3)
    host = authority.rsplit("@", 1)[-1]
    user = f"{MASK}@" if "@" in authority else ""
    path, _, query = rest.partition("?")
    if scheme.lower() in ("http", "https") and path.strip("/"):
        path = "/" + MASK
    return f"{scheme}://{user}{host}{path}" + (f"?{MASK}" if query else "")


class RedactingFilter(logging.Filter):
    """A logging filter that redacts each record's message (its arguments merged in)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info:
            # A traceback's text is formatted later from the exception: keep only its line.
            record.msg = redact(f"{record.msg} ({record.exc_info[1]!r})")
            record.exc_info, record.exc_text = None, None
        return True


def install_log_filter() -> None:
    """Redact every log line the root logger's handlers write."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
