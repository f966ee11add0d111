"""NAT gateways, load balancers and file systems from AWS (moto): exact rows and metrics."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from mlcost.connectors.aws import AwsSource

from mlcost.store import Store
from tests.connectors.aws.conftest import ACCOUNT


def _rows(store: Store, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with store.reader() as con:
        return [tuple(r) for r in con.execute(sql, list(params)).fetchall()]


def test_nat_gateways_load_balancers_and_file_systems(moto_aws: None, store: Store) -> None:
    session = boto3.session.Session()
    ec2 = session.client("ec2", "us-east-1")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{n}.0/24", AvailabilityZone=f"us-east-1{z}")[
            "Subnet"
        ]["SubnetId"]
        for n, z in ((1, "a"), (2, "b"))
    ]
    eip = ec2.allocate_address(Domain="vpc")
    nat = ec2.create_nat_gateway(
        SubnetId=subnets[0],
        AllocationId=eip["AllocationId"],
        TagSpecifications=[
            {"ResourceType": "natgateway", "Tags": [{"Key": "Name", "Value": "nat-train"}]}
        ],
    )["NatGateway"]["NatGatewayId"]
    elb = session.client("elbv2", "us-east-1")
    lb = elb.create_load_balancer(
        Name="serving", Subnets=subnets, Type="application", Tags=[{"Key": "team", "Value": "ml"}]
    )["LoadBalancers"][0]
    efs = session.client("efs", "us-east-1").create_file_system(
        CreationToken="home", Tags=[{"Key": "Name", "Value": "home"}]
    )["FileSystemId"]
    fsx = session.client("fsx", "us-east-1").create_file_system(
        FileSystemType="LUSTRE",
        StorageCapacity=1200,
        SubnetIds=[subnets[0]],
        LustreConfiguration={"DeploymentType": "SCRATCH_2"},
        Tags=[{"Key": "Name", "Value": "scratch"}],
    )["FileSystem"]["FileSystemId"]

    now = datetime.now(UTC).replace(tzinfo=None, minute=0, second=0, microsecond=0)
    day = now.replace(hour=0) - timedelta(days=1)
    at = day + timedelta(hours=10)
    dimension = lb["LoadBalancerArn"].split(":loadbalancer/", 1)[1]

    def point(name: str, dims: dict[str, str], value: float) -> dict[str, Any]:
        return {
            "MetricName": name,
            "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
            "Timestamp": at,
            "Value": value,
        }

    cw = session.client("cloudwatch", "us-east-1")
    cw.put_metric_data(
        Namespace="AWS/NATGateway",
        MetricData=[
            point("BytesOutToDestination", {"NatGatewayId": nat}, 5.0e9),
            point("BytesInFromDestination", {"NatGatewayId": nat}, 1.0e9),
        ],
    )
    cw.put_metric_data(
        Namespace="AWS/ApplicationELB",
        MetricData=[
            point("RequestCount", {"LoadBalancer": dimension}, 120.0),
            point("RequestCount", {"LoadBalancer": dimension}, 30.0),
            point("ProcessedBytes", {"LoadBalancer": dimension}, 4.0e6),
        ],
    )
    # EFS counts bytes per operation: three reads and one write are four operations
    cw.put_metric_data(
        Namespace="AWS/EFS",
        MetricData=[point("DataReadIOBytes", {"FileSystemId": efs}, b) for b in (4096, 8192, 512)]
        + [point("DataWriteIOBytes", {"FileSystemId": efs}, 65536.0)],
    )
    cw.put_metric_data(
        Namespace="AWS/FSx",
        MetricData=[
            point("DataReadOperations", {"FileSystemId": fsx}, 900.0),
            point("MetadataOperations", {"FileSystemId": fsx}, 100.0),
        ],
    )
    source = AwsSource(regions=["us-east-1"], lookback_days=3, session=session)
    store.load(source.batches())

    rows = _rows(
        store,
        "SELECT resource_type, resource_id, name, state, size_gb, details, tags FROM resources "
        "WHERE resource_type IN ('nat_gateway', 'load_balancer', 'file_system') ORDER BY ALL",
    )
    got = {r[1]: r for r in rows}
    assert sorted(got) == sorted([nat, lb["LoadBalancerArn"], efs, fsx])
    kind, _, name, state, size, details, tags = got[nat]
    assert (kind, name, state, size) == ("nat_gateway", "nat-train", "available", None)
    assert json.loads(details) == {
        "allocation_ids": [eip["AllocationId"]],
        "public_ips": [eip["PublicIp"]],
        "subnet_id": subnets[0],
        "vpc_id": vpc,
    }
    kind, _, name, state, size, details, tags = got[lb["LoadBalancerArn"]]
    assert (kind, name, state, json.loads(tags)) == (
        "load_balancer",
        "serving",
        "active",
        {"team": "ml"},
    )
    assert json.loads(details) == {
        "dns_name": lb["DNSName"],
        "lb_type": "application",
        "metric_dimension": dimension,
        "vpc_id": vpc,
    }
    assert got[efs][:5] == ("file_system", efs, "home", "available", 0.0)
    assert json.loads(got[efs][5]) == {
        "file_system_type": "efs",
        "mount_targets": 0,
        "performance_mode": "generalPurpose",
        "throughput_mode": "bursting",
    }
    assert got[fsx][:5] == ("file_system", fsx, "scratch", "available", 1200.0)
    assert json.loads(got[fsx][5]) == {"deployment_type": "SCRATCH_2", "file_system_type": "lustre"}

    metrics = _rows(
        store,
        "SELECT resource_id, metric, ts, value FROM metrics WHERE resource_id IN (?, ?, ?, ?) "
        "ORDER BY ALL",
        nat,
        lb["LoadBalancerArn"],
        efs,
        fsx,
    )
    assert metrics == sorted(
        [
            (nat, "net_in_bytes", day, 1.0e9),
            (nat, "net_out_bytes", day, 5.0e9),
            (lb["LoadBalancerArn"], "net_in_bytes", day, 4.0e6),
            (lb["LoadBalancerArn"], "requests", day, 150.0),
            (efs, "disk_io_ops", day, 4.0),
            (fsx, "disk_io_ops", day, 1000.0),
        ]
    )
    actions = {
        "ec2:DescribeNatGateways",
        "elasticloadbalancing:DescribeLoadBalancers",
        "elasticloadbalancing:DescribeTags",
        "elasticfilesystem:DescribeFileSystems",
        "fsx:DescribeFileSystems",
    }
    assert actions <= source.summary.actions
    assert source.summary.resources[(ACCOUNT, "us-east-1", "file_system")] == 2
