"""The README is the front page: short, and every command in it runs as written.

The ```sh blocks run in one bash from the repository root, one command after the other as
a reader types them into one terminal (`make demo` first builds build/demo afresh), with a
home folder of its own. A command that needs a cloud account or keeps serving is not run:
it is listed in SKIPPED, with why, so a new one fails until someone decides. The reader's
own billing export the README loads is put where it says (~/exports/focus/2026-10/): the
sample organisation's October, as FOCUS Parquet."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text("utf-8")

#: Commands of the README that are not run here, by how they start, and why.
SKIPPED = {
    "make test": "the whole suite: it is what runs this test",
    "mlcost dashboard": "a long-running server (tests/app/test_browser.py drives it)",
    "make docs": "rewrites docs/reference/ in the working tree; `make test` builds the site",
}


def shell_blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)```", README, flags=re.DOTALL)


def commands(block: str) -> list[str]:
    """The block's commands: its lines, a command continuing while a quote is open."""
    found: list[str] = []
    pending = ""
    for line in block.splitlines():
        pending = f"{pending}\n{line}" if pending else line
        try:
            words = shlex.split(pending, comments=True)
        except ValueError:  # an open quote: the command goes on on the next line
            continue
        if words:
            found.append(pending)
        pending = ""
    assert not pending, f"unterminated command in the README: {pending}"
    return found


def skipped(command: str) -> str | None:
    return next((s for s in SKIPPED if command.startswith(s)), None)


def test_the_readme_is_a_front_page() -> None:
    assert len(README.splitlines()) < 200
    assert "![" in README and "docs/assets/" in README  # the dashboard's screenshot
    for target in re.findall(r"\]\((docs/[^)#]+)", README):
        assert (ROOT / target).exists(), f"the README links to {target}, which does not exist"


def test_every_skip_is_a_command_of_the_readme() -> None:
    every = [c for block in shell_blocks() for c in commands(block)]
    for prefix in SKIPPED:
        assert any(c.startswith(prefix) for c in every), f"{prefix!r} is no longer skipped"


@pytest.mark.skipif(
    Path(sys.prefix).resolve() != (ROOT / ".venv").resolve(),
    reason="runs `make demo`, which uses the repository's .venv: run it from that venv",
)
def test_every_readme_command_runs_as_written(tmp_path: Path) -> None:
    shutil.rmtree(ROOT / "build" / "demo", ignore_errors=True)  # a fresh demo build
    home = tmp_path / "home"
    # the reader's own FOCUS export, where the README says it is: the sample's October
    exports = home / "exports" / "focus" / "2026-10"
    exports.mkdir(parents=True)
    bill = pq.read_table(ROOT / "sample_data" / "cost.parquet")
    october = pc.equal(
        bill["BillingPeriodStart"], pa.scalar(datetime(2026, 10, 1), pa.timestamp("us"))
    )
    pq.write_table(bill.filter(october), exports / "focus-2026-10.parquet")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLCOST_", "VIRTUAL_ENV"))}
    env |= {"HOME": str(home), "COLUMNS": "120", "PATH": os.environ["PATH"]}
    script, listed = ["set -e"], []
    for command in [c for block in shell_blocks() for c in commands(block)]:
        if not skipped(command):
            script += [f"echo '>>> {len(listed)}' >&2", command]
            listed.append(command)
    done = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if done.returncode != 0:
        markers = re.findall(r">>> (\d+)", done.stderr)
        failed = listed[int(markers[-1])] if markers else "(before the first command)"
        pytest.fail(f"README command failed: {failed}\n{done.stdout[-3000:]}{done.stderr}")
    ran = len(listed)
    assert ran >= 15
    assert (ROOT / "build" / "demo" / "mlcost.duckdb").exists()
    assert (ROOT / "build" / "demo" / "waste.csv").read_text().startswith("id,rule,provider")
    assert (home / "finops" / "mlcost.duckdb").exists()
