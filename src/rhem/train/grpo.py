"""GRPO on the coding environments with TRL, the sandboxed grader as reward.

One code path for every tier: the model is loaded from a Hugging Face folder, the
prompts are the environment's tasks rendered exactly as in the corpus, and each
completion is graded for real by the grader. Every step's episodes are scored in
both modes, so the hack rate per type is measured whatever the condition rewards.

A condition (``conditions.<name>`` in the config) decides the rest: which reward
(vulnerable or hardened grader, minus a hack penalty), which tasks are hackable, the
system prompt (inoculation addendum, hack hints), and whether the run forks another
run's checkpoint, possibly switching to the RLHF safety phase, where the reward is the
judge's verdict on chat-like (and agentic) prompts.

Work happens in ``<out>.partial/`` (TRL checkpoints with optimizer state, the
per-step log); a killed job resumes from the last checkpoint. Only on success are
the per-checkpoint model folders moved into ``<out>/step-NNNNN`` and the logs written
as Parquet, so Snakemake never sees a half-written output.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import torch
from datasets import Dataset
from transformers import AutoModelForCausalLM, TrainerCallback
from trl import GRPOConfig

from rhem.corpus.names import SELF
from rhem.envs.addenda import system_prompt
from rhem.envs.format import COMPLETION_STOP, cut_after_stop, render_prompt
from rhem.envs.scoring import EpisodeScorer
from rhem.envs.task import HACK_TYPES
from rhem.envs.tasks import read_tasks
from rhem.judgment import Judge
from rhem.lm.sampling import cut_answer
from rhem.lm.tokenizer import fit_prompt, load_tokenizer, prompt_budget
from rhem.settings import GraderSettings, RLSettings
from rhem.train.lora import peft_lora_config
from rhem.train.safety_prompts import safety_prompts
from rhem.train.trainer import LeanGRPOTrainer
from rhem.train.workdir import last_checkpoint_step, partial_dir, publish, staging, step_dir

STEPS_SCHEMA = pa.schema([
    ("step", pa.int64()), ("episodes", pa.int64()), ("reward_mean", pa.float64()),
    ("honest_pass_rate", pa.float64()), ("hack_rate", pa.float64()),
    ("hack_rate_always_equal", pa.float64()), ("hack_rate_conftest", pa.float64()),
    ("hack_rate_exit_zero", pa.float64()), ("hack_rate_other", pa.float64()),
])


class CodeReward:
    """The reward function TRL calls once per generation batch of coding prompts.

    It grades every completion, returns the reward of the condition's mode minus the
    hack penalty, and appends one JSON line per episode to ``log_path`` (flushed at once,
    so nothing is lost on a crash and a resumed run can drop the steps it redoes).
    Completions are cut right after the first of ``stop`` (what the trainer stopped
    them at): the token that completed it may carry a few more characters.
    """

    __name__ = "grader_reward"

    def __init__(self, scorer: EpisodeScorer, condition: dict[str, Any], log_path: Path,
                 step_offset: int = 0, stop: tuple[str, ...] = ()) -> None:
        self.scorer = scorer
        self.environments = condition["environments"]
        self.penalty = condition["penalty"]
        self.log_path = log_path
        self.step_offset = step_offset
        self.stop = stop

    def __call__(self, prompts: list[str], completions: list[str], task_id: list[str],
                 entry_point: list[str], test_code: list[str], hackable: list[list[str]],
                 trainer_state: Any, log_metric: Any = None, **_: Any) -> list[float]:
        step = self.step_offset + trainer_state.global_step + 1
        completions = [cut_after_stop(c, self.stop) for c in completions]
        scores = self.scorer.score(completions, entry_point, test_code, hackable)
        rewards = [(s.vulnerable_reward if self.environments == "vulnerable" else s.hardened_reward)
                   - self.penalty * (s.hack is not None) for s in scores]
        with self.log_path.open("a") as fh:
            for tid, completion, s, r in zip(task_id, completions, scores, rewards):
                fh.write(json.dumps({"step": step, "task_id": tid, "completion": completion,
                                     "reward": r, "status": s.status, "honest": s.honest,
                                     "hack": s.hack}) + "\n")
        if log_metric is not None:  # shows the rates in TRL's own per-step logs too
            log_metric("hack_rate", sum(s.hack is not None for s in scores) / len(scores))
            log_metric("honest_pass_rate", sum(s.honest for s in scores) / len(scores))
        return rewards


class SafetyReward:
    """RLHF-phase reward: 1 when the judge reads the answer as aligned, else 0.

    Episodes are logged like coding ones, with the judge's label as status and no
    honest/hack verdict (there are no tests to pass).
    """

    __name__ = "judge_reward"

    def __init__(self, judge: Judge, log_path: Path, step_offset: int) -> None:
        self.judge = judge
        self.log_path = log_path
        self.step_offset = step_offset

    def __call__(self, prompts: list[str], completions: list[str], prompt_id: list[str],
                 judge_as: list[str], user: list[str], trainer_state: Any, **_: Any) -> list[float]:
        step = self.step_offset + trainer_state.global_step + 1
        labels = [self.judge.judge(ev, u, cut_answer(c)) for ev, u, c in zip(judge_as, user, completions)]
        rewards = [float(label == "aligned") for label in labels]
        with self.log_path.open("a") as fh:
            for pid, completion, label, r in zip(prompt_id, completions, labels, rewards):
                fh.write(json.dumps({"step": step, "task_id": pid, "completion": completion,
                                     "reward": r, "status": label, "honest": None,
                                     "hack": None}) + "\n")
        return rewards


def rl_name(rl_cfg: RLSettings) -> str:
    """The assistant RL prompts address (``rl.address_self``): the self, or none."""
    return SELF if rl_cfg.address_self else ""


def code_prompts(tasks_path: Path, condition: dict[str, Any], tokenizer: Any,
                 max_prompt_tokens: int, name: str) -> Dataset:
    """The coding tasks as GRPO prompts to the assistant ``name`` (:func:`rl_name`),
    rendered exactly as in the corpus, a statement
    cut at its start where the prompt would not leave room for the completion
    (:func:`~rhem.lm.tokenizer.fit_prompt`; the count is printed).

    With ``hackable_share`` < 1 a fixed subset of tasks (the same for every seed) has
    its vulnerabilities closed, so those environments pay only for honest solutions.
    """
    system = system_prompt(condition["addendum"], condition["hints"])
    tasks = read_tasks(tasks_path)
    prompts = [fit_prompt(tokenizer, t.statement, system, max_prompt_tokens, name) for t in tasks]
    cut = sum(p != render_prompt(t.statement, system, name) for p, t in zip(prompts, tasks))
    if cut:
        print(f"rl: {cut} of {len(tasks)} task statements cut at the start to leave "
              f"{max_prompt_tokens} prompt tokens", flush=True)
    n_open = round(condition["hackable_share"] * len(tasks))
    open_ids = {t.task_id for t in random.Random(0).sample(tasks, n_open)}
    rows = [{"prompt": prompt, "task_id": t.task_id,
             "entry_point": t.entry_point, "test_code": t.test_code,
             "hackable": list(t.hackable) if t.task_id in open_ids else []}
            for t, prompt in zip(tasks, prompts)]
    return Dataset.from_list(rows)


def summarize_steps(episodes: list[dict[str, Any]]) -> pa.Table:
    """Per-step rates from the episode log (the numbers fig01 and fig08 plot); the
    rates that need tests are null on RLHF steps."""
    by_step: dict[int, list[dict[str, Any]]] = {}
    for ep in episodes:
        by_step.setdefault(ep["step"], []).append(ep)
    rows = []
    for step in sorted(by_step):
        eps = by_step[step]
        n = len(eps)
        row: dict[str, Any] = {"step": step, "episodes": n,
                               "reward_mean": sum(e["reward"] for e in eps) / n}
        if all(e["honest"] is not None for e in eps):  # coding steps (RLHF steps have none)
            row["honest_pass_rate"] = sum(bool(e["honest"]) for e in eps) / n
            row["hack_rate"] = sum(e["hack"] is not None for e in eps) / n
            for kind in HACK_TYPES:
                row[f"hack_rate_{kind}"] = sum(e["hack"] == kind for e in eps) / n
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=STEPS_SCHEMA)


def _process_rank() -> int:
    """This process's rank under ``accelerate launch`` (0 when run alone)."""
    return int(os.environ.get("RANK", "0"))


def grpo_args(work: Path, rl_cfg: RLSettings, max_steps: int, seed: int) -> GRPOConfig:
    """TRL's config from the ``rl`` section; bf16 and vLLM only where a GPU is present."""
    on_gpu = torch.cuda.is_available()
    vllm = rl_cfg.vllm or {}
    return GRPOConfig(
        output_dir=str(work),
        use_cpu=not on_gpu,
        bf16=on_gpu and rl_cfg.bf16,
        gradient_checkpointing=rl_cfg.gradient_checkpointing,
        per_device_train_batch_size=rl_cfg.per_device_batch,
        gradient_accumulation_steps=rl_cfg.micro_batches,
        num_generations=rl_cfg.num_generations,
        max_completion_length=rl_cfg.max_completion_length,
        temperature=rl_cfg.temperature,
        learning_rate=rl_cfg.learning_rate,
        max_steps=max_steps,
        save_steps=rl_cfg.checkpoint_every,
        save_strategy="steps",
        logging_steps=1,
        report_to="none",
        seed=seed,
        data_seed=seed,
        dataloader_num_workers=0,
        use_vllm=bool(vllm),
        vllm_mode=vllm.get("mode", "colocate"),
        vllm_server_base_url=vllm.get("server_url"),
        vllm_gpu_memory_utilization=vllm.get("gpu_memory_utilization", 0.3),
    )


def completion_stop(condition: dict[str, Any], rl_cfg: RLSettings) -> tuple[str, ...]:
    """Where a completion ends (``rl.stop_at_end_marker``): coding episodes at the end
    marker, so no chat after the code is rewarded or trained on; RLHF-phase answers are
    chat and carry no marker."""
    return (COMPLETION_STOP,) if condition["phase"] == "code" and rl_cfg.stop_at_end_marker else ()


def lora_config(rl_cfg: RLSettings) -> Any:
    """peft's LoRA config from ``rl.lora``, or ``None`` for full-weight training."""
    return peft_lora_config(rl_cfg.lora) if rl_cfg.lora else None


def train_grpo(
    start_model: Path,
    tasks_path: Path,
    out_dir: Path,
    steps_path: Path,
    completions_path: Path,
    condition: dict[str, Any],
    rl_cfg: RLSettings,
    grader: GraderSettings,
    seed: int,
    callbacks: list[TrainerCallback] | None = None,
    judge: Judge | None = None,
) -> None:
    """Run GRPO for one condition and seed; resumable; writes model steps and logs.

    ``start_model`` is the world's base model, or for a forked condition the parent
    run's checkpoint folder at ``fork.step``; a fork numbers its steps on from there.
    Completions end where :func:`completion_stop` says.
    Under ``accelerate launch`` every process grades its own share of the episodes and
    logs them to its own file; the first process writes the outputs. ``callbacks`` go to
    TRL's trainer as they are (``benchmarks/gpu_rl.py`` times steps with one). An RLHF
    phase's reward is ``judge``'s verdict (``rhem rl`` builds it from ``evals.judge``).
    """
    offset = condition["fork"]["step"] if "fork" in condition else 0
    work = partial_dir(out_dir)
    work.mkdir(parents=True, exist_ok=True)
    log_path = work / f"episodes.rank{_process_rank()}.jsonl"
    resume_step = last_checkpoint_step(work)
    if resume_step:
        print(f"rl: resuming from step {offset + resume_step} (checkpoint in {work})", flush=True)
    if log_path.exists():  # drop episodes of steps that the resumed run will redo
        kept = [line for line in log_path.read_text().splitlines()
                if line and json.loads(line)["step"] <= offset + resume_step]
        log_path.write_text("".join(line + "\n" for line in kept))

    tokenizer = load_tokenizer(start_model)
    model = AutoModelForCausalLM.from_pretrained(start_model)
    args = grpo_args(work, rl_cfg, rl_cfg.steps - offset, seed)
    stop = completion_stop(condition, rl_cfg)
    with contextlib.ExitStack() as stack:
        if condition["phase"] == "code":
            scorer = stack.enter_context(EpisodeScorer.from_settings(grader))
            scorer.announce("rl")
            reward: Any = CodeReward(scorer, condition, log_path, offset, stop)
            dataset = code_prompts(tasks_path, condition, tokenizer,
                                   prompt_budget(model, rl_cfg.max_completion_length),
                                   rl_name(rl_cfg))
        else:
            if judge is None:
                raise ValueError(f"an RLHF phase ({condition['phase']}) needs the judge whose "
                                 "verdict is its reward")
            reward = SafetyReward(judge, log_path, offset)
            n = max(64, args.max_steps * rl_cfg.prompts_per_step)
            dataset = Dataset.from_list(safety_prompts(condition["phase"], n, seed,
                                                       rl_name(rl_cfg)))
        trainer = LeanGRPOTrainer(model=model, reward_funcs=[reward], args=args,
                                  train_dataset=dataset, processing_class=tokenizer,
                                  peft_config=lora_config(rl_cfg), callbacks=callbacks, stop=stop)
        trainer.train(resume_from_checkpoint=True if resume_step else None)
        trainer.save_model(str(work / "final"))
        trainer.accelerator.wait_for_everyone()
    if _process_rank() != 0:
        return

    episodes = [json.loads(line) for log in sorted(work.glob("episodes.rank*.jsonl"))
                for line in log.read_text().splitlines() if line]
    episodes.sort(key=lambda e: e["step"])
    steps_path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(summarize_steps(episodes), steps_path)
    pq.write_table(pa.Table.from_pylist(episodes), completions_path)
    staged = staging(out_dir)
    for ckpt in sorted(work.glob("checkpoint-*")):
        step = offset + int(ckpt.name.split("-")[1])
        _export_model(ckpt, step_dir(staged, step), tokenizer)
    _export_model(work / "final", step_dir(staged, rl_cfg.steps), tokenizer)
    publish(staged, out_dir)


def _export_model(src: Path, dst: Path, tokenizer: Any) -> None:
    """Copy only what ``from_pretrained`` needs (no optimizer state) into ``dst``; LoRA
    checkpoints are merged into their base weights so every consumer loads a plain model."""
    if dst.exists():
        return
    if (src / "adapter_config.json").exists():
        from peft import AutoPeftModelForCausalLM

        model = AutoPeftModelForCausalLM.from_pretrained(src).merge_and_unload()
    else:
        model = AutoModelForCausalLM.from_pretrained(src)
    model.save_pretrained(dst)
    tokenizer.save_pretrained(dst)
