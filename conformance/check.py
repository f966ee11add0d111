"""FOCUS conformance check: run the FinOps Foundation's focus-validator on FOCUS datasets.

Run it with the validator's own Python (``conformance/validator.sh`` builds it)::

    .venv-validator/bin/python conformance/check.py [--json REPORT] NAME=PATH ...

PATH is a FOCUS dataset as ``mlcost export focus`` writes it: a ``.csv`` (header, timestamps
``YYYY-MM-DDTHH:mm:ssZ``) or ``.parquet`` file, or a folder of them (joined into one file
first, since the validator reads one file).

It prints, per dataset, the rules passed / failed / skipped, then every failing MUST rule
with its check text and sample values, and exits 1 when a failing MUST rule is not listed in
``conformance/validator_defects.toml`` (rules the validator gets wrong, each with the reason).

Blame goes to leaves. The validator fails a composite rule when any child fails, whatever the
child's keyword: ``PricingUnit-C-000-M`` (MUST) fails when ``PricingUnit-C-003-O`` (SHOULD)
does. So a failing composite is judged by the failing rules under it, and only a composite
with no failing child recorded is judged on its own keyword. List defects by leaf rule id.

One more correction: the validator passes an allowed-values rule (an OR of value checks,
e.g. "ChargeCategory MUST be one of the allowed values") when any single row matches, so this
script re-checks those row by row and reports the rows that match no allowed value.

This script uses the validator's Python API (pinned 2.2.1) rather than its CLI, because the
CLI has no machine-readable output with each rule's keyword, violation count and sample rows
(``--output-type unittest`` gives only pass/fail names), and exits 0 whatever fails.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_DEFECTS = HERE / "validator_defects.toml"
MUST_KEYWORDS = frozenset({"MUST", "MUST NOT"})
#: Which provider capabilities to assume. Rules tied to a capability are skipped unless it is
#: named; mlcost exports bills from AWS, Azure and GCP, which between them have all of them,
#: so the default checks everything the validator can.
DEFAULT_CRITERIA = "ALL"


@dataclass
class RuleResult:
    """One rule's outcome, as the validator reported it."""

    rule: str
    status: str  # pass | fail | skip
    keyword: str  # MUST, MUST NOT, SHOULD, SHOULD NOT, RECOMMENDED, MAY
    composite: bool
    must_satisfy: str = ""
    message: str = ""
    violations: int | None = None
    failed_children: list[str] = field(default_factory=list)
    samples: list[dict[str, str]] = field(default_factory=list)
    skip_reason: str = ""
    #: For a listed defect with a spec check: the rows that break the rule as the spec means it.
    spec_violations: int | None = None
    #: True when the validator passed it and this script's row-wise recheck failed it.
    rechecked: bool = False


@dataclass(frozen=True)
class Defect:
    """A rule the validator gets wrong: why, and (where the data can show it) the rule as the
    spec means it, as SQL over ``focus_data`` counting offending rows."""

    rule: str
    reason: str
    spec_check: str | None = None


@dataclass
class Failure:
    """A failing rule that is a cause, not an echo: a leaf, or a composite with no failing
    child recorded."""

    rule: str
    keyword: str
    must_satisfy: str
    message: str
    violations: int | None
    samples: list[dict[str, str]]
    must: bool  # keyword is MUST or MUST NOT
    defect: str | None  # the reason from validator_defects.toml, when listed there
    spec_violations: int | None  # offending rows by the defect's spec check, when it has one
    rechecked: bool  # failed by this script's row-wise recheck, where the validator passed it
    blocking: bool  # a MUST failure not excused as a defect (or whose spec check fails too)


@dataclass
class DatasetReport:
    """What one dataset got: counts over every rule the validator ran, and the failures."""

    name: str
    path: str
    rows: int
    seconds: float
    passed: int
    failed: int
    skipped: int
    failures: list[Failure]
    #: Failing MUST composites that fail only through failures already listed (for the record).
    echoes: list[str]

    @property
    def blocking(self) -> list[Failure]:
        return [f for f in self.failures if f.blocking]


def load_defects(path: Path) -> dict[str, Defect]:
    """Rule id -> defect, from ``[[defect]]`` entries: each needs a rule and a reason, once;
    ``spec_check`` is optional."""
    data = tomllib.loads(path.read_text("utf-8"))
    defects: dict[str, Defect] = {}
    for entry in data.get("defect", []):
        rule, reason = entry.get("rule", "").strip(), entry.get("reason", "").strip()
        if not rule or not reason:
            raise ValueError(f"{path}: every [[defect]] needs a rule and a reason: {entry}")
        if rule in defects:
            raise ValueError(f"{path}: {rule} is listed twice")
        unknown = set(entry) - {"rule", "reason", "spec_check"}
        if unknown:
            raise ValueError(f"{path}: {rule}: unknown keys {sorted(unknown)}")
        defects[rule] = Defect(rule, reason, entry.get("spec_check"))
    return defects


def classify(
    results: Mapping[str, RuleResult], defects: Mapping[str, Defect]
) -> tuple[list[Failure], list[str]]:
    """Split failing rules into causes (leaves, or composites with no failing child recorded)
    and the MUST composites that fail only because of those. A cause blocks when it is a MUST
    rule, unless it is a listed validator defect whose spec check (if any) finds no rows."""
    failures: list[Failure] = []
    echoes: list[str] = []
    for rule_id in sorted(results):
        r = results[rule_id]
        if r.status != "fail":
            continue
        if r.composite and any(c in results for c in r.failed_children):
            if r.keyword in MUST_KEYWORDS:
                echoes.append(rule_id)
            continue
        must = r.keyword in MUST_KEYWORDS
        defect = defects.get(rule_id)
        excused = defect is not None and not r.spec_violations
        failures.append(
            Failure(
                rule=rule_id,
                keyword=r.keyword,
                must_satisfy=r.must_satisfy,
                message=r.message,
                violations=r.violations,
                samples=r.samples,
                must=must,
                defect=defect.reason if defect else None,
                spec_violations=r.spec_violations,
                rechecked=r.rechecked,
                blocking=must and not excused,
            )
        )
    failures.sort(key=lambda f: (not f.blocking, not f.must, f.rule))
    return failures, echoes


def _samples(details: Mapping[str, Any], limit: int = 2) -> list[dict[str, str]]:
    """The validator's sample offending rows (a pandas DataFrame), as strings."""
    cases = details.get("failure_cases")
    if cases is None or not hasattr(cases, "to_dict"):
        return []
    found: list[dict[str, str]] = []
    for row in cases.to_dict(orient="records"):
        text = {str(k): _text(v) for k, v in row.items()}
        if text not in found:
            found.append(text)
    return found[:limit]


def _text(value: Any) -> str:
    """A sample value as text; nulls (None, NaN, NaT) as NULL."""
    return "NULL" if value is None or value != value else str(value)


def _query(data: Any, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Run SQL over the loaded dataset (the validator's frame) as the table ``focus_data``."""
    import duckdb

    con = duckdb.connect()
    try:
        con.register("focus_data", data)
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


_COLUMN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def row_predicate(spec: Mapping[str, Any]) -> str | None:
    """A row-level SQL predicate for a requirement made only of AND, OR, CheckValue and
    CheckNotValue (None for anything else), with no three-valued logic: NULL matches NULL."""
    fn = spec.get("CheckFunction")
    if fn in ("AND", "OR"):
        parts = [row_predicate(item) for item in spec.get("Items") or []]
        if not parts or any(p is None for p in parts):
            return None
        return "(" + f" {fn} ".join(str(p) for p in parts) + ")"
    if fn in ("CheckValue", "CheckNotValue"):
        column, value = spec.get("ColumnName"), spec.get("Value")
        if not isinstance(column, str) or not _COLUMN.fullmatch(column):
            return None
        if value is not None and not isinstance(value, str):
            return None
        literal = "NULL" if value is None else "'" + value.replace("'", "''") + "'"
        test = f'"{column}" IS NOT DISTINCT FROM {literal}'
        return test if fn == "CheckValue" else f"NOT ({test})"
    return None


def _recheck_row_wise(result: RuleResult, rule: Any, data: Any) -> None:
    """Fail an allowed-values rule the validator passed although some rows break it.

    The validator runs an OR requirement over the whole dataset and passes it when any one row
    matches any one branch (CompositeORRuleGenerator: a branch "passes" when it has fewer
    violations than there are rows), so "ChargeCategory MUST be one of the allowed values"
    passes with one 'Bogus' row among valid ones. Here such a rule (an OR of value checks, no
    condition) is evaluated row by row: rows whose Reference column is not null and match
    no branch.
    """
    criteria = rule.validation_criteria
    requirement = criteria.requirement
    column = rule.reference
    if requirement.get("CheckFunction") != "OR" or criteria.condition:
        return
    predicate = row_predicate(requirement)
    if predicate is None or not _COLUMN.fullmatch(column or ""):
        return
    if column not in set(getattr(data, "columns", [])):
        return
    where = f'"{column}" IS NOT NULL AND NOT {predicate}'
    (count,) = _query(data, f"SELECT count(*) FROM focus_data WHERE {where}")[0]  # noqa: S608
    if not count:
        return
    shown = [column, *sorted(_columns(requirement) - {column})]
    listed = ", ".join(f'"{c}"' for c in shown)
    values = _query(
        data,
        f"SELECT DISTINCT {listed} FROM focus_data WHERE {where} ORDER BY ALL LIMIT 3",  # noqa: S608
    )
    result.status = "fail"
    result.violations = int(count)
    result.rechecked = True
    result.message = f"{count} row(s) match no allowed value (row-wise recheck)"
    result.samples = [{c: _text(v) for c, v in zip(shown, row, strict=True)} for row in values]


def _columns(spec: Mapping[str, Any]) -> set[str]:
    """Every column a requirement tree names."""
    found = {spec["ColumnName"]} if isinstance(spec.get("ColumnName"), str) else set()
    for item in spec.get("Items") or []:
        found |= _columns(item)
    return found


def _group_samples(
    data: Any, requirement: Mapping[str, Any], limit: int = 3
) -> list[dict[str, str]]:
    """For a failing CheckDistinctCount rule ("each A has exactly N distinct B"), for which the
    validator keeps no sample rows: the offending A values and the B values they carry."""
    a, b = str(requirement.get("ColumnAName")), str(requirement.get("ColumnBName"))
    expected = requirement.get("ExpectedCount")
    columns = set(getattr(data, "columns", []))
    if a not in columns or b not in columns or not isinstance(expected, int):
        return []
    # a and b are FOCUS column names from the validator's model, checked against the data.
    query = (
        f'SELECT "{a}", list(DISTINCT "{b}" ORDER BY "{b}") FROM focus_data GROUP BY 1 '  # noqa: S608
        f'HAVING count(DISTINCT "{b}") <> ? ORDER BY 1 LIMIT ?'
    )
    found = _query(data, query, [expected, limit])
    return [{a: _text(va), b: ", ".join(_text(x) for x in vb)} for va, vb in found]


@contextlib.contextmanager
def _in_directory(path: Path) -> Iterator[None]:
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


@contextlib.contextmanager
def one_file(path: Path) -> Iterator[Path]:
    """The dataset as the single .csv or .parquet file the validator reads."""
    if path.is_file():
        yield path
        return
    parts = sorted(p for p in path.rglob("*") if p.suffix in (".parquet", ".csv"))
    suffixes = {p.suffix for p in parts}
    if len(suffixes) != 1:
        raise ValueError(f"{path}: expected .parquet or .csv files, found {sorted(suffixes)}")
    with tempfile.TemporaryDirectory(prefix="focus-conformance-") as tmp:
        joined = Path(tmp) / f"dataset{parts[0].suffix}"
        if parts[0].suffix == ".parquet":
            _join_parquet(path, parts, joined)
        else:
            with joined.open("wb") as out:
                for i, part in enumerate(parts):
                    with part.open("rb") as src:
                        if i:
                            src.readline()  # the header, written once
                        shutil.copyfileobj(src, out)
        yield joined


#: FOCUS date/time columns: typed back from text when a folder is partitioned by them.
DATETIME_COLUMNS = frozenset(
    {"BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd"}
)


def _join_parquet(root: Path, parts: Sequence[Path], out: Path) -> None:
    """Parquet files, hive-partitioned or not (``BillingPeriodStart=…/``), as one file."""
    import duckdb

    keys = {
        segment.split("=", 1)[0]
        for part in parts
        for segment in part.relative_to(root).parts[:-1]
        if "=" in segment
    }
    options = f"hive_partitioning = {str(bool(keys)).lower()}, union_by_name = true"
    typed = sorted(keys & DATETIME_COLUMNS)
    if typed:
        options += ", hive_types = {" + ", ".join(f"'{k}': TIMESTAMPTZ" for k in typed) + "}"
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        source = f"read_parquet(?, {options})"
        con.execute(
            f"COPY (SELECT * FROM {source}) TO '{out}' (FORMAT parquet)",  # noqa: S608
            [[str(p) for p in parts]],
        )


def validate(
    name: str,
    path: Path,
    defects: Mapping[str, Defect],
    *,
    version: str = "1.2",
    criteria: str = DEFAULT_CRITERIA,
) -> DatasetReport:
    """Run every FOCUS ``version`` rule of the CostAndUsage dataset on one dataset."""
    import focus_validator
    from focus_validator.validator import Validator

    logging.getLogger("focus_validator").setLevel(logging.ERROR)
    path = path.resolve()
    start = time.perf_counter()
    # The validator opens its currency code list by a path relative to the working directory
    # (focus_validator/rules/currency_codes.csv), so it runs from the folder that holds it.
    with one_file(path) as data_file, _in_directory(Path(focus_validator.__file__).parent.parent):
        validator = Validator(
            data_filename=str(data_file),
            output_destination=None,
            output_type="console",
            rules_version=version,
            focus_dataset="CostAndUsage",
            rules_block_remote_download=True,  # the rules ship with the package; no network
            applicability_criteria=criteria,
            show_violations=True,
        )
        validator.load()
        outcome = validator.spec_rules.validate(
            validator.focus_data,
            show_violations=True,
            data_filename=str(data_file),
            data_row_count=validator.data_row_count,
        )
    seconds = time.perf_counter() - start

    results: dict[str, RuleResult] = {}
    for rule_id, entry in outcome.by_rule_id.items():
        details = entry.get("details") or {}
        rule = outcome.rules[rule_id]
        status = "skip" if details.get("skipped") else ("pass" if entry.get("ok") else "fail")
        samples = _samples(details)
        requirement = rule.validation_criteria.requirement
        if (
            status == "fail"
            and not samples
            and requirement.get("CheckFunction") == ("CheckDistinctCount")
        ):
            samples = _group_samples(validator.focus_data, requirement)
        spec_check = defects[rule_id].spec_check if rule_id in defects else None
        spec_violations = None
        if status == "fail" and spec_check:
            spec_violations = int(_query(validator.focus_data, spec_check)[0][0])
        results[rule_id] = RuleResult(
            rule=rule_id,
            status=status,
            keyword=rule.validation_criteria.keyword,
            composite=rule.function == "Composite" or details.get("check_type") == "composite",
            must_satisfy=rule.validation_criteria.must_satisfy,
            message=str(details.get("message") or ""),
            violations=details.get("violations"),
            failed_children=list(details.get("failed_child_ids") or []),
            samples=samples,
            skip_reason=str(details.get("reason") or "") if status == "skip" else "",
            spec_violations=spec_violations,
        )
        if status == "pass":
            _recheck_row_wise(results[rule_id], rule, validator.focus_data)
    failures, echoes = classify(results, defects)
    statuses = [r.status for r in results.values()]
    return DatasetReport(
        name=name,
        path=str(path),
        rows=validator.data_row_count,
        seconds=round(seconds, 1),
        passed=statuses.count("pass"),
        failed=statuses.count("fail"),
        skipped=statuses.count("skip"),
        failures=failures,
        echoes=echoes,
    )


def render(reports: Sequence[DatasetReport], defects: Mapping[str, Defect]) -> str:
    """The compact summary: one line per dataset, then its failing rules."""
    header = (
        f"{'dataset':<24} {'rows':>8} {'pass':>5} {'fail':>5} {'skip':>5} "
        f"{'MUST fail':>9} {'defect':>6} {'blocking':>8} {'time':>7}"
    )
    lines = [header, "-" * len(header)]
    for r in reports:
        must = [f for f in r.failures if f.must]
        lines.append(
            f"{r.name:<24} {r.rows:>8} {r.passed:>5} {r.failed:>5} {r.skipped:>5} "
            f"{len(must):>9} {sum(1 for f in must if f.defect):>6} {len(r.blocking):>8} "
            f"{r.seconds:>6.1f}s"
        )
    for r in reports:
        if not r.failures:
            continue
        lines.append(f"\n{r.name}:")
        for f in r.failures:
            tag = "BLOCKING" if f.blocking else ("defect" if f.defect else "should")
            lines.append(
                f"  {tag:<8} {f.rule} [{f.keyword}] violations={f.violations}: {f.must_satisfy}"
            )
            if f.rechecked:
                lines.append(
                    "           the validator passed this; check.py's row-wise recheck fails it"
                )
            if f.spec_violations is not None:
                lines.append(
                    f"           listed as a validator defect; the rule as the spec means it "
                    f"finds {f.spec_violations} row(s)"
                )
            for sample in f.samples[:2]:
                shown = ", ".join(f"{k}={v!r}" for k, v in sample.items())
                lines.append(f"           e.g. {shown}")
    failing = {f.rule for r in reports for f in r.failures}
    excused = sorted(failing & set(defects))
    if excused:
        lines.append("\nValidator defects (conformance/validator_defects.toml):")
        lines.extend(f"  {rule}: {defects[rule].reason}" for rule in excused)
    unused = sorted(set(defects) - failing)
    if unused and reports:
        lines.append(f"\nListed defects that no dataset here trips: {', '.join(unused)}")
    return "\n".join(lines)


def _dataset_arg(text: str) -> tuple[str, Path]:
    name, sep, path = text.partition("=")
    if not sep:
        path, name = name, Path(name).name
    return name, Path(path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("datasets", nargs="+", type=_dataset_arg, metavar="[NAME=]PATH")
    parser.add_argument("--defects", type=Path, default=DEFAULT_DEFECTS)
    parser.add_argument("--json", type=Path, help="write the full report here as JSON")
    parser.add_argument("--focus-version", default="1.2")
    parser.add_argument(
        "--applicability-criteria",
        default=DEFAULT_CRITERIA,
        help="provider capabilities to assume (comma-separated, or ALL; default ALL)",
    )
    args = parser.parse_args(argv)
    defects = load_defects(args.defects)
    reports = []
    for name, path in args.datasets:
        if not path.exists():
            print(f"check.py: {path}: no such file or folder", file=sys.stderr)
            return 2
        reports.append(
            validate(
                name,
                path,
                defects,
                version=args.focus_version,
                criteria=args.applicability_criteria,
            )
        )
    print(render(reports, defects))
    if args.json:
        report = {
            "focus_version": args.focus_version,
            "datasets": [{**asdict(r), "blocking": len(r.blocking)} for r in reports],
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n", "utf-8")
    blocking = sum(len(r.blocking) for r in reports)
    if blocking:
        print(
            f"\n{blocking} failing MUST rule(s) not listed in {args.defects.name}",
            file=sys.stderr,
        )
    return 1 if blocking else 0


if __name__ == "__main__":
    sys.exit(main())
