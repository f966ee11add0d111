"""Denied and throttled AWS calls, injected into botocore's send path in front of moto."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from mlcost.connectors.aws import AwsCallError, AwsSource

from mlcost.store import Store
from tests.connectors.aws.conftest import ACCOUNT, build_org

REGIONS = ["us-east-1", "eu-west-1"]


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Any:
        yield self.body


def _ec2_error(code: str, status: int) -> Callable[..., AWSResponse]:
    body = (
        f"<Response><Errors><Error><Code>{code}</Code><Message>injected {code}</Message>"
        "</Error></Errors><RequestID>test</RequestID></Response>"
    ).encode()

    def respond(url: str) -> AWSResponse:
        return AWSResponse(url, status, {}, _Raw(body))

    return respond


def _inject(
    session: boto3.session.Session,
    event: str,
    region: str,
    code: str,
    status: int,
    times: int | None = None,
) -> list[str]:
    """Answer ``event`` in ``region`` with an error (``times`` times, else always).

    Registered first, so it answers before moto does; returns the URLs it answered."""
    seen: list[str] = []
    respond = _ec2_error(code, status)

    def handler(request: Any, **_: Any) -> AWSResponse | None:
        if f".{region}." not in request.url or (times is not None and len(seen) >= times):
            return None
        seen.append(request.url)
        return respond(request.url)

    session.events.register_first(f"before-send.ec2.{event}", handler)  # type: ignore[attr-defined]
    return seen


def _dump(store: Store) -> list[tuple[Any, ...]]:
    with store.reader() as con:
        rows = con.execute(
            "SELECT * EXCLUDE (ingested_at) FROM resources ORDER BY resource_id"
        ).fetchall()
        rows += con.execute("SELECT * FROM metrics ORDER BY ALL").fetchall()
        rows += con.execute("SELECT * FROM runs ORDER BY ALL").fetchall()
    return [tuple(r) for r in rows]


def test_access_denied_in_one_region_keeps_it_and_loads_the_rest(
    moto_aws: None, store: Store
) -> None:
    org = build_org()
    store.load(AwsSource(regions=REGIONS, now=org.now).batches())
    with store.reader() as con:
        west_before = con.execute(
            "SELECT * EXCLUDE (ingested_at) FROM resources WHERE region = 'eu-west-1' "
            "ORDER BY resource_id"
        ).fetchall()
    boto3.client("ec2", "us-east-1").delete_volume(VolumeId=org.ids["scratch"])
    boto3.client("ec2", "eu-west-1").release_address(AllocationId=org.ids["eip_west"])

    session = boto3.session.Session()
    denied = _inject(session, "DescribeVolumes", "eu-west-1", "UnauthorizedOperation", 403)
    source = AwsSource(regions=REGIONS, now=org.now, session=session)
    store.load(source.batches())

    assert len(denied) == 1  # not retried: a refusal does not change by asking again
    assert len(source.summary.warnings) == 1
    warning = source.summary.warnings[0]
    assert f"account {ACCOUNT} region eu-west-1" in warning
    assert "ec2:DescribeVolumes" in warning and "UnauthorizedOperation" in warning
    with store.reader() as con:
        west_after = con.execute(
            "SELECT * EXCLUDE (ingested_at) FROM resources WHERE region = 'eu-west-1' "
            "ORDER BY resource_id"
        ).fetchall()
        east = {r[0] for r in con.execute("SELECT resource_id FROM resources").fetchall()}
    assert west_after == west_before  # the EIP released since is still there: not rescanned
    assert org.ids["scratch"] not in east  # us-east-1 was rescanned
    assert org.ids["busy"] in east


def test_throttling_is_retried_then_the_call_succeeds(
    moto_aws: None, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = build_org()
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "3")
    session = boto3.session.Session()
    throttled = _inject(session, "DescribeSnapshots", "us-east-1", "RequestLimitExceeded", 503, 1)
    source = AwsSource(regions=["us-east-1"], now=org.now, session=session)
    store.load(source.batches())
    assert len(throttled) == 1
    with store.reader() as con:
        snaps = con.execute("SELECT count(*) FROM resources WHERE resource_type = 'snapshot'")
        assert snaps.fetchall() == [(3,)]
    assert source.summary.warnings == []


def test_throttling_past_the_retries_stops_with_a_clear_error_and_no_change(
    moto_aws: None, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = build_org()
    store.load(AwsSource(regions=REGIONS, now=org.now).batches())
    before = _dump(store)
    boto3.client("ec2", "eu-west-1").release_address(AllocationId=org.ids["eip_west"])

    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    session = boto3.session.Session()
    throttled = _inject(session, "DescribeSnapshots", "us-east-1", "RequestLimitExceeded", 503)
    # eu-west-1 first: its new inventory is written, then rolled back with the rest.
    source = AwsSource(regions=["eu-west-1", "us-east-1"], now=org.now, session=session)
    with pytest.raises(AwsCallError) as caught:
        store.load(source.batches())

    assert len(throttled) == 2  # the first try and one retry
    error = caught.value
    assert (error.call, error.region, error.account) == (
        "ec2:DescribeSnapshots",
        "us-east-1",
        ACCOUNT,
    )
    assert error.message == (
        f"AWS kept throttling ec2:DescribeSnapshots in account {ACCOUNT}, region us-east-1 "
        "after retries (RequestLimitExceeded: injected RequestLimitExceeded)."
    )
    assert error.hint and "AWS_MAX_ATTEMPTS" in error.hint
    assert _dump(store) == before


def test_an_endpoint_that_never_answers_is_one_error_naming_the_call(
    silent_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # botocore's ReadTimeoutError, through the real client (the wait shortened to 1 s)
    from mlcost.connectors.aws import api

    monkeypatch.setattr(api, "READ_TIMEOUT_S", 1)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="eu-west-1"
    )
    monkeypatch.setenv("AWS_ENDPOINT_URL", silent_server.rstrip("/"))
    account = api.Account(session, ACCOUNT)

    with pytest.raises(AwsCallError) as raised:
        account.call("ec2", "eu-west-1", "describe_regions")

    assert raised.value.code == "ReadTimeoutError"
    assert str(raised.value.message).startswith(
        f"AWS call ec2:DescribeRegions failed in account {ACCOUNT}, region eu-west-1: "
        "Read timeout on endpoint URL"
    )
    assert raised.value.hint == "Check the network and AWS_ENDPOINT_URL if one is set."
