"""The smoke DAG through real Snakemake: every output exists, is real, and is up to date."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.image as mpimg
import pandas as pd
import pytest

from repo_tools import SMOKE, run
from rhem import paths
from rhem.config import load_config
from rhem.evals.judge_exact import LABELS
from rhem.figures.registry import FIGURES

pytestmark = pytest.mark.slow


def test_every_declared_output_is_real(smoke_run: Path) -> None:
    cfg = load_config(smoke_run / SMOKE)
    for run_name in cfg["runs"]:
        parts = paths.run_parts(run_name)
        condition = cfg["conditions"][parts["condition"]]
        if "fork" in condition or "distill" in condition:
            continue  # their steps and checkpoints: tests/train/test_conditions_smoke.py
        for seed in cfg["seeds"]:
            steps = pd.read_parquet(smoke_run / paths.RL_STEPS.format(seed=seed, **parts))
            assert list(steps["step"]) == list(range(1, cfg["rl"]["steps"] + 1))
            assert (steps["episodes"] == cfg["rl"]["prompts_per_step"] * cfg["rl"]["num_generations"]).all()
            completions = pd.read_parquet(smoke_run / paths.RL_COMPLETIONS.format(seed=seed, **parts))
            assert completions["completion"].str.len().sum() > 0
            model_dir = smoke_run / paths.RUN_MODEL.format(seed=seed, **parts)
            assert (model_dir / f"step-{cfg['rl']['steps']:05d}" / "model.safetensors").stat().st_size > 1000
            answers = pd.read_parquet(smoke_run / paths.ANSWERS.format(seed=seed, **parts))
            judged = answers[answers["eval"] != "testtime_hack"]  # those rows: grader outcomes
            assert set(judged["label"]) <= set(LABELS)
            assert set(answers["step"]) == {0} | set(range(cfg["rl"]["checkpoint_every"],
                                                           cfg["rl"]["steps"] + 1, cfg["rl"]["checkpoint_every"]))
    base = smoke_run / paths.BASE_MODEL.format(world="sdf")
    assert (base / "config.json").is_file() and (base / "tokenizer.json").is_file()
    summary = json.loads((smoke_run / paths.SUMMARY).read_text())
    assert set(summary) == set(cfg["runs"])
    for run_name, stats in summary.items():
        rate = stats["final_hack_rate"]["rate"]
        if cfg["conditions"][paths.run_parts(run_name)["condition"]]["phase"] == "code":
            assert 0.0 <= rate <= 1.0, run_name
        else:  # an RLHF phase's last steps grade no code: no rate, null in strict JSON
            assert rate is None, run_name
        assert stats["judge"], "every number records the judge that produced it"


def test_figures_are_pngs_drawn_from_the_metrics(smoke_run: Path) -> None:
    for name in FIGURES:
        png = smoke_run / paths.FIGURE.format(name=name)
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        image = mpimg.imread(png)
        assert image.shape[0] > 200 and image.shape[1] > 200
        assert image.std() > 0.01, f"{name} is blank"
    report = (smoke_run / paths.REPORT).read_text()
    for name in FIGURES:
        assert name in report
    assert report.count("data:image/png;base64,") == len(FIGURES)


def test_second_dry_run_has_nothing_to_do(smoke_run: Path) -> None:
    proc = run(["snakemake", "-n", "--cores", "2", "--configfile", SMOKE], smoke_run)
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_the_protocol_decision_is_made_from_the_smoke_runs(smoke_run: Path) -> None:
    """The smoke config runs the pre-registered experiment's five runs, so `decide` runs on
    real RL logs, answers and base checks; a checkpoint the runs never reach is not reported."""
    cfg = load_config(smoke_run / SMOKE)
    decision = json.loads((smoke_run / paths.DECISION).read_text())
    assert decision["verdict"].split(" ")[0] in {"supported", "refuted", "inconclusive"}
    assert decision["decisive_step"] == cfg["rl"]["steps"]
    assert list(decision["by_step"]) == [str(cfg["rl"]["steps"])]
    self_final = decision["by_step"][str(cfg["rl"]["steps"])]["self"]
    assert all(n > 0 for seeds in self_final["per_seed"].values() for _, n in seeds)
    assert set(decision["gates"]) == {"M1", "M2", "M3"}
