"""`mlcost ingest aws` against moto: an account with waste and near misses in two regions,
a second account through an assumed role, and refused calls."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from mlcost.connectors.aws import AwsSource
from moto import mock_aws

from mlcost.errors import CloudError
from mlcost.recommendations import analyze_recommendations, list_recommendations
from mlcost.store import Store

ME = "123456789012"
OTHER = "210987654321"
TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.Session]:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        yield boto3.Session(region_name="us-east-1")


def build_account(session: boto3.Session) -> dict[str, str]:
    """us-east-1: an idle m5.large with its disk and an AMI made from it, an unattached
    volume, a snapshot of a deleted volume, two Elastic IPs (one associated), a SageMaker
    endpoint and a training job. us-west-2: one running g5.xlarge."""
    ec2 = session.client("ec2", region_name="us-east-1")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    tag = {"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "legacy-etl"},
                                                {"Key": "team", "Value": "data"}]}  # fmt: skip
    vm = ec2.run_instances(
        ImageId=image, InstanceType="m5.large", MinCount=1, MaxCount=1, TagSpecifications=[tag]
    )["Instances"][0]["InstanceId"]
    loose = ec2.create_volume(Size=500, AvailabilityZone="us-east-1a", VolumeType="gp3")
    gone = ec2.create_volume(Size=800, AvailabilityZone="us-east-1a")["VolumeId"]
    orphan = ec2.create_snapshot(VolumeId=gone, Description="nightly etl")["SnapshotId"]
    ec2.delete_volume(VolumeId=gone)
    ami = ec2.create_image(InstanceId=vm, Name="etl-base")["ImageId"]
    free_ip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    used_ip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    ec2.associate_address(AllocationId=used_ip, InstanceId=vm)
    west = session.client("ec2", region_name="us-west-2")
    west_image = west.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    gpu = west.run_instances(ImageId=west_image, InstanceType="g5.xlarge", MinCount=1, MaxCount=1)
    sm = session.client("sagemaker", region_name="us-east-1")
    role = f"arn:aws:iam::{ME}:role/sagemaker"
    sm.create_model(
        ModelName="m", ExecutionRoleArn=role,
        PrimaryContainer={"Image": "123.dkr.ecr.us-east-1.amazonaws.com/m:1"},
    )  # fmt: skip
    sm.create_endpoint_config(
        EndpointConfigName="canary-config",
        ProductionVariants=[{"VariantName": "canary", "ModelName": "m",
                             "InstanceType": "ml.g4dn.xlarge", "InitialInstanceCount": 1}],
    )  # fmt: skip
    sm.create_endpoint(EndpointName="canary", EndpointConfigName="canary-config")
    cw = session.client("cloudwatch", region_name="us-east-1")
    cw.put_metric_data(
        Namespace="AWS/EC2",
        MetricData=[
            {"MetricName": "CPUUtilization", "Dimensions": [{"Name": "InstanceId", "Value": vm}],
             "Timestamp": TODAY - timedelta(days=d, hours=12), "Value": v}
            for d, v in ((1, 2.0), (1, 4.0), (2, 3.0))
        ],
    )  # fmt: skip
    return {
        "vm": vm, "loose": loose["VolumeId"], "orphan": orphan, "gone": gone, "ami": ami,
        "free_ip": free_ip, "used_ip": used_ip,
        "gpu": gpu["Instances"][0]["InstanceId"],
    }  # fmt: skip


def resources(store: Store) -> dict[str, dict[str, Any]]:
    with store.reader() as con:
        rows = con.sql("SELECT * FROM resources").to_arrow_table().to_pylist()
    return {r["resource_id"]: r for r in rows}


def test_inventory_and_utilisation_of_one_account_in_two_regions(
    aws: boto3.Session, store: Store
) -> None:
    ids = build_account(aws)
    source = AwsSource(regions=["us-east-1", "us-west-2"], session=aws, now=TODAY)
    store.load(source.batches())
    got = resources(store)

    vm = got[ids["vm"]]
    assert (vm["resource_type"], vm["state"], vm["name"]) == ("vm", "running", "legacy-etl")
    assert (vm["account_id"], vm["region"], vm["instance_type"]) == (ME, "us-east-1", "m5.large")
    assert (vm["vcpus"], vm["memory_gb"], vm["gpu_count"], vm["lifecycle"]) == (
        2, 8.0, 0, "on-demand"
    )  # fmt: skip
    assert json.loads(vm["tags"]) == {"Name": "legacy-etl", "team": "data"}
    gpu = got[ids["gpu"]]
    assert (gpu["region"], gpu["gpu_count"], gpu["gpu_model"]) == ("us-west-2", 1, "A10G")
    loose = got[ids["loose"]]
    assert (loose["state"], loose["attached_to"], loose["size_gb"]) == ("available", None, 500.0)
    assert json.loads(loose["details"])["volume_type"] == "gp3"
    orphan = got[ids["orphan"]]
    assert (orphan["resource_type"], orphan["source_id"]) == ("snapshot", ids["gone"])
    ami = got[ids["ami"]]
    ami_snapshots = json.loads(ami["details"])["snapshot_ids"]
    assert ami["resource_type"] == "image" and ami_snapshots
    assert all(got[s]["resource_type"] == "snapshot" for s in ami_snapshots)
    assert (got[ids["free_ip"]]["state"], got[ids["free_ip"]]["attached_to"]) == (
        "available", None
    )  # fmt: skip
    assert got[ids["used_ip"]]["attached_to"] == ids["vm"]
    (endpoint,) = [r for r in got.values() if r["resource_type"] == "endpoint"]
    assert (endpoint["name"], endpoint["instance_type"]) == ("canary", "ml.g4dn.xlarge")
    assert json.loads(endpoint["details"])["instance_count"] == 1
    assert source.scanned == [(ME, "us-east-1"), (ME, "us-west-2")]

    with store.reader() as con:
        cpu = con.execute(
            "SELECT ts, value FROM metrics WHERE resource_id = ? AND metric = 'cpu_util_pct' "
            "AND stat = 'Average' AND period_s = 86400 ORDER BY ts",
            [ids["vm"]],
        ).fetchall()
    # CloudWatch's daily average: day -2 one sample of 3 %, day -1 two samples (2 %, 4 %)
    assert [v for _, v in cpu] == [3.0, 3.0]


def test_rules_find_the_waste_from_what_the_connector_loaded(
    aws: boto3.Session, store: Store
) -> None:
    ids = build_account(aws)
    store.load(AwsSource(regions=["us-east-1"], session=aws, now=TODAY).batches())
    # everything was created just now: no grace periods, to judge it today
    analyze_recommendations(
        store, {"orphaned_snapshot": {"min_age_days": 0}, "unattached_volume": {"grace_days": 0}}
    )
    with store.reader() as con:
        found = {(f["rule"], f["resource_id"]) for f in list_recommendations(con).to_pylist()}
    assert ("orphaned_snapshot", ids["orphan"]) in found
    assert ("unattached_volume", ids["loose"]) in found
    assert ("unused_ip", ids["free_ip"]) in found
    assert ("unused_ip", ids["used_ip"]) not in found  # associated with a running VM
    # the AMI's own snapshot (of the running VM's disk) is not orphaned (moto's account
    # also holds snapshots behind its stock AMIs, which are left out of this check)
    ami_snapshots = set(json.loads(resources(store)[ids["ami"]]["details"])["snapshot_ids"])
    flagged = {i for r, i in found if r == "orphaned_snapshot"}
    assert ami_snapshots and not ami_snapshots & flagged


def test_a_rescan_drops_what_was_deleted(aws: boto3.Session, store: Store) -> None:
    ids = build_account(aws)
    store.load(AwsSource(regions=["us-east-1"], session=aws, now=TODAY).batches())
    aws.client("ec2", region_name="us-east-1").delete_volume(VolumeId=ids["loose"])
    store.load(AwsSource(regions=["us-east-1"], session=aws, now=TODAY).batches())
    got = resources(store)
    assert ids["loose"] not in got and ids["vm"] in got


def test_member_accounts_are_read_through_the_role(aws: boto3.Session, store: Store) -> None:
    sts = aws.client("sts")
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{OTHER}:role/ReadOnly", RoleSessionName="setup")[
        "Credentials"
    ]
    other = boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name="us-east-1",
    )
    volume = other.client("ec2").create_volume(Size=10, AvailabilityZone="us-east-1a")
    source = AwsSource(
        regions=["us-east-1"], accounts=[ME, OTHER], role_name="ReadOnly", session=aws, now=TODAY
    )
    store.load(source.batches())
    got = resources(store)
    assert got[volume["VolumeId"]]["account_id"] == OTHER
    assert source.scanned == [(ME, "us-east-1"), (OTHER, "us-east-1")]


def _refuse(code: str) -> Any:
    def handler(**kwargs: Any) -> None:
        raise ClientError({"Error": {"Code": code, "Message": "no"}}, "DescribeVolumes")

    return handler


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("UnauthorizedOperation", f"AWS refused ec2:DescribeVolumes in account {ME}, us-east-1"),
        ("RequestLimitExceeded", "AWS kept throttling ec2:DescribeVolumes"),
    ],
)
def test_a_refused_call_names_itself_and_leaves_the_store_as_it_was(
    aws: boto3.Session, store: Store, code: str, message: str
) -> None:
    ids = build_account(aws)
    store.load(AwsSource(regions=["us-east-1"], session=aws, now=TODAY).batches())
    before = resources(store)
    aws.client("ec2", region_name="us-east-1").delete_volume(VolumeId=ids["loose"])
    aws.events.register("before-call.ec2.DescribeVolumes", _refuse(code))
    with pytest.raises(CloudError) as caught:
        store.load(AwsSource(regions=["us-east-1"], session=aws, now=TODAY).batches())
    assert message in str(caught.value)
    assert resources(store).keys() == before.keys()  # the old scan stands, whole
