"""`mlcost schedule`: ingest → analyze → report and delivery, on a cron schedule.

One run at a time: the job holds an exclusive lock (``<store>.schedule.lock``) for as
long as it lives, so a second start is refused with the first one's pid. The lock is an
OS file lock, released by the kernel when the process dies, so a crashed or killed job
never leaves a lock that blocks the next. Each step (one per source, then analyze, then
each report format and channel) is retried with exponential back-off; a source that
keeps failing is recorded and the others still load. The last run's status is kept in
``<store>.schedule.json`` for ``mlcost schedule --status``.
"""

from __future__ import annotations

import fcntl
import functools
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from croniter import croniter

from mlcost.analysis import run_analyses
from mlcost.config import Settings
from mlcost.connectors.files.values import billing_window
from mlcost.delivery import send
from mlcost.errors import ConfigError, MlcostError
from mlcost.ingest import (
    ingest_aws,
    ingest_azure,
    ingest_billing,
    ingest_gcp,
    ingest_mlflow,
    ingest_sample,
)
from mlcost.redact import redact, remember_settings
from mlcost.report import build_report, write_report
from mlcost.store import Store

log = logging.getLogger("mlcost.schedule")

#: Source kinds a schedule can ingest: kind → (store, options, settings) → None.
#: The settings are the run's (``[rules]`` chooses the AWS prices previous_generation uses).
SOURCE_KINDS: dict[str, Callable[[Store, dict[str, Any], Settings], object]] = {
    "billing": lambda store, o, s: ingest_billing(
        store,
        list(o["paths"]),
        fmt=o.get("format", "auto"),
        source=o.get("source"),
        allow_empty=bool(o.get("allow_empty", False)),
    ),
    "sample": lambda store, o, s: ingest_sample(store),
    "aws": lambda store, o, s: ingest_aws(
        store,
        regions=o.get("regions", []),
        accounts=o.get("accounts", []),
        role_name=o.get("role_name"),
        lookback_days=int(o.get("lookback_days", 30)),
        rules=s.rules,
    ),
    "azure": lambda store, o, s: ingest_azure(
        store,
        subscriptions=o.get("subscriptions"),
        regions=o.get("regions"),
        lookback_days=int(o.get("lookback_days", 30)),
    ),
    "mlflow": lambda store, o, s: ingest_mlflow(
        store, str(o["tracking_uri"]), list(o.get("experiments", []))
    ),
    "gcp": lambda store, o, s: ingest_gcp(
        store,
        projects=o.get("projects"),
        regions=o.get("regions"),
        lookback_days=int(o.get("lookback_days", 30)),
    ),
}


class ScheduleBusyError(MlcostError):
    """Another ``mlcost schedule`` holds the lock."""


@dataclass
class Step:
    name: str
    state: str = "pending"
    attempts: int = 0
    error: str | None = None
    seconds: float = 0.0


@dataclass
class RunStatus:
    pid: int
    started_at: str
    state: str = "running"
    finished_at: str | None = None
    steps: list[Step] = field(default_factory=list)
    next_run: str | None = None


def status_path(store: Store) -> Path:
    return store.path.with_name(store.path.name + ".schedule.json")


def lock_path(store: Store) -> Path:
    return store.path.with_name(store.path.name + ".schedule.lock")


def read_status(store: Store) -> dict[str, Any] | None:
    """The last run's status, with ``interrupted`` where its process is gone mid-run."""
    path = status_path(store)
    if not path.exists():
        return None
    status: dict[str, Any] = json.loads(path.read_text("utf-8"))
    if status.get("state") == "running" and not _lock_held(store):
        # The lock, not the pid, says whether the run goes on: a pid may be another
        # container's, or reused; the lock is released by the kernel when the job dies.
        status["state"] = "interrupted"
    return status


def _lock_held(store: Store) -> bool:
    """Whether a schedule holds this store's lock now."""
    path = lock_path(store)
    if not path.exists():
        return False
    with open(path, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


class ScheduleLock:
    """The exclusive lock of a running schedule (released by the OS if the process dies)."""

    def __init__(self, store: Store) -> None:
        self.path = lock_path(store)
        self._handle: IO[str] | None = None

    def __enter__(self) -> ScheduleLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise ScheduleBusyError(
                f"Another mlcost schedule is already running for this store ({holder}).",
                "Stop it first, or give this one another --db.",
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}, started {datetime.now():%Y-%m-%d %H:%M:%S}")
        handle.flush()
        self._handle = handle
        return self

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


def run_schedule(
    store: Store,
    settings: Settings,
    *,
    cycles: int | None = None,
    now: Callable[[], datetime] = datetime.now,
    sleep: Callable[[float], None] = time.sleep,
) -> list[RunStatus]:
    """Run the cycle on every cron tick (forever, or ``cycles`` times)."""
    cron = settings.schedule.cron
    if not croniter.is_valid(cron):
        raise ConfigError(f"schedule.cron {cron!r} is not a cron expression.")
    done: list[RunStatus] = []
    with ScheduleLock(store):
        while cycles is None or len(done) < cycles:
            # the next tick after now: a run that overran its slot is not run again at once
            due: datetime = croniter(cron, now()).get_next(datetime)
            log.info("next run at %s", due.isoformat(sep=" ", timespec="seconds"))
            wait = (due - now()).total_seconds()
            if wait > 0:
                sleep(wait)
            status = run_cycle(store, settings, sleep=sleep)
            status.next_run = croniter(cron, now()).get_next(datetime).isoformat(sep=" ")
            write_status(store, status)
            done.append(status)
    return done


def run_cycle(
    store: Store, settings: Settings, *, sleep: Callable[[float], None] = time.sleep
) -> RunStatus:
    """One run: every source, then the analyses, then the report and its delivery."""
    remember_settings(settings)  # the secrets its steps' errors must never show
    status = RunStatus(pid=os.getpid(), started_at=_stamp())
    write_status(store, status)
    schedule = settings.schedule

    def step(name: str, action: Callable[[], object]) -> bool:
        record = Step(name)
        status.steps.append(record)
        ok = _retry(record, action, schedule.retries, schedule.backoff_s, sleep)
        write_status(store, status)
        return ok

    store.init()
    for i, source in enumerate(schedule.sources):
        kind = str(source.get("kind"))
        options = {k: v for k, v in source.items() if k != "kind"}
        if kind not in SOURCE_KINDS:
            raise ConfigError(
                f"schedule.sources[{i}]: unknown kind {kind!r}; "
                f"known kinds: {', '.join(SOURCE_KINDS)}."
            )
        label = source.get("name") or (
            f"{kind} {', '.join(map(str, options.get('paths', [])))}".strip()
        )
        # Billing is checked against [billing]'s dates, as `mlcost ingest billing` does.
        action = functools.partial(SOURCE_KINDS[kind], store, options, settings)
        step(f"ingest {label}", functools.partial(_with_window, settings, action))
    step("analyze", lambda: run_analyses(store, settings))
    report: dict[str, Any] = {}

    def build() -> None:
        report.update(build_report(store, settings.report.period, title=settings.report.title))

    if step("report", build):
        out = Path(schedule.output_dir)
        stamp = _free_stamp(out, datetime.now().strftime("%Y%m%d-%H%M%S"), schedule.formats)
        for fmt in schedule.formats:
            target = out / f"mlcost-report-{stamp}.{fmt}"
            step(f"write {target.name}", functools.partial(_write, report, target))
        for channel in schedule.send:
            step(f"send {channel}", functools.partial(send, report, channel, settings.report))
    failed = [s for s in status.steps if s.state == "failed"]
    status.state = (
        "ok" if not failed else ("failed" if len(failed) == len(status.steps) else "partial")
    )
    status.finished_at = _stamp()
    log.info("run %s: %d steps, %d failed", status.state, len(status.steps), len(failed))
    return status


def _with_window(settings: Settings, action: Callable[[], object]) -> object:
    with billing_window(settings.billing):
        return action()


def _free_stamp(folder: Path, stamp: str, formats: list[str]) -> str:
    """``stamp``, or ``stamp-2``, ``-3``…: a run never overwrites an earlier run's report."""
    candidate, n = stamp, 1
    while any((folder / f"mlcost-report-{candidate}.{fmt}").exists() for fmt in formats):
        n += 1
        candidate = f"{stamp}-{n}"
    return candidate


def _write(report: dict[str, Any], target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    write_report(report, target)


def _retry(
    record: Step,
    action: Callable[[], object],
    retries: int,
    backoff_s: float,
    sleep: Callable[[float], None],
) -> bool:
    started = time.perf_counter()
    for attempt in range(1, retries + 2):
        record.attempts = attempt
        try:
            action()
        except Exception as exc:  # a step's failure is recorded, never the end of the job
            record.error = _describe(exc)
            log.warning("%s failed (attempt %d): %s", record.name, attempt, record.error)
            if attempt <= retries:
                sleep(backoff_s * 2 ** (attempt - 1))
            continue
        record.state, record.error = "ok", None
        record.seconds = time.perf_counter() - started
        log.info("%s: ok", record.name)
        return True
    record.state = "failed"
    record.seconds = time.perf_counter() - started
    return False


def _describe(exc: Exception) -> str:
    """A step's failure in one line for the log and the status file, secrets redacted."""
    if isinstance(exc, MlcostError):
        return redact(exc.message)
    line = str(exc).splitlines()[0] if str(exc) else ""
    return redact(f"{type(exc).__name__}: {line}".rstrip(": "))


def write_status(store: Store, status: RunStatus) -> None:
    path = status_path(store)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(asdict(status), indent=2), encoding="utf-8")
    tmp.replace(path)


def _stamp() -> str:
    return datetime.now().isoformat(sep=" ", timespec="seconds")
