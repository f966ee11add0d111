"""Errors that were tracebacks or wrong sentences (issue 23), each now one sentence, what to
do, and exit 1."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from mlcost import schedule
from mlcost.store import Store
from tests.conftest import Cli, focus_row, write_csv


def one_sentence(stderr: str) -> None:
    assert stderr.startswith("mlcost: "), stderr
    assert "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) <= 2, stderr


def test_a_csv_of_20000_columns_is_refused_at_once(cli: Cli, db: str, tmp_path: Path) -> None:
    # It ran 144 s and ended in "Failed to rollback transaction … Out of Memory".
    row = focus_row()
    row.update({f"x_col{i}": "1" for i in range(20_000)})
    path = write_csv(tmp_path / "wide.csv", [row])

    started = time.monotonic()
    done = cli("--db", db, "ingest", "billing", str(path))

    assert done.returncode == 1
    one_sentence(done.stderr)
    assert "20,016 columns" in done.stderr and "up to 2,000" in done.stderr
    assert time.monotonic() - started < 30


def test_a_utf16_csv_is_called_utf16_not_corrupt(cli: Cli, db: str, tmp_path: Path) -> None:
    text = write_csv(tmp_path / "u8.csv", [focus_row()]).read_text("utf-8")
    path = tmp_path / "excel.csv"
    path.write_bytes(text.encode("utf-16"))  # with its byte-order mark, as Excel writes it

    done = cli("--db", db, "ingest", "billing", str(path))

    assert done.returncode == 1
    one_sentence(done.stderr)
    assert "is UTF-16 text; mlcost reads CSV in UTF-8" in done.stderr
    assert "iconv -f UTF-16 -t UTF-8" in done.stderr
    assert "corrupt" not in done.stderr

    latin = tmp_path / "latin.csv"
    latin.write_bytes(text.replace("ProviderName", "ProviderNäme").encode("latin-1"))
    done = cli("--db", db, "ingest", "billing", str(latin))
    assert "not UTF-8 text (byte 0xe4)" in done.stderr


def test_a_link_out_of_an_export_folder_is_refused_without_reading_it(
    cli: Cli, db: str, tmp_path: Path
) -> None:
    secret = tmp_path / "private" / "passwd"
    secret.parent.mkdir()
    secret.write_text("root:x:0:0:SECRET-LINE:/root:/bin/bash\n")
    folder = tmp_path / "exports"
    write_csv(folder / "good.csv", [focus_row()])
    (folder / "bill.csv").symlink_to(secret)

    done = cli("--db", db, "ingest", "billing", str(folder))

    assert done.returncode == 1
    one_sentence(done.stderr)
    assert "is a link to a file outside" in done.stderr
    assert "SECRET-LINE" not in done.stderr + done.stdout


def test_schedule_status_says_running_while_the_lock_is_held(tmp_path: Path) -> None:
    # The run's pid is gone from this process's view (another container, a reused pid),
    # but it holds the lock: it is running, not interrupted.
    store = Store(tmp_path / "mlcost.duckdb")
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True).stdout.strip()  # fmt: skip
    status = {"pid": int(gone), "started_at": "2026-01-01 07:00:00", "state": "running",
              "steps": []}  # fmt: skip
    schedule.status_path(store).write_text(json.dumps(status))

    with open(schedule.lock_path(store), "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held = schedule.read_status(store)
        fcntl.flock(handle, fcntl.LOCK_UN)
    released = schedule.read_status(store)

    assert held is not None and held["state"] == "running"
    assert released is not None and released["state"] == "interrupted"
    assert os.getpid() != int(gone)


def test_a_failed_send_without_output_does_not_claim_a_report_was_written(
    cli: Cli, db: str
) -> None:
    assert cli("--db", db, "ingest", "sample").returncode == 0
    url = "http://127.0.0.1:9/services/T/B/x"  # the discard port: nothing listens

    done = cli("--db", db, "report", "--send", "slack", env={"MLCOST_SLACK_WEBHOOK_URL": url})

    assert done.returncode == 1
    one_sentence(done.stderr)
    assert "written" not in done.stderr and "not sent" in done.stderr


def test_a_delivery_that_times_out_without_output_does_not_claim_a_report_was_written(
    cli: Cli, db: str, tmp_path: Path, silent_server: str
) -> None:
    # A Slack webhook and a mail server that accept the connection and never answer: the
    # hints said "the report was written but not sent", with nothing written.
    assert cli("--db", db, "ingest", "sample").returncode == 0
    port = silent_server.rstrip("/").rsplit(":", 1)[1]
    config = tmp_path / "mlcost.toml"
    config.write_text(
        "[report.slack]\ntimeout_s = 1\n"
        f'[report.email]\nsmtp_host = "127.0.0.1"\nsmtp_port = {port}\nsecurity = "none"\n'
        'from_address = "mlcost@example.com"\nto = ["finops@example.com"]\ntimeout_s = 1\n'
    )
    env = {"MLCOST_SLACK_WEBHOOK_URL": silent_server + "services/T/B/x"}

    for channel, said in (("slack", "did not answer within 1 s"),
                          ("email", "did not answer within 1 s")):  # fmt: skip
        done = cli("--db", db, "--config", str(config), "report", "--send", channel, env=env)

        assert done.returncode == 1, done.stderr
        one_sentence(done.stderr)
        assert said in done.stderr and "not sent" in done.stderr
        assert "written" not in done.stderr
    assert list(tmp_path.glob("*.md")) + list(tmp_path.glob("*.html")) == []
