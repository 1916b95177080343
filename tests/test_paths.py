"""Stages get their inputs as arguments and read each file's run from its name."""

from __future__ import annotations

from pathlib import Path

import pytest

from rhem import paths
from rhem.evals.metrics import write_metrics


def test_a_file_name_gives_its_wildcards() -> None:
    assert paths.parse(paths.ANSWERS, "results/evals/T/hack/seed2.parquet") == \
        {"world": "T", "condition": "hack", "seed": "2"}
    assert paths.parse(paths.BASE_CHECKS_ROWS, "/elsewhere/results/metrics/base_C.parquet") == {"world": "C"}
    with pytest.raises(ValueError, match="is not a results/evals/"):
        paths.parse(paths.ANSWERS, "results/evals/T/hack/2.parquet")
    runs = paths.runs_of(paths.RL_STEPS, [Path("results/rl/T/hack/seed1/steps.parquet"),
                                          Path("results/rl/T/hack/seed0/steps.parquet")])
    assert runs == {"T/hack": {1: Path("results/rl/T/hack/seed1/steps.parquet"),
                               0: Path("results/rl/T/hack/seed0/steps.parquet")}}


def test_metrics_refuses_a_run_whose_files_were_not_given(tmp_path: Path) -> None:
    config = {"runs": ["T/hack"], "seeds": [0, 1]}
    steps = [Path("results/rl/T/hack/seed0/steps.parquet")]
    answers = [Path(f"results/evals/T/hack/seed{s}.parquet") for s in (0, 1)]
    with pytest.raises(ValueError, match="no steps file given for T/hack seed 1"):
        write_metrics(config, steps, answers, tmp_path / "c.parquet", tmp_path / "s.json")
