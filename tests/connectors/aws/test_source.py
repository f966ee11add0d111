"""The AWS connector against moto: exact inventory, metrics and runs rows, re-ingest."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from mlcost.connectors.aws import AwsSource
from mlcost.connectors.aws.api import permission

from mlcost.errors import InputError
from mlcost.store import Store
from tests.connectors.aws.conftest import ACCOUNT, Org, build_org

REGIONS = ["us-east-1", "eu-west-1"]


def _rows(store: Store, sql: str) -> list[tuple[Any, ...]]:
    with store.reader() as con:
        return [tuple(r) for r in con.execute(sql).fetchall()]


def _root_volume(org: Org, instance: str) -> str:
    return str(org.described[org.ids[instance]]["BlockDeviceMappings"][0]["Ebs"]["VolumeId"])


def _image_snapshot(org: Org, image: str) -> str:
    mapping = org.described[org.ids[image]]["BlockDeviceMappings"][0]
    return str(mapping["Ebs"]["SnapshotId"])


def _created(org: Org, resource_id: str, key: str) -> datetime:
    value = org.described[resource_id][key]
    return value.astimezone(UTC).replace(tzinfo=None)  # type: ignore[no-any-return]


NO_SPEC = (None, None, None, None, None)
M5L = ("m5.large", 2, 8.0, 0, None)
T3L = ("t3.large", 2, 8.0, 0, None)
G5X = ("g5.xlarge", 4, 16.0, 1, "A10G")


def _r(
    region: str,
    kind: str,
    rid: str,
    name: str | None = None,
    state: str | None = None,
    *,
    attached: str | None = None,
    source: str | None = None,
    size: float | None = None,
    life: str | None = None,
    spec: tuple[Any, ...] = NO_SPEC,
) -> tuple[Any, ...]:
    """One expected inventory row, in the test's column order."""
    return (region, kind, rid, name, state, attached, source, size, life, *spec)


def test_inventory_rows_are_exact(moto_aws: None, store: Store) -> None:
    org = build_org()
    ids = org.ids
    source = AwsSource(regions=REGIONS, now=org.now)
    store.load(source.batches())

    rows = _rows(
        store,
        "SELECT region, resource_type, resource_id, name, state, attached_to, source_id, "
        "size_gb, lifecycle, instance_type, vcpus, memory_gb, gpu_count, gpu_model "
        "FROM resources ORDER BY region, resource_type, resource_id",
    )
    snap_golden, snap_old = _image_snapshot(org, "golden"), _image_snapshot(org, "old")
    endpoint = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/det-prod"
    notebook = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:notebook-instance/nb-alice"
    e, u = "eu-west-1", "us-east-1"
    busy, idle, api = ids["busy"], ids["idle"], ids["api"]
    ami, gone = "ami-12345678", ids["gone_volume"]
    expected = [
        _r(e, "ip_address", ids["eip_west"], state="available"),
        _r(e, "vm", api, "api", "running", source=ami, life="on-demand", spec=M5L),
        _r(e, "volume", _root_volume(org, "api"), state="in-use", attached=api, size=8.0),
        _r(
            u,
            "endpoint",
            endpoint,
            "det-prod",
            "running",
            spec=("ml.g4dn.xlarge", 4, 16.0, 1, "T4"),
        ),
        _r(u, "image", ids["golden"], "golden", "available", source=snap_golden, size=15.0),
        _r(u, "image", ids["old"], "old-base", "disabled", source=snap_old, size=15.0),
        _r(u, "ip_address", ids["eip_free"], state="available"),
        _r(u, "ip_address", ids["eip_used"], state="in-use", attached=busy),
        _r(u, "notebook", notebook, "nb-alice", "running", spec=("ml.t3.medium", 2, 4.0, 0, None)),
        _r(u, "snapshot", ids["orphan"], "etl-backup", "completed", source=gone, size=800.0),
        _r(u, "vm", idle, "dev-idle", "stopped", source=ami, life="on-demand", spec=T3L),
        _r(u, "vm", busy, "train-busy", "running", source=ami, life="spot", spec=G5X),
        _r(u, "volume", _root_volume(org, "busy"), state="in-use", attached=busy, size=8.0),
        _r(u, "volume", _root_volume(org, "idle"), state="in-use", attached=idle, size=8.0),
        _r(u, "volume", ids["scratch"], "scratch", "available", size=100.0),
    ]
    for snap in (snap_golden, snap_old):
        volume = org.described[snap]["VolumeId"]
        expected.append(_r(u, "snapshot", snap, state="completed", source=volume, size=15.0))
    assert rows == sorted(expected, key=lambda r: (r[0], r[1], r[2]))

    # Every row is stamped with the scan, the account and the connector.
    assert _rows(store, "SELECT DISTINCT provider, account_id, source, observed_at FROM resources")
    assert _rows(
        store, "SELECT DISTINCT provider, account_id, source, observed_at FROM resources"
    ) == [("aws", ACCOUNT, "aws", org.now)]


def test_details_tags_and_times(moto_aws: None, store: Store) -> None:
    org = build_org()
    ids = org.ids
    store.load(AwsSource(regions=REGIONS, now=org.now).batches())
    got = {
        r[0]: (json.loads(r[1]), json.loads(r[2]), r[3])
        for r in _rows(store, "SELECT resource_id, details, tags, created_at FROM resources")
    }

    details, tags, created = got[ids["idle"]]
    transition = org.described[ids["idle"]]["StateTransitionReason"]
    stamp = transition[transition.index("(") + 1 : transition.index(")")].split(" ")
    assert details["state_reason"] == "Client.UserInitiatedShutdown: User initiated shutdown"
    assert details["stopped_at"] == f"{stamp[0]}T{stamp[1]}Z"
    assert details["platform"] == "Linux/UNIX"
    assert tags == {"Name": "dev-idle", "team": "applied"}
    assert created == _created(org, ids["idle"], "LaunchTime")

    details, tags, _ = got[ids["scratch"]]
    assert details == {
        "availability_zone": "us-east-1a",
        "encrypted": False,
        "iops": 3000,
        "volume_type": "gp3",
    }
    assert tags == {"Name": "scratch"}

    # The orphaned snapshot names no image; each AMI's snapshot names its AMI, also the
    # disabled one (a snapshot behind a disabled AMI is not orphaned).
    assert "image_ids" not in got[ids["orphan"]][0]
    assert got[ids["orphan"]][0]["description"] == "nightly backup"
    assert got[_image_snapshot(org, "golden")][0]["image_ids"] == [ids["golden"]]
    assert got[_image_snapshot(org, "old")][0]["image_ids"] == [ids["old"]]
    assert got[ids["golden"]][0]["snapshot_ids"] == [_image_snapshot(org, "golden")]

    details, _, created = got[ids["eip_used"]]
    assert details["association_id"].startswith("eipassoc-")
    assert "association_id" not in got[ids["eip_free"]][0]
    assert created is None  # DescribeAddresses has no allocation time

    endpoint = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/det-prod"
    assert got[endpoint][0] == {
        "instance_count": 2,
        "status": "InService",
        "variants": [
            {"instance_count": 2, "instance_type": "ml.g4dn.xlarge", "name": "AllTraffic"}
        ],
    }
    assert got[endpoint][1] == {"team": "perception"}


def test_metrics_are_daily_and_hourly_with_hand_computed_values(
    moto_aws: None, store: Store
) -> None:
    org = build_org()
    ids = org.ids
    store.load(AwsSource(regions=REGIONS, now=org.now).batches())
    day, h10, h11 = org.day, org.day + timedelta(hours=10), org.day + timedelta(hours=11)
    endpoint = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/det-prod"
    expected = sorted(
        [
            # busy: 80 and 90 at 10:xx, 70 at 11:xx.
            (ids["busy"], "cpu_util_pct", "Average", 86400, day, 80.0),
            (ids["busy"], "cpu_util_pct", "Maximum", 86400, day, 90.0),
            (ids["busy"], "cpu_util_pct", "Average", 3600, h10, 85.0),
            (ids["busy"], "cpu_util_pct", "Average", 3600, h11, 70.0),
            # Two GPUs at 60 % and 40 %: the instance's GPU utilisation is their mean.
            (ids["busy"], "gpu_util_pct", "Average", 86400, day, 50.0),
            (ids["busy"], "gpu_util_pct", "Average", 3600, h10, 50.0),
            (ids["busy"], "net_in_bytes", "Sum", 86400, day, 1500.0),
            (ids["busy"], "net_out_bytes", "Sum", 86400, day, 250.0),
            # The instance's EBS read ops 30 + write ops 12.
            (ids["busy"], "disk_io_ops", "Sum", 86400, day, 42.0),
            (ids["idle"], "cpu_util_pct", "Average", 86400, day, 2.0),
            (ids["idle"], "cpu_util_pct", "Maximum", 86400, day, 2.0),
            (ids["idle"], "cpu_util_pct", "Average", 3600, h10, 2.0),
            # Read ops 100 + write ops 50.
            (ids["scratch"], "disk_io_ops", "Sum", 86400, day, 150.0),
            # 10 + 5 invocations of the endpoint's one variant.
            (endpoint, "invocations", "Sum", 86400, day, 15.0),
        ]
    )
    rows = _rows(
        store,
        "SELECT resource_id, metric, stat, period_s, ts, value FROM metrics "
        "WHERE source = 'aws' ORDER BY ALL",
    )
    assert rows == expected


def test_training_jobs_become_runs(moto_aws: None, store: Store) -> None:
    org = build_org()
    store.load(AwsSource(regions=REGIONS, now=org.now).batches())
    rows = _rows(
        store,
        "SELECT run_id, experiment, name, status, params, tags, resource_ids, gpu_count, source "
        "FROM runs",
    )
    assert len(rows) == 1
    run_id, experiment, name, status, params, tags, resource_ids, gpus, source = rows[0]
    assert (run_id, experiment, name, status, source) == (
        "seg-001",
        "seg-001",
        "seg-001",
        "FINISHED",
        "sagemaker",
    )
    assert json.loads(params) == {
        "epochs": "3",
        "instance_count": 2,
        "instance_type": "ml.g4dn.xlarge",
        "managed_spot": False,
        "volume_size_gb": 50,
    }
    assert json.loads(tags) == {
        "aws:account_id": ACCOUNT,
        "aws:region": "us-east-1",
        "sagemaker:managed_spot": "false",
        "team": "applied",
    }
    assert json.loads(resource_ids) == [
        f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:training-job/seg-001"
    ]
    assert gpus == 2  # 2 x ml.g4dn.xlarge, one T4 each


def test_reingest_drops_deleted_resources_and_keeps_unscanned_regions(
    moto_aws: None, store: Store
) -> None:
    org = build_org()
    store.load(AwsSource(regions=REGIONS, now=org.now).batches())
    boto3.client("ec2", "us-east-1").delete_volume(VolumeId=org.ids["scratch"])
    boto3.client("ec2", "eu-west-1").release_address(AllocationId=org.ids["eip_west"])

    store.load(AwsSource(regions=["us-east-1"], now=org.now).batches())
    ids = {r[0] for r in _rows(store, "SELECT resource_id FROM resources")}
    assert org.ids["scratch"] not in ids  # deleted, and its region was scanned
    assert org.ids["eip_west"] in ids  # eu-west-1 was not scanned: kept as it was
    assert len(ids) == 17 - 1


def test_assumes_a_role_in_each_member_account(moto_aws: None, store: Store) -> None:
    member = "210987654321"
    creds = boto3.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{member}:role/mlcost-read", RoleSessionName="setup"
    )["Credentials"]
    session = boto3.session.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    volume = session.client("ec2", "us-east-1").create_volume(
        Size=10, AvailabilityZone="us-east-1a"
    )["VolumeId"]
    boto3.client("ec2", "us-east-1").create_volume(Size=20, AvailabilityZone="us-east-1a")

    source = AwsSource(
        regions=["us-east-1"], accounts=[member], role_name="mlcost-read", lookback_days=1
    )
    store.load(source.batches())
    rows = _rows(store, "SELECT account_id, resource_id, size_gb FROM resources")
    assert rows == [(member, volume, 10.0)]


def test_accounts_need_a_role_name() -> None:
    with pytest.raises(InputError, match="--role-name"):
        AwsSource(accounts=["210987654321"])


def test_permission_names() -> None:
    assert permission("ec2", "describe_instance_types") == "ec2:DescribeInstanceTypes"
    assert permission("cloudwatch", "get_metric_data") == "cloudwatch:GetMetricData"


def test_the_documented_policy_covers_every_call(moto_aws: None, store: Store) -> None:
    """The IAM policy of docs/tasks/aws.md grants every action an ingest used, across all
    paths."""
    page = Path(__file__).parents[3] / "docs" / "tasks" / "aws.md"
    section = page.read_text("utf-8")
    block = section[section.index("```json") + len("```json") : section.index("```\n\n`sts")]
    granted = set(json.loads(block)["Statement"][0]["Action"])

    org = build_org()
    used: set[str] = set()
    for kwargs in ({}, {"regions": ["us-east-1"]}):
        source = AwsSource(now=org.now, **kwargs)  # type: ignore[arg-type]
        store.load(source.batches())
        used |= source.summary.actions
    member = AwsSource(regions=["us-east-1"], accounts=["organization"], role_name="r", now=org.now)
    boto3.client("organizations").create_organization(FeatureSet="ALL")
    store.load(member.batches())
    used |= member.summary.actions
    assert "ec2:DescribeRegions" in used and "organizations:ListAccounts" in used
    assert "sts:AssumeRole" in used and "cloudwatch:GetMetricData" in used
    assert used <= granted, used - granted


def test_metrics_are_fetched_500_queries_per_call(moto_aws: None, store: Store) -> None:
    """80 instances: 7 EC2 queries each (CPU x3, network x2, EBS ops x2) and 2 for each
    root volume (read and write ops) make 720 queries: two GetMetricData calls, not 720."""
    session = boto3.session.Session()
    session.client("ec2", "us-east-1").run_instances(
        ImageId="ami-12345678", MinCount=80, MaxCount=80, InstanceType="m5.large"
    )
    calls: list[int] = []

    def count(params: dict[str, Any], **_: Any) -> None:
        calls.append(len(params["MetricDataQueries"]))

    session.events.register("provide-client-params.cloudwatch.GetMetricData", count)  # type: ignore[attr-defined]
    source = AwsSource(regions=["us-east-1"], lookback_days=1, session=session)
    store.load(source.batches())
    assert calls == [500, 220]
    assert source.summary.resources[(ACCOUNT, "us-east-1", "vm")] == 80


def _two_pages(session: boto3.session.Session, event: str, key: str) -> list[str | None]:
    """Serve each ``event`` answer as two pages (moto 5 ignores MaxResults for volumes and
    snapshots): the first half with a NextToken, then the rest when it is asked for."""
    tokens: list[str | None] = []

    def before(params: dict[str, Any], **_: Any) -> None:
        body = params.get("body")
        tokens.append(body.get("NextToken") if isinstance(body, dict) else None)

    def after(parsed: dict[str, Any], **_: Any) -> None:
        items = parsed.get(key, [])
        half = max(1, len(items) // 2)
        if tokens[-1] is None:
            parsed[key] = items[:half]
            parsed["NextToken"] = "page-2"
        else:
            parsed[key] = items[half:]
            parsed.pop("NextToken", None)

    session.events.register(f"before-call.ec2.{event}", before)
    session.events.register(f"after-call.ec2.{event}", after)
    return tokens


def test_volumes_and_snapshots_are_read_across_pages(moto_aws: None, store: Store) -> None:
    org = build_org()
    ec2 = boto3.client("ec2", "us-east-1")
    volumes = {v["VolumeId"] for v in ec2.describe_volumes()["Volumes"]}
    snapshots = {s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]}
    assert len(volumes) > 1 and len(snapshots) > 1
    session = boto3.session.Session()
    volume_calls = _two_pages(session, "DescribeVolumes", "Volumes")
    snapshot_calls = _two_pages(session, "DescribeSnapshots", "Snapshots")
    store.load(AwsSource(regions=["us-east-1"], now=org.now, session=session).batches())
    assert volume_calls == [None, "page-2"] and snapshot_calls == [None, "page-2"]
    with store.reader() as con:
        got = {
            kind: {r[0] for r in con.execute(
                "SELECT resource_id FROM resources WHERE resource_type = ? AND region = ?",
                [kind, "us-east-1"],
            ).fetchall()}
            for kind in ("volume", "snapshot")
        }  # fmt: skip
    assert got["volume"] == volumes
    assert got["snapshot"] == snapshots
