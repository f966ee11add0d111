"""A simulated AWS organisation for the side-by-side test: every AWS rule's firing case and
near miss, across two regions, built through boto3 against a moto server.

moto stamps every resource with the moment it is made; where a rule needs age (a volume
detached for weeks, an AMI unused for months, an endpoint older than the window) the
creation time is set back in moto's own backend, as if the resource had been made then.
Utilisation is put into moto's CloudWatch with the timestamps the days back call for.

:data:`PLANTED` is the answer key: for each rule, the names of the resources it must find;
everything else in the organisation is a near miss for some rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
from moto.backends import get_backend

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/sagemaker"
EAST, WEST = "us-east-1", "eu-west-1"
GP3_ROOT = [{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8, "VolumeType": "gp3"}}]

#: rule -> the scenario names of what it must find (inventory only).
PLANTED: dict[str, set[str]] = {
    "idle_vm": {"idle-box"},
    "idle_gpu": {"gpu-idle"},
    "unattached_volume": {"vol-left"},
    "orphaned_snapshot": {"snap-orphan"},
    "unused_ip": {"eip-free"},
    "obsolete_image": {"ami-old"},
    "idle_endpoint": {"ep-forgotten"},
    "idle_notebook": {"nb-idle"},
    "rightsize_vm": {"oversized"},
    "previous_generation": {"m4-legacy"},
    "spot_candidate": {"hpo-worker"},
    "volume_type_upgrade": {"vol-gp2"},
    "idle_nat_gateway": {"nat-idle"},
    "idle_load_balancer": {"alb-idle"},
    "idle_file_system": {"fsx-scratch"},
    "offhours_schedule": {"dev-box"},
    "commitment_underused": set(),
    "commitment_purchase": set(),
}
#: With the generated bill: the commitment rules get their cases too.
PLANTED_WITH_BILLING: dict[str, set[str]] = {
    **PLANTED,
    "commitment_underused": {"savings-plan"},
    "commitment_purchase": {"steady-api"},
}


@dataclass
class Scenario:
    now: datetime
    #: scenario name -> resource id (as the inventory and the bill name it)
    ids: dict[str, str] = field(default_factory=dict)
    #: scenario name -> (region, what the bill charges a day, hours a day)
    billed: dict[str, tuple[str, Decimal, int]] = field(default_factory=dict)
    #: MLflow runs to log: (instance name, minutes of each run)
    runs: dict[str, list[float]] = field(default_factory=dict)

    def name_of(self, resource_id: str) -> str | None:
        for name, rid in self.ids.items():
            if rid == resource_id:
                return name
        return None


def _tags(kind: str, **tags: str) -> list[dict[str, Any]]:
    return [{"ResourceType": kind, "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}]


def _aged(value: Any, days: int) -> Any:
    """``value`` (moto keeps times as datetimes, ISO text or epoch seconds) ``days`` earlier."""
    if isinstance(value, datetime):
        return value - timedelta(days=days)
    if isinstance(value, int | float):
        return value - days * 86400
    text = str(value)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00")) - timedelta(days=days)
    if text.endswith("Z"):
        return parsed.strftime("%Y-%m-%dT%H:%M:%S.") + f"{parsed.microsecond // 1000:03d}Z"
    return parsed.isoformat()


def backdate(service: str, region: str, days: int, find: Callable[[Any], Any], attr: str) -> None:
    """Set a moto resource's creation time ``days`` back (it was made then)."""
    backend = get_backend(service)[ACCOUNT][region]  # type: ignore[index]
    obj = find(backend)
    setattr(obj, attr, _aged(getattr(obj, attr), days))


class _Metrics:
    """Puts datapoints into moto's CloudWatch, a batch per namespace."""

    def __init__(self, session: boto3.session.Session, now: datetime) -> None:
        self.session = session
        self.now = now
        self.points: dict[tuple[str, str], list[dict[str, Any]]] = {}

    def daily(
        self,
        region: str,
        namespace: str,
        name: str,
        dims: dict[str, str],
        values: list[float] | float,
        *,
        days: int = 20,
    ) -> None:
        """One point at 12:00 on each of the last ``days`` days (oldest first)."""
        series = values if isinstance(values, list) else [values] * days
        day0 = self.now.replace(hour=12) - timedelta(days=len(series))
        for i, value in enumerate(series):
            self._put(region, namespace, name, dims, day0 + timedelta(days=i), value)

    def hourly(
        self,
        region: str,
        namespace: str,
        name: str,
        dims: dict[str, str],
        value: Callable[[datetime], float],
        *,
        days: int = 15,
    ) -> None:
        """One point at :10 past each hour of the last ``days`` days, ``value(hour)``."""
        start = self.now - timedelta(days=days)
        for h in range(days * 24):
            hour = start + timedelta(hours=h)
            self._put(region, namespace, name, dims, hour + timedelta(minutes=10), value(hour))

    def _put(
        self, region: str, namespace: str, name: str, dims: dict[str, str], ts: datetime, v: float
    ) -> None:
        self.points.setdefault((region, namespace), []).append(
            {
                "MetricName": name,
                "Dimensions": [{"Name": k, "Value": val} for k, val in dims.items()],
                "Timestamp": ts.replace(tzinfo=UTC),
                "Value": float(v),
            }
        )

    def flush(self) -> None:
        for (region, namespace), points in self.points.items():
            cw = self.session.client("cloudwatch", region)
            for start in range(0, len(points), 500):
                cw.put_metric_data(Namespace=namespace, MetricData=points[start : start + 500])


def _office(hour: datetime) -> float:
    """40 % CPU Monday to Friday 09:00-18:00 UTC, 1 % otherwise."""
    return 40.0 if hour.weekday() < 5 and 9 <= hour.hour < 18 else 1.0


def build(session: boto3.session.Session | None = None) -> Scenario:
    """Make the organisation in moto and return what the test needs to judge the findings."""
    session = session or boto3.session.Session()
    now = datetime.now(UTC).replace(tzinfo=None, minute=0, second=0, microsecond=0)
    sc = Scenario(now=now)
    ids = sc.ids
    m = _Metrics(session, now)
    east, west = session.client("ec2", EAST), session.client("ec2", WEST)

    def vm(
        name: str,
        itype: str,
        *,
        region: str = EAST,
        tags: dict[str, str] | None = None,
        image: str = "ami-12345678",
        per_day: str,
        hours: int = 16,
        **extra: Any,
    ) -> str:
        client = east if region == EAST else west
        iid = client.run_instances(
            ImageId=image,
            MinCount=1,
            MaxCount=1,
            InstanceType=itype,
            BlockDeviceMappings=GP3_ROOT,
            TagSpecifications=_tags("instance", Name=name, **(tags or {})),
            **extra,
        )["Instances"][0]["InstanceId"]
        ids[name] = iid
        sc.billed[name] = (region, Decimal(per_day), hours)
        return str(iid)

    def cpu(name: str, avg: float, peak: float, net_mb: float, *, region: str = EAST) -> None:
        dims = {"InstanceId": ids[name]}
        m.daily(region, "AWS/EC2", "CPUUtilization", dims, avg)
        if peak != avg:  # the day's maximum is one higher reading at another hour
            m.daily(region, "AWS/EC2", "CPUUtilization", dims, [peak] * 20)
        m.daily(region, "AWS/EC2", "NetworkIn", dims, net_mb * 1e6 / 2)
        m.daily(region, "AWS/EC2", "NetworkOut", dims, net_mb * 1e6 / 2)

    def gpu(name: str, util: float) -> None:
        dims = {"InstanceId": ids[name], "index": "0", "name": "NVIDIA A10G"}
        m.daily(EAST, "CWAgent", "nvidia_smi_utilization_gpu", dims, util)

    # -- idle_vm: idle on every day | near miss: busy ------------------------------------
    vm("idle-box", "t3.large", per_day="1.9968", hours=24)  # 0.0832 × 24
    cpu("idle-box", 1.0, 1.0, 0.5)
    vm("api-west", "m5.large", region=WEST, per_day="1.712")  # 0.107 × 16
    cpu("api-west", 30.0, 55.0, 4000.0, region=WEST)

    # -- idle_gpu: GPU at 3 % with a busy CPU | near miss: 11 % --------------------------
    vm("gpu-idle", "g5.xlarge", per_day="24.144", hours=24)
    cpu("gpu-idle", 35.0, 60.0, 900.0)
    gpu("gpu-idle", 3.0)
    vm("gpu-working", "g5.xlarge", per_day="16.096")
    cpu("gpu-working", 35.0, 60.0, 900.0)
    gpu("gpu-working", 11.0)

    # -- rightsize_vm: p95 of daily peaks 17 % of 16 vCPUs | near miss: 40.5 % -------------
    vm("oversized", "c5.4xlarge", per_day="10.88")  # 0.68 × 16
    cpu("oversized", 8.0, 17.0, 3000.0)
    vm("sized-right", "c5.4xlarge", per_day="10.88")
    cpu("sized-right", 20.0, 40.5, 3000.0)

    # -- previous_generation: m4 | near miss: its current successor ---------------------
    vm("m4-legacy", "m4.xlarge", per_day="3.2")  # 0.20 × 16
    cpu("m4-legacy", 50.0, 70.0, 5000.0)
    vm("m6i-current", "m6i.xlarge", per_day="3.072")
    cpu("m6i-current", 50.0, 70.0, 5000.0)

    # -- spot_candidate: short restartable runs | near miss: one run too long -------------
    vm("hpo-worker", "m5.xlarge", per_day="4.608", hours=24)
    cpu("hpo-worker", 50.0, 70.0, 5000.0)
    sc.runs["hpo-worker"] = [40.0] * 12
    vm("hpo-long", "m5.xlarge", per_day="3.072")
    cpu("hpo-long", 50.0, 70.0, 5000.0)
    sc.runs["hpo-long"] = [40.0] * 11 + [121.0]

    # -- offhours_schedule: a dev box busy in office hours | near miss: production --------
    for name, env in (("dev-box", "dev"), ("prod-box", "prod")):
        vm(name, "m5.large", tags={"env": env}, per_day="2.304", hours=24 if env == "dev" else 16)
        dims = {"InstanceId": ids[name]}
        m.hourly(EAST, "AWS/EC2", "CPUUtilization", dims, _office)
        m.daily(EAST, "AWS/EC2", "NetworkIn", dims, 400e6)
        m.daily(EAST, "AWS/EC2", "NetworkOut", dims, 400e6)

    # -- commitment_purchase (with billing): around the clock on demand -------------------
    vm("steady-api", "m6i.xlarge", per_day="4.608", hours=24)
    cpu("steady-api", 45.0, 65.0, 8000.0)
    # the savings plan's covered machine: its usage is the plan's Used rows
    vm("covered", "m6i.xlarge", per_day="2.4", hours=24)
    cpu("covered", 45.0, 65.0, 8000.0)

    # -- volumes ------------------------------------------------------------------------
    def volume(name: str, size: int, vtype: str, *, iops: int | None = None, region: str = EAST):
        client = east if region == EAST else west
        params: dict[str, Any] = {
            "Size": size,
            "AvailabilityZone": f"{region}a",
            "VolumeType": vtype,
        }
        if iops:
            params["Iops"] = iops
        vid = client.create_volume(**params, TagSpecifications=_tags("volume", Name=name))
        ids[name] = vid["VolumeId"]
        return vid["VolumeId"]

    # unattached_volume: detached, no I/O for weeks | near miss: busy until two days ago
    volume("vol-left", 500, "gp3")
    backdate("ec2", EAST, 40, lambda b: b.volumes[ids["vol-left"]], "create_time")
    sc.billed["vol-left"] = (EAST, Decimal("1.3333"), 24)
    volume("vol-just-detached", 300, "gp3")
    backdate("ec2", EAST, 40, lambda b: b.volumes[ids["vol-just-detached"]], "create_time")
    sc.billed["vol-just-detached"] = (EAST, Decimal("0.8"), 24)
    vol = {"VolumeId": ids["vol-just-detached"]}
    m.daily(EAST, "AWS/EBS", "VolumeReadOps", vol, [5000.0] * 18 + [0.0] * 2)
    m.daily(EAST, "AWS/EBS", "VolumeWriteOps", vol, [900.0] * 18 + [0.0] * 2)
    # volume_type_upgrade: a gp2 data disk | near miss: io1, which io2 does not undercut
    for name, size, vtype, iops in (("vol-gp2", 600, "gp2", None), ("vol-io1", 200, "io1", 4000)):
        volume(name, size, vtype, iops=iops)
        east.attach_volume(VolumeId=ids[name], InstanceId=ids["m6i-current"], Device="/dev/sdf")
    sc.billed["vol-gp2"] = (EAST, Decimal("2"), 24)  # 600 GB × 0.10 / 30
    sc.billed["vol-io1"] = (EAST, Decimal("9.5"), 24)  # (200 × 0.125 + 4000 × 0.065) / 30

    # -- snapshots and images -----------------------------------------------------------
    # orphaned_snapshot: its volume is gone | near miss: gone too, but a disabled AMI uses it
    gone = volume("vol-deleted", 800, "gp3")
    ids["snap-orphan"] = east.create_snapshot(
        VolumeId=gone, TagSpecifications=_tags("snapshot", Name="snap-orphan")
    )["SnapshotId"]
    east.delete_volume(VolumeId=gone)
    del ids["vol-deleted"]
    backdate("ec2", EAST, 30, lambda b: b.snapshots[ids["snap-orphan"]], "start_time")
    sc.billed["snap-orphan"] = (EAST, Decimal("1.3333"), 24)
    builder = vm("image-builder", "t3.large", per_day="0", hours=0)
    ids["ami-disabled"] = east.create_image(InstanceId=builder, Name="ami-disabled")["ImageId"]
    east.disable_image(ImageId=ids["ami-disabled"])
    east.terminate_instances(InstanceIds=[builder])
    del ids["image-builder"], sc.billed["image-builder"]
    # obsolete_image: 200 days old, never launched | near miss: as old, but a VM runs it
    ids["ami-old"] = east.create_image(InstanceId=ids["idle-box"], Name="ami-old")["ImageId"]
    ids["ami-base"] = east.create_image(InstanceId=ids["idle-box"], Name="ami-base")["ImageId"]
    for name in ("ami-old", "ami-base"):
        backdate("ec2", EAST, 200, lambda b, n=name: b.amis[ids[n]], "creation_date")
    vm("from-base", "t3.medium", image=ids["ami-base"], per_day="0.6656")  # 0.0416 × 16
    cpu("from-base", 25.0, 45.0, 2000.0)
    for name in ("ami-old", "ami-base", "ami-disabled"):
        snap = east.describe_images(ImageIds=[ids[name]])["Images"][0]["BlockDeviceMappings"][0]
        ids[f"{name}-snap"] = snap["Ebs"]["SnapshotId"]
        sc.billed[f"{name}-snap"] = (EAST, Decimal("0.0133"), 24)  # 8 GB × 0.05 / 30
    # the disabled AMI's snapshot is old and its volume is gone: only the AMI keeps it
    backdate("ec2", EAST, 30, lambda b: b.snapshots[ids["ami-disabled-snap"]], "start_time")

    # -- addresses -----------------------------------------------------------------------
    ids["eip-free"] = east.allocate_address(Domain="vpc")["AllocationId"]
    sc.billed["eip-free"] = (EAST, Decimal("0.12"), 24)
    ids["eip-used"] = east.allocate_address(Domain="vpc")["AllocationId"]
    east.associate_address(AllocationId=ids["eip-used"], InstanceId=ids["steady-api"])
    sc.billed["eip-used"] = (EAST, Decimal("0.12"), 24)

    # -- networking: NAT gateways and load balancers ------------------------------------
    def subnets(client: Any, region: str) -> list[str]:
        vpc = client.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        return [
            client.create_subnet(
                VpcId=vpc, CidrBlock=f"10.0.{n}.0/24", AvailabilityZone=f"{region}{zone}"
            )["Subnet"]["SubnetId"]
            for n, zone in ((1, "a"), (2, "b"))
        ]

    east_subnets, west_subnets = subnets(east, EAST), subnets(west, WEST)
    for name, client, region, subnet in (
        ("nat-idle", west, WEST, west_subnets[0]),
        ("nat-busy", east, EAST, east_subnets[0]),
    ):
        eip = client.allocate_address(Domain="vpc")["AllocationId"]
        ids[name] = client.create_nat_gateway(
            SubnetId=subnet,
            AllocationId=eip,
            TagSpecifications=_tags("natgateway", Name=name),
        )["NatGateway"]["NatGatewayId"]
        backdate("ec2", region, 30, lambda b, n=name: b.nat_gateways[ids[n]], "_created_at")
        sc.billed[name] = (region, Decimal("1.08" if region == EAST else "1.152"), 24)
    nat = {"NatGatewayId": ids["nat-busy"]}
    m.daily(EAST, "AWS/NATGateway", "BytesOutToDestination", nat, 5e9)
    m.daily(EAST, "AWS/NATGateway", "BytesInFromDestination", nat, 2e9)

    elb = {EAST: session.client("elbv2", EAST), WEST: session.client("elbv2", WEST)}
    for name, region, kind, nets in (
        ("alb-idle", WEST, "application", west_subnets),
        ("nlb-busy", EAST, "network", east_subnets),
    ):
        lb = elb[region].create_load_balancer(
            Name=name, Subnets=nets, Type=kind, Tags=[{"Key": "team", "Value": "serving"}]
        )["LoadBalancers"][0]
        ids[name] = lb["LoadBalancerArn"]
        backdate(
            "elbv2",
            region,
            30,
            lambda b, a=lb["LoadBalancerArn"]: b.load_balancers[a],
            "created_time",
        )
        sc.billed[name] = (region, Decimal("0.6048" if region == WEST else "0.54"), 24)
    dim = ids["nlb-busy"].split(":loadbalancer/", 1)[1]
    m.daily(EAST, "AWS/NetworkELB", "NewFlowCount", {"LoadBalancer": dim}, 500.0)
    m.daily(EAST, "AWS/NetworkELB", "ProcessedBytes", {"LoadBalancer": dim}, 3e8)

    # -- file systems ----------------------------------------------------------------------
    ids["fsx-scratch"] = session.client("fsx", EAST).create_file_system(
        FileSystemType="LUSTRE",
        StorageCapacity=2400,
        SubnetIds=[east_subnets[0]],
        LustreConfiguration={"DeploymentType": "SCRATCH_2"},
        Tags=[{"Key": "Name", "Value": "fsx-scratch"}],
    )["FileSystem"]["FileSystemId"]
    sc.billed["fsx-scratch"] = (EAST, Decimal("11.2"), 24)  # 2,400 GB × 0.14 / 30
    efs = session.client("efs", WEST).create_file_system(
        CreationToken="datasets", Tags=[{"Key": "Name", "Value": "efs-datasets"}]
    )["FileSystemId"]
    ids["efs-datasets"] = efs
    backdate("efs", WEST, 60, lambda b: b.file_systems_by_id[efs], "creation_time")
    sc.billed["efs-datasets"] = (WEST, Decimal("5.5"), 24)
    m.daily(WEST, "AWS/EFS", "DataReadIOBytes", {"FileSystemId": efs}, 65536.0)

    # -- SageMaker: endpoints and notebooks ---------------------------------------------------
    sm = session.client("sagemaker", EAST)
    sm.create_model(ModelName="det", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "img"})
    for name in ("ep-forgotten", "ep-serving"):
        sm.create_endpoint_config(
            EndpointConfigName=f"{name}-config",
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": "det",
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.g4dn.xlarge",
                }
            ],
        )
        sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-config")
        ids[name] = f"arn:aws:sagemaker:{EAST}:{ACCOUNT}:endpoint/{name}"
        backdate("sagemaker", EAST, 30, lambda b, n=name: b.endpoints[n], "creation_time")
        sc.billed[name] = (EAST, Decimal("17.6736"), 24)  # 0.7364 × 24
    serving = {"EndpointName": "ep-serving", "VariantName": "AllTraffic"}
    m.daily(EAST, "AWS/SageMaker", "Invocations", serving, 1200.0)

    for name, busy in (("nb-idle", 1.0), ("nb-busy", 30.0)):
        sm.create_notebook_instance(
            NotebookInstanceName=name, InstanceType="ml.t3.medium", RoleArn=ROLE
        )
        ids[name] = f"arn:aws:sagemaker:{EAST}:{ACCOUNT}:notebook-instance/{name}"
        dims = {"notebook_instance_name": name, "cpu": "cpu-total"}
        m.hourly(
            EAST, "SageMakerNotebookInstances", "cpu_usage_idle", dims, lambda h, b=busy: 100 - b
        )
        sc.billed[name] = (EAST, Decimal("1.2"), 24)  # 0.05 × 24

    m.flush()
    return sc
