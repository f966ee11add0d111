"""Runs from an MLflow tracking store, through the MLflow client.

Reads the experiments (all, or those named), their runs (parent run for sweeps, times,
status, user, params, latest metrics, tags) and every metric's history. A run is tied to
the machines it used by tags (docs/tasks/experiments.md):

* ``mlcost.resource_id``: one or more resource ids (comma-separated) as the bill names
  them: an EC2 instance id, an Azure VM id, a GCE instance, a SageMaker job ARN;
* ``sagemaker.training_job_arn`` (or any tag whose value is a SageMaker job ARN);
* ``mlcost.host`` (else ``host``, ``hostname``): a host name, kept as ``host:NAME`` and
  resolved to an instance id through ``resources.name`` by the attribution;
* ``mlcost.gpu_count``: the GPUs the run held (else the number of GPUs its system metrics
  report).

Metric history goes to ``metrics`` keyed by run, ``resource_id = mlflow-run:<run_id>``
(runs are not machines; the attribution joins them back): MLflow system metrics become
``gpu_util_pct`` and ``gpu_mem_util_pct`` (mean over the run's GPUs at each timestamp,
stat ``Average``) and ``cpu_util_pct``; other metrics keep their MLflow key (stat
``Value``). ``period_s`` is 0: MLflow samples are irregular.
"""

from __future__ import annotations

import json
import os
import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from mlcost.errors import ConfigError, InputError
from mlcost.schema import arrow_schema
from mlcost.store import Batch

SOURCE = "mlflow"
RUN_METRICS_PREFIX = "mlflow-run:"
RESOURCE_TAG = "mlcost.resource_id"
GPU_COUNT_TAG = "mlcost.gpu_count"
HOST_TAGS = ("mlcost.host", "host", "hostname")
_GPU = re.compile(r"^system/gpu_(\d+)_(utilization_percentage|memory_usage_percentage)$")
_SYSTEM = {"system/cpu_utilization_percentage": "cpu_util_pct"}
_SAGEMAKER_ARN = re.compile(r"^arn:aws[\w-]*:sagemaker:[\w-]+:\d+:[\w-]+-job/[\w-]+$")


def _ts(ms: int | None) -> datetime | None:
    """MLflow's epoch milliseconds as naive UTC."""
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC).replace(tzinfo=None)


def _check_local_store(uri: str) -> None:
    """Refuse a local store that does not exist (MLflow would create an empty one), and let
    MLflow read a file store it would otherwise refuse (it is only being read)."""
    if uri.startswith("sqlite:///"):
        path = Path(uri[len("sqlite:///") :])
        if not path.is_file():
            raise InputError(
                f"MLflow at {uri} could not be read: there is no database at {path}.",
                "Give the tracking store's path as sqlite:///ABSOLUTE/PATH/mlflow.db.",
            )
        return
    if "://" in uri and not uri.startswith("file:"):
        return  # a tracking server: its errors are translated where it is read
    folder = Path(uri[len("file://") :] if uri.startswith("file://") else uri.removeprefix("file:"))
    if not folder.is_dir():
        raise InputError(
            f"MLflow at {uri} could not be read: there is no folder {folder}.",
            "Give the mlruns folder (file:PATH) or a sqlite:/// or http(s):// URI.",
        )
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")


def resource_ids(tags: dict[str, str]) -> list[str]:
    """The machines a run used, from its tags (the convention in the module docstring)."""
    found: list[str] = []
    for part in tags.get(RESOURCE_TAG, "").split(","):
        if part.strip():
            found.append(part.strip())
    for value in tags.values():
        if _SAGEMAKER_ARN.match(value.strip()):
            found.append(value.strip())
    for key in HOST_TAGS:
        if tags.get(key, "").strip():
            found.append("host:" + tags[key].strip())
            break
    return list(dict.fromkeys(found))


#: Seconds one request to a tracking server may take (``mlcost ingest mlflow --timeout``).
DEFAULT_TIMEOUT_S = 30.0
#: Retries of a failed request (unless MLFLOW_HTTP_REQUEST_MAX_RETRIES says otherwise).
HTTP_RETRIES = 1


def _timed_out(exc: BaseException) -> bool:
    """Whether an MLflow client error is, underneath, a request that timed out."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, TimeoutError) or type(seen).__name__ in (
            "ReadTimeout", "ConnectTimeout", "ReadTimeoutError", "ConnectTimeoutError",
        ):  # fmt: skip
            return True
        seen = seen.__cause__ or seen.__context__
    return "timed out" in str(exc).lower() or "timeout" in str(exc).lower()


def _refused(exc: BaseException) -> bool:
    """Whether an MLflow client error is, underneath, a server that could not be reached."""
    text = str(exc)
    return any(
        marker in text
        for marker in ("Connection refused", "NewConnectionError", "Name or service not known")
    )


class MlflowRuns:
    """A lazy source: nothing is read until :meth:`batches` is iterated."""

    def __init__(
        self,
        tracking_uri: str,
        experiments: Sequence[str] = (),
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.tracking_uri = tracking_uri
        self.experiments = list(experiments)
        self.timeout_s = timeout_s

    def _client(self) -> Any:
        _check_local_store(self.tracking_uri)
        try:
            from mlflow import MlflowClient
        except ImportError as exc:
            raise ConfigError(
                "Reading MLflow needs the mlflow client, which is not installed.",
                "Install it with: pip install 'mlcost[mlflow]'",
            ) from exc
        if self.tracking_uri.startswith(("http://", "https://")):
            # MLflow's own defaults (120 s a request, 7 retries with back-off) wait about
            # four minutes in silence for a server that never answers
            os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = str(max(1, round(self.timeout_s)))
            os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", str(HTTP_RETRIES))
            os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
        return MlflowClient(tracking_uri=self.tracking_uri)

    def batches(self) -> Iterator[Batch]:
        """One runs batch per experiment (replacing that experiment), then the metrics."""
        try:
            yield from self._batches()
        except (ConfigError, InputError):
            raise
        except Exception as exc:  # the MLflow client's errors, translated once here
            from mlflow.exceptions import MlflowException

            if _timed_out(exc):
                raise InputError(
                    f"MLflow at {self.tracking_uri} did not answer within {self.timeout_s:g} s.",
                    "Check that the tracking server is up and reachable, or give it longer "
                    "with --timeout.",
                ) from None
            if _refused(exc):
                raise InputError(
                    f"MLflow at {self.tracking_uri} could not be reached (the connection "
                    "was refused or the host is unknown).",
                    "Check that the tracking server is running and --tracking-uri names it.",
                ) from None
            if isinstance(exc, MlflowException | OSError):
                raise InputError(
                    f"MLflow at {self.tracking_uri} could not be read: {str(exc).splitlines()[0]}",
                    "Check --tracking-uri (file:, sqlite:///PATH or http(s)://server).",
                ) from exc
            raise

    def _batches(self) -> Iterator[Batch]:
        client = self._client()
        wanted = self.experiments
        if wanted:
            experiments = []
            for name in wanted:
                exp = client.get_experiment_by_name(name)
                if exp is None:
                    raise InputError(
                        f"MLflow at {self.tracking_uri} has no experiment named {name!r}.",
                        "List them with the MLflow UI or `mlflow experiments search`.",
                    )
                experiments.append(exp)
        else:
            experiments = client.search_experiments()
        metric_rows: list[dict[str, Any]] = []
        for exp in experiments:
            rows = []
            for run in _all_runs(client, exp.experiment_id):
                row, samples = _run_row(client, exp.name, run)
                rows.append(row)
                metric_rows.extend(samples)
            yield Batch(
                "runs",
                pa.Table.from_pylist(rows, schema=_RUNS_SCHEMA),
                partition={"source": SOURCE, "experiment": exp.name},
                label=f"mlflow:{exp.name}",
            )
        if metric_rows:
            yield Batch(
                "metrics",
                pa.Table.from_pylist(metric_rows, schema=_METRICS_SCHEMA),
                label="metrics",
            )


_RUNS_SCHEMA = arrow_schema("runs")
_METRICS_SCHEMA = arrow_schema("metrics")


def _all_runs(client: Any, experiment_id: str) -> Iterator[Any]:
    token = None
    while True:
        page = client.search_runs([experiment_id], max_results=1000, page_token=token)
        yield from page
        token = page.token
        if not token:
            return


def _run_row(client: Any, experiment: str, run: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    info, data = run.info, run.data
    tags = dict(data.tags)
    run_id = info.run_id
    samples: list[dict[str, Any]] = []
    gpu: dict[tuple[str, int], list[float]] = defaultdict(list)
    gpus: set[int] = set()
    for key in sorted(data.metrics):
        history = client.get_metric_history(run_id, key)
        match = _GPU.match(key)
        for m in history:
            ts = _ts(m.timestamp)
            if match:
                name = "gpu_util_pct" if match.group(2).startswith("util") else "gpu_mem_util_pct"
                gpus.add(int(match.group(1)))
                gpu[(name, m.timestamp)].append(float(m.value))
                continue
            samples.append(_sample(run_id, _SYSTEM.get(key, key), ts, float(m.value),
                                   "Average" if key in _SYSTEM else "Value"))  # fmt: skip
    for (name, stamp), values in sorted(gpu.items()):
        samples.append(_sample(run_id, name, _ts(stamp), sum(values) / len(values), "Average"))
    try:
        gpu_count = int(tags.get(GPU_COUNT_TAG, "") or len(gpus))
    except ValueError:
        gpu_count = len(gpus)
    row = {
        "run_id": run_id,
        "experiment": experiment,
        "parent_run_id": tags.get("mlflow.parentRunId"),
        "name": info.run_name or tags.get("mlflow.runName"),
        "status": info.status,
        "user": info.user_id or tags.get("mlflow.user"),
        "started_at": _ts(info.start_time),
        "ended_at": _ts(info.end_time),
        "params": json.dumps(dict(data.params), sort_keys=True),
        "metrics": json.dumps(
            {k: v for k, v in data.metrics.items() if not k.startswith("system/")}, sort_keys=True
        ),
        "tags": json.dumps(tags, sort_keys=True),
        "resource_ids": json.dumps(resource_ids(tags)),
        "gpu_count": gpu_count,
        "source": SOURCE,
    }
    return row, samples


def _sample(
    run_id: str, metric: str, ts: datetime | None, value: float, stat: str
) -> dict[str, Any]:
    return {
        "resource_id": RUN_METRICS_PREFIX + run_id,
        "metric": metric,
        "ts": ts,
        "value": value,
        "stat": stat,
        "period_s": 0,
        "source": SOURCE,
    }


def write_back(tracking_uri: str, costs: dict[str, dict[str, str]]) -> int:
    """Set ``mlcost.*`` tags (cost, GPU-hours, efficiency) on each run; returns how many."""
    client = MlflowRuns(tracking_uri)._client()
    for run_id, tags in costs.items():
        for key, value in tags.items():
            client.set_tag(run_id, key, value)
    return len(costs)
