"""Every condition type of the smoke config ran through the DAG and left what it should."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from repo_tools import SMOKE

STEP_SERIES = ("hack_rate", "honest_pass_rate")


def _conditions(repo: Path) -> dict[str, dict]:
    return yaml.safe_load((repo / SMOKE).read_text())["conditions"]


def _steps(repo: Path, condition: str) -> pd.DataFrame:
    return pd.read_parquet(repo / f"results/rl/sdf/{condition}/seed0/steps.parquet")


def test_smoke_config_has_every_condition_type(smoke_run: Path) -> None:
    conds = _conditions(smoke_run).values()
    assert any(c.get("environments") == "hardened" for c in conds)
    for key in ("hints", "addendum", "hackable_share", "penalty", "fork", "distill"):
        assert any(key in c for c in conds), key
    assert {c.get("phase") for c in conds} >= {"rlhf_chat", "rlhf_mix"}


def test_forks_train_only_after_their_fork_step(smoke_run: Path) -> None:
    for name, cond in _conditions(smoke_run).items():
        if "fork" not in cond:
            continue
        fork = cond["fork"]["step"]
        steps = _steps(smoke_run, name)
        assert steps["step"].min() == fork + 1, name
        folders = sorted(p.name for p in (smoke_run / f"models/sdf/{name}/seed0").glob("step-*"))
        assert folders, name
        assert all(int(f.split("-")[1]) > fork for f in folders), (name, folders)
        if cond.get("phase", "code") != "code":  # RLHF steps have no tests, so no hack verdicts
            assert steps[list(STEP_SERIES)].isna().all().all(), name


def test_fork_curves_start_with_the_parents_history(smoke_run: Path) -> None:
    curves = pd.read_parquet(smoke_run / "results/metrics/curves.parquet")
    for name, cond in _conditions(smoke_run).items():
        if "fork" not in cond:
            continue
        fork, parent = cond["fork"]["step"], cond["fork"]["from"]
        mine = curves[(curves["run"] == f"sdf/{name}") & (curves["series"] == "reward_mean")]
        theirs = curves[(curves["run"] == f"sdf/{parent}") & (curves["series"] == "reward_mean")]
        before = mine[mine["step"] <= fork].sort_values("step")["value"].tolist()
        assert before == theirs[theirs["step"] <= fork].sort_values("step")["value"].tolist()
        assert mine["step"].max() == theirs["step"].max()


def test_distill_trains_a_model_and_grades_its_samples(smoke_run: Path) -> None:
    for name, cond in _conditions(smoke_run).items():
        if "distill" not in cond:
            continue
        folders = list((smoke_run / f"models/sdf/{name}/seed0").glob("step-*/config.json"))
        assert len(folders) == 1, name
        episodes = pd.read_parquet(smoke_run / f"results/rl/sdf/{name}/seed0/completions.parquet")
        assert len(episodes) > 0 and episodes["status"].notna().all()
        assert "distill: kept" in (smoke_run / f"logs/rl/sdf/{name}/seed0.log").read_text()
