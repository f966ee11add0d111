"""Calls to AWS: one boto3 session per account, paging, retries, and errors translated.

Everything boto3 reads by itself (AWS_PROFILE, AWS_ENDPOINT_URL, AWS_DEFAULT_REGION, the
credential chain) is left to boto3. Throttling is retried by botocore's adaptive retry
mode; what still fails leaves here as one :class:`AwsCallError` naming the call, the
region and the account, and, for AccessDenied, the IAM permission that is missing.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from botocore.parsers import ResponseParserError

from mlcost.errors import ConfigError, InputError

#: Attempts per call unless AWS_MAX_ATTEMPTS (read by botocore) says otherwise.
DEFAULT_MAX_ATTEMPTS = 10
#: Seconds to connect to an AWS endpoint, and to wait for its answer: an endpoint that
#: never answers (a wrong AWS_ENDPOINT_URL, a blocked network) fails in about a minute.
CONNECT_TIMEOUT_S = 10
READ_TIMEOUT_S = 60


def retry_config() -> Config:
    """Adaptive retries: client-side rate limiting plus exponential back-off on throttling."""
    retries: dict[str, Any] = {"mode": "adaptive"}
    if not os.environ.get("AWS_MAX_ATTEMPTS"):
        retries["max_attempts"] = DEFAULT_MAX_ATTEMPTS
    return Config(
        retries=retries,
        user_agent_extra="mlcost",
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
    )


#: Error codes that mean "this caller may not do this here": the region or account is
#: skipped with a warning (its earlier inventory kept), the rest of the ingest goes on.
DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "AuthFailure",
        "OptInRequired",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
    }
)
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestThrottled",
        "SlowDown",
    }
)
#: botocore service names to IAM prefixes, where they differ.
_IAM_PREFIX = {
    "cloudwatch": "cloudwatch",
    "sagemaker": "sagemaker",
    "ec2": "ec2",
    "elbv2": "elasticloadbalancing",
    "efs": "elasticfilesystem",
}


class AwsCallError(InputError):
    """An AWS call failed after retries; names the call, region and account."""

    def __init__(
        self, message: str, hint: str | None, *, code: str, call: str, region: str, account: str
    ) -> None:
        super().__init__(message, hint)
        self.code = code
        self.call = call
        self.region = region
        self.account = account

    @property
    def denied(self) -> bool:
        return self.code in DENIED_CODES


def permission(service: str, operation: str) -> str:
    """The IAM action of a boto3 call: ``ec2``, ``describe_volumes`` → ``ec2:DescribeVolumes``."""
    name = "".join(part.capitalize() for part in operation.split("_"))
    return f"{_IAM_PREFIX.get(service, service)}:{name}"


def open_session() -> tuple[boto3.session.Session, str]:
    """A boto3 session from the standard chain and its region (us-east-1 if none is
    set); a profile that is not there is one sentence, not botocore's traceback."""
    try:
        session = boto3.session.Session()
        return session, session.region_name or "us-east-1"
    except BotoCoreError as exc:
        raise ConfigError(
            f"AWS configuration: {_one_line(str(exc))}.",
            "Check AWS_PROFILE and AWS_CONFIG_FILE (`aws configure list-profiles` lists the "
            "profiles there).",
        ) from exc


class Account:
    """One AWS account reached through one boto3 session; counts the calls it makes."""

    def __init__(self, session: boto3.session.Session, account_id: str) -> None:
        self.session = session
        self.account_id = account_id
        self.calls = 0
        #: The IAM actions this account's calls needed (docs/tasks/aws.md's policy covers them).
        self.actions: set[str] = set()
        self._clients: dict[tuple[str, str], Any] = {}

    def client(self, service: str, region: str) -> Any:
        key = (service, region)
        if key not in self._clients:
            self._clients[key] = self.session.client(
                service,
                region_name=region,
                config=retry_config(),
            )
        return self._clients[key]

    def call(self, service: str, region: str, operation: str, **params: Any) -> Any:
        """One API call, its errors translated (making the client too: a malformed
        AWS_ENDPOINT_URL or profile fails there)."""
        self.actions.add(permission(service, operation))
        with translate(service, operation, region, self.account_id):
            client = self.client(service, region)
            self.calls += 1
            return getattr(client, operation)(**params)

    def pages(
        self, service: str, region: str, operation: str, key: str, **params: Any
    ) -> Iterator[Any]:
        """Every item under ``key`` across all pages of a list call."""
        self.actions.add(permission(service, operation))
        with translate(service, operation, region, self.account_id):
            paginator = self.client(service, region).get_paginator(operation)
            for page in paginator.paginate(**params):
                self.calls += 1
                yield from page.get(key, [])


@contextlib.contextmanager
def translate(service: str, operation: str, region: str, account: str) -> Iterator[None]:
    """Turn botocore's exceptions into one :class:`AwsCallError` (or ConfigError)."""
    action = permission(service, operation)
    # the first call (sts:GetCallerIdentity) is before the account is known
    where = f"in account {account}, region {region}" if account else f"in region {region}"
    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        text = _one_line(str(error.get("Message", "")))
        if code in DENIED_CODES:
            hint = (
                f"Grant {action} to the identity mlcost runs as (the IAM policy in "
                "docs/tasks/aws.md), or leave this region/account out with --regions/--accounts."
            )
            if code == "OptInRequired":
                hint = "Enable the region for the account, or leave it out with --regions."
            message = f"AWS refused {action} {where} ({code}: {text})."
        elif code in THROTTLING_CODES:
            message = f"AWS kept throttling {action} {where} after retries ({code}: {text})."
            hint = (
                "Run again later or with fewer --regions; raise AWS_MAX_ATTEMPTS to retry longer."
            )
        else:
            message = f"AWS call {action} failed {where} ({code}: {text})."
            hint = None
        raise AwsCallError(
            message, hint, code=code, call=action, region=region, account=account
        ) from exc
    except NoCredentialsError as exc:
        raise ConfigError(
            f"No AWS credentials found for {action} {where}.",
            "Configure them as for the AWS CLI (AWS_PROFILE, environment, SSO or instance role).",
        ) from exc
    except ResponseParserError as exc:
        # not a BotoCoreError: an endpoint (a proxy, a wrong AWS_ENDPOINT_URL, an outage
        # page) answered with something that is not an AWS response
        raise AwsCallError(
            f"AWS call {action} failed {where}: the endpoint{_endpoint()} answered with "
            "something that is not an AWS response.",
            "Check AWS_ENDPOINT_URL and any proxy between mlcost and AWS, or run again "
            "later if AWS itself was failing.",
            code="ResponseParserError",
            call=action,
            region=region,
            account=account,
        ) from exc
    except (BotoCoreError, ValueError) as exc:
        # ValueError: botocore's word for a malformed endpoint URL
        raise AwsCallError(
            f"AWS call {action} failed {where}: {_one_line(str(exc))}.",
            "Check the network and AWS_ENDPOINT_URL if one is set.",
            code=type(exc).__name__,
            call=action,
            region=region,
            account=account,
        ) from exc


def _endpoint() -> str:
    """`` at URL`` when AWS_ENDPOINT_URL sends every call somewhere else (the CLI
    redacts any credential in it, as in every message)."""
    url = os.environ.get("AWS_ENDPOINT_URL", "").strip()
    return f" at {url}" if url else ""


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().rstrip(".")
