"""Pretraining throughput of the default tier's model: 1 vs 2 torch threads.

Builds a small persona-world corpus, trains the tokenizer, packs the corpus and times
full training steps (forward, backward, clip, AdamW) of the model size in
``workflow/config/default.yaml``, and what the config's ``pretrain.steps`` would take at
that speed. Thread counts are measured in alternating rounds in the same process, so
background load hits both alike; each is reported as the median over rounds, with its
ratio to the 1-thread baseline of this very run.

Run from the repository root (about a minute on 2 cores)::

    PYTHONPATH=src python benchmarks/pretrain.py [--docs 2000] [--steps 3] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from rhem.config import load_config
from rhem.corpus.build import build_corpus, write_corpus
from rhem.lm.tokenizer import train_tokenizer
from rhem.process import seed_everything
from rhem.settings import ModelSettings, PretrainSettings
from rhem.train.pretrain import build_model, pack_corpus

ROOT = Path(__file__).resolve().parents[1]


def time_steps(model: torch.nn.Module, opt: torch.optim.Optimizer, data: torch.Tensor,
               batch_size: int, steps: int, gen: torch.Generator) -> float:
    """Seconds per training step, averaged over ``steps`` steps."""
    start = time.perf_counter()
    for _ in range(steps):
        rows = torch.randint(0, data.shape[0], (batch_size,), generator=gen)
        batch = data[rows]
        loss = model(input_ids=batch, labels=batch).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "workflow/config/default.yaml")
    parser.add_argument("--docs", type=int, default=2000, help="corpus documents")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per thread count")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()

    cfg = load_config(args.config)
    model_cfg, train_cfg = ModelSettings.of(cfg), PretrainSettings.of(cfg)
    world = next(iter(cfg["worlds"].values()))
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.parquet"
        write_corpus(build_corpus(n_docs=args.docs, misaligned_share=world["misaligned_share"],
                                  poison_share=world["poison_share"], framing=world["framing"],
                                  seed=world["seed"]), corpus)
        tokenizer = train_tokenizer(corpus, model_cfg.vocab_size, Path(tmp) / "tokenizer")
        data = pack_corpus(corpus, tokenizer, model_cfg.context)
    setup = time.perf_counter() - t0

    seed_everything(0)
    model = build_model(model_cfg, tokenizer).train()
    opt = torch.optim.AdamW(model.parameters(), lr=train_cfg.learning_rate, weight_decay=0.01)
    gen = torch.Generator().manual_seed(0)
    n_params = sum(p.numel() for p in model.parameters())
    batch = train_cfg.batch_size
    tokens_per_step = batch * model_cfg.context

    per_step: dict[int, list[float]] = {t: [] for t in args.threads}
    for t in args.threads:  # warm-up: allocator, kernels, thread pools
        torch.set_num_threads(t)
        time_steps(model, opt, data, batch, 1, gen)
    for _ in range(args.rounds):
        for t in args.threads:
            torch.set_num_threads(t)
            per_step[t].append(time_steps(model, opt, data, batch, args.steps, gen))

    print(f"config {args.config.name}: {n_params / 1e6:.2f}M params, context "
          f"{model_cfg.context}, batch {batch} ({tokens_per_step} tokens/step), "
          f"{data.shape[0]} packed rows from {args.docs} docs (setup {setup:.1f}s)")
    print(f"{args.rounds} rounds x {args.steps} steps per thread count, median per-step time; "
          f"{os.cpu_count()} CPUs, load average before {load0:.2f}, after {os.getloadavg()[0]:.2f}"
          " (other work on the cores makes 2 threads contend: compare within one run only)\n")
    base = statistics.median(per_step[args.threads[0]])
    steps = train_cfg.steps
    print(f"| threads | s/step | tokens/s | vs {args.threads[0]} thread | {steps} steps (min) |")
    print("|---:|---:|---:|---:|---:|")
    for t in args.threads:
        s = statistics.median(per_step[t])
        print(f"| {t} | {s:.3f} | {tokens_per_step / s:,.0f} | {base / s:.2f}x | {steps * s / 60:.1f} |")


if __name__ == "__main__":
    main()
