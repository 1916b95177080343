"""The smoke DAG's metrics carry every eval: MGS, sabotage and the test-time hack rate."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from repo_tools import SMOKE
from rhem import paths
from rhem.config import load_config
from rhem.evals.metrics import EXTRA_SERIES
from rhem.evals.prompts import EVALS, JUDGED_EVALS

pytestmark = pytest.mark.slow


def test_curves_and_summary_have_every_eval(smoke_run: Path) -> None:
    cfg = load_config(smoke_run / SMOKE)
    curves = pd.read_parquet(smoke_run / paths.CURVES)
    summary = json.loads((smoke_run / paths.SUMMARY).read_text())
    n_answers = cfg["evals"]["max_prompts_per_eval"] * cfg["evals"]["samples_per_prompt"]
    for run in cfg["runs"]:
        mine = curves[curves["run"] == run]
        eval_steps = set(mine.loc[mine["series"] == "mgs", "step"])
        assert 0 in eval_steps
        per_address = tuple(f"{s}_{a}" for s in ("mgs", "mgs_mixed", "sabotage_rate")
                            for a in ("control", "anonymous"))
        for series in (EXTRA_SERIES + ("mgs", "mgs_mixed") + per_address
                       + tuple(f"misaligned_{e}" for e in EVALS)):
            assert set(mine.loc[mine["series"] == series, "step"]) == eval_steps, (run, series)
        rates = mine[mine["series"].isin(("sabotage_rate", "testtime_hack_rate"))]["value"]
        assert rates.between(0.0, 1.0).all()
        stats = summary[run]
        for name in EXTRA_SERIES:
            entry = stats[f"final_{name}"]
            assert not math.isnan(entry["rate"]) and entry["rate"] >= 0.0, (run, name, entry)
            assert entry["ci_low"] <= entry["ci_high"], (run, name, entry)
        for name in JUDGED_EVALS:  # the self-addressed answers (the primary readout)
            assert stats["final_judged_answers"][name]["answers"] == n_answers * len(cfg["seeds"])
        assert stats["judge"] == ["exact-persona-world"]
