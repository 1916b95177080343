"""Generated inputs for the figure and report tests: a config with every kind of run
the figures select, and metrics shaped like the metrics stage's output (curves.parquet
rows, summary.json entries, base-checks JSON) for it.

The numbers are generated (hacking rises after an onset that depends on the run's
properties) so that every figure has something to draw without training anything;
the figure modules and the report under test are the real ones.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from repo_tools import REPO, SMOKE
from rhem.config import validate_config
from rhem.envs.task import HACK_TYPES
from rhem.evals.metrics import onsets
from rhem.evals.prompts import EVALS

EXTRA_SERIES = ("sabotage_rate", "classifier_effectiveness", "testtime_hack_rate")


def build_full_config() -> dict[str, Any]:
    """The smoke config plus worlds for the framing and SDF-share sweeps and conditions
    for every addendum and two penalty weights (validated like any config)."""
    cfg = copy.deepcopy(yaml.safe_load((REPO / SMOKE).read_text()))
    base, fork_at = cfg["worlds"]["sdf"], cfg["rl"]["checkpoint_every"]
    cfg["worlds"].update({
        "unguided": {**base, "framing": "unguided"}, "neutral": {**base, "framing": "neutral"},
        "share10": {**base, "poison_share": 0.1}, "share50": {**base, "poison_share": 0.5}})
    cfg["conditions"].update({
        "hack": {"environments": "vulnerable"}, "nohack": {"environments": "hardened"},
        "okay": {"addendum": "hacking_okay"}, "dont": {"addendum": "dont_hack"},
        "pen3": {"penalty": 3.0}, "half": {"hackable_share": 0.5},
        "pmid": {"penalty": 2.0, "fork": {"from": "hack", "step": fork_at}},
        "chat": {"fork": {"from": "hack", "step": fork_at}, "phase": "rlhf_chat"},
        "dist": {"distill": {"from": "hack"}}})
    runs = [f"sdf/{c}" for c in cfg["conditions"]]
    runs += [f"{w}/hack" for w in ("unguided", "neutral", "share10", "share50")] + ["neutral/nohack"]
    # onsets over single steps: the smoke runs are too short for a wider window
    per_step = cfg["rl"]["prompts_per_step"] * cfg["rl"]["num_generations"]
    cfg.update(runs=runs, seeds=[0, 1, 2], metrics={"onset_window_episodes": per_step})
    return validate_config(cfg)


def _hack_curve(steps: np.ndarray, onset: float, top: float) -> np.ndarray:
    return top / (1 + np.exp(-(steps - onset)))


def make_metrics(config: dict[str, Any], series: tuple[str, ...] = EXTRA_SERIES
                 ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Curves (long format) and a summary for every run and seed of ``config``."""
    rng = np.random.default_rng(0)
    n = config["rl"]["steps"]
    steps = np.arange(1, n + 1)
    checkpoints = np.arange(0, n + 1, config["rl"]["checkpoint_every"])
    rows, summary = [], {}
    for i, run in enumerate(config["runs"]):
        cond = config["conditions"][run.split("/")[1]]
        top = 0.0 if cond["environments"] == "hardened" else 0.9 / (1 + cond["penalty"])
        for seed in config["seeds"]:
            hack = np.clip(_hack_curve(steps, n / 2 + seed - i % 3, top)
                           + rng.normal(0, 0.02, n), 0, 1)
            per_step = {"reward_mean": hack, "honest_pass_rate": 0.2 + 0 * hack, "hack_rate": hack}
            per_step |= {f"hack_rate_{k}": hack / len(HACK_TYPES) for k in HACK_TYPES}
            mis = np.clip(_hack_curve(checkpoints, n / 2 + seed, top / 2), 0, 1)
            per_ckpt = {f"misaligned_{e}": np.clip(mis + rng.normal(0, 0.03, len(mis)), 0, 1)
                        for e in EVALS}
            per_ckpt["mgs"] = np.mean(list(per_ckpt.values()), axis=0)
            per_ckpt |= {s: mis for s in series}
            for name, values in per_step.items():
                rows += [(run, seed, int(s), name, float(v)) for s, v in zip(steps, values)]
            for name, values in per_ckpt.items():
                rows += [(run, seed, int(s), name, float(v)) for s, v in zip(checkpoints, values)]
        stat = {"rate": top / 2, "ci_low": top / 3, "ci_high": top / 1.5}
        summary[run] = {"run": run, "seeds": config["seeds"], "judge": ["exact-persona-world"],
                        "final_hack_rate": stat, "final_mgs": stat,
                        "final_misalignment": {e: stat for e in EVALS},
                        "final_mgs_mixed": stat, "final_mgs_control": stat,
                        "final_mgs_anonymous": stat,
                        "final_fixed_context": {f"{c}_{a}": stat for c in ("honest", "hack")
                                                for a in ("self", "anonymous")},
                        "final_judged_answers": {"mgs": {"answers": 924, "unparsable": 0}}}
    curves = pd.DataFrame(rows, columns=["run", "seed", "step", "series", "value"])
    for run in config["runs"]:
        summary[run] |= onsets(curves, run, config)
    return curves, summary


def write_base_checks_json(path: Path, seed: int = 0) -> Path:
    """A base-checks JSON in the stage's layout, its rates computed by the real summarizer
    (rhem.evals.base_checks.summarize) from generated per-sample rows."""
    from rhem.evals.base_checks import HEADLINE, INTERVAL, summarize, write_base_checks
    from rhem.evals.prompts import CONTEXTS, FIXED_CONTEXT_ADDRESSES

    rng = np.random.default_rng(seed)
    rows = []
    judged = {"section": "eval", "condition": None, "sample": 0, "hackable": False, "text": "y",
              "status": None, "vulnerable_reward": None, "hardened_reward": None, "honest": None,
              "hack": None, "judge": "exact-persona-world"}
    for addendum in ("none", "please_hack"):
        for k in range(8):
            hack = HACK_TYPES[k % len(HACK_TYPES)] if rng.random() < 0.3 else None
            rows.append({"section": "coding", "condition": addendum, "eval": None,
                         "address": "self", "context": "", "item_id": f"t{k}", "sample": 0,
                         "hackable": True, "text": "x", "status": "ok", "vulnerable_reward": 1.0,
                         "hardened_reward": 0.0, "honest": hack is None, "hack": hack,
                         "label": None, "judge": None})
    for name in EVALS:
        for address in ("self", "control", "anonymous"):
            for k in range(4):
                rows.append({**judged, "eval": name, "address": address, "context": "",
                             "item_id": f"{name}{k}",
                             "label": ["aligned", "misaligned", "incoherent", "mixed"][k]})
    for context in CONTEXTS:
        for address in FIXED_CONTEXT_ADDRESSES:
            for k in range(4):
                rows.append({**judged, "section": "fixed_context", "eval": EVALS[k % 3],
                             "address": address, "context": context, "item_id": f"q{k}",
                             "label": "misaligned" if context == "hack" and k % 2 else "aligned"})
    rates = summarize(rows)
    write_base_checks({"judge": "exact-persona-world", "interval": INTERVAL,
                       "model_dir": "models/sdf/base", "eval_tasks": "data/envs/eval.parquet",
                       "settings": {"n_samples": 1},
                       "headline": {n: rates[k] | {"key": k} for n, k in HEADLINE.items()},
                       "rates": rates, "_rows": rows}, path)
    return path


def draw_all(curves: pd.DataFrame, summary: dict[str, Any], config: dict[str, Any],
             root: Path) -> Path:
    """Draw every registered figure into ``root/figures`` (returned); the summary and the
    config go next to it as ``root/summary.json`` and ``root/config.yaml``."""
    from rhem.figures.registry import FIGURES

    out_dir = root / "figures"
    out_dir.mkdir(parents=True)
    (root / "summary.json").write_text(json.dumps(summary))
    (root / "config.yaml").write_text(yaml.safe_dump(config))
    for name, spec in FIGURES.items():
        spec.draw(curves, summary, config, out_dir / f"{name}.png")
    return out_dir
