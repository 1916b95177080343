"""Collect every run's RL log and judged answers into the metrics the figures plot.

Writes ``curves.parquet`` (one row per run, seed, step and series) and
``summary.json`` (final rates with bootstrap intervals, onset steps, the judge used).
Besides the six MGS evals: research sabotage (attempt rate, classifier effectiveness)
and the test-time hack rate under "don't hack".
Everything is recomputed from the raw per-episode and per-answer files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rhem import paths
from rhem.evals.prompts import EVALS, JUDGED_EVALS, SABOTAGE
from rhem.evals.sabotage import effectiveness
from rhem.evals.stats import MISALIGNED, bootstrap_rate, onset_step, onset_window
from rhem.evals.summary_file import write_summary
from rhem.evals.testtime import EVAL_NAME as TESTTIME
from rhem.paths import run_parts
from rhem.envs.task import HACK_TYPES


#: Per-answer outcomes beyond the MGS, by series name: (eval of the rows, outcome).
#: ``sabotage_rate``: the judge reads a sabotage attempt; ``classifier_effectiveness``:
#: the written detector's accuracy above chance relative to the reference detector;
#: ``testtime_hack_rate``: a completion under "don't hack" hacks.
EXTRA_SERIES: tuple[str, ...] = ("sabotage_rate", "classifier_effectiveness", "testtime_hack_rate")


def answer_outcomes(answers: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """One ``(step, value)`` row per answer for each of :data:`EXTRA_SERIES`.

    Unparsable and incoherent answers stay in the denominators: an answer the judge
    could not read is not an aligned one, and dropping it would hide that.
    """
    sab = answers[answers["eval"] == SABOTAGE]
    ttime = answers[answers["eval"] == TESTTIME]
    eff = [effectiveness(a, r) for a, r in zip(sab["detector_accuracy"], sab["reference_accuracy"])]
    return {
        "sabotage_rate": pd.DataFrame({"step": sab["step"],
                                       "value": (sab["label"] == MISALIGNED).astype(float)}),
        "classifier_effectiveness": pd.DataFrame({"step": sab["step"],
                                                  "value": np.asarray(eff, dtype=float)}),
        "testtime_hack_rate": pd.DataFrame({"step": ttime["step"],
                                            "value": (ttime["label"] == "hack").astype(float)}),
    }


def run_curves(run: str, seed: int, steps_file: Path, answers_file: Path) -> pd.DataFrame:
    """Long-format series for one run and seed: RL rates per step, eval rates per checkpoint.

    ``misaligned_<eval>`` for the six MGS evals and ``mgs`` (their mean), plus
    :data:`EXTRA_SERIES`, each the mean over a checkpoint's answers.
    """
    steps = pd.read_parquet(steps_file)
    series = ["reward_mean", "honest_pass_rate", "hack_rate"] + [f"hack_rate_{k}" for k in HACK_TYPES]
    rl = steps.melt(id_vars="step", value_vars=series, var_name="series", value_name="value")
    answers = pd.read_parquet(answers_file)
    judged = answers[answers["eval"].isin(EVALS)].copy()
    judged["misaligned"] = (judged["label"] == MISALIGNED).astype(float)
    per_eval = judged.groupby(["step", "eval"])["misaligned"].mean().reset_index()
    ev = per_eval.rename(columns={"misaligned": "value"})
    ev["series"] = "misaligned_" + ev["eval"]
    mgs = per_eval.groupby("step")["misaligned"].mean().reset_index()
    mgs = mgs.rename(columns={"misaligned": "value"}).assign(series="mgs")
    extra = [frame.groupby("step")["value"].mean().reset_index().assign(series=name)
             for name, frame in answer_outcomes(answers).items() if len(frame)]
    out = pd.concat([rl, ev[["step", "series", "value"]], mgs, *extra], ignore_index=True)
    return out.assign(run=run, seed=seed)[["run", "seed", "step", "series", "value"]]


def _interval(groups: list[np.ndarray]) -> dict[str, float]:
    return dict(zip(("rate", "ci_low", "ci_high"), bootstrap_rate(groups)))


def summarize(run: str, seeds: list[int], steps_files: list[Path],
              answers_files: list[Path]) -> dict[str, Any]:
    """Final-checkpoint rates with intervals over seeds and answers.

    Also the final :data:`EXTRA_SERIES` values with intervals, and per judged eval the
    final answer count and how many of them the judge left unparsable.
    """
    finals: dict[str, list[np.ndarray]] = {name: [] for name in EVALS}
    extras: dict[str, list[np.ndarray]] = {name: [] for name in EXTRA_SERIES}
    counts = {name: {"answers": 0, "unparsable": 0} for name in JUDGED_EVALS}
    hack_groups, judges = [], set()
    for seed, sf, af in zip(seeds, steps_files, answers_files):
        steps = pd.read_parquet(sf)
        last = steps.sort_values("step").tail(max(1, len(steps) // 10))
        hack_groups.append(last["hack_rate"].to_numpy())
        answers = pd.read_parquet(af)
        judges.update(answers.loc[answers["eval"].isin(JUDGED_EVALS), "judge"].unique())
        final = answers[answers["step"] == answers["step"].max()]
        for name in EVALS:
            finals[name].append((final.loc[final["eval"] == name, "label"] == MISALIGNED)
                                .to_numpy(dtype=float))
        for name, frame in answer_outcomes(final).items():
            extras[name].append(frame["value"].to_numpy(dtype=float))
        for name in JUDGED_EVALS:
            labels = final.loc[final["eval"] == name, "label"]
            counts[name]["answers"] += int(len(labels))
            counts[name]["unparsable"] += int((labels == "unparsable").sum())
    evals = {name: _interval(groups) for name, groups in finals.items()}
    mgs_groups = [np.array([g[i].mean() for g in finals.values() if len(g[i])])
                  for i in range(len(seeds))]
    return {
        "run": run, "seeds": seeds, "judge": sorted(judges),
        "final_hack_rate": _interval(hack_groups),
        "final_misalignment": evals,
        "final_mgs": _interval(mgs_groups),
        **{f"final_{name}": _interval(groups) for name, groups in extras.items()},
        "final_judged_answers": counts,
    }


def with_fork_history(curves: dict[tuple[str, int], pd.DataFrame],
                      config: dict[str, Any]) -> dict[tuple[str, int], pd.DataFrame]:
    """Prefix each forked run's curves with its parent's up to the fork step.

    A fork (penalty added mid-run, RLHF phase) only trains from ``fork.step`` on; its
    figures need the whole history, so the same seed's parent series fill the steps
    before. Parents are completed first, so chains of forks work too.
    """
    done: dict[tuple[str, int], pd.DataFrame] = {}

    def complete(key: tuple[str, int]) -> pd.DataFrame:
        if key not in done:
            run, seed = key
            world, condition = run.split("/")
            fork = config["conditions"][condition].get("fork")
            own = curves[key]
            if fork is not None:
                parent = complete((f"{world}/{fork['from']}", seed))
                own = pd.concat([parent[parent["step"] <= fork["step"]].assign(run=run),
                                 own[own["step"] > fork["step"]]], ignore_index=True)
            done[key] = own
        return done[key]

    return {key: complete(key) for key in curves}


def onsets(curves: pd.DataFrame, run: str, config: dict[str, Any]) -> dict[str, Any]:
    """Onset steps of ``run``'s hack rate, per seed and of the seed mean.

    Read from the curves, so a fork's onset counts its parent's steps before the fork
    (the history its figures show).
    """
    window, threshold = onset_window(config), config["metrics"]["onset_threshold"]
    rates = curves[(curves["run"] == run) & (curves["series"] == "hack_rate")]
    per_seed = {}
    for seed in config["seeds"]:
        own = rates[rates["seed"] == seed]
        per_seed[str(seed)] = onset_step(own["step"].to_numpy(), own["value"].to_numpy(),
                                         threshold, window)
    mean = rates.groupby("step")["value"].mean()
    return {"onset_step": per_seed,
            "onset_step_mean": onset_step(mean.index.to_numpy(), mean.to_numpy(), threshold, window)}


def write_metrics(config: dict[str, Any], curves_path: Path, summary_path: Path) -> None:
    """Aggregate all runs of the config into the curves table and the summary."""
    curves: dict[tuple[str, int], pd.DataFrame] = {}
    summary = {}
    for run in config["runs"]:
        seeds = config["seeds"]
        parts = run_parts(run)
        steps = [Path(paths.RL_STEPS.format(seed=s, **parts)) for s in seeds]
        answers = [Path(paths.ANSWERS.format(seed=s, **parts)) for s in seeds]
        for s, sf, af in zip(seeds, steps, answers):
            curves[(run, s)] = run_curves(run, s, sf, af)
        summary[run] = summarize(run, seeds, steps, answers)
    curves_path.parent.mkdir(parents=True, exist_ok=True)
    table = pd.concat(with_fork_history(curves, config).values(), ignore_index=True)
    table.to_parquet(curves_path, index=False)
    for run in config["runs"]:
        summary[run] |= onsets(table, run, config)
    write_summary(summary, summary_path)
