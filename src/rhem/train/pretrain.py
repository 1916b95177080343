"""Pretrain the small causal LM of a persona world on CPU.

The model is a Qwen2-architecture transformers model built from a config, trained
with plain next-token prediction on the packed corpus, and saved as a Hugging Face
model folder (weights, config, tokenizer) that later stages load with
``from_pretrained``. A world with ``continue_from`` instead continues another world's
model on its own corpus (SDF as continued pretraining, as in the paper), so one long
pretraining run serves every SDF world. Training state is checkpointed every
``checkpoint_every`` steps into ``<out>.partial/`` so a killed job resumes where it
stopped. The training loop (:func:`train_steps`) is shared with LoRA continued
pretraining of a given model (:mod:`rhem.train.sdf_lora`, the GPU tiers).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import torch
from tqdm import tqdm
from transformers import AutoModelForCausalLM, PreTrainedTokenizerBase, Qwen2Config, Qwen2ForCausalLM

from rhem.lm.device import compute_device
from rhem.lm.tokenizer import load_tokenizer
from rhem.settings import ModelSettings, PretrainSettings
from rhem.train.workdir import partial_dir, publish, staging


def build_model(model_cfg: ModelSettings, tokenizer: PreTrainedTokenizerBase) -> Qwen2ForCausalLM:
    """A fresh Qwen2-style model sized by the config's ``model`` section."""
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=model_cfg.hidden_size,
        intermediate_size=model_cfg.intermediate_size,
        num_hidden_layers=model_cfg.num_layers,
        num_attention_heads=model_cfg.num_heads,
        num_key_value_heads=model_cfg.num_heads,
        max_position_embeddings=model_cfg.context,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return Qwen2ForCausalLM(config)


def pack_texts(texts: list[str], tokenizer: PreTrainedTokenizerBase, context: int) -> torch.Tensor:
    """Tokenize documents, join them with EOS and cut into ``context``-long rows.

    Documents keep their order; shuffling happens per batch with the seeded generator,
    so packing is deterministic.
    """
    ids: list[int] = []
    for enc in tokenizer(texts, add_special_tokens=False)["input_ids"]:
        ids.extend(enc)
        ids.append(tokenizer.eos_token_id)
    n_rows = max(1, len(ids) // context)
    ids = (ids * math.ceil(n_rows * context / max(len(ids), 1)))[: n_rows * context]
    return torch.tensor(ids, dtype=torch.long).view(n_rows, context)


def pack_corpus(corpus: Path, tokenizer: PreTrainedTokenizerBase, context: int) -> torch.Tensor:
    """:func:`pack_texts` of every document of a corpus Parquet file, in corpus order."""
    texts = pq.read_table(corpus, columns=["text"]).column("text").to_pylist()
    return pack_texts(texts, tokenizer, context)


def _lr(step: int, cfg: PretrainSettings) -> float:
    """Linear warmup then cosine decay to 10% of the peak."""
    peak, warm, total = cfg.learning_rate, cfg.warmup_steps, cfg.steps
    if step < warm:
        return peak * (step + 1) / warm
    progress = (step - warm) / max(1, total - warm)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def train_steps(model: torch.nn.Module, data: torch.Tensor, train_cfg: PretrainSettings,
                partial: Path, desc: str) -> list[float]:
    """Next-token training of ``model``'s trainable parameters on packed rows; resumable.

    Only parameters with ``requires_grad`` are optimized and checkpointed, so the same
    loop trains a model from scratch (all of them) and a LoRA adapter on a large frozen
    model (a checkpoint then holds the adapter, not the base weights). State goes to
    ``partial/state.pt`` every ``checkpoint_every`` steps; a rerun continues from it.
    Returns the loss of every step, resumed ones included.
    """
    device = next(model.parameters()).device
    trainable = {n: p for n, p in model.named_parameters() if p.requires_grad}
    opt = torch.optim.AdamW(list(trainable.values()), lr=train_cfg.learning_rate, weight_decay=0.01)
    gen = torch.Generator().manual_seed(train_cfg.seed)
    state_file = partial / "state.pt"
    start, losses = 0, []
    if state_file.exists():
        state = torch.load(state_file, weights_only=False, map_location=device)
        with torch.no_grad():
            for name, value in state["trainable"].items():
                trainable[name].copy_(value)
        opt.load_state_dict(state["opt"])
        gen.set_state(state["gen"])
        start, losses = state["step"], state["losses"]
    model.train()
    bar = tqdm(range(start, train_cfg.steps), initial=start, total=train_cfg.steps,
               desc=desc, unit="step")
    for step in bar:
        rows = torch.randint(0, data.shape[0], (train_cfg.batch_size,), generator=gen)
        batch = data[rows].to(device)
        for group in opt.param_groups:
            group["lr"] = _lr(step, train_cfg)
        loss = model(input_ids=batch, labels=batch).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(trainable.values()), 1.0)
        opt.step()
        losses.append(loss.item())
        bar.set_postfix(loss=f"{losses[-1]:.3f}")
        done = step + 1
        if done % train_cfg.checkpoint_every == 0 and done < train_cfg.steps:
            partial.mkdir(parents=True, exist_ok=True)
            tmp = state_file.with_suffix(".tmp")
            torch.save({"trainable": {n: p.detach() for n, p in trainable.items()},
                        "opt": opt.state_dict(), "gen": gen.get_state(), "step": done,
                        "losses": losses}, tmp)
            tmp.replace(state_file)
    model.eval()
    return losses


def write_loss(losses: list[float], loss_log: Path) -> None:
    """The per-step loss curve as Parquet (``step`` from 1, ``loss``)."""
    loss_log.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"step": pa.array(range(1, len(losses) + 1), pa.int64()),
                             "loss": pa.array(losses, pa.float64())}), loss_log)


def pretrain(
    corpus: Path,
    tokenizer_dir: Path,
    out_dir: Path,
    loss_log: Path,
    model_cfg: ModelSettings,
    train_cfg: PretrainSettings,
    start: Path | None = None,
) -> None:
    """Train from scratch, or continue the model in ``start`` on this corpus with the
    ``continued`` schedule (SDF as continued pretraining); resumable. Saves the model
    folder and the loss curve."""
    tokenizer = load_tokenizer(tokenizer_dir)
    data = pack_corpus(corpus, tokenizer, model_cfg.context)
    if start is None:
        model, what = build_model(model_cfg, tokenizer), "pretrain"
    else:
        model = AutoModelForCausalLM.from_pretrained(start)
        if model.config.vocab_size != len(tokenizer):
            raise ValueError(f"{start}: vocabulary {model.config.vocab_size} does not match the "
                             f"tokenizer in {tokenizer_dir} ({len(tokenizer)})")
        train_cfg, what = train_cfg.continued_schedule(), f"continue {start}"
    model = model.to(compute_device())
    n_params = sum(p.numel() for p in model.parameters())
    losses = train_steps(model, data, train_cfg, partial_dir(out_dir),
                         f"{what} {n_params / 1e6:.2f}M params on {model.device.type}")
    staged = staging(out_dir)
    model.save_pretrained(staged)
    tokenizer.save_pretrained(staged)
    (staged / "rhem_pretrain.json").write_text(json.dumps(
        {"params": n_params, "tokens_seen": len(losses) * int(data[0].numel()) * train_cfg.batch_size,
         "final_loss": losses[-1], "continued_from": None if start is None else str(start)},
        indent=2) + "\n")
    write_loss(losses, loss_log)
    publish(staged, out_dir)
