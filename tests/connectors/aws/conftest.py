"""A small AWS organisation in moto, rich in near misses for the waste rules."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.validate import validate_parameters
from moto import mock_aws

from tests.connectors.aws.fake_pricing import FakePricing, load_products, serve_pricing

ACCOUNT = "123456789012"
ROLE = "arn:aws:iam::123456789012:role/sagemaker"


@pytest.fixture
def pricing() -> Iterator[tuple[FakePricing, str]]:
    """The local Price List Query API with the us-east-1 and eu-west-1 price lists."""
    fake = FakePricing(load_products("us-east-1", "eu-west-1"))
    with serve_pricing(fake) as url:
        yield fake, url


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, pricing: tuple[FakePricing, str]) -> None:
    """Fake credentials only; no profile or endpoint of the developer's leaks in. The
    Pricing API (which moto lacks) is the local fake, through botocore's own per-service
    endpoint variable."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL_PRICING", pricing[1])
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")


@dataclass
class Org:
    """The ids moto gave the organisation's resources, by our names for them."""

    now: datetime
    day: datetime  # the day the metrics were put on (midnight UTC)
    ids: dict[str, str] = field(default_factory=dict)
    described: dict[str, Any] = field(default_factory=dict)


@pytest.fixture
def moto_aws() -> Iterator[None]:
    with mock_aws():
        yield


def _tags(kind: str, **tags: str) -> list[dict[str, Any]]:
    return [{"ResourceType": kind, "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}]


def build_org(session: boto3.session.Session | None = None) -> Org:
    """Two regions: an idle and a busy instance, volumes, snapshots, AMIs, EIPs, SageMaker."""
    session = session or boto3.session.Session()
    now = datetime.now(UTC).replace(tzinfo=None, minute=0, second=0, microsecond=0)
    org = Org(now=now, day=now.replace(hour=0) - timedelta(days=2))
    ec2 = session.client("ec2", "us-east-1")
    ids = org.ids

    busy = ec2.run_instances(
        ImageId="ami-12345678",
        MinCount=1,
        MaxCount=1,
        InstanceType="g5.xlarge",
        InstanceMarketOptions={"MarketType": "spot"},
        TagSpecifications=_tags("instance", Name="train-busy", team="research"),
    )["Instances"][0]
    ids["busy"] = busy["InstanceId"]
    idle = ec2.run_instances(
        ImageId="ami-12345678",
        MinCount=1,
        MaxCount=1,
        InstanceType="t3.large",
        TagSpecifications=_tags("instance", Name="dev-idle", team="applied"),
    )["Instances"][0]
    ids["idle"] = idle["InstanceId"]

    scratch = ec2.create_volume(
        Size=100,
        AvailabilityZone="us-east-1a",
        VolumeType="gp3",
        Iops=3000,
        TagSpecifications=_tags("volume", Name="scratch"),
    )
    ids["scratch"] = scratch["VolumeId"]
    gone = ec2.create_volume(Size=800, AvailabilityZone="us-east-1a", VolumeType="gp2")
    ids["gone_volume"] = gone["VolumeId"]
    orphan = ec2.create_snapshot(
        VolumeId=gone["VolumeId"],
        Description="nightly backup",
        TagSpecifications=_tags("snapshot", Name="etl-backup"),
    )
    ids["orphan"] = orphan["SnapshotId"]
    ec2.delete_volume(VolumeId=gone["VolumeId"])

    golden = ec2.create_image(InstanceId=ids["idle"], Name="golden")["ImageId"]
    old = ec2.create_image(InstanceId=ids["busy"], Name="old-base")["ImageId"]
    ec2.disable_image(ImageId=old)
    ids["golden"], ids["old"] = golden, old
    ec2.stop_instances(InstanceIds=[ids["idle"]])

    free = ec2.allocate_address(Domain="vpc")
    ids["eip_free"] = free["AllocationId"]
    used = ec2.allocate_address(Domain="vpc")
    ids["eip_used"] = used["AllocationId"]
    ec2.associate_address(AllocationId=used["AllocationId"], InstanceId=ids["busy"])

    west = session.client("ec2", "eu-west-1")
    api = west.run_instances(
        ImageId="ami-12345678",
        MinCount=1,
        MaxCount=1,
        InstanceType="m5.large",
        TagSpecifications=_tags("instance", Name="api"),
    )["Instances"][0]
    ids["api"] = api["InstanceId"]
    ids["eip_west"] = west.allocate_address(Domain="vpc")["AllocationId"]

    sm = session.client("sagemaker", "us-east-1")
    sm.create_model(ModelName="det", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "img"})
    sm.create_endpoint_config(
        EndpointConfigName="det-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "det",
                "InitialInstanceCount": 2,
                "InstanceType": "ml.g4dn.xlarge",
            }
        ],
    )
    sm.create_endpoint(
        EndpointName="det-prod",
        EndpointConfigName="det-config",
        Tags=[{"Key": "team", "Value": "perception"}],
    )
    sm.create_notebook_instance(
        NotebookInstanceName="nb-alice",
        InstanceType="ml.t3.medium",
        RoleArn=ROLE,
        Tags=[{"Key": "owner", "Value": "alice"}],
    )
    sm.create_training_job(
        TrainingJobName="seg-001",
        AlgorithmSpecification={"TrainingImage": "img", "TrainingInputMode": "File"},
        RoleArn=ROLE,
        OutputDataConfig={"S3OutputPath": "s3://bucket/out"},
        ResourceConfig={"InstanceType": "ml.g4dn.xlarge", "InstanceCount": 2, "VolumeSizeInGB": 50},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
        HyperParameters={"epochs": "3"},
        Tags=[{"Key": "team", "Value": "applied"}],
    )

    _put_metrics(session, org)
    for region in ("us-east-1", "eu-west-1"):
        client = session.client("ec2", region)
        for r in client.describe_instances()["Reservations"]:
            for i in r["Instances"]:
                org.described[i["InstanceId"]] = i
        for v in client.describe_volumes()["Volumes"]:
            org.described[v["VolumeId"]] = v
        for s in client.describe_snapshots(OwnerIds=["self"])["Snapshots"]:
            org.described[s["SnapshotId"]] = s
        for i in client.describe_images(Owners=["self"], IncludeDisabled=True)["Images"]:
            org.described[i["ImageId"]] = i
    return org


def _put_metrics(session: boto3.session.Session, org: Org) -> None:
    cw = session.client("cloudwatch", "us-east-1")
    at10 = org.day + timedelta(hours=10, minutes=20)
    at11 = org.day + timedelta(hours=11, minutes=20)
    busy = [{"Name": "InstanceId", "Value": org.ids["busy"]}]
    idle = [{"Name": "InstanceId", "Value": org.ids["idle"]}]

    def point(name: str, dims: list[dict[str, str]], ts: datetime, value: float) -> dict[str, Any]:
        return {"MetricName": name, "Dimensions": dims, "Timestamp": ts, "Value": value}

    cw.put_metric_data(
        Namespace="AWS/EC2",
        MetricData=[
            point("CPUUtilization", busy, at10, 80.0),
            point("CPUUtilization", busy, at10 + timedelta(minutes=5), 90.0),
            point("CPUUtilization", busy, at11, 70.0),
            point("CPUUtilization", idle, at10, 2.0),
            point("NetworkIn", busy, at10, 1000.0),
            point("NetworkIn", busy, at11, 500.0),
            point("NetworkOut", busy, at10, 250.0),
            point("EBSReadOps", busy, at10, 30.0),
            point("EBSWriteOps", busy, at11, 12.0),
        ],
    )
    cw.put_metric_data(
        Namespace="CWAgent",
        MetricData=[
            point(
                "nvidia_smi_utilization_gpu",
                [*busy, {"Name": "index", "Value": str(n)}, {"Name": "name", "Value": "A10G"}],
                at10,
                value,
            )
            for n, value in ((0, 60.0), (1, 40.0))
        ],
    )
    cw.put_metric_data(
        Namespace="AWS/EBS",
        MetricData=[
            point(
                "VolumeReadOps", [{"Name": "VolumeId", "Value": org.ids["scratch"]}], at10, 100.0
            ),
            point(
                "VolumeWriteOps", [{"Name": "VolumeId", "Value": org.ids["scratch"]}], at11, 50.0
            ),
        ],
    )
    endpoint = [
        {"Name": "EndpointName", "Value": "det-prod"},
        {"Name": "VariantName", "Value": "AllTraffic"},
    ]
    cw.put_metric_data(
        Namespace="AWS/SageMaker",
        MetricData=[
            point("Invocations", endpoint, at10, 10.0),
            point("Invocations", endpoint, at11, 5.0),
        ],
    )


def replay(session: boto3.session.Session, service: str, operation: str, *answers: Any) -> None:
    """Serve recorded answers, in order (the last repeats), to every ``operation`` call of
    the session's clients, each checked against the operation's output shape (what
    botocore's Stubber does for one client): for calls moto does not implement."""
    model = session._session.get_service_model(service)  # type: ignore[attr-defined]
    for answer in answers:
        validate_parameters(answer, model.operation_model(operation).output_shape)
    queue = list(answers)

    def before_call(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        http = AWSResponse("https://recorded", 200, {}, None)
        return http, {**answer, "ResponseMetadata": {"HTTPStatusCode": 200}}

    session.events.register(f"before-call.{service}.{operation}", before_call)
