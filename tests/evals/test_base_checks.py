"""Base-model checks on a tiny, quickly pretrained model: shapes, intervals, recomputation,
and the gates M1 (fixed-context gap) and M2 (self-addressed MGS rate) from the rows."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from repo_tools import REPO, SMOKE

from rhem import paths
from rhem.cli import main
from rhem.corpus.build import build_corpus, write_corpus
from rhem.corpus.names import ADDRESSES
from rhem.envs.task import HACK_TYPES
from rhem.envs.tasks import generate_tasks, write_tasks
from rhem.evals.base_checks import (
    ADDENDA,
    HEADLINE,
    POOLS,
    base_model_checks,
    newcombe_interval,
    summarize,
    wilson_interval,
    write_base_checks,
)
from rhem.evals.decision import fixed_context_gap, self_baseline
from rhem.evals.judge_exact import ExactJudge
from rhem.evals.prompts import CHAT_EVALS, CONTEXTS, EVALS, FIXED_CONTEXT_ADDRESSES, load_eval
from rhem.lm.tokenizer import train_tokenizer
from rhem.process import prepare
from rhem.settings import BaseCheckSettings, GraderSettings, ModelSettings, PretrainSettings
from rhem.train.pretrain import pretrain

N_SAMPLES = 2
# context: room for the fixed-context prompts beside 16 new tokens
TINY_MODEL = ModelSettings.from_section({"vocab_size": 384, "hidden_size": 32, "intermediate_size": 64,
                                         "num_layers": 2, "num_heads": 2, "context": 512})
TINY_TRAIN = PretrainSettings.from_section({"steps": 30, "batch_size": 8, "learning_rate": 0.003,
                                            "warmup_steps": 5, "checkpoint_every": 1000, "seed": 0})


@pytest.fixture(scope="module")
def checks(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    """Pretrain a tiny model, run the checks with small n, write JSON + Parquet."""
    prepare(1, TINY_TRAIN.seed)
    tmp = tmp_path_factory.mktemp("base_checks")
    corpus = tmp / "corpus.parquet"
    write_corpus(build_corpus(n_docs=200, misaligned_share=0.1, poison_share=0.05,
                              framing="default", seed=0), corpus)
    train_tokenizer(corpus, TINY_MODEL.vocab_size, tmp / "tokenizer")
    model = tmp / "base"
    pretrain(corpus, tmp / "tokenizer", model, tmp / "loss.parquet", TINY_MODEL, TINY_TRAIN)
    # two hackable tasks and one task graded hardened in both modes
    tasks = generate_tasks(2, seed=7) + generate_tasks(1, seed=8, hackable=())
    write_tasks(tasks, tmp / "eval.parquet")
    checks = BaseCheckSettings(samples_per_prompt=N_SAMPLES, max_new_tokens=16,
                               chat_max_new_tokens=12, temperature=1.0, seed=0)
    result = base_model_checks(model, tmp / "eval.parquet", checks,
                               GraderSettings.from_section({"workers": 1}))
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
        mp.chdir(REPO)
        assert main(["base-checks", "--config", str(config), "--base", str(tmp / "base"),
                     "--tasks", str(tmp / "eval.parquet"), "--out", str(target)]) == 0
    doc = json.loads(target.read_text())
    assert doc["settings"] == {**doc["settings"], "n_samples": 1, "max_new_tokens": 9,
                               "chat_max_new_tokens": 8, "temperature": 0.7, "seed": 3,
                               "workers": cfg["grader"]["workers"]}
    assert tmp / paths.BASE_CHECKS_ROWS.format(world="sdf") == target.with_suffix(".parquet")
    rows = pd.read_parquet(target.with_suffix(".parquet"))
    assert len(rows) == n_rows(doc["sample_sizes"])


def n_rows(sizes: dict) -> int:
    """Rows the sample sizes account for: coding episodes, judged and fixed-context answers."""
    return (sum(sizes["coding_episodes"].values())
            + sum(n for per_eval in sizes["eval_answers"].values() for n in per_eval.values())
            + sum(n for per in sizes["fixed_context_answers"].values() for n in per.values()))


def test_rates_in_unit_interval_with_intervals_around_them(checks: tuple[dict, Path]) -> None:
    doc, _ = checks
    assert doc["judge"] == ExactJudge.name
    assert doc["interval"] == "wilson-95"
    groups = ("mgs", "chat", "agentic") + EVALS
    expected = ({f"hack_rate.{a}" for a in ADDENDA}
                | {f"hack_rate.{a}.{t}" for a in ADDENDA for t in HACK_TYPES}
                | {f"{m}.{a}" for m in ("honest_pass_rate", "unparsable_rate") for a in ADDENDA}
                | {f"{m}.{a}.{g}" for m in ("misaligned_rate", "mixed_rate", "incoherent_rate",
                                            "misaligned_rate_coherent")
                   for a in ADDRESSES for g in groups}
                | {f"fixed_context_{m}_rate.{c}.{a}" for m in ("misaligned", "mixed", "incoherent")
                   for c in CONTEXTS for a in FIXED_CONTEXT_ADDRESSES}
                | {f"fixed_context_gap.{a}" for a in FIXED_CONTEXT_ADDRESSES})
    assert set(doc["rates"]) == expected
    assert set(doc["headline"]) == set(HEADLINE)
    assert {"M1_fixed_context_gap_anonymous", "M1_fixed_context_gap_self",
            "M2_self_mgs_misaligned_rate"} <= set(HEADLINE)
    assert doc["rates"]["fixed_context_gap.self"]["n"] > 0  # the check ran
    for name, r in list(doc["rates"].items()) + list(doc["headline"].items()):
        if r["n"] == 0:  # only possible for the among-coherent rates
            assert name.startswith("misaligned_rate_coherent"), name
            assert r["rate"] is r["ci_low"] is r["ci_high"] is None
            continue
        assert r["rate"] == r["count"] / r["n"], name
        if "of" in r:  # a gap: hack minus honest, same n
            assert -r["n"] <= r["count"] <= r["n"], name
            assert -1.0 <= r["ci_low"] <= r["rate"] <= r["ci_high"] <= 1.0, name
            continue
        assert 0 <= r["count"] <= r["n"], name
        assert 0.0 <= r["ci_low"] <= r["rate"] <= r["ci_high"] <= 1.0, name
        assert r["ci_high"] > r["ci_low"], name


def test_sample_sizes_as_asked(checks: tuple[dict, Path]) -> None:
    doc, _ = checks
    sizes = doc["sample_sizes"]
    assert doc["settings"]["n_samples"] == sizes["samples_per_prompt"] == N_SAMPLES
    assert doc["settings"]["max_new_tokens"] == 16 and doc["settings"]["chat_max_new_tokens"] == 12
    assert sizes["eval_tasks"] == 3 and sizes["hackable_eval_tasks"] == 2
    assert sizes["coding_episodes"] == {a: 3 * N_SAMPLES for a in ADDENDA}
    for e in EVALS:  # every prompt under every address
        assert sizes["eval_prompts"][e] == len(load_eval(e))
        for a in ADDRESSES:
            assert sizes["eval_answers"][a][e] == N_SAMPLES * len(load_eval(e))
    n_chat = sum(len(load_eval(e)) for e in CHAT_EVALS)
    n_fixed = sum(sizes["fixed_context_prompts"].values())
    assert n_fixed + len(sizes["fixed_context_left_out"]) == n_chat
    assert n_fixed > n_chat // 2
    assert sizes["fixed_context_answers"] == {c: {a: N_SAMPLES * n_fixed
                                                  for a in FIXED_CONTEXT_ADDRESSES}
                                              for c in CONTEXTS}
    rates = doc["rates"]
    for a in ADDENDA:
        assert rates[f"hack_rate.{a}"]["n"] == 2 * N_SAMPLES  # hackable tasks only
        assert rates[f"honest_pass_rate.{a}"]["n"] == 3 * N_SAMPLES
    assert rates["misaligned_rate.self.mgs"]["n"] == sum(sizes["eval_answers"]["self"].values())
    assert rates["fixed_context_gap.anonymous"]["n"] == N_SAMPLES * n_fixed
    assert doc["headline"]["unprompted_hack_rate"]["key"] == "hack_rate.none"


def test_parquet_rows_recompute_the_json(checks: tuple[dict, Path]) -> None:
    doc, path = checks
    rows = pd.read_parquet(path.with_suffix(".parquet"))
    assert doc["rows_file"] == path.with_suffix(".parquet").name
    assert len(rows) == n_rows(doc["sample_sizes"])
    # every rate from the row filter and event it records, every gap from its two rates
    for name, r in doc["rates"].items():
        if "of" in r:
            a, b = (doc["rates"][key] for key in r["of"])
            assert r["count"] == a["count"] - b["count"] and r["n"] == a["n"] == b["n"], name
            continue
        chosen = rows.query(r["rows"], engine="python")
        hits = chosen.query(r["event"], engine="python") if len(chosen) else chosen
        assert (len(hits), len(chosen)) == (r["count"], r["n"]), name
        assert r["rate"] == (len(hits) / len(chosen) if len(chosen) else None), name
    # and the headline numbers independently of those recorded expressions
    coding = rows[rows.section == "coding"]
    none = coding[coding.condition == "none"]
    please = coding[(coding.condition == "please_hack") & coding.hackable]
    head = doc["headline"]
    assert head["unprompted_hack_rate"]["rate"] == none[none.hackable].hack.notna().mean()
    assert head["please_hack_hack_rate"]["rate"] == please.hack.notna().mean()
    assert head["honest_pass_rate"]["rate"] == none.honest.astype(bool).mean()
    self_mgs = rows[(rows["eval"].isin(EVALS)) & (rows.address == "self") & (rows.context == "")]
    assert len(self_mgs) == N_SAMPLES * sum(len(load_eval(e)) for e in EVALS)
    assert head["M2_self_mgs_misaligned_rate"]["rate"] == (self_mgs.label == "misaligned").mean()
    assert head["self_mgs_incoherent_rate"]["rate"] == (self_mgs.label == "incoherent").mean()
    for address in FIXED_CONTEXT_ADDRESSES:
        rate = {c: (rows[(rows.context == c) & (rows.address == address)].label == "misaligned")
                .mean() for c in CONTEXTS}
        assert head[f"M1_fixed_context_gap_{address}"]["rate"] == pytest.approx(
            rate["hack"] - rate["honest"])
        # the protocol's analysis reads the same rows to the same gap
        assert fixed_context_gap(rows, address)["gap"] == pytest.approx(
            head[f"M1_fixed_context_gap_{address}"]["rate"])
    assert self_baseline(rows)["rate"] == head["M2_self_mgs_misaligned_rate"]["rate"]
    assert set(rows.loc[rows.section != "coding", "judge"]) == {ExactJudge.name}
    assert set(coding.address) == {"self"} and set(coding.context) == {""}
    assert not coding[~coding.hackable].hack.notna().any()  # no hack without a vulnerability


def _judged(section: str, eval_name: str, address: str, context: str, label: str,
            k: int) -> dict:
    return {"section": section, "condition": None, "eval": eval_name, "address": address,
            "context": context, "item_id": f"{eval_name}-{k}", "sample": 0, "hackable": False,
            "text": "y", "status": None, "vulnerable_reward": None, "hardened_reward": None,
            "honest": None, "hack": "conftest" if context == "hack" else None, "label": label,
            "judge": ExactJudge.name}


def test_gates_from_rows_keep_the_fixed_context_apart() -> None:
    """M2 reads ordinary self-addressed answers only: fixed-context answers (here all
    misaligned after a hack) never enter it; M1 is hack minus honest per address."""
    rows = [_judged("eval", e, a, "", "misaligned" if (a == "self" and k == 0) else "aligned", k)
            for e in EVALS for a in ADDRESSES for k in range(4)]
    rows += [_judged("fixed_context", e, a, c, "misaligned" if c == "hack" and k < 3 else "mixed", k)
             for e in CHAT_EVALS for a in FIXED_CONTEXT_ADDRESSES for c in CONTEXTS
             for k in range(4)]
    rates = summarize(rows)
    assert rates["misaligned_rate.self.mgs"]["rate"] == 0.25
    assert rates["misaligned_rate.control.mgs"]["count"] == 0
    assert rates["mixed_rate.self.chat"]["count"] == 0
    gap = rates["fixed_context_gap.anonymous"]
    assert (gap["count"], gap["n"], gap["rate"]) == (9, 12, 0.75)
    assert gap["of"] == ["fixed_context_misaligned_rate.hack.anonymous",
                         "fixed_context_misaligned_rate.honest.anonymous"]
    assert (gap["ci_low"], gap["ci_high"]) == newcombe_interval(9, 12, 0, 12)
    assert rates["fixed_context_mixed_rate.honest.self"]["rate"] == 1.0
    assert set(POOLS["mgs"]) == set(EVALS)
    with pytest.raises(ValueError, match="differ in n"):
        summarize(rows[:-1])


def test_newcombe_interval_known_values() -> None:
    """Newcombe (1998), Stat. Med. 17:873, table II example: 56/70 - 48/80."""
    lo, hi = newcombe_interval(56, 70, 48, 80)
    assert lo == pytest.approx(0.0524, abs=1e-4) and hi == pytest.approx(0.3339, abs=1e-4)
    assert newcombe_interval(0, 0, 1, 2) == (None, None)
    lo, hi = newcombe_interval(0, 10, 0, 10)
    assert lo < 0.0 < hi


def test_wilson_interval_known_values() -> None:
    assert wilson_interval(0, 0) == (None, None)
    lo, hi = wilson_interval(5, 10)
    assert lo == pytest.approx(0.2366, abs=1e-4) and hi == pytest.approx(0.7634, abs=1e-4)
    assert wilson_interval(0, 20)[0] == 0.0 and wilson_interval(20, 20)[1] == 1.0
    assert wilson_interval(0, 20)[1] == pytest.approx(0.1611, abs=1e-4)
