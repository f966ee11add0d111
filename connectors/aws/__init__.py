"""AWS: inventory, utilisation and SageMaker runs through boto3 (``mlcost ingest aws``)."""

from mlcost.connectors.aws.source import AwsSource

__all__ = ["AwsSource"]
