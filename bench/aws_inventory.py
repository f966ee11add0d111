"""AWS inventory benchmark: resources per second and API calls of `mlcost ingest aws`
over a moto account (in-process, so it measures mlcost and moto, not the network).

    .venv/bin/python bench/aws_inventory.py                   # 10,000 resources
    .venv/bin/python bench/aws_inventory.py --resources 2000

The account holds instances, volumes, snapshots and Elastic IPs in the proportions
3 : 4 : 2 : 1, in one region; the look-back is one day (no samples: moto has none).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=10_000)
    args = parser.parse_args()
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        MOTO_EC2_LOAD_DEFAULT_AMIS="false",
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.pop("AWS_PROFILE", None)
    import boto3
    from mlcost.connectors.aws import AwsSource
    from moto import mock_aws

    from mlcost.store import Store

    n = args.resources
    # Each instance brings its root volume: instances count twice.
    instances, volumes, snapshots = n * 3 // 20, n * 4 // 10 - n * 3 // 20, n * 2 // 10
    addresses = n - 2 * instances - volumes - snapshots
    with mock_aws():
        ec2 = boto3.client("ec2", "us-east-1")
        start = time.perf_counter()
        made = 0
        while made < instances:
            count = min(500, instances - made)
            ec2.run_instances(
                ImageId="ami-12345678", MinCount=count, MaxCount=count, InstanceType="m5.large"
            )
            made += count
        vol_ids = [
            ec2.create_volume(Size=10, AvailabilityZone="us-east-1a")["VolumeId"]
            for _ in range(volumes)
        ]
        for i in range(snapshots):
            ec2.create_snapshot(VolumeId=vol_ids[i % len(vol_ids)])
        for _ in range(addresses):
            ec2.allocate_address(Domain="vpc")
        setup = time.perf_counter() - start

        with tempfile.TemporaryDirectory() as tmp:
            store = Store(Path(tmp) / "bench.duckdb")
            store.init()
            source = AwsSource(regions=["us-east-1"], lookback_days=1)
            start = time.perf_counter()
            result = store.load(source.batches())
            seconds = time.perf_counter() - start
    rows = result.rows_in.get("resources", 0)
    print(f"moto set-up: {setup:.1f} s for {n:,} resources")
    print(
        f"ingest: {rows:,} resources in {seconds:.2f} s = {rows / seconds:,.0f} resources/s; "
        f"{source.summary.api_calls:,} API calls"
    )


if __name__ == "__main__":
    main()
