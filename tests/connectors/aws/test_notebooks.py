"""SageMaker notebooks: notebook instances' CPU and GPU from the CloudWatch agent (moto),
and Studio apps with their activity (moto has the domain; ListApps and DescribeApp, which
moto lacks, are recorded answers replayed through the real client)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from mlcost.connectors.aws import AwsSource

from mlcost.store import Store
from tests.connectors.aws.conftest import ACCOUNT, ROLE, replay

NB = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:notebook-instance/nb-gpu"


def _rows(store: Store, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with store.reader() as con:
        return [tuple(r) for r in con.execute(sql, list(params)).fetchall()]


def test_notebook_instance_cpu_and_gpu_from_the_cloudwatch_agent(
    moto_aws: None, store: Store
) -> None:
    session = boto3.session.Session()
    sm = session.client("sagemaker", "us-east-1")
    sm.create_notebook_instance(
        NotebookInstanceName="nb-gpu", InstanceType="ml.p3.2xlarge", RoleArn=ROLE
    )
    now = datetime.now(UTC).replace(tzinfo=None, minute=0, second=0, microsecond=0)
    day = now.replace(hour=0) - timedelta(days=1)
    at9, at10 = day + timedelta(hours=9, minutes=5), day + timedelta(hours=10, minutes=5)
    total = [
        {"Name": "notebook_instance_name", "Value": "nb-gpu"},
        {"Name": "cpu", "Value": "cpu-total"},
    ]
    one_core = [
        {"Name": "notebook_instance_name", "Value": "nb-gpu"},
        {"Name": "cpu", "Value": "cpu0"},
    ]
    gpu = [{"Name": "notebook_instance_name", "Value": "nb-gpu"}, {"Name": "index", "Value": "0"}]
    other = [
        {"Name": "notebook_instance_name", "Value": "not-ours"},
        {"Name": "cpu", "Value": "cpu-total"},
    ]

    def point(name: str, dims: list[dict[str, str]], ts: datetime, value: float) -> dict[str, Any]:
        return {"MetricName": name, "Dimensions": dims, "Timestamp": ts, "Value": value}

    session.client("cloudwatch", "us-east-1").put_metric_data(
        Namespace="SageMakerNotebookInstances",
        MetricData=[
            point("cpu_usage_idle", total, at9, 99.0),  # 1 % busy
            point("cpu_usage_idle", total, at10, 96.5),  # 3.5 % busy: the day's peak
            point("cpu_usage_idle", one_core, at9, 10.0),  # one core's series: not read
            point("cpu_usage_idle", other, at9, 0.0),  # another instance
            point("nvidia_smi_utilization_gpu", gpu, at9, 0.0),
            point("nvidia_smi_utilization_gpu", gpu, at10, 4.0),
        ],
    )
    store.load(AwsSource(regions=["us-east-1"], lookback_days=3, session=session).batches())
    rows = _rows(
        store,
        "SELECT metric, stat, period_s, ts, value FROM metrics WHERE resource_id = ? "
        "ORDER BY metric, period_s DESC, stat, ts",
        NB,
    )
    h9, h10 = day + timedelta(hours=9), day + timedelta(hours=10)
    assert rows == [
        ("cpu_util_pct", "Average", 86400, day, 2.25),  # 100 - (99 + 96.5) / 2
        ("cpu_util_pct", "Maximum", 86400, day, 3.5),  # 100 - the lowest idle
        ("cpu_util_pct", "Average", 3600, h9, 1.0),
        ("cpu_util_pct", "Average", 3600, h10, 3.5),
        ("gpu_util_pct", "Average", 86400, day, 2.0),
        ("gpu_util_pct", "Average", 3600, h9, 0.0),
        ("gpu_util_pct", "Average", 3600, h10, 4.0),
    ]


def test_studio_apps_on_their_own_instance_are_notebooks(moto_aws: None, store: Store) -> None:
    session = boto3.session.Session()
    sm = session.client("sagemaker", "us-east-1")
    domain = sm.create_domain(
        DomainName="ml-studio",
        AuthMode="IAM",
        DefaultUserSettings={"ExecutionRole": ROLE},
        SubnetIds=["subnet-1"],
        VpcId="vpc-1",
    )["DomainArn"].rsplit("/", 1)[1]
    apps = [
        ("JupyterLab", "default", "alice-space", "ml.g5.xlarge", "InService"),
        ("JupyterServer", "default", "bob-space", "system", "InService"),  # free: not read
        ("CodeEditor", "default", "carol-space", "ml.t3.medium", "Deleted"),  # gone
    ]
    replay(
        session,
        "sagemaker",
        "ListApps",
        {
            "Apps": [
                {
                    "DomainId": domain,
                    "SpaceName": space,
                    "AppType": kind,
                    "AppName": name,
                    "Status": status,
                    "CreationTime": datetime(2026, 9, 1, tzinfo=UTC),
                    "ResourceSpec": {"InstanceType": itype},
                }
                for kind, name, space, itype, status in apps
            ]
        },
    )
    arn = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:app/{domain}/alice-space/jupyterlab/default"
    replay(
        session,
        "sagemaker",
        "DescribeApp",
        {
            "AppArn": arn,
            "AppType": "JupyterLab",
            "AppName": "default",
            "DomainId": domain,
            "SpaceName": "alice-space",
            "Status": "InService",
            "CreationTime": datetime(2026, 9, 1, tzinfo=UTC),
            "LastHealthCheckTimestamp": datetime(2026, 11, 24, 9, 55, tzinfo=UTC),
            "LastUserActivityTimestamp": datetime(2026, 11, 2, 17, 40, tzinfo=UTC),
            "ResourceSpec": {"InstanceType": "ml.g5.xlarge"},
        },
    )
    replay(session, "sagemaker", "ListTags", {"Tags": [{"Key": "owner", "Value": "alice"}]})
    source = AwsSource(regions=["us-east-1"], lookback_days=1, session=session)
    store.load(source.batches())
    rows = _rows(
        store,
        "SELECT resource_id, name, state, instance_type, vcpus, gpu_count, gpu_model, tags, "
        "details FROM resources WHERE resource_type = 'notebook'",
    )
    assert len(rows) == 1
    *head, tags, details = rows[0]
    assert json.loads(tags) == {"owner": "alice"}
    assert head == [arn, "alice-space/default", "running", "ml.g5.xlarge", 4, 1, "A10G"]
    assert json.loads(details) == {
        "app_type": "JupyterLab",
        "domain_id": domain,
        "last_activity_at": "2026-11-02T17:40:00Z",
        "last_health_check_at": "2026-11-24T09:55:00Z",
        "last_user_activity_at": "2026-11-02T17:40:00Z",
        "platform": "sagemaker-studio",
        "space_name": "alice-space",
        "status": "InService",
    }
    assert {"sagemaker:ListApps", "sagemaker:DescribeApp"} <= source.summary.actions


def test_an_activity_time_equal_to_the_health_check_says_nothing(
    moto_aws: None, store: Store
) -> None:
    session = boto3.session.Session()
    sm = session.client("sagemaker", "us-east-1")
    domain = sm.create_domain(
        DomainName="ml-studio",
        AuthMode="IAM",
        DefaultUserSettings={"ExecutionRole": ROLE},
        SubnetIds=["subnet-1"],
        VpcId="vpc-1",
    )["DomainArn"].rsplit("/", 1)[1]
    checked = datetime(2026, 11, 24, 9, 55, tzinfo=UTC)
    common = {"DomainId": domain, "AppType": "JupyterLab", "AppName": "default"}
    replay(
        session,
        "sagemaker",
        "ListApps",
        {
            "Apps": [
                {**common, "UserProfileName": "dan", "Status": "InService",
                 "ResourceSpec": {"InstanceType": "ml.t3.medium"}}
            ]
        },
    )  # fmt: skip
    replay(
        session,
        "sagemaker",
        "DescribeApp",
        {
            **common,
            "AppArn": f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:app/{domain}/dan/jupyterlab/default",
            "UserProfileName": "dan",
            "Status": "InService",
            "LastHealthCheckTimestamp": checked,
            "LastUserActivityTimestamp": checked,
            "ResourceSpec": {"InstanceType": "ml.t3.medium"},
        },
    )
    replay(session, "sagemaker", "ListTags", {"Tags": []})
    store.load(AwsSource(regions=["us-east-1"], lookback_days=1, session=session).batches())
    ((details,),) = _rows(store, "SELECT details FROM resources WHERE resource_type = 'notebook'")
    assert "last_activity_at" not in json.loads(details)
    assert json.loads(details)["last_user_activity_at"] == "2026-11-24T09:55:00Z"
