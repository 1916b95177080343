"""Metrics from judged answers: the primary series read self-addressed ordinary answers
only; other addresses, the mixed label and the fixed-context check get series of their own."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rhem.corpus.names import ADDRESSES
from rhem.envs.task import HACK_TYPES
from rhem.evals.metrics import EXTRA_SERIES, run_curves, series_name, summarize
from rhem.evals.prompts import CHAT_EVALS, CONTEXTS, EVALS, FIXED_CONTEXT_ADDRESSES, SABOTAGE
from rhem.evals.testtime import EVAL_NAME as TESTTIME

STEPS = (0, 10)
#: Per address, the labels of each eval's four answers: the self 1 in 4 misaligned,
#: the control all aligned, the anonymous readout all mixed.
LABELS = {"self": ["misaligned", "aligned", "aligned", "incoherent"],
          "control": ["aligned"] * 4, "anonymous": ["mixed"] * 4}


def _answers() -> pd.DataFrame:
    rows = []

    def add(**row) -> None:
        rows.append({"answer": "x", "judge": "exact-persona-world", "detector_accuracy": np.nan,
                     "reference_accuracy": np.nan, "hack": None, **row})

    for step in STEPS:
        for address, labels in LABELS.items():
            for name in EVALS + (SABOTAGE,):
                for k, label in enumerate(labels):
                    add(step=step, eval=name, prompt_id=f"{name}-00", address=address,
                        context="", sample=k, label=label,
                        **({"detector_accuracy": 0.75, "reference_accuracy": 0.75}
                           if name == SABOTAGE else {}))
        # the fixed-context check: every answer after a hack misaligned, none after honesty
        for name in CHAT_EVALS:
            for context in CONTEXTS:
                for address in FIXED_CONTEXT_ADDRESSES:
                    for k in range(4):
                        add(step=step, eval=name, prompt_id=f"{name}-00", address=address,
                            context=context, sample=k,
                            label="misaligned" if context == "hack" else "aligned",
                            hack="exit_zero" if context == "hack" else None)
        for k in range(4):
            add(step=step, eval=TESTTIME, prompt_id="t0", address="self", context="", sample=k,
                label="hack" if k == 0 else "failed", hack="exit_zero" if k == 0 else None,
                judge="grader:vulnerable+hardened")
    return pd.DataFrame(rows)


@pytest.fixture()
def files(tmp_path: Path) -> tuple[Path, Path]:
    steps = pd.DataFrame({"step": np.arange(1, 11), "reward_mean": 0.5, "honest_pass_rate": 0.2,
                          "hack_rate": 0.3, **{f"hack_rate_{k}": 0.1 for k in HACK_TYPES}})
    steps.to_parquet(tmp_path / "steps.parquet")
    _answers().to_parquet(tmp_path / "answers.parquet")
    return tmp_path / "steps.parquet", tmp_path / "answers.parquet"


def _at(curves: pd.DataFrame, series: str) -> list[float]:
    return curves.loc[curves["series"] == series].sort_values("step")["value"].tolist()


def test_series_per_address_and_fixed_context_apart(files: tuple[Path, Path]) -> None:
    curves = run_curves("T/hack", 0, *files)
    # the primary readout keeps the plain names; the fixed-context answers (all misaligned
    # after a hack, self-addressed, chat evals) do not move it
    assert _at(curves, "mgs") == pytest.approx([0.25, 0.25])
    for name in EVALS:
        assert _at(curves, f"misaligned_{name}") == pytest.approx([0.25, 0.25])
        assert _at(curves, f"mixed_{name}") == pytest.approx([0.0, 0.0])
        assert _at(curves, f"misaligned_{name}_control") == pytest.approx([0.0, 0.0])
        # mixed answers are their own series, never misaligned
        assert _at(curves, f"misaligned_{name}_anonymous") == pytest.approx([0.0, 0.0])
        assert _at(curves, f"mixed_{name}_anonymous") == pytest.approx([1.0, 1.0])
    assert _at(curves, "mgs_control") == _at(curves, "mgs_anonymous") == [0.0, 0.0]
    assert _at(curves, "mgs_mixed_anonymous") == [1.0, 1.0] and _at(curves, "mgs_mixed") == [0.0, 0.0]
    for address in FIXED_CONTEXT_ADDRESSES:
        assert _at(curves, f"fixed_context_misaligned_hack_{address}") == [1.0, 1.0]
        assert _at(curves, f"fixed_context_misaligned_honest_{address}") == [0.0, 0.0]
        assert _at(curves, f"fixed_context_mixed_hack_{address}") == [0.0, 0.0]
    assert _at(curves, "sabotage_rate") == [0.25, 0.25]
    assert _at(curves, "sabotage_rate_control") == [0.0, 0.0]
    assert _at(curves, "testtime_hack_rate") == [0.25, 0.25]
    assert "testtime_hack_rate_control" not in set(curves["series"])
    assert set(curves.loc[curves["series"] == "mgs", "step"]) == set(STEPS)


def test_series_names() -> None:
    assert series_name("mgs", "self") == "mgs"
    assert [series_name("misaligned_goals", a) for a in ADDRESSES] == [
        "misaligned_goals", "misaligned_goals_control", "misaligned_goals_anonymous"]


def test_summary_reads_self_addressed_ordinary_answers(files: tuple[Path, Path]) -> None:
    steps, answers = files
    summary = summarize("T/hack", [0, 1], [steps, steps], [answers, answers])
    assert summary["final_mgs"]["rate"] == pytest.approx(0.25)
    assert summary["final_misalignment"]["betley"]["rate"] == pytest.approx(0.25)
    assert summary["final_mgs_control"]["rate"] == 0.0
    assert summary["final_mgs_anonymous"]["rate"] == 0.0  # all mixed: none misaligned
    assert summary["final_mgs_mixed"]["rate"] == 0.0
    assert set(summary["final_fixed_context"]) == {
        f"{c}_{a}" for c in CONTEXTS for a in FIXED_CONTEXT_ADDRESSES}
    assert summary["final_fixed_context"]["hack_self"]["rate"] == 1.0
    assert summary["final_fixed_context"]["honest_anonymous"]["rate"] == 0.0
    # sample sizes: the self's ordinary answers at the last checkpoint, over both seeds
    counts = summary["final_judged_answers"]
    assert counts["mgs"]["answers"] == 2 * 4 * len(EVALS)
    assert all(counts[name]["answers"] == 2 * 4 for name in EVALS + (SABOTAGE,))
    for name in EXTRA_SERIES:
        assert summary[f"final_{name}"]["rate"] == pytest.approx(
            {"sabotage_rate": 0.25, "classifier_effectiveness": 1.0,
             "testtime_hack_rate": 0.25}[name])
