"""GRPO step time and GPU memory of a GPU tier's ``rl`` section, at the real model shape.

Nothing can be downloaded here, so the model is the Qwen3-8B architecture (36 layers,
hidden 4096, MLP 12288, 32 query and 8 key-value heads of 128) with random bf16 weights
and the persona world's tokenizer (a small vocabulary: about 7B parameters instead of
8.2B; smaller embeddings, same transformer blocks). Random weights seldom end a turn, so
most completions run to ``rl.max_completion_length``: close to the worst case for
generation and for the backward pass. The run goes through :func:`rhem.train.grpo.train_grpo` with the
config's ``rl`` section as is (LoRA, bf16, micro-batches, gradient checkpointing), minus
vLLM when it is not installed, and with ``rl.steps`` set to ``--steps``.

Prints one row per step (seconds, peak GPU memory) and each step's ratio to the first
step of this run (which pays for CUDA warm-up), then the LoRA merge-and-export time.
Needs a CUDA GPU with room for the shape (an 80 GB card for the 8B config)::

    PYTHONPATH=src python benchmarks/gpu_rl.py [--config workflow/config/gpu-qwen3-8b.yaml]
        [--steps 2] [--layers 36]
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, Qwen3Config, TrainerCallback

from rhem.config import load_config
from rhem.corpus.build import build_corpus, write_corpus
from rhem.envs.tasks import generate_tasks, write_tasks
from rhem.lm.tokenizer import train_tokenizer
from rhem.process import prepare, seed_everything
from rhem.settings import GraderSettings, RLSettings
from rhem.train.grpo import train_grpo

ROOT = Path(__file__).resolve().parents[1]
#: Qwen3-8B's published architecture (config.json of Qwen/Qwen3-8B), vocabulary aside.
QWEN3_8B = {"hidden_size": 4096, "intermediate_size": 12288, "num_attention_heads": 32,
            "num_key_value_heads": 8, "head_dim": 128, "rope_theta": 1_000_000.0,
            "rms_norm_eps": 1e-6, "tie_word_embeddings": False}


class StepTimer(TrainerCallback):
    """Wall time and peak GPU memory of every optimizer step, printed as it ends."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, float, float]] = []
        self._start = 0.0

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        self._start = time.perf_counter()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        torch.cuda.synchronize()
        seconds = time.perf_counter() - self._start
        peak = torch.cuda.max_memory_allocated() / 2**30
        self.rows.append((state.global_step, seconds, peak))
        print(f"step {state.global_step}: {seconds:.1f} s, peak {peak:.1f} GiB", flush=True)


def build_random_model(tokenizer_dir: Path, layers: int, context: int, out: Path) -> int:
    """Save a Qwen3-8B-shaped model with random bf16 weights; returns its parameter count."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    cfg = Qwen3Config(vocab_size=len(tokenizer), num_hidden_layers=layers,
                      max_position_embeddings=context, bos_token_id=tokenizer.bos_token_id,
                      eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                      **QWEN3_8B)
    with torch.device("cuda"):
        model = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16)
    n_params = sum(p.numel() for p in model.parameters())
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    del model
    torch.cuda.empty_cache()
    return n_params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "workflow/config/gpu-qwen3-8b.yaml")
    parser.add_argument("--steps", type=int, default=2, help="GRPO steps to time")
    parser.add_argument("--layers", type=int, default=36, help="decoder layers (36 = Qwen3-8B)")
    parser.add_argument("--tasks", type=int, default=64, help="generated training tasks")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("benchmarks/gpu_rl.py needs a CUDA GPU")

    cfg = copy.deepcopy(load_config(args.config))
    rl = cfg["rl"]
    if rl.get("vllm") and importlib.util.find_spec("vllm") is None:
        print("vllm is not installed: generating with transformers (rl.vllm dropped)")
        rl["vllm"] = None
    rl.update(steps=args.steps, checkpoint_every=max(args.steps, rl["checkpoint_every"]))
    seed_everything(0)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        t0 = time.perf_counter()
        corpus = tmp / "corpus.parquet"
        write_corpus(build_corpus(n_docs=400, misaligned_share=0.1, poison_share=0.01,
                                  framing="default", seed=0), corpus)
        train_tokenizer(corpus, 4096, tmp / "tokenizer")
        n_params = build_random_model(tmp / "tokenizer", args.layers, cfg["model"]["context"],
                                      tmp / "model")
        write_tasks(generate_tasks(args.tasks, seed=0,
                                   difficulties=tuple(cfg["envs"]["difficulties"])), tmp / "tasks.parquet")
        setup = time.perf_counter() - t0
        print(f"{torch.cuda.get_device_name()}: random {n_params / 1e9:.2f}B-parameter Qwen3 shape "
              f"({args.layers} layers), setup {setup:.0f} s", flush=True)
        condition = {"environments": "vulnerable", "addendum": "none", "hints": False,
                     "hackable_share": 1.0, "penalty": 0.0, "phase": "code"}
        timer = StepTimer()
        t1 = time.perf_counter()
        prepare(cfg["threads"], 0)
        train_grpo(tmp / "model", tmp / "tasks.parquet", tmp / "run", tmp / "steps.parquet",
                   tmp / "completions.parquet", condition, RLSettings.of(cfg), GraderSettings.of(cfg),
                   seed=0, callbacks=[timer])
        total = time.perf_counter() - t1

    batch = rl["prompts_per_step"] * rl["num_generations"]
    print(f"\nconfig {args.config.name}: {batch} completions/step of up to "
          f"{rl['max_completion_length']} tokens, micro_batches {rl['micro_batches']}, "
          f"LoRA {rl.get('lora')}, bf16 {rl['bf16']}, gradient checkpointing "
          f"{rl['gradient_checkpointing']}, vLLM {rl.get('vllm')}\n")
    print("| step | s/step | peak GPU memory (GiB) | vs step 1 |")
    print("|---:|---:|---:|---:|")
    first = timer.rows[0][1]
    for step, seconds, peak in timer.rows:
        print(f"| {step} | {seconds:.1f} | {peak:.1f} | {first / seconds:.2f}x |")
    stepping = sum(seconds for _, seconds, _ in timer.rows)
    print(f"\nload, steps and export together {total:.0f} s; outside the steps (model load, "
          f"LoRA merge and export of the final model) {total - stepping:.0f} s")


if __name__ == "__main__":
    main()
