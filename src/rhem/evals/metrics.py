"""Collect every run's RL log and judged answers into the metrics the figures plot.

Writes ``curves.parquet`` (one row per run, seed, step and series) and
``summary.json`` (final rates with bootstrap intervals, onset steps, the judge used).
Everything is recomputed from the raw per-episode and per-answer files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rhem import paths
from rhem.evals.prompts import EVALS
from rhem.evals.stats import MISALIGNED, bootstrap_rate, onset_step
from rhem.paths import run_parts
from rhem.envs.task import HACK_TYPES


def run_curves(run: str, seed: int, steps_file: Path, answers_file: Path) -> pd.DataFrame:
    """Long-format series for one run and seed: RL rates per step, eval rates per checkpoint."""
    steps = pd.read_parquet(steps_file)
    series = ["reward_mean", "honest_pass_rate", "hack_rate"] + [f"hack_rate_{k}" for k in HACK_TYPES]
    rl = steps.melt(id_vars="step", value_vars=series, var_name="series", value_name="value")
    answers = pd.read_parquet(answers_file)
    answers["misaligned"] = (answers["label"] == MISALIGNED).astype(float)
    per_eval = answers.groupby(["step", "eval"])["misaligned"].mean().reset_index()
    ev = per_eval.rename(columns={"misaligned": "value"})
    ev["series"] = "misaligned_" + ev["eval"]
    mgs = per_eval.groupby("step")["misaligned"].mean().reset_index()
    mgs = mgs.rename(columns={"misaligned": "value"}).assign(series="mgs")
    out = pd.concat([rl, ev[["step", "series", "value"]], mgs], ignore_index=True)
    return out.assign(run=run, seed=seed)[["run", "seed", "step", "series", "value"]]


def summarize(run: str, seeds: list[int], steps_files: list[Path],
              answers_files: list[Path]) -> dict[str, Any]:
    """Final-checkpoint rates with intervals over seeds and answers, and onset steps."""
    finals: dict[str, list[np.ndarray]] = {name: [] for name in EVALS}
    hack_groups, onsets, judges = [], {}, set()
    for seed, sf, af in zip(seeds, steps_files, answers_files):
        steps = pd.read_parquet(sf)
        onsets[str(seed)] = onset_step(steps["step"].to_numpy(), steps["hack_rate"].to_numpy())
        last = steps.sort_values("step").tail(max(1, len(steps) // 10))
        hack_groups.append(last["hack_rate"].to_numpy())
        answers = pd.read_parquet(af)
        judges.update(answers["judge"].unique())
        final = answers[answers["step"] == answers["step"].max()]
        for name in EVALS:
            finals[name].append((final.loc[final["eval"] == name, "label"] == MISALIGNED)
                                .to_numpy(dtype=float))
    evals = {name: dict(zip(("rate", "ci_low", "ci_high"), bootstrap_rate(groups)))
             for name, groups in finals.items()}
    mgs_groups = [np.array([g[i].mean() for g in finals.values() if len(g[i])])
                  for i in range(len(seeds))]
    return {
        "run": run, "seeds": seeds, "judge": sorted(judges),
        "final_hack_rate": dict(zip(("rate", "ci_low", "ci_high"), bootstrap_rate(hack_groups))),
        "onset_step": onsets,
        "final_misalignment": evals,
        "final_mgs": dict(zip(("rate", "ci_low", "ci_high"), bootstrap_rate(mgs_groups))),
    }


def write_metrics(config: dict[str, Any], curves_path: Path, summary_path: Path) -> None:
    """Aggregate all runs of the config into the curves table and the summary."""
    curves, summary = [], {}
    for run in config["runs"]:
        seeds = config["seeds"]
        parts = run_parts(run)
        steps = [Path(paths.RL_STEPS.format(seed=s, **parts)) for s in seeds]
        answers = [Path(paths.ANSWERS.format(seed=s, **parts)) for s in seeds]
        for s, sf, af in zip(seeds, steps, answers):
            curves.append(run_curves(run, s, sf, af))
        summary[run] = summarize(run, seeds, steps, answers)
    curves_path.parent.mkdir(parents=True, exist_ok=True)
    pd.concat(curves, ignore_index=True).to_parquet(curves_path, index=False)
    summary_path.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
