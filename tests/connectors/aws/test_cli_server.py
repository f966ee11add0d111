"""`mlcost ingest aws` as a user runs it: a subprocess pointed at moto's server with
AWS_ENDPOINT_URL, nothing AWS-specific configured in mlcost."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

from mlcost.store import Store
from tests.connectors.aws.conftest import ACCOUNT, build_org

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def moto_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    try:
        yield url
    finally:
        server.stop()


def test_cli_ingests_through_an_endpoint_url(moto_server: str, tmp_path: Path, cli: Cli) -> None:
    org = build_org()
    db = tmp_path / "mlcost.duckdb"
    done = cli("--db", str(db), "ingest", "aws", "--regions", "us-east-1,eu-west-1")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert f"{ACCOUNT} us-east-1 vm: 2" in lines
    assert f"{ACCOUNT} eu-west-1 ip_address: 1" in lines
    assert any(
        line.startswith("17 resources, 14 metric samples, 1 training jobs;") for line in lines
    )
    with Store(db).reader() as con:
        rows = con.execute(
            "SELECT region, resource_type, count(*) FROM resources GROUP BY ALL ORDER BY ALL"
        ).fetchall()
        busy = con.execute(
            "SELECT value FROM metrics WHERE resource_id = ? AND metric = 'cpu_util_pct' "
            "AND stat = 'Maximum'",
            [org.ids["busy"]],
        ).fetchall()
    assert rows == [
        ("eu-west-1", "ip_address", 1),
        ("eu-west-1", "vm", 1),
        ("eu-west-1", "volume", 1),
        ("us-east-1", "endpoint", 1),
        ("us-east-1", "image", 2),
        ("us-east-1", "ip_address", 2),
        ("us-east-1", "notebook", 1),
        ("us-east-1", "snapshot", 3),
        ("us-east-1", "vm", 2),
        ("us-east-1", "volume", 3),
    ]
    assert busy == [(90.0,)]


def test_cli_accounts_without_a_role_is_a_clear_error(tmp_path: Path, cli: Cli) -> None:
    done = cli("--db", str(tmp_path / "m.duckdb"), "ingest", "aws", "--accounts", "210987654321")
    assert done.returncode == 1
    assert done.stderr.startswith("mlcost: --accounts needs --role-name")
