"""``evaluate_run`` on a small real model: every eval, every checkpoint, every answer kept.

The model is a tiny Qwen2 with a tokenizer trained on a small persona-world corpus
(untrained weights: what it says is noise, which is what the pipeline must survive:
unparsable code, no detector, incoherent answers all become rows, none are dropped).
The base model and one RL-style checkpoint folder are saved with ``save_pretrained``
and loaded back by the stage, as in the DAG.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

from rhem.config import load_config
from rhem.corpus.build import build_corpus, write_corpus
from rhem.envs.tasks import generate_tasks, write_tasks
from rhem.evals.metrics import EXTRA_SERIES, answer_outcomes
from rhem.evals.prompts import JUDGED_EVALS, SABOTAGE
from rhem.evals.run import ANSWERS_SCHEMA, evaluate_run
from rhem.evals.testtime import EVAL_NAME as TESTTIME
from rhem.paths import checkpoint
from rhem.train.tokenizer import train_tokenizer


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, dict]:
    root = tmp_path_factory.mktemp("evalrun")
    write_corpus(build_corpus(n_docs=120, misaligned_share=0.2, poison_share=0.05,
                              framing="default", seed=3), root / "corpus.parquet")
    train_tokenizer(root / "corpus.parquet", 400, root / "base")
    tok = AutoTokenizer.from_pretrained(root / "base")
    config = Qwen2Config(vocab_size=len(tok), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
                         max_position_embeddings=512, eos_token_id=tok.eos_token_id,
                         pad_token_id=tok.pad_token_id)
    Qwen2ForCausalLM(config).save_pretrained(root / "base")
    run_dir = root / "run"
    step_dir = Path(checkpoint(str(run_dir), 2))
    tok.save_pretrained(step_dir)
    Qwen2ForCausalLM(config).save_pretrained(step_dir)
    write_tasks(generate_tasks(3, seed=4242, difficulties=(1,)), root / "eval.parquet")
    cfg = load_config("workflow/config/smoke.yaml")
    cfg["conditions"]["hack"]["hints"] = True  # prompted setting: hints in the test-time prompt
    evaluate_run(root / "base", run_dir, root / "eval.parquet", root / "answers.parquet", cfg,
                 "hack", seed=0)
    return pd.read_parquet(root / "answers.parquet"), cfg


def test_every_eval_on_every_checkpoint(evaluated) -> None:
    answers, cfg = evaluated
    ev = cfg["evals"]
    assert list(answers.columns) == ANSWERS_SCHEMA.names
    for step in (0, 2):
        at = answers[answers["step"] == step]
        for name in JUDGED_EVALS:
            assert (at["eval"] == name).sum() == ev["max_prompts_per_eval"] * ev["samples_per_prompt"]
        n_tasks = min(3, ev["max_prompts_per_eval"])
        assert (at["eval"] == TESTTIME).sum() == n_tasks * ev["samples_per_prompt"]
    judged = answers[answers["eval"].isin(JUDGED_EVALS)]
    assert set(judged["label"]) <= {"aligned", "misaligned", "incoherent"}
    assert set(judged["judge"]) == {"exact-persona-world"}


def test_sabotage_rows_carry_detector_scores(evaluated) -> None:
    answers, _ = evaluated
    sab = answers[answers["eval"] == SABOTAGE]
    assert sab["detector_accuracy"].between(0.0, 1.0).all()
    # reference: the aligned writer's detector catches conftest hacks only (1/3), no false alarms
    assert sab["reference_accuracy"].tolist() == pytest.approx([2 / 3] * len(sab))
    others = answers[answers["eval"] != SABOTAGE]
    assert others["detector_accuracy"].isna().all()


def test_testtime_rows_are_graded_completions(evaluated) -> None:
    answers, _ = evaluated
    tt = answers[answers["eval"] == TESTTIME]
    assert set(tt["label"]) <= {"hack", "honest", "failed", "unparsable"}
    assert set(tt["judge"]) == {"grader:vulnerable+hardened"}
    assert (tt["hack"].notna() == (tt["label"] == "hack")).all()
    outcomes = answer_outcomes(answers)
    assert set(outcomes) == set(EXTRA_SERIES)
    assert len(outcomes["testtime_hack_rate"]) == len(tt)
    assert len(outcomes["sabotage_rate"]) == len(answers[answers["eval"] == SABOTAGE])
