"""The sample organisation's experiment runs (MLflow and SageMaker), drawn from the
generator passed in: which experiments run on which resources, for how long, with which
parameters and results. The resources come from the data files (see :mod:`mlcost.sample.org`);
the runs refer to them by key.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from mlcost.sample.catalog import ACCOUNTS, DAYS, day, hex_id, sagemaker_arn
from mlcost.sample.model import Res, Run

if TYPE_CHECKING:
    from mlcost.sample.declarations import ResourceDecl
    from mlcost.sample.org import OrgBuilder


def _run_id(*parts: str) -> str:
    return hex_id(32, "run", *parts)


def sagemaker_jobs(b: OrgBuilder, d: ResourceDecl, provider: str, avoid: list[int]) -> None:
    """``d.series`` SageMaker training jobs, each a run of ``retail-shelf-detector``: on
    random days (not on a planted anomaly day), half of them on managed spot."""
    rng = b.rng
    sub = ACCOUNTS[d.account].sub_id
    region = d.region or "us-east-1"
    for j in range(d.series or 0):
        dd = int(rng.integers(0, DAYS))
        if dd in avoid:
            dd = (dd + 2) % DAYS
        start_h = int(rng.integers(1, 12))
        dur = round(float(rng.uniform(1.5, 9.0)) * 4) / 4
        n_inst = int(rng.integers(1, 3))
        spot = bool(j % 2 == 0)
        name = f"{d.name}-{day(dd):%Y%m%d}-{j:03d}"
        status = "FAILED" if j % 11 == 5 else ("KILLED" if j % 13 == 7 else "FINISHED")
        h = np.zeros(DAYS)
        h[dd] = dur
        arn = sagemaker_arn(region, sub, "training-job", name)
        started = day(dd) + timedelta(hours=start_h)
        b.add(
            Res(
                f"{d.key}-{j}",
                provider,
                d.account,
                region,
                None,
                "job",
                arn,
                name,
                d.state or "Completed",
                started,
                instance_type=d.type,
                count=n_inst,
                lifecycle="spot" if spot else "on-demand",
                inventory=d.inventory,
                hours=h,
                tags=dict(d.tags),
            )
        )
        b.runs.append(
            Run(
                name,
                "retail-shelf-detector",
                None,
                name,
                status,
                "sagemaker-pipeline",
                started,
                started + timedelta(hours=dur),
                {
                    "instance_type": d.type,
                    "instance_count": n_inst,
                    "epochs": int(rng.integers(10, 40)),
                    "learning_rate": 3e-4,
                    "managed_spot": spot,
                },
                {"val_map50": round(float(rng.uniform(0.61, 0.78)), 4)}
                if status == "FINISHED"
                else {},
                {
                    "team": d.tags["team"],
                    "project": d.tags["project"],
                    "sagemaker:managed_spot": str(spot).lower(),
                },
                [arn],
                n_inst,
                "sagemaker",
            )
        )


def _sequential_runs(
    b: OrgBuilder,
    *,
    experiment: str,
    resources: list[str],
    gpu_count: int,
    user: str,
    team: str,
    project: str,
    dur: tuple[float, float],
    gap: tuple[float, float],
    start: datetime,
    end: datetime,
    prefix: str,
    sweep_every: int = 0,
    params: dict[str, Any],
    metric: str,
    extra_tags: dict[str, str] | None = None,
) -> None:
    rng = b.rng
    t = start + timedelta(hours=float(rng.uniform(*gap)))
    n = 0
    children: list[Run] = []
    parent: Run | None = None
    while True:
        hours = float(rng.uniform(*dur))
        t_end = t + timedelta(minutes=round(hours * 60))
        if t_end > end:
            break
        n += 1
        if sweep_every and (n - 1) % sweep_every == 0:
            if parent is not None:
                parent.ended_at = children[-1].ended_at
            pid = _run_id(experiment, prefix, "sweep", str(n))
            parent = Run(
                pid,
                experiment,
                None,
                f"{prefix}-sweep-{n // sweep_every + 1}",
                "FINISHED",
                user,
                t,
                t,
                {"sweep": "bayes", **params},
                {},
                {"team": team, "project": project, "mlflow.runType": "sweep"},
                [],
                0,
                "mlflow",
            )
            b.runs.append(parent)
        u = rng.random()
        status = "FINISHED" if u < 0.86 else ("FAILED" if u < 0.95 else "KILLED")
        p = dict(params)
        p["learning_rate"] = float(np.round(10 ** rng.uniform(-4.5, -2.5), 6))
        p["seed"] = int(rng.integers(0, 10_000))
        m = {metric: round(float(rng.uniform(0.70, 0.93)), 4)} if status == "FINISHED" else {}
        run = Run(
            _run_id(experiment, prefix, str(n)),
            experiment,
            parent.run_id if parent and sweep_every else None,
            f"{prefix}-{n:04d}",
            status,
            user,
            t,
            t_end,
            p,
            m,
            {"team": team, "project": project, **(extra_tags or {})},
            list(resources),
            gpu_count,
            "mlflow",
        )
        b.runs.append(run)
        children.append(run)
        t = t_end + timedelta(minutes=round(float(rng.uniform(*gap)) * 60))
    if parent is not None and children:
        parent.ended_at = children[-1].ended_at


def _hpo_runs(b: OrgBuilder, r: Res, experiment: str, user: str, team: str, project: str) -> None:
    """Short trials back to back while the worker is up; one sweep parent per day."""
    rng = b.rng
    for d in range(DAYS):
        hrs = r.hours[d]
        if hrs <= 0:
            continue
        t0 = day(d) + timedelta(hours=r.start_hour)
        t_stop = t0 + timedelta(hours=float(hrs))
        pid = _run_id(experiment, r.name, str(d))
        parent = Run(
            pid,
            experiment,
            None,
            f"asha-{day(d):%m%d}",
            "FINISHED",
            user,
            t0,
            t0,
            {"sampler": "asha", "max_trials": 24},
            {},
            {"team": team, "project": project, "mlflow.runType": "sweep"},
            [],
            0,
            "mlflow",
        )
        b.runs.append(parent)
        t = t0 + timedelta(minutes=3)
        k = 0
        while True:
            mins = int(rng.integers(20, 51))
            t_end = t + timedelta(minutes=mins)
            if t_end > t_stop - timedelta(minutes=2):
                break
            k += 1
            u = rng.random()
            status = "FINISHED" if u < 0.8 else ("KILLED" if u < 0.95 else "FAILED")
            b.runs.append(
                Run(
                    _run_id(experiment, r.name, str(d), str(k)),
                    experiment,
                    pid,
                    f"trial-{day(d):%m%d}-{k:02d}",
                    status,
                    user,
                    t,
                    t_end,
                    {
                        "lr": float(np.round(10 ** rng.uniform(-5, -3), 7)),
                        "batch_size": int(rng.choice([16, 32, 64])),
                        "resume_from_checkpoint": True,
                        "max_epochs": 3,
                    },
                    {"val_miou": round(float(rng.uniform(0.55, 0.74)), 4)}
                    if status == "FINISHED"
                    else {},
                    {
                        "team": team,
                        "project": project,
                        "restartable": "true",
                        "checkpointing": "enabled",
                        "capacity": "on-demand",
                    },
                    [r.rid],
                    1,
                    "mlflow",
                )
            )
            t = t_end + timedelta(minutes=int(rng.integers(1, 4)))
        parent.ended_at = max(t, t0 + timedelta(minutes=4))


def build_runs(b: OrgBuilder, planted: dict[str, tuple[int, ...]]) -> None:
    """The runs of every experiment on the billed resources, in a fixed order."""
    by_key = b.by_key
    end = day(DAYS - 1) + timedelta(hours=22)
    _sequential_runs(
        b,
        experiment="foundation-vision/pretrain-vit-l",
        resources=[by_key["p4d-1"].rid, by_key["p4d-2"].rid],
        gpu_count=16,
        user="priya",
        team="research",
        project="foundation-vision",
        dur=(40.0, 130.0),
        gap=(0.5, 3.0),
        start=day(0),
        end=end,
        prefix="vitl-pretrain",
        params={"model": "vit-l/16", "global_batch_size": 4096, "precision": "bf16"},
        metric="val_top1",
    )
    for i in (3, 4):
        for lane in range(2):
            _sequential_runs(
                b,
                experiment="perception/detector-finetune",
                resources=[by_key[f"p4d-{i}"].rid],
                gpu_count=4,
                user=("marco", "lena")[lane],
                team="perception",
                project="defect-detection",
                dur=(3.0, 20.0),
                gap=(0.2, 4.0),
                start=day(0),
                end=end,
                prefix=f"det-ft-{i}{lane}",
                sweep_every=6,
                params={"model": "dino-detr-r50", "batch_size": 64},
                metric="val_map",
            )
    for i in (1, 2, 3):
        _sequential_runs(
            b,
            experiment="perception/defect-segmentation",
            resources=[by_key[f"az-a100-{i}"].rid],
            gpu_count=1,
            user="carol",
            team="perception",
            project="defect-detection",
            dur=(3.0, 12.0),
            gap=(0.3, 5.0),
            start=day(0),
            end=end,
            prefix=f"seg-a100-{i}",
            sweep_every=5,
            params={"model": "mask2former-swin-b", "batch_size": 16},
            metric="val_miou",
        )
    for i in (1, 2, 3, 4):
        r = by_key[f"gcp-a100-{i}"]
        _sequential_runs(
            b,
            experiment="damage-assessment/train-effnet",
            resources=[r.rid],
            gpu_count=1,
            user="tomasz",
            team="applied",
            project="damage-assessment",
            dur=(4.0, 16.0),
            gap=(0.2, 3.0),
            start=r.created_at if r.created_at > day(0) else day(0),
            end=end,
            prefix=f"effnet-{i}",
            params={"model": "efficientnet-v2-l", "batch_size": 32},
            metric="val_accuracy",
        )
    # Spot pool: long checkpointed runs, some interrupted (KILLED).
    rng = b.rng
    for i in range(1, 9):
        r = by_key[f"pool-{i}"]
        for d in range(DAYS):
            hrs = float(r.hours[d])
            if hrs <= 0:
                continue
            t = day(d) + timedelta(hours=r.start_hour)
            stop = t + timedelta(hours=hrs)
            k = 0
            while t < stop - timedelta(hours=1):
                k += 1
                dur = min(float(rng.uniform(3.0, 10.0)), (stop - t).total_seconds() / 3600)
                t_end = t + timedelta(minutes=int(dur * 60))
                interrupted = rng.random() < 0.12
                b.runs.append(
                    Run(
                        _run_id("unet", r.name, str(d), str(k)),
                        "segmentation/train-unet",
                        None,
                        f"unet-{r.name[-2:]}-{day(d):%m%d}-{k}",
                        "KILLED" if interrupted else "FINISHED",
                        "jun",
                        t,
                        t_end,
                        {
                            "model": "unet-effb4",
                            "epochs": 30,
                            "resume_from_checkpoint": True,
                            "gpus": 4,
                        },
                        {} if interrupted else {"val_dice": round(float(rng.uniform(0.8, 0.9)), 4)},
                        {
                            "team": "research",
                            "project": "segmentation",
                            "capacity": "spot",
                            "checkpointing": "enabled",
                            **({"termination": "spot-interruption"} if interrupted else {}),
                        },
                        [r.rid],
                        4,
                        "mlflow",
                    )
                )
                t = t_end + timedelta(minutes=5)
    _hpo_runs(b, by_key["hpo-aws"], "segmentation/hpo-asha", "jun", "applied", "segmentation")
    _hpo_runs(
        b, by_key["gcp-hpo"], "damage-assessment/hpo-l4", "tomasz", "applied", "damage-assessment"
    )
    # The forgotten p5 cluster: one failed launch, then 24 idle hours.
    t = day(planted["spike_total"][0]) + timedelta(minutes=40)
    b.runs.append(
        Run(
            _run_id("vith", "p5"),
            "foundation-vision/pretrain-vit-h",
            None,
            "vith-p5-smoke-test",
            "FAILED",
            "priya",
            t,
            t + timedelta(minutes=23),
            {"model": "vit-h/14", "nodes": 4, "global_batch_size": 8192},
            {},
            {"team": "research", "project": "foundation-vision", "error": "NCCL timeout"},
            [by_key[f"p5-{i}"].rid for i in range(1, 5)],
            32,
            "mlflow",
        )
    )
    # Perception burst on ND96asr_v4.
    for i in range(1, 5):
        t = day(planted["team_spike"][0]) + timedelta(hours=9, minutes=10)
        b.runs.append(
            Run(
                _run_id("segxl", str(i)),
                "perception/defect-segmentation-xl",
                None,
                f"seg-xl-nd-{i}",
                "FINISHED",
                "marco",
                t,
                t + timedelta(hours=13, minutes=30),
                {"model": "mask2former-swin-l", "batch_size": 128, "nodes": 1},
                {"val_miou": round(float(rng.uniform(0.78, 0.84)), 4)},
                {"team": "perception", "project": "defect-detection"},
                [by_key[f"az-nd-{i}"].rid],
                8,
                "mlflow",
            )
        )
    # Vertex sweep (one MLflow run per custom job).
    for r in b.res:
        if r.provider == "gcp" and r.kind == "job":
            d = int(np.argmax(r.hours > 0))
            t = r.created_at
            b.runs.append(
                Run(
                    _run_id("vertex", r.name),
                    "damage-assessment/vertex-hpo",
                    None,
                    r.name,
                    "FINISHED",
                    "tomasz",
                    t,
                    t + timedelta(hours=float(r.hours[d]) - 0.1),
                    {"model": "vit-b/16", "machine_type": "a2-highgpu-8g", "trial_count": 16},
                    {"val_accuracy": round(float(rng.uniform(0.88, 0.93)), 4)},
                    {
                        "team": "applied",
                        "project": "damage-assessment",
                        "platform": "vertex-ai",
                    },
                    [r.rid],
                    8,
                    "mlflow",
                )
            )
