"""boto3 sessions, paging and errors, in one place.

Credentials and endpoints come from boto3's own chain (AWS_PROFILE, AWS_ENDPOINT_URL,
instance roles…). Throttling is retried by botocore's adaptive mode; what still fails
is translated once, here, into a CloudError that names the call, the account and the
region, and what to do.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from mlcost.errors import CloudError

#: Adaptive retries: botocore backs off on throttling before we ever see it.
RETRIES = Config(retries={"mode": "adaptive", "max_attempts": 10}, connect_timeout=10)

_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthFailure"}
_THROTTLED = {"Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequests"}


def client(session: boto3.Session, service: str, region: str | None = None) -> Any:
    return session.client(service, region_name=region, config=RETRIES)


def pages(call: Any, key: str, **params: Any) -> Iterator[Any]:
    """Every item under ``key`` of a paginated ``describe_*``/``list_*`` call."""
    client_ = call.__self__
    name = call.__name__
    if client_.can_paginate(name):
        for page in client_.get_paginator(name).paginate(**params):
            yield from page.get(key, [])
    else:
        yield from call(**params).get(key, [])


def translate(exc: Exception, action: str, account: str, region: str | None) -> CloudError:
    """A boto3 failure as one sentence naming the call, account and region."""
    where = f"account {account}" + (f", {region}" if region else "")
    if isinstance(exc, NoCredentialsError):
        return CloudError(
            f"No AWS credentials were found for {action}.",
            "Set AWS_PROFILE, or run where an instance or container role is available.",
        )
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "Error")
        if code in _DENIED:
            return CloudError(
                f"AWS refused {action} in {where} ({code}).",
                f"Grant {action} to the identity or role mlcost uses (see the README's IAM "
                "policy); nothing was loaded.",
            )
        if code in _THROTTLED:
            return CloudError(
                f"AWS kept throttling {action} in {where} after retries ({code}).",
                "Run again later or with fewer --regions; nothing was loaded.",
            )
        return CloudError(f"AWS failed {action} in {where} ({code}).", "Nothing was loaded.")
    if isinstance(exc, BotoCoreError):
        return CloudError(
            f"AWS could not be reached for {action} in {where} ({type(exc).__name__}).",
            "Check the network and AWS_ENDPOINT_URL; nothing was loaded.",
        )
    raise exc


def naive_utc(value: Any) -> datetime | None:
    """boto3's aware datetimes (or ISO strings) as naive UTC, the store's convention."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.replace(microsecond=0)
