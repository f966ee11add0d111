"""The sample organisation's data files: every entry is checked as it is read, and a
mistake in one is a single error naming the file, the entry and the key."""

from __future__ import annotations

from dataclasses import fields, replace
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from mlcost.sample.catalog import ec2_instance_id
from mlcost.sample.declarations import (
    CommitmentFile,
    ResourceDecl,
    ResourceFile,
    SampleDataError,
    read_csv,
    read_toml,
)
from mlcost.sample.org import RESOURCE_FILES, Declarations, build_org, planted_days, read_files

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "sample-organisation.md"
P4D = '''[[resource]]
key = "p4d-1"
kind = "vm"
name = "p4d-train-01"'''


def _text(name: str) -> str:
    return resources.files("mlcost.sample").joinpath("data", name).read_text("utf-8")


def _aws_with(old: str, new: str) -> Declarations:
    """Every data file as shipped, but aws.toml with ``old`` replaced by ``new``."""
    text = _text("aws.toml")
    assert text.count(old) >= 1, old
    files = read_files()
    files.resources["aws.toml"] = read_toml(ResourceFile, "aws.toml", text.replace(old, new, 1))
    return files


def _error(old: str, new: str) -> str:
    with pytest.raises(SampleDataError) as exc:
        build_org(np.random.default_rng(7), _aws_with(old, new))
    return str(exc.value)


def test_the_shipped_files_build_the_organisation() -> None:
    org = build_org(np.random.default_rng(7))
    texts = [_text(name) for name in (*RESOURCE_FILES, "commitments.toml")]
    # One answer-key entry per declared case: 46 planted, 34 that must not fire.
    plants = sum(t.count("[resource.plant]") + t.count("[commitment.plant]") for t in texts)
    negatives = sum(t.count(".negative]") for t in texts)
    assert (len(org.recommendations), len(org.negatives)) == (plants, negatives) == (46, 34)
    # 36 SageMaker jobs (a series of one entry) and the boot disks of VMs besides.
    assert len(org.resources) == 207
    assert [a["date"] for a in org.anomalies] == [
        "2026-09-09",
        "2026-10-06",
        "2026-10-07",
        "2026-10-08",
        "2026-09-15",
        "2026-09-16",
        "2026-10-20",
    ]
    assert planted_days()["drop"] == (43, 44)


def test_a_typo_in_a_key_names_the_file_the_entry_and_the_key() -> None:
    with pytest.raises(SampleDataError) as exc:
        read_toml(ResourceFile, "aws.toml", _text("aws.toml").replace("name = ", "nmae = ", 1))
    message = str(exc.value)
    assert message.startswith("mlcost/sample/data/aws.toml, resource 'p4d-1': unknown key 'nmae'")
    assert "the keys are: key, kind, name, account" in message


def test_a_value_of_the_wrong_type_says_what_was_expected() -> None:
    text = _text("aws.toml").replace(P4D, P4D + '\ncount = "two"', 1)
    with pytest.raises(SampleDataError) as exc:
        read_toml(ResourceFile, "aws.toml", text)
    assert str(exc.value) == (
        "mlcost/sample/data/aws.toml, resource 'p4d-1': 'count' must be an integer, "
        "not a string ('two')."
    )


def test_a_typo_inside_a_nested_table_is_named() -> None:
    text = _text("aws.toml").replace("elastic = {", "elastc = {", 1)
    with pytest.raises(SampleDataError, match=r"resource 'pool-1': 'hours': unknown key 'elastc'"):
        read_toml(ResourceFile, "aws.toml", text)


def test_a_missing_key_is_named() -> None:
    with pytest.raises(SampleDataError, match=r"resource 'p4d-1': 'account' is missing"):
        read_toml(ResourceFile, "aws.toml", _text("aws.toml").replace("account = ", "# ", 1))


def test_a_file_that_is_not_toml_is_named() -> None:
    with pytest.raises(SampleDataError, match=r"^mlcost/sample/data/aws.toml: not valid TOML"):
        read_toml(ResourceFile, "aws.toml", _text("aws.toml") + "\n[[resource]\n")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            'account = "aws-research"',
            'account = "aws-reserch"',
            "resource 'p4d-1': unknown account 'aws-reserch'; the accounts are: aws-data, ",
        ),
        (
            'account = "aws-research"',
            'account = "az-research"',
            "resource 'p4d-1': az-research is not on aws.",
        ),
        ('kind = "vm"', 'kind = "server"', "resource 'p4d-1': unknown kind 'server'"),
        (
            'profile = "busy_gpu"',
            'profile = "busy"',
            "resource 'p4d-1': unknown profile 'busy'; the profiles are: busy_gpu, ",
        ),
        (
            'commitment = "aws-ri-p4d"',
            'commitment = "aws-ri-p5"',
            "resource 'p4d-1': unknown commitment 'aws-ri-p5'",
        ),
        (
            'attached_to = "@p4d-1"',
            'attached_to = "@p4d-9"',
            "resource 'p4d-1:data': 'attached_to': '@p4d-9' names no resource",
        ),
        (
            'hours = { on = "spike_total" }',
            'hours = { on = "spike" }',
            "resource 'p5-1': 'hours': no planted day 'spike'; the planted days are spike_total, ",
        ),
        ('key = "p4d-2"', 'key = "p4d-1"', "resource 'p4d-1': the key is used twice."),
        (
            'type = "p4d.24xlarge"',
            'type = "p4d.24xl"',
            "resource 'p4d-1': unknown instance type 'p4d.24xl'",
        ),
        (
            "hours = { elastic",
            "hours = { start = 2026-12-01, elastic",
            "resource 'pool-1': 'hours': 2026-12-01 is outside the window.",
        ),
    ],
)
def test_a_wrong_value_is_one_error_naming_the_entry(old: str, new: str, message: str) -> None:
    error = _error(old, new)
    assert error.startswith("mlcost/sample/data/aws.toml, "), error
    assert message in error


def test_a_csv_file_must_have_its_columns() -> None:
    with pytest.raises(SampleDataError, match=r"services.csv: the header must be provider,kind"):
        read_csv("services.csv", ("provider", "kind"))


def test_every_resource_file_names_its_provider() -> None:
    for name in RESOURCE_FILES:
        assert read_toml(ResourceFile, name).provider in ("aws", "azure", "gcp"), name


def test_the_docs_describe_every_key_of_a_resource() -> None:
    doc = DOC.read_text("utf-8")
    missing = [f.name for f in fields(ResourceDecl) if f"`{f.name}`" not in doc]
    assert not missing, f"docs/sample-organisation.md does not describe {missing}"


def test_the_docs_example_adds_a_billed_resource_with_its_planted_case() -> None:
    doc = DOC.read_text("utf-8")
    example = next(
        block.split("\n", 1)[1]
        for block in doc.split("```")
        if block.startswith("toml\n") and 'key = "idle-gpu-aws-2"' in block
    )
    files = read_files()
    files.resources["aws.toml"] = read_toml(
        ResourceFile, "aws.toml", _text("aws.toml") + "\n" + example
    )
    org = build_org(np.random.default_rng(7), files)
    vm = next(r for r in org.resources if r.key == "idle-gpu-aws-2")
    disk = next(r for r in org.resources if r.key == "idle-gpu-aws-2:root")
    assert (vm.rid, vm.hours.sum(), vm.profile) == (
        ec2_instance_id("cv-dev-gpu-09"),
        2160,
        "idle_gpu",
    )
    assert disk.attached_to == vm.rid and disk.price_key == "aws:gp3"
    planted = [e for e in org.recommendations if e["resource_id"] == vm.rid]
    assert planted == [
        {
            "rule": "idle_gpu",
            "resource_id": vm.rid,
            "provider": "aws",
            "note": "A10G running all 90 days, gpu_util_pct under 3 %",
            "may_also": ["idle_vm"],
        }
    ]


def test_money_that_is_not_a_decimal_names_the_commitment() -> None:
    files = read_files()
    text = _text("commitments.toml").replace('rate = "19.2256"', 'rate = "19,2256"')
    files = replace(files, commitments=read_toml(CommitmentFile, "commitments.toml", text))
    with pytest.raises(SampleDataError) as exc:
        build_org(np.random.default_rng(7), files)
    assert str(exc.value) == (
        "mlcost/sample/data/commitments.toml, commitment 'aws-ri-p4d': 'rate': '19,2256' is "
        "not a decimal number."
    )


def test_an_empty_csv_value_names_the_line_and_column() -> None:
    columns = ("name", "provider", "vcpus", "memory_gb", "gpu_count", "gpu_model", "price")
    columns += ("previous_generation", "platform")
    text = _text("instance_types.csv").replace(
        "p4d.24xlarge,aws,96,1152,8,A100,32.7726", "p4d.24xlarge,aws,96,1152,8,A100,"
    )
    assert read_csv("instance_types.csv", columns, ("gpu_model",))[0]["gpu_model"] == "H100"
    with pytest.raises(SampleDataError) as exc:
        read_csv("instance_types.csv", columns, ("gpu_model",), text)
    assert str(exc.value) == "mlcost/sample/data/instance_types.csv, line 3: 'price' is empty."
