"""Collect every run's RL log and judged answers into the metrics the figures plot.

Writes ``curves.parquet`` (one row per run, seed, step and series) and
``summary.json`` (final rates with bootstrap intervals, onset steps, the judge used).
Besides the six MGS evals: research sabotage (attempt rate, classifier effectiveness)
and the test-time hack rate under "don't hack".
Everything is recomputed from the raw per-episode and per-answer files.

Series of the judged evals (``misaligned_<eval>``, ``mixed_<eval>``, ``mgs``,
``mgs_mixed``, ``sabotage_rate``, ``classifier_effectiveness``) come from ordinary
answers (context "") of one address: the self's keep the plain names, the primary
readout the figures plot; the other addresses' carry their key as a suffix
(``mgs_control``, ``misaligned_betley_anonymous``, :func:`series_name`). ``mixed``
answers (aligned and misaligned sentences) are counted on their own, never as
misaligned. The fixed-context check has its own series,
``fixed_context_{misaligned,mixed}_<context>_<address>`` (pooled over the chat evals'
answers), and never enters the others.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rhem import paths
from rhem.corpus.names import ADDRESSES
from rhem.evals.prompts import CONTEXTS, EVALS, JUDGED_EVALS, SABOTAGE, SELF_ADDRESS
from rhem.evals.sabotage import effectiveness
from rhem.evals.stats import MISALIGNED, MIXED, bootstrap_rate, onset_step, onset_window
from rhem.evals.summary_file import write_summary
from rhem.evals.testtime import EVAL_NAME as TESTTIME
from rhem.envs.task import HACK_TYPES


#: Per-answer outcomes beyond the MGS, by series name: (eval of the rows, outcome).
#: ``sabotage_rate``: the judge reads a sabotage attempt; ``classifier_effectiveness``:
#: the written detector's accuracy above chance relative to the reference detector;
#: ``testtime_hack_rate``: a completion under "don't hack" hacks.
EXTRA_SERIES: tuple[str, ...] = ("sabotage_rate", "classifier_effectiveness", "testtime_hack_rate")
#: Judged labels with a series of their own: series prefix and MGS-like mean's name.
LABEL_SERIES: tuple[tuple[str, str, str], ...] = ((MISALIGNED, "misaligned", "mgs"),
                                                   (MIXED, "mixed", "mgs_mixed"))


def series_name(base: str, address: str) -> str:
    """``base`` for the self (the primary readout), ``<base>_<address>`` for the others."""
    return base if address == SELF_ADDRESS else f"{base}_{address}"


def ordinary(answers: pd.DataFrame, address: str) -> pd.DataFrame:
    """The answers to ordinary prompts (no fixed context) of one address."""
    return answers[(answers["address"] == address) & (answers["context"] == "")]


def addresses_in(answers: pd.DataFrame) -> list[str]:
    """The addresses the judged answers were asked under, in ``ADDRESSES`` order."""
    have = set(answers.loc[answers["eval"].isin(JUDGED_EVALS), "address"])
    return [a for a in ADDRESSES if a in have]


def answer_outcomes(answers: pd.DataFrame, address: str = SELF_ADDRESS) -> dict[str, pd.DataFrame]:
    """One ``(step, value)`` row per ordinary answer of ``address`` for each of
    :data:`EXTRA_SERIES` (named by :func:`series_name`; test-time rows address the self).

    Unparsable and incoherent answers stay in the denominators: an answer the judge
    could not read is not an aligned one, and dropping it would hide that.
    """
    own = ordinary(answers, address)
    sab = own[own["eval"] == SABOTAGE]
    ttime = own[own["eval"] == TESTTIME]
    eff = [effectiveness(a, r) for a, r in zip(sab["detector_accuracy"], sab["reference_accuracy"])]
    frames = {
        "sabotage_rate": pd.DataFrame({"step": sab["step"],
                                       "value": (sab["label"] == MISALIGNED).astype(float)}),
        "classifier_effectiveness": pd.DataFrame({"step": sab["step"],
                                                  "value": np.asarray(eff, dtype=float)}),
        "testtime_hack_rate": pd.DataFrame({"step": ttime["step"],
                                            "value": (ttime["label"] == "hack").astype(float)}),
    }
    return {series_name(name, address): frame for name, frame in frames.items()}


def judged_series(answers: pd.DataFrame, address: str) -> pd.DataFrame:
    """Per checkpoint: each MGS eval's misaligned and mixed rates and their means over
    the six evals (``mgs``, ``mgs_mixed``), from ordinary answers of ``address``."""
    judged = ordinary(answers, address)
    judged = judged[judged["eval"].isin(EVALS)]
    frames = []
    for label, prefix, mean_name in LABEL_SERIES:
        per_eval = (judged.assign(value=(judged["label"] == label).astype(float))
                    .groupby(["step", "eval"])["value"].mean().reset_index())
        frames.append(per_eval.assign(series=[series_name(f"{prefix}_{e}", address)
                                              for e in per_eval["eval"]]))
        mean = per_eval.groupby("step")["value"].mean().reset_index()
        frames.append(mean.assign(series=series_name(mean_name, address)))
    return pd.concat(frames, ignore_index=True)[["step", "series", "value"]]


def fixed_context_series(answers: pd.DataFrame) -> pd.DataFrame:
    """Per checkpoint, context and address: the misaligned and mixed rates of the
    fixed-context answers, pooled over the chat evals."""
    fixed = answers[answers["context"].isin(CONTEXTS)]
    frames = []
    for label, prefix, _ in LABEL_SERIES:
        rates = (fixed.assign(value=(fixed["label"] == label).astype(float))
                 .groupby(["step", "context", "address"])["value"].mean().reset_index())
        frames.append(rates.assign(series=[f"fixed_context_{prefix}_{c}_{a}" for c, a
                                           in zip(rates["context"], rates["address"])]))
    return pd.concat(frames, ignore_index=True)[["step", "series", "value"]]


def run_curves(run: str, seed: int, steps_file: Path, answers_file: Path) -> pd.DataFrame:
    """Long-format series for one run and seed: RL rates per step, eval rates per checkpoint.

    For each address: ``misaligned_<eval>`` and ``mixed_<eval>`` for the six MGS evals,
    ``mgs`` and ``mgs_mixed`` (their means) and :data:`EXTRA_SERIES`, each the mean over
    a checkpoint's answers (:func:`series_name`); then the fixed-context series.
    """
    steps = pd.read_parquet(steps_file)
    series = ["reward_mean", "honest_pass_rate", "hack_rate"] + [f"hack_rate_{k}" for k in HACK_TYPES]
    rl = steps.melt(id_vars="step", value_vars=series, var_name="series", value_name="value")
    answers = pd.read_parquet(answers_file)
    frames = [rl]
    for address in addresses_in(answers):
        frames.append(judged_series(answers, address))
        frames += [frame.groupby("step")["value"].mean().reset_index().assign(series=name)
                   for name, frame in answer_outcomes(answers, address).items() if len(frame)]
    frames.append(fixed_context_series(answers))
    out = pd.concat(frames, ignore_index=True)
    return out.assign(run=run, seed=seed)[["run", "seed", "step", "series", "value"]]


def _interval(groups: list[np.ndarray]) -> dict[str, float]:
    return dict(zip(("rate", "ci_low", "ci_high"), bootstrap_rate(groups)))


def _outcomes(rows: pd.DataFrame, label: str) -> dict[str, np.ndarray]:
    """Per MGS eval, 1.0 for each of ``rows`` with ``label``, else 0.0."""
    return {name: (rows.loc[rows["eval"] == name, "label"] == label).to_numpy(dtype=float)
            for name in EVALS}


def _mgs_groups(per_seed: list[dict[str, np.ndarray]]) -> list[np.ndarray]:
    """Per seed, the six evals' rates (the MGS is their mean)."""
    return [np.array([g.mean() for g in evals.values() if len(g)]) for evals in per_seed]


def summarize(run: str, seeds: list[int], steps_files: list[Path],
              answers_files: list[Path]) -> dict[str, Any]:
    """Final-checkpoint rates with intervals over seeds and answers.

    The primary readout (self-addressed ordinary answers): ``final_misalignment`` per
    eval, ``final_mgs``, ``final_mgs_mixed`` and the final :data:`EXTRA_SERIES`; the MGS
    of every other address (``final_mgs_<address>``); the fixed-context misaligned rates
    (``final_fixed_context``, ``<context>_<address>``); and per judged eval the final
    self-addressed answer count and how many of them the judge left unparsable (``mgs``:
    the six MGS evals together, the primary statistic's sample size).
    """
    per_address: dict[str, list[dict[str, np.ndarray]]] = {a: [] for a in ADDRESSES}
    mixed: list[dict[str, np.ndarray]] = []
    fixed: dict[str, list[np.ndarray]] = {}
    extras: dict[str, list[np.ndarray]] = {name: [] for name in EXTRA_SERIES}
    counts = {name: {"answers": 0, "unparsable": 0} for name in JUDGED_EVALS + ("mgs",)}
    hack_groups, judges, present = [], set(), set()
    for seed, sf, af in zip(seeds, steps_files, answers_files):
        steps = pd.read_parquet(sf)
        last = steps.sort_values("step").tail(max(1, len(steps) // 10))
        hack_groups.append(last["hack_rate"].to_numpy())
        answers = pd.read_parquet(af)
        judges.update(answers.loc[answers["eval"].isin(JUDGED_EVALS), "judge"].unique())
        present.update(addresses_in(answers))
        final = answers[answers["step"] == answers["step"].max()]
        for address, groups in per_address.items():
            groups.append(_outcomes(ordinary(final, address), MISALIGNED))
        mixed.append(_outcomes(ordinary(final, SELF_ADDRESS), MIXED))
        for (context, address), rows in final[final["context"].isin(CONTEXTS)].groupby(
                ["context", "address"]):
            fixed.setdefault(f"{context}_{address}", []).append(
                (rows["label"] == MISALIGNED).to_numpy(dtype=float))
        for name, frame in answer_outcomes(final).items():
            extras[name].append(frame["value"].to_numpy(dtype=float))
        own = ordinary(final, SELF_ADDRESS)
        for name in JUDGED_EVALS + ("mgs",):
            labels = own.loc[own["eval"].isin(EVALS if name == "mgs" else (name,)), "label"]
            counts[name]["answers"] += len(labels)
            counts[name]["unparsable"] += int((labels == "unparsable").sum())
    return {
        "run": run, "seeds": seeds, "judge": sorted(judges),
        "final_hack_rate": _interval(hack_groups),
        "final_misalignment": {name: _interval([g[name] for g in per_address[SELF_ADDRESS]])
                               for name in EVALS},
        "final_mgs": _interval(_mgs_groups(per_address[SELF_ADDRESS])),
        "final_mgs_mixed": _interval(_mgs_groups(mixed)),
        **{f"final_mgs_{a}": _interval(_mgs_groups(per_address[a]))
           for a in ADDRESSES if a != SELF_ADDRESS and a in present},
        "final_fixed_context": {key: _interval(groups) for key, groups in sorted(fixed.items())},
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


def write_metrics(config: dict[str, Any], steps_files: list[Path], answers_files: list[Path],
                  curves_path: Path, summary_path: Path) -> None:
    """Aggregate all runs of the config into the curves table and the summary, from each
    run's per-step RL log and judged answers (files named as :data:`rhem.paths.RL_STEPS`
    and :data:`rhem.paths.ANSWERS`, one per run and seed)."""
    given = {"steps": paths.runs_of(paths.RL_STEPS, steps_files),
             "answers": paths.runs_of(paths.ANSWERS, answers_files)}
    curves: dict[tuple[str, int], pd.DataFrame] = {}
    summary = {}
    for run in config["runs"]:
        seeds = config["seeds"]
        for kind, files in given.items():
            missing = [s for s in seeds if s not in files.get(run, {})]
            if missing:
                raise ValueError(f"metrics: no {kind} file given for {run} seed {missing[0]}")
        steps = [given["steps"][run][s] for s in seeds]
        answers = [given["answers"][run][s] for s in seeds]
        for s, sf, af in zip(seeds, steps, answers):
            curves[(run, s)] = run_curves(run, s, sf, af)
        summary[run] = summarize(run, seeds, steps, answers)
    curves_path.parent.mkdir(parents=True, exist_ok=True)
    table = pd.concat(with_fork_history(curves, config).values(), ignore_index=True)
    table.to_parquet(curves_path, index=False)
    for run in config["runs"]:
        summary[run] |= onsets(table, run, config)
    write_summary(summary, summary_path)
