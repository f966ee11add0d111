"""MLflow: experiments, runs, metric history and system metrics (mlcost ingest mlflow)."""

from mlcost.connectors.mlflow.runs import MlflowRuns

__all__ = ["MlflowRuns"]
