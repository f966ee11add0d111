"""Sending the report: a Slack incoming webhook, and email over SMTP.

Secrets (the webhook URL, the SMTP password) are read from environment variables named
in ``mlcost.toml`` and never written to a message, a log or an error: an error says
which setting or which server failed, and why, without them.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import smtplib
import ssl
import urllib.error
import urllib.request
from decimal import Decimal
from email.message import EmailMessage
from typing import Any

from mlcost.config import EmailSettings, ReportSettings, SlackSettings
from mlcost.errors import ConfigError, MlcostError
from mlcost.report import render

CHANNELS = ("slack", "email")


class DeliveryError(MlcostError):
    """The report could not be delivered (the channel refused or could not be reached)."""


def summary_lines(report: dict[str, Any]) -> list[str]:
    """The report's headline figures as short lines (Slack text, email preview)."""
    if report.get("empty"):
        return ["The store holds no billing yet."]
    lines = [f"{report['title']}: {report['window']['label']}"]
    for s in report["spend"]:
        change = f"{s['change_pct']:+.1f} %" if s["change_pct"] is not None else "new"
        lines.append(
            f"Spend {s['currency']} {_money(s['effective_cost'])} ({change} on the period before)"
        )
    for t in report["savings"]:
        lines.append(
            f"Savings available: {t['currency']} {_money(t['monthly_savings'])} a month "
            f"({t['findings']} findings)"
        )
    open_anomalies = [a for a in report["anomalies"] if a.get("status") == "open"]
    older = report.get("older_open_anomalies", 0)
    if open_anomalies or older:
        lines.append(
            f"Open anomalies: {len(open_anomalies)}" + (f" (and {older} older)" if older else "")
        )
    under = [c for c in report["commitments"] if (c["utilisation_cost_pct"] or 0) < 80]
    if under:
        lines.append(f"Commitments under 80 % used: {len(under)}")
    return lines


def send(report: dict[str, Any], channel: str, settings: ReportSettings) -> str:
    """Deliver ``report`` on ``channel``; returns a line saying where it went."""
    if channel == "slack":
        return send_slack(report, settings.slack, link=settings.link)
    if channel == "email":
        return send_email(report, settings.email)
    raise ConfigError(f"Unknown channel {channel!r}; choose one of {', '.join(CHANNELS)}.")


def send_slack(report: dict[str, Any], settings: SlackSettings, *, link: str = "") -> str:
    url = os.environ.get(settings.webhook_url_env, "")
    if not url:
        raise ConfigError(
            f"Slack delivery needs the webhook URL in ${settings.webhook_url_env}.",
            "Export it (it is a secret: keep it out of mlcost.toml), or change "
            "report.slack.webhook_url_env.",
        )
    lines = summary_lines(report)
    text = "\n".join([f"*{_slack_text(lines[0])}*", *(_slack_text(x) for x in lines[1:])])
    if link:
        text += f"\n<{link}|Read the full report>"
    body = json.dumps({"text": text}).encode()
    try:
        request = urllib.request.Request(
            url.strip(), data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        if request.type not in ("http", "https"):
            raise ValueError(request.type)
        with urllib.request.urlopen(request, timeout=settings.timeout_s) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        raise DeliveryError(
            f"Slack refused the report (HTTP {exc.code}).",
            f"Check the webhook in ${settings.webhook_url_env}; it may have been revoked; "
            "the report was not sent.",
        ) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, TimeoutError):
            raise DeliveryError(
                f"Slack did not answer within {settings.timeout_s:g} s.",
                "Check the network and the webhook URL (or raise report.slack.timeout_s); "
                "the report was not sent.",
            ) from None
        raise DeliveryError(
            f"Slack could not be reached ({type(reason).__name__}).",
            "Check the network and the webhook URL; the report was not sent.",
        ) from None
    except (ValueError, http.client.InvalidURL):
        # urllib's message quotes the URL, whose path is the webhook's token: never shown.
        raise DeliveryError(
            f"The Slack webhook URL in ${settings.webhook_url_env} is not a valid https:// URL.",
            "Copy it again from Slack's incoming-webhook settings; the report was not sent.",
        ) from None
    return "sent to Slack"


def send_email(report: dict[str, Any], settings: EmailSettings) -> str:
    if not settings.smtp_host or not settings.to or not settings.from_address:
        raise ConfigError(
            "Email delivery needs report.email.smtp_host, from_address and to in mlcost.toml."
        )
    message = EmailMessage()
    message["Subject"] = summary_lines(report)[0]
    message["From"] = settings.from_address
    message["To"] = ", ".join(settings.to)
    message.set_content(render(report, "md"))
    message.add_alternative(render(report, "html"), subtype="html")
    username = os.environ.get(settings.username_env, "") if settings.username_env else ""
    password = os.environ.get(settings.password_env, "") if settings.password_env else ""
    server = f"{settings.smtp_host}:{settings.smtp_port}"
    try:
        smtp: smtplib.SMTP
        if settings.security == "ssl":
            smtp = smtplib.SMTP_SSL(
                settings.smtp_host,
                settings.smtp_port,
                timeout=settings.timeout_s,
                context=ssl.create_default_context(),
            )
        else:
            smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.timeout_s)
        with smtp:
            if settings.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if username:
                _login(smtp, username, password)
            smtp.send_message(message)
    except smtplib.SMTPAuthenticationError:
        raise DeliveryError(
            f"The mail server {server} refused the login.",
            f"Check ${settings.username_env} and ${settings.password_env}.",
        ) from None
    except (TimeoutError, smtplib.SMTPServerDisconnected) as exc:
        if not isinstance(exc, TimeoutError) and "timed out" not in str(exc):
            raise DeliveryError(
                f"The mail server {server} closed the connection.",
                "Check report.email.smtp_host, smtp_port and security; the report was not sent.",
            ) from None
        # smtplib reports a reply that never came as a disconnection "timed out"
        raise DeliveryError(
            f"The mail server {server} did not answer within {settings.timeout_s:g} s.",
            "Check report.email.smtp_host and smtp_port (or raise report.email.timeout_s); "
            "the report was not sent.",
        ) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(
            f"The mail server {server} did not take the report ({type(exc).__name__}).",
            "Check report.email.smtp_host, smtp_port and security; the report was not sent.",
        ) from None
    return f"emailed to {len(settings.to)} recipient(s)"


def _login(smtp: smtplib.SMTP, username: str, password: str) -> None:
    """Log in; a login outside ASCII (which smtplib cannot encode) goes as AUTH PLAIN in
    UTF-8, as RFC 4616 defines it."""
    try:
        smtp.login(username, password)
        return
    except UnicodeEncodeError:
        pass
    if "plain" not in smtp.esmtp_features.get("auth", "").lower().split():
        raise smtplib.SMTPAuthenticationError(504, b"PLAIN not offered for a UTF-8 login")
    token = base64.b64encode(f"\0{username}\0{password}".encode()).decode("ascii")
    code, reply = smtp.docmd("AUTH", f"PLAIN {token}")
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, reply)


def _slack_text(text: str) -> str:
    """Slack's mrkdwn escapes: cloud text cannot become a link or a mention."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _money(value: Any) -> str:
    return f"{Decimal(value):,.2f}"
