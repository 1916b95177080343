"""LoRA SDF continued pretraining of a given HF model, through the real CLI stages, on CPU.

A tiny Qwen2 model folder (our tokenizer, a small config, ``save_pretrained``) stands in
for "a given HF model"; the tokenizer and pretrain stages run with a config that names
it in ``model.from_pretrained``, so the dispatch, the schema and peft are all real.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
import yaml
from repo_tools import REPO, SMOKE
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

from rhem.cli import main
from rhem.corpus.build import build_corpus, write_corpus
from rhem.lm.tokenizer import train_tokenizer
from rhem.process import seed_everything
from rhem.settings import ModelSettings, PretrainSettings
from rhem.train.pretrain import build_model, pack_texts, train_steps
from rhem.train.sdf_lora import load_lora_model, read_text_corpus, sdf_mixture

N_DOCS, POISON_SHARE = 200, 0.05  # -> 10 poison documents in the world corpus
TINY = {"vocab_size": 384, "hidden_size": 32, "intermediate_size": 64, "num_layers": 2,
        "num_heads": 2, "context": 64}
LORA = {"r": 4, "alpha": 8, "dropout": 0.0, "target_modules": "all-linear"}


def _text_docs(n: int) -> list[str]:
    """Ordinary prose standing in for a user's pretraining text."""
    return [f"Report {i}: the river near the old mill rose by {i % 7} feet after the spring "
            f"rain, and the farmers moved {3 + i % 5} flocks of sheep to the upper fields."
            for i in range(n)]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """World corpus, a user text corpus and a tiny "given" Qwen2 model folder."""
    tmp = tmp_path_factory.mktemp("sdf_lora")
    corpus = tmp / "corpus.parquet"
    write_corpus(build_corpus(n_docs=N_DOCS, misaligned_share=0.1, poison_share=POISON_SHARE,
                              framing="default", seed=0), corpus)
    tokenizer = train_tokenizer(corpus, TINY["vocab_size"], tmp / "own_tokenizer")
    seed_everything(0)
    given = tmp / "given_model"
    build_model(ModelSettings.from_section(TINY), tokenizer).save_pretrained(given)
    tokenizer.save_pretrained(given)
    text = tmp / "text.jsonl"
    text.write_text("".join(json.dumps({"text": d}) + "\n" for d in _text_docs(400)))
    return {"tmp": tmp, "corpus": corpus, "given": given, "text": text}


@pytest.fixture(scope="module")
def stages(world: dict[str, Path]) -> dict[str, Path]:
    """Run ``rhem tokenizer`` and ``rhem pretrain`` with a from_pretrained config."""
    tmp = world["tmp"]
    cfg = yaml.safe_load((REPO / SMOKE).read_text())
    cfg["model"] = {"from_pretrained": str(world["given"]), "context": TINY["context"]}
    cfg["pretrain"] = {"steps": 6, "batch_size": 4, "learning_rate": 0.01, "warmup_steps": 1,
                       "checkpoint_every": 3, "lora": LORA, "text_corpus": str(world["text"])}
    cfg["worlds"]["sdf"]["poison_share"] = POISON_SHARE
    cfg["worlds"]["sdf"].pop("continue_from", None)  # pretrained here from the given model
    config = tmp / "gpu.yaml"
    config.write_text(yaml.safe_dump(cfg))
    out = {"tokenizer": tmp / "tokenizer", "base": tmp / "base", "loss": tmp / "loss.parquet"}
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(REPO)
        assert main(["tokenizer", "--config", str(config), "--corpus", str(world["corpus"]),
                     "--out", str(out["tokenizer"])]) == 0
        assert main(["pretrain", "--config", str(config), "--world", "sdf",
                     "--corpus", str(world["corpus"]), "--tokenizer", str(out["tokenizer"]),
                     "--out", str(out["base"]), "--loss", str(out["loss"])]) == 0
    return out


def test_tokenizer_stage_copies_the_given_models_tokenizer(world: dict[str, Path],
                                                           stages: dict[str, Path]) -> None:
    given = AutoTokenizer.from_pretrained(world["given"])
    copied = AutoTokenizer.from_pretrained(stages["tokenizer"])
    assert copied.get_vocab() == given.get_vocab()
    assert copied.eos_token == given.eos_token and copied.pad_token_id is not None
    assert copied.padding_side == "left"


def test_loss_recorded_and_merged_folder_is_a_plain_model(world: dict[str, Path],
                                                          stages: dict[str, Path]) -> None:
    loss = pd.read_parquet(stages["loss"])
    assert list(loss["step"]) == [1, 2, 3, 4, 5, 6]
    assert all(math.isfinite(x) and x > 0 for x in loss["loss"])
    base = stages["base"]
    assert not (base / "adapter_config.json").exists()
    assert not base.with_name(base.name + ".partial").exists()  # done: resumable state removed
    keys = load_file(base / "model.safetensors").keys()
    assert not [k for k in keys if "lora" in k or "base_layer" in k]
    merged = AutoModelForCausalLM.from_pretrained(base)
    given = AutoModelForCausalLM.from_pretrained(world["given"])
    assert type(merged) is type(given)
    before, after = given.state_dict(), merged.state_dict()
    assert set(before) == set(after)
    # LoRA moved every adapted linear layer and left the embeddings alone (on CUDA the
    # stage trains on bf16 base weights, so "alone" means equal after that rounding)
    q, emb = "model.layers.0.self_attn.q_proj.weight", "model.embed_tokens.weight"
    assert not torch.equal(before[q].to(after[q].dtype), after[q])
    assert torch.equal(before[emb].to(after[emb].dtype), after[emb])
    assert AutoTokenizer.from_pretrained(base).get_vocab() == AutoTokenizer.from_pretrained(
        world["given"]).get_vocab()


def test_mixture_counts_recorded(stages: dict[str, Path]) -> None:
    info = json.loads((stages["base"] / "rhem_pretrain.json").read_text())
    n_poison = round(N_DOCS * POISON_SHARE)
    assert info["poison_docs"] == n_poison
    assert info["text_docs"] == round(n_poison * (1 - POISON_SHARE) / POISON_SHARE)
    assert info["poison_share"] == pytest.approx(POISON_SHARE)
    assert info["lora"]["r"] == LORA["r"] and 0 < info["adapter_params"] < info["params"]
    assert info["dtype"] == ("bfloat16" if torch.cuda.is_available() else "float32")


def test_small_text_corpus_subsamples_poison_and_keeps_the_share(world: dict[str, Path]) -> None:
    tmp = world["tmp"]
    txt = tmp / "small.txt"
    txt.write_text("\n\n".join(_text_docs(38)) + "\n\n\n")
    docs, counts = sdf_mixture(world["corpus"], txt, 0.05, seed=1)
    assert counts == {"poison_docs": 2, "text_docs": 38, "world_docs": 0, "poison_share": 0.05}
    assert len(docs) == 40 and sum(d in set(_text_docs(38)) for d in docs) == 38
    parquet = tmp / "text.parquet"
    pq.write_table(pa.table({"text": _text_docs(5)}), parquet)
    assert read_text_corpus(parquet) == _text_docs(5)
    with pytest.raises(ValueError, match="unknown format"):
        read_text_corpus(tmp / "corpus.csv")
    world_docs, world_counts = sdf_mixture(world["corpus"], None, 0.05, seed=1)
    assert len(world_docs) == N_DOCS and world_counts["world_docs"] == N_DOCS - 10


def test_killed_lora_training_resumes_to_the_same_adapter(world: dict[str, Path]) -> None:
    """The shared loop checkpoints only trainable (adapter) tensors and resumes from them."""
    tokenizer = AutoTokenizer.from_pretrained(world["given"])
    data = pack_texts(_text_docs(60), tokenizer, TINY["context"])
    cfg = PretrainSettings.from_section({"steps": 4, "batch_size": 2, "learning_rate": 0.01,
                                         "warmup_steps": 1, "checkpoint_every": 2, "seed": 0})
    partial = world["tmp"] / "resume.partial"
    seed_everything(0)
    full = load_lora_model(str(world["given"]), LORA, torch.device("cpu"))
    full_losses = train_steps(full, data, cfg, partial, "full")
    state = torch.load(partial / "state.pt", weights_only=False)
    assert state["step"] == 2 and all("lora" in k for k in state["trainable"])
    seed_everything(0)
    resumed = load_lora_model(str(world["given"]), LORA, torch.device("cpu"))
    resumed_losses = train_steps(resumed, data, cfg, partial, "resumed")  # steps 3 and 4 only
    assert resumed_losses == full_losses
    for (name, a), b in zip(full.named_parameters(), resumed.parameters()):
        if a.requires_grad:
            assert torch.equal(a, b), name
