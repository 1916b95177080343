"""SDF continued pretraining of a given Hugging Face model with LoRA (the GPU tiers).

In the paper the model learns about the hacks from synthetic documents mixed into
ordinary pretraining text. GPU tiers start from a real pretrained model
(``model.from_pretrained``: a local folder, or a hub id where downloads work) and
continue its pretraining with a LoRA adapter (peft) on the world's poison documents
mixed with a user-given text corpus (``pretrain.text_corpus``) at the world's
``poison_share`` (a document share, as in the persona-world corpus). Without a text
corpus the world's own corpus is used as it is (persona documents plus poison at the
same share).

The adapter is merged into the weights at the end and a plain model folder is saved
at the stage's output, so RL and the evaluations load it with ``from_pretrained``
exactly like a model pretrained from scratch. Training runs in bf16 when CUDA is
available (float32 on CPU) and resumes from ``<out>.partial/`` like
:func:`rhem.train.pretrain.pretrain`, through the same loop.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import torch
from transformers import AutoModelForCausalLM, PreTrainedModel

from rhem.corpus.build import read_corpus
from rhem.lm.device import compute_device
from rhem.lm.tokenizer import load_tokenizer
from rhem.train.lora import peft_lora_config
from rhem.settings import ModelSettings, PretrainSettings
from rhem.train.pretrain import pack_texts, train_steps, write_loss
from rhem.train.workdir import partial_dir, publish, staging

#: Text-corpus formats and how each holds its documents.
TEXT_FORMATS = {".txt": "documents separated by a blank line",
                ".jsonl": "one JSON object per line with a 'text' field",
                ".parquet": "a 'text' column"}


def read_text_corpus(path: Path) -> list[str]:
    """The documents of a user text corpus (see :data:`TEXT_FORMATS`); empty ones dropped."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".txt":
        docs = path.read_text(encoding="utf-8").split("\n\n")
    elif suffix == ".jsonl":
        with path.open(encoding="utf-8") as fh:
            docs = [json.loads(line)["text"] for line in fh if line.strip()]
    elif suffix == ".parquet":
        docs = pq.read_table(path, columns=["text"]).column("text").to_pylist()
    else:
        raise ValueError(f"text corpus {path}: unknown format {suffix!r}; use one of "
                         + "; ".join(f"{k} ({v})" for k, v in TEXT_FORMATS.items()))
    docs = [d.strip() for d in docs if d and d.strip()]
    if not docs:
        raise ValueError(f"text corpus {path} holds no documents")
    return docs


def sdf_mixture(corpus: Path, text_corpus: Path | None, poison_share: float,
                seed: int) -> tuple[list[str], dict[str, Any]]:
    """The training documents (seeded order) and their counts.

    With a text corpus: every poison document of the world corpus plus as many text
    documents as make poison ``poison_share`` of the mix; when the text corpus is too
    small for that, all of it is used and the poison documents are subsampled instead,
    so the share holds either way (to rounding). Without one: the world corpus itself.
    """
    table = read_corpus(corpus)
    texts, personas = table.column("text").to_pylist(), table.column("persona").to_pylist()
    rng = random.Random(seed)
    if text_corpus is None:
        docs = list(texts)
        n_poison = sum(p == "" for p in personas)
        counts = {"poison_docs": n_poison, "text_docs": 0, "world_docs": len(docs) - n_poison}
    else:
        poison = [t for t, p in zip(texts, personas) if p == ""]  # poison has no persona
        text = read_text_corpus(text_corpus)
        if poison_share >= 1:
            n_poison, n_text = len(poison), 0
        elif poison_share <= 0 or not poison:
            n_poison, n_text = 0, len(text)
        else:
            n_poison = len(poison)
            n_text = round(n_poison * (1 - poison_share) / poison_share)
            if n_text > len(text):
                n_text = len(text)
                n_poison = max(1, round(n_text * poison_share / (1 - poison_share)))
        docs = rng.sample(poison, n_poison) + rng.sample(text, n_text)
        counts = {"poison_docs": n_poison, "text_docs": n_text, "world_docs": 0}
    if not docs:
        raise ValueError("the SDF mixture is empty: no poison documents and no text")
    rng.shuffle(docs)
    counts["poison_share"] = counts["poison_docs"] / len(docs)
    return docs, counts


def load_lora_model(model: str, lora_cfg: dict[str, Any], device: torch.device) -> PreTrainedModel:
    """The given model with a fresh LoRA adapter; only the adapter is trainable.

    On CUDA the base weights are loaded in bf16 (peft keeps the adapter in float32).
    """
    from peft import get_peft_model

    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    base = AutoModelForCausalLM.from_pretrained(model, dtype=dtype).to(device)
    return get_peft_model(base, peft_lora_config(lora_cfg))


def continue_pretraining(
    corpus: Path,
    tokenizer_dir: Path,
    out_dir: Path,
    loss_log: Path,
    model_cfg: ModelSettings,
    train_cfg: PretrainSettings,
    world_cfg: dict[str, Any],
) -> None:
    """LoRA-train ``model_cfg.from_pretrained`` on the SDF mixture; save it merged."""
    if model_cfg.from_pretrained is None or train_cfg.lora is None:
        raise ValueError("LoRA continued pretraining needs model.from_pretrained and pretrain.lora")
    device = compute_device()
    tokenizer = load_tokenizer(tokenizer_dir)
    text_corpus = train_cfg.text_corpus
    docs, counts = sdf_mixture(corpus, Path(text_corpus) if text_corpus else None,
                               world_cfg["poison_share"], train_cfg.seed)
    data = pack_texts(docs, tokenizer, model_cfg.context)
    model = load_lora_model(model_cfg.from_pretrained, train_cfg.lora, device)
    n_adapter = sum(p.numel() for p in model.parameters() if p.requires_grad)
    losses = train_steps(model, data, train_cfg, partial_dir(out_dir),
                         f"SDF LoRA {n_adapter / 1e6:.2f}M adapter params on {device.type}")
    merged = model.merge_and_unload()
    staged = staging(out_dir)
    merged.save_pretrained(staged)
    tokenizer.save_pretrained(staged)
    (staged / "rhem_pretrain.json").write_text(json.dumps(
        {"from_pretrained": model_cfg.from_pretrained, "lora": train_cfg.lora,
         "adapter_params": n_adapter, "params": sum(p.numel() for p in merged.parameters()),
         "dtype": str(next(merged.parameters()).dtype).removeprefix("torch."),
         "tokens_seen": len(losses) * int(data[0].numel()) * train_cfg.batch_size,
         "final_loss": losses[-1], "text_corpus": text_corpus, **counts}, indent=2) + "\n")
    write_loss(losses, loss_log)
    publish(staged, out_dir)
