"""One vocabulary for filters: every CLI filter matches in any case, takes lists, and an
unknown value exits 1 listing the known ones (never a silent empty result)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from mlcost import vocabulary
from mlcost.errors import InputError
from tests.conftest import Ran, copy_store, run_main

#: (command, option, canonical values, the same in another spelling, a list of the
#: canonical values in one option, an unknown value, a known value the error must list)
CASES = [
    ("recommendations", "--provider", ["aws"], ["AWS"], ["aws", "gcp"], "awz", "gcp"),
    ("recommendations", "--provider", ["azure"], ["Microsoft"], ["azure", "aws"], "ms", "azure"),
    ("recommendations", "--rule", ["idle_gpu"], ["IDLE_GPU"], ["idle_gpu", "idle_vm"], "idle_gpus",
     "idle_notebook"),
    ("recommendations", "--account", ["acme-vision-research"], ["Acme Vision Research"],
     ["acme-vision-research", "203948576120"], "acme", "acme-data-lake"),
    ("recommendations", "--status", ["all"], ["ALL"], None, "opened", "dismissed"),
    ("anomalies", "--scope", ["provider=AWS"], ["provider=aws"],
     ["provider=AWS", "provider=Google Cloud"], "foo", "tag:team"),
    ("anomalies", "--scope", ["service"], ["Service"], ["service", "total"], "services", "gpus"),
    ("anomalies", "--scope", ["tag:team=perception"], ["TAG:TEAM=Perception"],
     ["tag:team=perception", "tag:team=research"], "tag:team=nobody", "applied"),
    ("experiments", "--experiment", ["perception/detector-finetune"],
     ["Perception/Detector-Finetune"],
     ["perception/detector-finetune", "segmentation/hpo-asha"], "nosuch", "segmentation/hpo-asha"),
    ("experiments --experiment perception/detector-finetune", "--metric", ["val_map"],
     ["VAL_MAP"], None, "nosuch", "val_map"),
]  # fmt: skip


def rows(ran: Ran) -> list[dict[str, str]]:
    assert ran.code == 0, ran.stderr
    return list(csv.DictReader(io.StringIO(ran.stdout)))


def command(capsys: pytest.CaptureFixture[str], db: Path, cmd: str, *args: str) -> Ran:
    return run_main(capsys, "--db", str(db), *cmd.split(), *args, "--format", "csv")


@pytest.mark.parametrize(
    ("cmd", "option", "canonical", "spelled", "listed", "bad", "known"),
    CASES,
    ids=[f"{c[0].split()[0]}{c[1]}={c[2][0]}" for c in CASES],
)
def test_each_filter_matches_any_case_takes_lists_and_refuses_unknown_values(
    capsys: pytest.CaptureFixture[str],
    sample_master: Path,
    cmd: str,
    option: str,
    canonical: list[str],
    spelled: list[str],
    listed: list[str] | None,
    bad: str,
    known: str,
) -> None:
    def run(values: list[str]) -> Ran:
        return command(capsys, sample_master, cmd, *[a for v in values for a in (option, v)])

    expected = rows(run(canonical))
    assert expected, "the canonical spelling finds rows"
    assert rows(run(spelled)) == expected
    if listed is not None:
        repeated = rows(run(listed))
        assert len(repeated) > len(expected)
        assert rows(run([",".join(listed)])) == repeated
    refused = run([bad])
    assert refused.code == 1
    assert refused.stdout == ""
    assert "Unknown" in refused.stderr and repr(bad.split("=")[-1]) in refused.stderr
    assert known in refused.stderr
    assert "Traceback" not in refused.stderr


def test_an_unknown_value_suggests_the_nearest_one() -> None:
    known = vocabulary.choices(["open", "dismissed", "closed", "all"])
    with pytest.raises(InputError) as caught:
        vocabulary.resolve("status", "dismised", known)
    assert "Did you mean 'dismissed'?" in str(caught.value)


def test_a_long_list_of_known_values_is_cut_and_counted() -> None:
    known = vocabulary.choices([f"svc-{i:03d}" for i in range(60)])
    with pytest.raises(InputError) as caught:
        vocabulary.resolve("service", "nope", known)
    assert "svc-024" in caught.value.message and "svc-025" not in caught.value.message
    assert "and 35 more" in caught.value.message


@pytest.mark.parametrize(
    ("cmd", "option", "canonical", "spelled", "listed", "bad"),
    [
        ("analyze", "--provider", ["aws"], ["AWS"], ["aws", "gcp"], "awz"),
        ("analyze", "--account", ["acme-data-lake"], ["Acme Data Lake"],
         ["acme-data-lake", "203948576120"], "nosuch"),
        ("report --period 30d", "--provider", ["gcp"], ["Google Cloud"], ["gcp", "azure"], "gpc"),
    ],
)  # fmt: skip
def test_analyze_and_report_filters_go_through_the_vocabulary_too(
    capsys: pytest.CaptureFixture[str],
    sample_master: Path,
    tmp_path: Path,
    cmd: str,
    option: str,
    canonical: list[str],
    spelled: list[str],
    listed: list[str],
    bad: str,
) -> None:
    import json

    db = copy_store(sample_master, tmp_path / "copy")  # analyze writes its results

    def figures(values: list[str]) -> object:
        out = tmp_path / "out.json"
        args = [a for v in values for a in (option, v)]
        ran = run_main(capsys, "--db", str(db), *cmd.split(), *args, "-o", str(out))
        assert ran.code == 0, ran.stderr
        data = json.loads(out.read_text())
        return data["figures"] if "figures" in data else data["headline"]

    expected = figures(canonical)
    assert figures(spelled) == expected
    repeated = figures(listed)
    assert repeated != expected and figures([",".join(listed)]) == repeated
    refused = run_main(capsys, "--db", str(db), *cmd.split(), option, bad)
    assert refused.code == 1 and f"Unknown {option[2:]} {bad!r}" in refused.stderr
