"""`mlcost dashboard` as a service runs it: stopped with SIGTERM (systemd, docker stop),
it stops the Streamlit server it started instead of leaving it serving."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
            return bool(r.read().strip() == b"ok")
    except OSError:
        return False


def test_sigterm_stops_the_dashboard_server_too(empty_db: Path, tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    exe = Path(sys.executable).with_name("mlcost")
    log = open(tmp_path / "server.log", "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [str(exe), "--db", str(empty_db), "dashboard", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # its own group, so the test can clean up whatever is left
    )
    try:
        deadline = time.monotonic() + 90
        while not healthy(url):
            assert process.poll() is None, (tmp_path / "server.log").read_text()
            assert time.monotonic() < deadline, "the dashboard did not start"
            time.sleep(0.5)
        process.send_signal(signal.SIGTERM)  # to `mlcost dashboard` alone, as systemd does
        assert process.wait(timeout=30) == 128 + signal.SIGTERM
        deadline = time.monotonic() + 15
        while healthy(url):
            assert time.monotonic() < deadline, "the Streamlit server kept serving"
            time.sleep(0.5)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        log.close()
