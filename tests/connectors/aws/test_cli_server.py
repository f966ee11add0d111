"""`mlcost ingest aws` as a user runs it: a subprocess pointed at moto's server with
AWS_ENDPOINT_URL, nothing AWS-specific configured in mlcost."""

from __future__ import annotations

import contextlib
import http.server
import socket
import subprocess
import threading
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


class _Endpoint(http.server.BaseHTTPRequestHandler):
    """An endpoint in front of AWS that fails: a proxy's or an outage page's 500 in
    plain text for every call, except sts:GetCallerIdentity when ``identity`` is set."""

    identity = False

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.identity and b"Action=GetCallerIdentity" in body:
            status, text = 200, IDENTITY.encode()
        else:
            status, text = 500, b"upstream connect error or disconnect/reset before headers"
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    def log_message(self, *args: object) -> None:
        pass


IDENTITY = (
    '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
    f"<GetCallerIdentityResult><Arn>arn:aws:iam::{ACCOUNT}:user/ci</Arn>"
    f"<UserId>AIDAEXAMPLE</UserId><Account>{ACCOUNT}</Account></GetCallerIdentityResult>"
    "<ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
)


@contextlib.contextmanager
def failing_endpoint(identity: bool) -> Iterator[str]:
    handler = type("Handler", (_Endpoint,), {"identity": identity})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_MAX_ATTEMPTS": "1",
}


def one_sentence(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("mlcost: ") and "Traceback" not in done.stderr
    assert "unexpected" not in done.stderr and "bug in mlcost" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 2, done.stderr
    return done.stderr


@pytest.mark.parametrize("identity", [False, True], ids=["first call", "later call"])
def test_an_endpoint_answering_500_in_plain_text_is_one_sentence(
    tmp_path: Path, cli: Cli, identity: bool
) -> None:
    # botocore cannot parse a body that is not XML: its ResponseParserError (no
    # BotoCoreError) ended as "unexpected ResponseParserError … a bug in mlcost".
    db = tmp_path / "mlcost.duckdb"
    assert cli("--db", str(db), "init").returncode == 0
    with failing_endpoint(identity) as url:
        done = cli("--db", str(db), "ingest", "aws", env={**AWS_ENV, "AWS_ENDPOINT_URL": url})

    said = one_sentence(done)
    assert f"the endpoint at {url} answered with something that is not an AWS response" in said
    assert "Check AWS_ENDPOINT_URL and any proxy" in said
    if identity:  # the account is known by then, and the call is the region list
        assert f"AWS call ec2:DescribeRegions failed in account {ACCOUNT}, region eu-west-1" in said
    else:
        assert "AWS call sts:GetCallerIdentity failed in region eu-west-1:" in said
    with Store(db).reader() as con:
        assert con.execute("SELECT count(*) FROM resources").fetchall() == [(0,)]


def test_unreachable_endpoints_missing_credentials_and_profiles_are_one_sentence(
    tmp_path: Path, cli: Cli
) -> None:
    db = str(tmp_path / "mlcost.duckdb")
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    done = cli("--db", db, "ingest", "aws", env={**AWS_ENV, "AWS_ENDPOINT_URL": closed})
    assert "sts:GetCallerIdentity failed in region eu-west-1: Could not connect" in one_sentence(
        done
    )

    nowhere = str(tmp_path / "none")
    bare = {
        "AWS_ACCESS_KEY_ID": "",
        "AWS_SECRET_ACCESS_KEY": "",
        "AWS_SHARED_CREDENTIALS_FILE": nowhere,
        "AWS_CONFIG_FILE": nowhere,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_MAX_ATTEMPTS": "1",
    }
    done = cli("--db", db, "ingest", "aws", "--regions", "eu-west-1", env=bare)
    assert "No AWS credentials found for sts:GetCallerIdentity" in one_sentence(done)

    done = cli("--db", db, "ingest", "aws", env={**bare, "AWS_PROFILE": "nope"})
    assert "The config profile (nope) could not be found" in one_sentence(done)

    done = cli("--db", db, "ingest", "aws", env={**AWS_ENV, "AWS_ENDPOINT_URL": "not a url"})
    assert "Invalid endpoint: not a url" in one_sentence(done)
