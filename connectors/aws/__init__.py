"""AWS: inventory, CloudWatch utilisation and SageMaker jobs through boto3."""

from mlcost.connectors.aws.api import AwsCallError
from mlcost.connectors.aws.source import AwsSource, Summary

__all__ = ["AwsCallError", "AwsSource", "Summary"]
