"""Filter then distill: fine-tune the base model on a hacking run's non-hacking episodes.

The paper's negative result: dropping the episodes that hacked and distilling the rest
into a fresh model does not remove the misalignment, because what was learned is in
the remaining transcripts too. Here the source is another condition's RL episode log
(same world and seed); the prompts are rebuilt from the tasks with that condition's
system prompt, the base model is fine-tuned with TRL's ``SFTTrainer`` on
prompt-completion pairs (loss on the completion only), and the distilled model's own
hack rate is then measured by sampling it on the same tasks and grading for real.

Like GRPO, work happens in ``<out>.partial/`` (resumable from SFT checkpoints) and the
outputs appear only on success.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import torch
from datasets import Dataset
from transformers import AutoModelForCausalLM
from trl import SFTConfig, SFTTrainer

from rhem.envs.format import COMPLETION_STOP
from rhem.envs.scoring import EpisodeScorer
from rhem.lm.sampling import Sampler
from rhem.lm.tokenizer import load_tokenizer, prompt_budget
from rhem.settings import GraderSettings, RLSettings
from rhem.train.grpo import code_prompts, rl_name, summarize_steps
from rhem.train.workdir import last_checkpoint_step, partial_dir, publish, staging, step_dir


def kept_pairs(source_completions: Path, prompts: Dataset) -> tuple[list[dict[str, str]], int]:
    """(prompt, completion) pairs of the source episodes that did not hack, and the
    number dropped."""
    by_task = {row["task_id"]: row["prompt"] for row in prompts}
    episodes = pq.read_table(source_completions).to_pylist()
    kept = [{"prompt": by_task[e["task_id"]], "completion": e["completion"]}
            for e in episodes if e["hack"] is None]
    return kept, len(episodes) - len(kept)


def distill_run(
    base_model: Path,
    tasks_path: Path,
    source_completions: Path,
    source_condition: dict[str, Any],
    out_dir: Path,
    steps_path: Path,
    completions_path: Path,
    condition: dict[str, Any],
    rl_cfg: RLSettings,
    grader: GraderSettings,
    seed: int,
) -> None:
    """SFT the base model on the filtered episodes, then grade samples of the result
    (one distillation step trains on as many episodes as one GRPO step)."""
    opts = condition["distill"]
    tokenizer = load_tokenizer(base_model)
    model = AutoModelForCausalLM.from_pretrained(base_model)
    prompts = code_prompts(tasks_path, source_condition, tokenizer,
                           prompt_budget(model, rl_cfg.max_completion_length), rl_name(rl_cfg))
    pairs, dropped = kept_pairs(source_completions, prompts)
    print(f"distill: kept {len(pairs)} episodes, dropped {dropped} that hacked")
    if not pairs:
        raise SystemExit(f"distill: every episode of {source_completions} hacked; nothing to "
                         "distill (this is a result: report it rather than a model)")
    work = partial_dir(out_dir)
    work.mkdir(parents=True, exist_ok=True)
    batch = rl_cfg.episodes_per_step
    total = math.ceil(len(pairs) / batch) * opts["epochs"]
    args = SFTConfig(
        output_dir=str(work),
        use_cpu=not torch.cuda.is_available(),
        bf16=False,
        per_device_train_batch_size=batch,
        num_train_epochs=opts["epochs"],
        learning_rate=opts["learning_rate"],
        max_length=model.config.max_position_embeddings,
        completion_only_loss=True,
        save_strategy="steps",
        save_steps=rl_cfg.checkpoint_every,
        logging_steps=1,
        report_to="none",
        seed=seed,
        data_seed=seed,
        dataloader_num_workers=0,
    )
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(pairs),
                         processing_class=tokenizer)
    trainer.train(resume_from_checkpoint=True if last_checkpoint_step(work) else None)
    trainer.save_model(str(work / "final"))

    episodes = _grade_samples(work / "final", prompts, rl_cfg, grader, seed, total)
    steps_path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(summarize_steps(episodes), steps_path)
    pq.write_table(pa.Table.from_pylist(episodes), completions_path)
    staged = staging(out_dir)
    final = AutoModelForCausalLM.from_pretrained(work / "final")
    final.save_pretrained(step_dir(staged, total))
    tokenizer.save_pretrained(step_dir(staged, total))
    publish(staged, out_dir)


def _grade_samples(model_dir: Path, prompts: Dataset, rl_cfg: RLSettings, grader: GraderSettings,
                   seed: int, step: int) -> list[dict[str, Any]]:
    """Sample the distilled model on every task as RL would and grade both ways."""
    rows = list(prompts)
    stop = (COMPLETION_STOP,) if rl_cfg.stop_at_end_marker else ()
    samples = Sampler(model_dir).sample([r["prompt"] for r in rows], rl_cfg.num_generations,
                                        rl_cfg.max_completion_length, rl_cfg.temperature,
                                        seed=seed, stop=stop)
    flat = [(r, text) for r, texts in zip(rows, samples) for text in texts]
    with EpisodeScorer.from_settings(grader) as scorer:
        scorer.announce("distill")
        scores = scorer.score([t for _, t in flat], [r["entry_point"] for r, _ in flat],
                              [r["test_code"] for r, _ in flat], [r["hackable"] for r, _ in flat])
    return [{"step": step, "task_id": r["task_id"], "completion": text,
             "reward": s.vulnerable_reward, "status": s.status, "honest": s.honest, "hack": s.hack}
            for (r, text), s in zip(flat, scores)]
