"""FOCUS conformance: what we export, checked by the FinOps Foundation's focus-validator.

The validator runs in its own venv (``.venv-validator``, Python 3.12, built by
``conformance/validator.sh``; ``make test`` builds it first) through ``conformance/check.py``,
which fails on any failing MUST rule not listed in ``conformance/validator_defects.toml``.
The tests skip only where the machine has no Python 3.12.

Add datasets to ``DATASETS``: a name and a builder that writes a FOCUS file into a folder.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import duckdb
import pytest

from mlcost.ingest import ingest_sample
from mlcost.schema import FOCUS_COLUMNS
from mlcost.store import Store
from tests.conftest import run_cli

ROOT = Path(__file__).resolve().parent.parent
CONFORMANCE = ROOT / "conformance"
#: Where conformance/validator.sh builds the validator's venv (FOCUS_VALIDATOR_VENV moves it).
VALIDATOR_VENV = ROOT / os.environ.get("FOCUS_VALIDATOR_VENV", ".venv-validator")
NO_PYTHON_312 = 3  # conformance/validator.sh's exit code when the machine has no Python 3.12


def export_focus_for_validation(store_path: Path, out_path: Path) -> Path:
    """``mlcost export focus --output out_path`` of a store, run as a user runs it: the file
    the validator checks is the one users get."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.unlink(missing_ok=True)
    done = run_cli("--db", str(store_path), "export", "focus", "--output", str(out_path))
    assert done.returncode == 0, done.stderr
    return out_path


# -- datasets --------------------------------------------------------------------------------

#: A builder gets a folder shared by this module's tests and returns the FOCUS file it wrote.
Builder = Callable[[Path], Path]


def sample_store(workspace: Path) -> Path:
    """The sample organisation loaded through the real loader, once per test module."""
    path = workspace / "sample" / "mlcost.duckdb"
    if not path.exists():
        store = Store(path, lock_timeout_s=30)
        store.init()
        ingest_sample(store)
    return path


def sample_csv(workspace: Path) -> Path:
    return export_focus_for_validation(sample_store(workspace), workspace / "sample.csv")


def sample_parquet(workspace: Path) -> Path:
    return export_focus_for_validation(sample_store(workspace), workspace / "sample.parquet")


PROVIDER_FIXTURES = ROOT / "tests" / "fixtures" / "providers"


def provider_export(name: str, *files: str) -> Builder:
    """A provider fixture (tests/fixtures/providers) loaded by `mlcost ingest billing`, as a
    user would load it, then exported as FOCUS like the sample."""

    def build(workspace: Path) -> Path:
        db = workspace / name / "mlcost.duckdb"
        if not db.exists():
            db.parent.mkdir(parents=True, exist_ok=True)
            done = run_cli(
                "--db", str(db), "ingest", "billing", *(str(PROVIDER_FIXTURES / f) for f in files)
            )
            assert done.returncode == 0, done.stderr
        return export_focus_for_validation(db, workspace / f"{name}.parquet")

    return build


#: (name, builder): the sample organisation, and every provider fixture converted to FOCUS.
DATASETS: list[tuple[str, Builder]] = [
    ("sample-csv", sample_csv),
    ("sample-parquet", sample_parquet),
    ("aws-legacy-cur", provider_export("aws-legacy-cur", "aws_legacy_cur.csv")),
    ("aws-cur2", provider_export("aws-cur2", "aws_cur2.parquet")),
    ("azure-ea", provider_export("azure-ea", "azure_ea.csv")),
    (
        "azure-mca",
        provider_export("azure-mca", "azure_mca_actual.csv", "azure_mca_amortized.csv"),
    ),
    ("azure-focuscost", provider_export("azure-focuscost", "azure_focuscost.csv")),
    ("gcp", provider_export("gcp", "gcp_billing_export.jsonl")),
]

#: Failing MUST rules that are our data's fault and known, per dataset: rule -> what is wrong.
#: Not validator defects (those are in conformance/validator_defects.toml). The test demands
#: exactly this set, so a new failure fails it and a fixed one asks to be taken off here.
KNOWN_DATA_FAILURES: dict[str, dict[str, str]] = {}


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def validator_python() -> Path:
    """The validator's venv, built here if `make test` has not built it already."""
    done = subprocess.run(
        ["bash", str(CONFORMANCE / "validator.sh")],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if done.returncode == NO_PYTHON_312:
        pytest.skip(f"no Python 3.12 for focus-validator: {done.stderr.strip()}")
    assert done.returncode == 0, f"conformance/validator.sh failed:\n{done.stderr}"
    return VALIDATOR_VENV / "bin" / "python"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("conformance")


def run_check(
    python: Path, dataset: Path, name: str, report: Path, *extra: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, object]]:
    """conformance/check.py on one dataset: the process, and its JSON report for it."""
    done = subprocess.run(
        [
            str(python),
            str(CONFORMANCE / "check.py"),
            "--json",
            str(report),
            *extra,
            f"{name}={dataset}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode in (0, 1), f"check.py broke:\n{done.stdout}\n{done.stderr}"
    data = json.loads(report.read_text("utf-8"))
    (only,) = data["datasets"]
    return done, only


# -- tests -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "build"), DATASETS, ids=[name for name, _ in DATASETS])
def test_export_is_conformant_focus(
    name: str, build: Builder, validator_python: Path, workspace: Path
) -> None:
    dataset = build(workspace)
    done, report = run_check(validator_python, dataset, name, workspace / f"{name}.json")
    print(f"\n{done.stdout}")  # the summary table, for `make conformance`

    with duckdb.connect() as con:
        (rows,) = con.execute(f"SELECT count(*) FROM '{dataset}'").fetchall()  # noqa: S608
    assert report["rows"] == rows[0], "the validator did not see every row"
    blocking = {f["rule"]: f for f in report["failures"] if f["blocking"]}  # type: ignore[attr-defined]
    known = KNOWN_DATA_FAILURES.get(name, {})
    new = sorted(set(blocking) - set(known))
    assert not new, f"failing MUST rules not in validator_defects.toml:\n{done.stdout}"
    fixed = sorted(set(known) - set(blocking))
    assert not fixed, f"{fixed} pass now: take them off KNOWN_DATA_FAILURES"


def test_csv_timestamps_are_written_as_the_spec_says(workspace: Path) -> None:
    """FOCUS date/times are ``YYYY-MM-DDTHH:mm:ssZ``. The validator cannot see this in CSV: it
    parses timestamp text leniently (``2026-08-01 00:00:00`` passes), so we check it here."""
    dataset = sample_csv(workspace)
    stamps = [c for c, kind in FOCUS_COLUMNS.items() if kind == "TIMESTAMP"]
    pattern = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
    with duckdb.connect() as con:
        for column in stamps:
            bad = con.execute(
                f'SELECT DISTINCT "{column}" FROM read_csv(?, all_varchar = true) '  # noqa: S608
                f'WHERE "{column}" <> \'\' AND NOT regexp_full_match("{column}", ?) LIMIT 3',
                [str(dataset), pattern],
            ).fetchall()
            assert not bad, f"{column}: {bad}"


def test_the_check_fails_on_a_broken_must_rule_and_on_a_defect_hiding_one(
    validator_python: Path, workspace: Path
) -> None:
    """The harness is not vacuous: a bad ChargeCategory fails it, and so does a row that breaks
    CommitmentDiscountStatus-C-004-C as the spec means it, although that rule is listed as a
    validator defect."""
    broken = workspace / "broken.parquet"
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(
            f"CREATE TABLE t AS SELECT * FROM '{sample_parquet(workspace)}'"  # noqa: S608
        )
        con.execute(
            "UPDATE t SET ChargeCategory = 'Bogus' WHERE rowid = (SELECT min(rowid) FROM t)"
        )
        con.execute(
            "UPDATE t SET CommitmentDiscountStatus = NULL WHERE rowid = (SELECT min(rowid) "
            "FROM t WHERE CommitmentDiscountId IS NOT NULL AND ChargeCategory = 'Usage')"
        )
        con.execute(f"COPY t TO '{broken}' (FORMAT parquet)")
    done, report = run_check(validator_python, broken, "broken", workspace / "broken.json")
    assert done.returncode == 1, done.stdout
    failures = {f["rule"]: f for f in report["failures"]}  # type: ignore[attr-defined]
    blocking = {rule for rule, f in failures.items() if f["blocking"]}
    assert any(rule.startswith("ChargeCategory-") for rule in blocking), done.stdout
    assert "CommitmentDiscountStatus-C-004-C" in blocking, done.stdout
    assert failures["CommitmentDiscountStatus-C-004-C"]["spec_violations"] == 1


# -- the harness's own logic (no validator needed) -------------------------------------------


def load_check() -> ModuleType:
    """conformance/check.py as a module (it imports the validator only when validating)."""
    spec = importlib.util.spec_from_file_location("conformance_check", CONFORMANCE / "check.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_blame_goes_to_the_failing_leaves_and_listed_defects_are_excused() -> None:
    check = load_check()
    R = check.RuleResult
    results = {
        # A MUST composite failing only through a SHOULD child: not a MUST failure.
        "PricingUnit-C-000-M": R(
            "PricingUnit-C-000-M", "fail", "MUST", True, failed_children=["PricingUnit-C-003-O"]
        ),
        "PricingUnit-C-003-O": R("PricingUnit-C-003-O", "fail", "SHOULD", False),
        # A MUST leaf under a composite: blocking; the composite is an echo.
        "ServiceName-C-000-M": R(
            "ServiceName-C-000-M", "fail", "MUST", True, failed_children=["ServiceName-C-005-C"]
        ),
        "ServiceName-C-005-C": R("ServiceName-C-005-C", "fail", "MUST", False),
        # Listed defects: excused, unless their spec check finds rows.
        "InvoiceId-C-004-C": R("InvoiceId-C-004-C", "fail", "MUST", False),
        "CommitmentDiscountStatus-C-004-C": R(
            "CommitmentDiscountStatus-C-004-C", "fail", "MUST NOT", False, spec_violations=2
        ),
        "BilledCost-C-001-M": R("BilledCost-C-001-M", "pass", "MUST", False),
    }
    defects = {
        "InvoiceId-C-004-C": check.Defect("InvoiceId-C-004-C", "model condition missing"),
        "CommitmentDiscountStatus-C-004-C": check.Defect(
            "CommitmentDiscountStatus-C-004-C", "inverted condition", "SELECT 2"
        ),
    }
    failures, echoes = check.classify(results, defects)
    verdict = {f.rule: f.blocking for f in failures}
    assert verdict == {
        "ServiceName-C-005-C": True,
        "CommitmentDiscountStatus-C-004-C": True,
        "InvoiceId-C-004-C": False,
        "PricingUnit-C-003-O": False,
    }
    assert echoes == ["PricingUnit-C-000-M", "ServiceName-C-000-M"]


def test_every_listed_defect_has_a_reason_and_is_listed_once(tmp_path: Path) -> None:
    check = load_check()
    defects = check.load_defects(CONFORMANCE / "validator_defects.toml")
    assert defects and all(d.reason for d in defects.values())
    twice = tmp_path / "twice.toml"
    twice.write_text('[[defect]]\nrule = "A"\nreason = "x"\n[[defect]]\nrule = "A"\nreason = "y"\n')
    with pytest.raises(ValueError, match="twice"):
        check.load_defects(twice)
    bare = tmp_path / "bare.toml"
    bare.write_text('[[defect]]\nrule = "A"\n')
    with pytest.raises(ValueError, match="reason"):
        check.load_defects(bare)


def test_row_predicate_compiles_value_checks_and_nothing_else() -> None:
    check = load_check()
    spec = {
        "CheckFunction": "OR",
        "Items": [
            {"CheckFunction": "CheckValue", "ColumnName": "ChargeCategory", "Value": "Usage"},
            {
                "CheckFunction": "AND",
                "Items": [
                    {"CheckFunction": "CheckValue", "ColumnName": "X", "Value": "it's"},
                    {"CheckFunction": "CheckNotValue", "ColumnName": "Y", "Value": None},
                ],
            },
        ],
    }
    assert check.row_predicate(spec) == (
        "(\"ChargeCategory\" IS NOT DISTINCT FROM 'Usage' OR "
        "(\"X\" IS NOT DISTINCT FROM 'it''s' AND NOT (\"Y\" IS NOT DISTINCT FROM NULL)))"
    )
    assert check.row_predicate({"CheckFunction": "OR", "Items": [{"CheckFunction": "x"}]}) is None
    bad_column = {"CheckFunction": "CheckValue", "ColumnName": 'a"; DROP', "Value": "v"}
    assert check.row_predicate(bad_column) is None
