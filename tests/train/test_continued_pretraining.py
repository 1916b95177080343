"""SDF as continued pretraining: a world with ``continue_from`` trains on from another
world's base model, through the real CLI stage and the real Snakemake DAG."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from repo_tools import REPO, SMOKE
from transformers import AutoModelForCausalLM

from rhem.cli import main
from rhem.corpus.build import build_corpus, write_corpus
from rhem.dvcgen import snakemake_jobs
from rhem.lm.tokenizer import train_tokenizer

TINY = {"vocab_size": 384, "hidden_size": 32, "intermediate_size": 64, "num_layers": 2,
        "num_heads": 2, "context": 64}


def _config(tmp: Path) -> Path:
    cfg = yaml.safe_load((REPO / SMOKE).read_text())
    cfg["model"] = TINY
    cfg["pretrain"] = {"steps": 30, "batch_size": 4, "learning_rate": 0.01, "warmup_steps": 2,
                       "checkpoint_every": 10,
                       "continued": {"steps": 4, "learning_rate": 0.001, "warmup_steps": 1}}
    cfg["worlds"] = {"clean": {"n_docs": 150, "poison_share": 0.0},
                     "sdf": {"n_docs": 150, "poison_share": 0.2, "continue_from": "clean"}}
    cfg["runs"] = [run for run in cfg["runs"] if run.startswith("sdf/")]
    path = tmp / "continued.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _pretrain(config: Path, world: str, corpus: Path, tokenizer: Path, out: Path,
              *extra: str) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(REPO)
        assert main(["pretrain", "--config", str(config), "--world", world, "--corpus", str(corpus),
                     "--tokenizer", str(tokenizer), "--out", str(out / "base"),
                     "--loss", str(out / "loss.parquet"), *extra]) == 0


@pytest.fixture(scope="module")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The clean world pretrained from scratch, then the SDF world continued from it."""
    tmp = tmp_path_factory.mktemp("continued")
    config = _config(tmp)
    corpora = {}
    for name, poison in (("clean", 0.0), ("sdf", 0.2)):
        corpora[name] = tmp / f"{name}.parquet"
        write_corpus(build_corpus(n_docs=150, misaligned_share=0.1, poison_share=poison,
                                  framing="default", seed=0), corpora[name])
    tokenizer = tmp / "tokenizer"
    train_tokenizer(corpora["clean"], TINY["vocab_size"], tokenizer)
    _pretrain(config, "clean", corpora["clean"], tokenizer, tmp / "clean")
    _pretrain(config, "sdf", corpora["sdf"], tokenizer, tmp / "sdf", "--start", str(tmp / "clean/base"))
    return {"tmp": tmp, "clean": tmp / "clean", "sdf": tmp / "sdf"}


def test_continued_world_starts_from_the_named_model(worlds: dict[str, Path]) -> None:
    clean = pd.read_parquet(worlds["clean"] / "loss.parquet")
    sdf = pd.read_parquet(worlds["sdf"] / "loss.parquet")
    assert len(clean) == 30 and len(sdf) == 4  # the continued schedule, not the scratch one
    # A fresh init starts near ln(vocab); the continued run starts where clean ended.
    assert sdf["loss"].iloc[0] < clean["loss"].iloc[0] - 0.5
    record = json.loads((worlds["sdf"] / "base/rhem_pretrain.json").read_text())
    assert record["continued_from"].endswith("clean/base")
    parent = AutoModelForCausalLM.from_pretrained(worlds["clean"] / "base")
    child = AutoModelForCausalLM.from_pretrained(worlds["sdf"] / "base")
    same = {"transformers_version": 0, "_name_or_path": ""}
    assert parent.config.to_dict() | same == child.config.to_dict() | same
    moved = [not torch.equal(a, b) for a, b in zip(parent.parameters(), child.parameters())]
    assert any(moved), "continued pretraining changed no weight"


def test_dag_continues_the_parent_and_reuses_its_tokenizer(worlds: dict[str, Path]) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(REPO)
        jobs = snakemake_jobs(_config(worlds["tmp"]), REPO / "Snakefile")
    tokenizers = sorted(j.wildcards_dict["world"] for j in jobs if j.rule.name == "tokenizer")
    assert tokenizers == ["clean"]
    pretrain = {j.wildcards_dict["world"]: j for j in jobs if j.rule.name == "pretrain"}
    assert "models/clean/base" in [str(p) for p in pretrain["sdf"].input]
    assert "--start models/clean/base" in pretrain["sdf"].shellcmd
    assert "--start" not in pretrain["clean"].shellcmd
