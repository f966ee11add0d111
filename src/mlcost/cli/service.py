"""Commands that run for people: report, schedule, dashboard."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from mlcost import redact
from mlcost.cli.common import (
    AccountsOption,
    ProvidersOption,
    _ctx,
    _filters,
    app,
    err,
    out,
)


@app.command()
def report(
    ctx: typer.Context,
    period: Annotated[
        str | None, typer.Option(help="7d, 30d or month (default: report.period, 7d).")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="FILE.html, FILE.md or FILE.json (default: Markdown on stdout)."
        ),
    ] = None,
    send_to: Annotated[
        list[str] | None,
        typer.Option("--send", help="Deliver it: slack or email (repeatable; see mlcost.toml)."),
    ] = None,
    provider: ProvidersOption = None,
    account: AccountsOption = None,
) -> None:
    """The periodic report: spend and its change, movers, anomalies, savings, commitments."""
    from mlcost.delivery import send as deliver
    from mlcost.report import build_report, render, write_report

    context = _ctx(ctx)
    settings = context.settings.report
    data = build_report(
        context.store,
        period or settings.period,
        title=settings.title,
        filters=_filters(None, None, provider, account),
    )
    if output is not None:
        fmt = write_report(data, output)
        err.print(f"Report ({fmt}) written to {output}.", markup=False)
    elif not send_to:
        sys.stdout.write(render(data, "md"))
    for channel in send_to or []:
        err.print(f"Report {deliver(data, channel, settings)}.", markup=False)


@app.command()
def schedule(
    ctx: typer.Context,
    status: Annotated[bool, typer.Option("--status", help="Show the last run and exit.")] = False,
    once: Annotated[
        bool, typer.Option("--once", help="Run one cycle now and exit (for cron or a timer).")
    ] = False,
    cycles: Annotated[
        int | None, typer.Option(help="Stop after this many scheduled cycles.", hidden=True)
    ] = None,
) -> None:
    """Long-running job: on the configured cron, ingest → analyze → report and delivery."""
    from mlcost import schedule as schedule_lib

    context = _ctx(ctx)
    store = context.store
    if status:
        last = schedule_lib.read_status(store)
        if last is None:
            out.print("The schedule has not run for this store yet.")
            raise typer.Exit()
        out.print(
            f"Last run: {last['state']}, started {last['started_at']}"
            + (f", finished {last['finished_at']}" if last.get("finished_at") else "")
            + f" (pid {last['pid']}).",
            markup=False,
        )
        for item in last["steps"]:
            line = f"  {item['state']:<7} {item['name']} ({item['attempts']} attempt(s))"
            out.print(line + (f": {item['error']}" if item.get("error") else ""), markup=False)
        if last.get("next_run"):
            out.print(f"Next run: {last['next_run']}.", markup=False)
        if last["state"] in ("failed", "partial", "interrupted"):
            raise typer.Exit(1)
        return
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )
    redact.install_log_filter()
    if once:
        with schedule_lib.ScheduleLock(store):
            run = schedule_lib.run_cycle(store, context.settings)
            schedule_lib.write_status(store, run)
        if run.state != "ok":
            raise typer.Exit(1)
        return
    schedule_lib.run_schedule(store, context.settings, cycles=cycles)


@app.command()
def dashboard(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8501,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
) -> None:
    """Serve the dashboard (Streamlit) on localhost; Ctrl-C or SIGTERM stops it. The app
    reads the store of --db and the settings of --config (or ./mlcost.toml if present)."""
    import signal
    import subprocess

    from mlcost.app import SCRIPT

    env = {**os.environ, "MLCOST_DB": str(_ctx(ctx).db.resolve())}
    env.pop("MLCOST_CONFIG", None)
    config = _ctx(ctx).settings.path
    if config is not None:
        env["MLCOST_CONFIG"] = str(config.resolve())
    # toolbarMode minimal: no "Deploy" button or developer menu for the people reading it;
    # no file watcher: the app's files do not change under a running dashboard
    command = [sys.executable, "-m", "streamlit", "run", str(SCRIPT), "--server.port",
               str(port), "--server.address", host, "--server.headless", "true",
               "--browser.gatherUsageStats", "false",
               "--client.toolbarMode", "minimal", "--server.fileWatcherType", "none"]  # fmt: skip
    used = f" with the settings of {env['MLCOST_CONFIG']}" if "MLCOST_CONFIG" in env else ""
    out.print(f"Dashboard on http://{host}:{port} for {env['MLCOST_DB']}{used}")
    server = subprocess.Popen(command, env=env)
    stopping: list[int] = []

    def stop(signum: int, _frame: object) -> None:
        # a service manager's SIGTERM (or a closed terminal's SIGHUP) stops the server
        # too, instead of leaving it serving without us; the loop below waits for it
        stopping.append(signum)
        with contextlib.suppress(ProcessLookupError):
            server.send_signal(signal.SIGTERM)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGHUP)}
    deadline: float | None = None
    try:
        while True:
            try:
                code = server.wait(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                if stopping and deadline is None:
                    deadline = time.monotonic() + STOP_TIMEOUT_S
                if deadline is not None and time.monotonic() > deadline:
                    server.kill()
            except KeyboardInterrupt:  # Ctrl-C reached both: the server stops itself
                stopping.append(signal.SIGINT)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    raise typer.Exit(128 + stopping[0] if stopping and stopping[0] != signal.SIGINT else code)


#: Seconds the dashboard server gets to stop after SIGTERM before it is killed.
STOP_TIMEOUT_S = 10
