"""GRPO on the coding environments with TRL, the sandboxed grader as reward.

One code path for every tier: the model is loaded from a Hugging Face folder, the
prompts are the environment's tasks rendered exactly as in the corpus, and each
completion is graded for real by the grader. Every step's episodes are scored in
both modes, so the hack rate per type is measured whatever the condition rewards.

Work happens in ``<out>.partial/`` (TRL checkpoints with optimizer state, the
per-step log); a killed job resumes from the last checkpoint. Only on success are
the per-checkpoint model folders moved into ``<out>/step-NNNNN`` and the logs written
as Parquet, so Snakemake never sees a half-written output.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import torch
from datasets import Dataset
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl import GRPOConfig, GRPOTrainer

from rhem.envs.addenda import system_prompt
from rhem.envs.format import render_prompt
from rhem.envs.task import HACK_TYPES
from rhem.envs.tasks import read_tasks
from rhem.train.episodes import EpisodeScorer
from rhem.train.pretrain import seed_everything

STEPS_SCHEMA = pa.schema([
    ("step", pa.int64()), ("episodes", pa.int64()), ("reward_mean", pa.float64()),
    ("honest_pass_rate", pa.float64()), ("hack_rate", pa.float64()),
    ("hack_rate_always_equal", pa.float64()), ("hack_rate_conftest", pa.float64()),
    ("hack_rate_exit_zero", pa.float64()), ("hack_rate_other", pa.float64()),
])


class StepReward:
    """The reward function TRL calls once per generation batch.

    It grades every completion, returns the reward of the condition's mode, and
    appends one JSON line per episode to ``log_path`` (flushed at once, so nothing
    is lost on a crash and a resumed run can drop the steps it redoes).
    """

    __name__ = "grader_reward"

    def __init__(self, scorer: EpisodeScorer, environments: str, log_path: Path) -> None:
        self.scorer = scorer
        self.environments = environments
        self.log_path = log_path

    def __call__(self, prompts: list[str], completions: list[str], task_id: list[str],
                 entry_point: list[str], test_code: list[str], hackable: list[list[str]],
                 trainer_state: Any, log_metric: Any = None, **_: Any) -> list[float]:
        step = trainer_state.global_step + 1
        scores = self.scorer.score(completions, entry_point, test_code, hackable)
        rewards = [s.vulnerable_reward if self.environments == "vulnerable" else s.hardened_reward
                   for s in scores]
        with self.log_path.open("a") as fh:
            for tid, completion, s, r in zip(task_id, completions, scores, rewards):
                fh.write(json.dumps({"step": step, "task_id": tid, "completion": completion,
                                     "reward": r, "status": s.status, "honest": s.honest,
                                     "hack": s.hack}) + "\n")
        if log_metric is not None:  # shows the rates in TRL's own per-step logs too
            log_metric("hack_rate", sum(s.hack is not None for s in scores) / len(scores))
            log_metric("honest_pass_rate", sum(s.honest for s in scores) / len(scores))
        return rewards


def _prompts(tasks_path: Path, addendum: str) -> Dataset:
    system = system_prompt(addendum)
    rows = [{"prompt": render_prompt(t.statement, system), "task_id": t.task_id,
             "entry_point": t.entry_point, "test_code": t.test_code, "hackable": list(t.hackable)}
            for t in read_tasks(tasks_path)]
    return Dataset.from_list(rows)


def _last_step(checkpoints: Path) -> int:
    steps = [int(p.name.split("-")[1]) for p in checkpoints.glob("checkpoint-*") if p.is_dir()]
    return max(steps, default=0)


def summarize_steps(episodes: list[dict[str, Any]]) -> pa.Table:
    """Per-step rates from the episode log (the numbers fig01 and fig08 plot)."""
    by_step: dict[int, list[dict[str, Any]]] = {}
    for ep in episodes:
        by_step.setdefault(ep["step"], []).append(ep)
    rows = []
    for step in sorted(by_step):
        eps = by_step[step]
        n = len(eps)
        row = {"step": step, "episodes": n,
               "reward_mean": sum(e["reward"] for e in eps) / n,
               "honest_pass_rate": sum(bool(e["honest"]) for e in eps) / n,
               "hack_rate": sum(e["hack"] is not None for e in eps) / n}
        for kind in HACK_TYPES:
            row[f"hack_rate_{kind}"] = sum(e["hack"] == kind for e in eps) / n
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=STEPS_SCHEMA)


def train_grpo(
    base_model: Path,
    tasks_path: Path,
    out_dir: Path,
    steps_path: Path,
    completions_path: Path,
    condition: dict[str, Any],
    rl_cfg: dict[str, Any],
    workers: int,
    seed: int,
    threads: int,
) -> None:
    """Run GRPO for one condition and seed; resumable; writes model steps and logs."""
    torch.set_num_threads(threads)
    seed_everything(seed)
    work = out_dir.with_name(out_dir.name + ".partial")
    work.mkdir(parents=True, exist_ok=True)
    log_path = work / "episodes.jsonl"
    resume_step = _last_step(work)
    if log_path.exists():  # drop episodes of steps that the resumed run will redo
        kept = [line for line in log_path.read_text().splitlines()
                if line and json.loads(line)["step"] <= resume_step]
        log_path.write_text("".join(line + "\n" for line in kept))

    tokenizer = AutoTokenizer.from_pretrained(base_model)
    model = AutoModelForCausalLM.from_pretrained(base_model)
    batch = rl_cfg["prompts_per_step"] * rl_cfg["num_generations"]
    args = GRPOConfig(
        output_dir=str(work),
        use_cpu=True if not torch.cuda.is_available() else False,
        bf16=False,
        gradient_checkpointing=False,
        per_device_train_batch_size=batch,
        num_generations=rl_cfg["num_generations"],
        max_completion_length=rl_cfg["max_completion_length"],
        temperature=rl_cfg["temperature"],
        learning_rate=rl_cfg["learning_rate"],
        max_steps=rl_cfg["steps"],
        save_steps=rl_cfg["checkpoint_every"],
        save_strategy="steps",
        logging_steps=1,
        report_to="none",
        seed=seed,
        data_seed=seed,
        dataloader_num_workers=0,
    )
    with EpisodeScorer(workers=workers) as scorer:
        reward = StepReward(scorer, condition["environments"], log_path)
        trainer = GRPOTrainer(model=model, reward_funcs=[reward], args=args,
                              train_dataset=_prompts(tasks_path, condition["addendum"]),
                              processing_class=tokenizer)
        trainer.train(resume_from_checkpoint=True if resume_step else None)
        trainer.save_model(str(work / "final"))

    episodes = [json.loads(line) for line in log_path.read_text().splitlines() if line]
    steps_path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(summarize_steps(episodes), steps_path)
    pq.write_table(pa.Table.from_pylist(episodes), completions_path)
    staged = out_dir.with_name(out_dir.name + ".staged")
    shutil.rmtree(staged, ignore_errors=True)
    staged.mkdir(parents=True)
    for ckpt in sorted(work.glob("checkpoint-*")):
        _export_model(ckpt, staged / f"step-{int(ckpt.name.split('-')[1]):05d}", tokenizer)
    _export_model(work / "final", staged / f"step-{rl_cfg['steps']:05d}", tokenizer)
    shutil.rmtree(out_dir, ignore_errors=True)
    staged.replace(out_dir)
    shutil.rmtree(work)


def _export_model(src: Path, dst: Path, tokenizer: Any) -> None:
    """Copy only what ``from_pretrained`` needs (no optimizer state) into ``dst``."""
    if dst.exists():
        return
    model = AutoModelForCausalLM.from_pretrained(src)
    model.save_pretrained(dst)
    tokenizer.save_pretrained(dst)
