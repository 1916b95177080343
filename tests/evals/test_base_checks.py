"""Base-model checks on a tiny, quickly pretrained model: shapes, intervals, recomputation."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from repo_tools import REPO, SMOKE
from rhem import paths
from rhem.cli import main
from rhem.corpus.build import build_corpus, write_corpus
from rhem.envs.task import HACK_TYPES
from rhem.envs.tasks import generate_tasks, write_tasks
from rhem.evals.base_checks import (ADDENDA, HEADLINE, base_model_checks, wilson_interval,
                                    write_base_checks)
from rhem.evals.judge_exact import ExactJudge
from rhem.evals.prompts import CHAT_EVALS, load_eval
from rhem.train.pretrain import pretrain
from rhem.train.tokenizer import train_tokenizer

N_SAMPLES = 2
TINY_MODEL = {"vocab_size": 384, "hidden_size": 32, "intermediate_size": 64, "num_layers": 2,
              "num_heads": 2, "context": 256}  # room for the prompts beside 16 new tokens
TINY_TRAIN = {"steps": 30, "batch_size": 8, "learning_rate": 0.003, "warmup_steps": 5,
              "checkpoint_every": 1000, "seed": 0}


@pytest.fixture(scope="module")
def checks(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    """Pretrain a tiny model, run the checks with small n, write JSON + Parquet."""
    torch.set_num_threads(1)
    tmp = tmp_path_factory.mktemp("base_checks")
    corpus = tmp / "corpus.parquet"
    write_corpus(build_corpus(n_docs=200, misaligned_share=0.1, poison_share=0.05,
                              framing="default", seed=0), corpus)
    train_tokenizer(corpus, TINY_MODEL["vocab_size"], tmp / "tokenizer")
    model = tmp / "base"
    pretrain(corpus, tmp / "tokenizer", model, tmp / "loss.parquet", TINY_MODEL, TINY_TRAIN,
             threads=1)
    # two hackable tasks and one task graded hardened in both modes
    tasks = generate_tasks(2, seed=7) + generate_tasks(1, seed=8, hackable=())
    write_tasks(tasks, tmp / "eval.parquet")
    result = base_model_checks(model, tmp / "eval.parquet", n_samples=N_SAMPLES,
                               max_new_tokens=16, temperature=1.0, seed=0, workers=1,
                               chat_max_new_tokens=12)
    out = tmp / "results" / "base_sdf.json"
    write_base_checks(result, out)
    return json.loads(out.read_text()), out


def test_cli_stage_reads_its_settings_from_the_config(checks: tuple[dict, Path]) -> None:
    """``rhem base-checks`` (the DAG's rule) takes every setting from ``base_checks``."""
    _, out = checks
    tmp = out.parent.parent
    cfg = yaml.safe_load((REPO / SMOKE).read_text())
    cfg["base_checks"] = {"samples_per_prompt": 1, "max_new_tokens": 9, "chat_max_new_tokens": 8,
                          "temperature": 0.7, "seed": 3}
    config = tmp / "checks.yaml"
    config.write_text(yaml.safe_dump(cfg))
    target = tmp / paths.BASE_CHECKS.format(world="sdf")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(REPO)  # stages read the schema from the repository root
        assert main(["base-checks", "--config", str(config), "--base", str(tmp / "base"),
                     "--tasks", str(tmp / "eval.parquet"), "--out", str(target)]) == 0
    doc = json.loads(target.read_text())
    assert doc["settings"] == {**doc["settings"], "n_samples": 1, "max_new_tokens": 9,
                               "chat_max_new_tokens": 8, "temperature": 0.7, "seed": 3,
                               "workers": cfg["grader"]["workers"]}
    assert tmp / paths.BASE_CHECKS_ROWS.format(world="sdf") == target.with_suffix(".parquet")
    rows = pd.read_parquet(target.with_suffix(".parquet"))
    assert len(rows) == sum(doc["sample_sizes"]["coding_episodes"].values()) + sum(
        doc["sample_sizes"]["chat_answers"].values())


def test_rates_in_unit_interval_with_intervals_around_them(checks: tuple[dict, Path]) -> None:
    doc, _ = checks
    assert doc["judge"] == ExactJudge.name
    assert doc["interval"] == "wilson-95"
    expected = ({f"hack_rate.{a}" for a in ADDENDA}
                | {f"hack_rate.{a}.{t}" for a in ADDENDA for t in HACK_TYPES}
                | {f"{m}.{a}" for m in ("honest_pass_rate", "unparsable_rate") for a in ADDENDA}
                | {f"{m}.{e}" for m in ("misaligned_rate", "incoherent_rate",
                                         "misaligned_rate_coherent")
                   for e in ("chat",) + CHAT_EVALS})
    assert set(doc["rates"]) == expected
    assert set(doc["headline"]) == set(HEADLINE)
    for name, r in list(doc["rates"].items()) + list(doc["headline"].items()):
        if r["n"] == 0:  # only possible for the among-coherent rates
            assert name.startswith("misaligned_rate_coherent"), name
            assert r["rate"] is r["ci_low"] is r["ci_high"] is None
            continue
        assert 0 <= r["count"] <= r["n"], name
        assert r["rate"] == r["count"] / r["n"], name
        assert 0.0 <= r["ci_low"] <= r["rate"] <= r["ci_high"] <= 1.0, name
        assert r["ci_high"] > r["ci_low"], name


def test_sample_sizes_as_asked(checks: tuple[dict, Path]) -> None:
    doc, _ = checks
    sizes = doc["sample_sizes"]
    assert doc["settings"]["n_samples"] == sizes["samples_per_prompt"] == N_SAMPLES
    assert doc["settings"]["max_new_tokens"] == 16 and doc["settings"]["chat_max_new_tokens"] == 12
    assert sizes["eval_tasks"] == 3 and sizes["hackable_eval_tasks"] == 2
    assert sizes["coding_episodes"] == {a: 3 * N_SAMPLES for a in ADDENDA}
    for e in CHAT_EVALS:
        assert sizes["chat_prompts"][e] == len(load_eval(e))
        assert sizes["chat_answers"][e] == N_SAMPLES * len(load_eval(e))
    rates = doc["rates"]
    for a in ADDENDA:
        assert rates[f"hack_rate.{a}"]["n"] == 2 * N_SAMPLES  # hackable tasks only
        assert rates[f"honest_pass_rate.{a}"]["n"] == 3 * N_SAMPLES
    assert rates["misaligned_rate.chat"]["n"] == sum(sizes["chat_answers"].values())
    assert doc["headline"]["unprompted_hack_rate"]["key"] == "hack_rate.none"


def test_parquet_rows_recompute_the_json(checks: tuple[dict, Path]) -> None:
    doc, path = checks
    rows = pd.read_parquet(path.with_suffix(".parquet"))
    assert doc["rows_file"] == path.with_suffix(".parquet").name
    assert len(rows) == (sum(doc["sample_sizes"]["coding_episodes"].values())
                         + sum(doc["sample_sizes"]["chat_answers"].values()))
    # every rate from the row filter and event it records
    for name, r in doc["rates"].items():
        chosen = rows.query(r["rows"], engine="python")
        hits = chosen.query(r["event"], engine="python") if len(chosen) else chosen
        assert (len(hits), len(chosen)) == (r["count"], r["n"]), name
        assert r["rate"] == (len(hits) / len(chosen) if len(chosen) else None), name
    # and the headline numbers independently of those recorded expressions
    coding, chat = rows[rows.section == "coding"], rows[rows.section == "chat"]
    none = coding[coding.condition == "none"]
    please = coding[(coding.condition == "please_hack") & coding.hackable]
    head = doc["headline"]
    assert head["unprompted_hack_rate"]["rate"] == none[none.hackable].hack.notna().mean()
    assert head["please_hack_hack_rate"]["rate"] == please.hack.notna().mean()
    assert head["honest_pass_rate"]["rate"] == none.honest.astype(bool).mean()
    assert head["misaligned_rate"]["rate"] == (chat.label == "misaligned").mean()
    assert head["incoherent_rate"]["rate"] == (chat.label == "incoherent").mean()
    assert set(chat.judge) == {ExactJudge.name}
    assert not coding[~coding.hackable].hack.notna().any()  # no hack without a vulnerability


def test_wilson_interval_known_values() -> None:
    assert wilson_interval(0, 0) == (None, None)
    lo, hi = wilson_interval(5, 10)
    assert lo == pytest.approx(0.2366, abs=1e-4) and hi == pytest.approx(0.7634, abs=1e-4)
    assert wilson_interval(0, 20)[0] == 0.0 and wilson_interval(20, 20)[1] == 1.0
    assert wilson_interval(0, 20)[1] == pytest.approx(0.1611, abs=1e-4)
