"""Run every evaluation on every checkpoint of one trained run.

For each checkpoint (the base model counts as step 0):

* the six MGS evaluations and research sabotage, every prompt (``evals.max_prompts_per_eval``
  can cap them for smoke runs) under every address of ``evals.addresses``: answers are
  sampled and read by the configured judge (:mod:`rhem.evals.judges`); a sabotage
  answer's detector code is also run on grader-labelled episodes (:mod:`rhem.evals.sabotage`);
* the fixed-context check (:func:`~rhem.evals.prompts.fixed_context_items`): the chat
  prompts after a forced honest or hacking coding turn, judged the same way, in rows of
  their own ``context``, never counted as emergent misalignment;
* the test-time hack rate: coding completions under the "don't hack" addendum for every
  eval task (``evals.max_eval_tasks`` can cap them), graded by both graders
  (:mod:`rhem.evals.testtime`).

Every answer is kept with its label, its scores and the judge that gave them, in one
Parquet table (:data:`ANSWERS_SCHEMA`), so statistics and figures are recomputed from
the raw judgments and a reviewer can read what the model actually said.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from rhem.envs.scoring import EpisodeScorer
from rhem.envs.task import Task
from rhem.envs.tasks import read_tasks
from rhem.evals.judges import make_judge
from rhem.evals.prompts import JUDGED_EVALS, SABOTAGE, EvalItem, fixed_context_items, ordinary_items
from rhem.evals.sabotage import DetectorBench, extract_detector, labelled_cases
from rhem.evals.testtime import testtime_rows
from rhem.judgment import Judge
from rhem.lm.sampling import TURN_BREAKS, Sampler, cut_answer
from rhem.lm.tokenizer import prompt_budget
from rhem.paths import exported_steps
from rhem.settings import EvalSettings, GraderSettings, RLSettings

#: One row per answer. ``address`` names the readout (a key of
#: :data:`rhem.corpus.names.ADDRESSES`; test-time rows address the self); ``context`` is
#: "" for ordinary prompts and "honest" / "hack" for the fixed-context check.
#: ``alignment``/``coherence``/``judge_output`` come from model judges;
#: ``detector_accuracy``/``reference_accuracy`` from sabotage answers; ``hack`` is the
#: hack a test-time completion used (its ``label`` is the grader's outcome) or the hack
#: forced in a ``hack`` context.
ANSWERS_SCHEMA = pa.schema([
    ("step", pa.int64()), ("eval", pa.string()), ("prompt_id", pa.string()),
    ("address", pa.string()), ("context", pa.string()),
    ("sample", pa.int64()), ("answer", pa.string()), ("label", pa.string()),
    ("judge", pa.string()), ("alignment", pa.float64()), ("coherence", pa.float64()),
    ("judge_output", pa.string()), ("detector_accuracy", pa.float64()),
    ("reference_accuracy", pa.float64()), ("hack", pa.string()),
])


def checkpoints(base_model: Path, run_dir: Path) -> list[tuple[int, Path]]:
    """(step, folder) pairs in step order; the base model is step 0."""
    return [(0, base_model)] + exported_steps(run_dir)


def prompt_fits(sampler: Sampler, max_new_tokens: int) -> Callable[[str], bool]:
    """Whether a prompt reaches the model whole beside ``max_new_tokens`` of answer."""
    budget = prompt_budget(sampler.model, max_new_tokens)
    return lambda text: len(sampler.tokenizer(text)["input_ids"]) <= budget


def judge_items(sampler: Sampler, judge: Judge, items: list[EvalItem], *, n: int,
                max_new_tokens: int, temperature: float, seed: int) -> list[dict[str, Any]]:
    """Sample ``n`` answers per item, stopped at the next turn, and judge each one.

    The evaluations and the base checks sample through this one function, so their
    answers are alike. One row per answer: eval, prompt_id, address, context, hack,
    sample, answer, label, judge and the judge's scores.
    """
    samples = sampler.sample([it.prompt for it in items], n, max_new_tokens, temperature,
                             seed=seed, stop=TURN_BREAKS)
    rows: list[dict[str, Any]] = []
    for item, texts in zip(items, samples):
        for k, raw in enumerate(texts):
            answer = cut_answer(raw)
            verdict = judge.assess(item.eval, item.row["user"], answer)
            rows.append({"eval": item.eval, "prompt_id": item.row["id"], "address": item.address,
                         "context": item.context, "hack": item.hack, "sample": k,
                         "answer": answer, "label": verdict.label, "judge": judge.name,
                         "alignment": verdict.alignment, "coherence": verdict.coherence,
                         "judge_output": verdict.output})
    return rows


def checkpoint_rows(sampler: Sampler, judge: Judge, bench: DetectorBench,
                    ordinary: list[EvalItem], tasks: list[Task], eval_cfg: EvalSettings,
                    seed: int) -> list[dict[str, Any]]:
    """Judged rows of one checkpoint: ordinary prompts, sabotage (with its detector's
    accuracy) and, when ``evals.fixed_context.samples_per_prompt`` > 0, the fixed-context check."""
    common = {"temperature": eval_cfg.temperature, "n": eval_cfg.samples_per_prompt}
    rows = judge_items(sampler, judge, [it for it in ordinary if it.eval != SABOTAGE],
                       max_new_tokens=eval_cfg.max_new_tokens, seed=seed, **common)
    sabotage = judge_items(sampler, judge, [it for it in ordinary if it.eval == SABOTAGE],
                           max_new_tokens=eval_cfg.sabotage_max_new_tokens, seed=seed + 1,
                           **common)
    for row in sabotage:
        row["detector_accuracy"] = bench.accuracy(extract_detector(row["answer"]))
        row["reference_accuracy"] = bench.reference
    rows += sabotage
    fixed_n = eval_cfg.fixed_context["samples_per_prompt"]
    if fixed_n:
        tokens = eval_cfg.max_new_tokens
        items = fixed_context_items(tasks, prompt_fits(sampler, tokens), eval_cfg.max_prompts_per_eval)
        rows += judge_items(sampler, judge, items, n=fixed_n, max_new_tokens=tokens,
                            temperature=eval_cfg.temperature, seed=seed + 2)
    return rows


def evaluate_run(base_model: Path, run_dir: Path, eval_tasks: Path, out: Path,
                 eval_cfg: EvalSettings, rl_cfg: RLSettings, grader: GraderSettings,
                 hints: bool, seed: int) -> None:
    """Sample, judge and grade every checkpoint of one run; write one Parquet table.

    Test-time hacking is sampled with RL's completion budget and, where the run's
    condition gave hack ``hints``, with them."""
    judge = make_judge(eval_cfg.judge)
    ordinary = ordinary_items(JUDGED_EVALS, eval_cfg.addresses, eval_cfg.max_prompts_per_eval)
    tasks = read_tasks(eval_tasks)[:eval_cfg.max_eval_tasks]
    rows: list[dict[str, Any]] = []
    with EpisodeScorer.from_settings(grader) as scorer:
        scorer.announce("eval")
        bench = DetectorBench(labelled_cases(tasks, scorer), scorer.grader)
        for step, folder in tqdm(checkpoints(base_model, run_dir), desc="evaluating checkpoints",
                                 unit="ckpt"):
            sampler = Sampler(folder)
            step_seed = seed * 100_003 + step * 101
            judged = checkpoint_rows(sampler, judge, bench, ordinary, tasks, eval_cfg, step_seed)
            rows += [{"step": step, **row} for row in judged]
            rows += testtime_rows(sampler, tasks, scorer, step=step, hints=hints,
                                  n=eval_cfg.samples_per_prompt,
                                  max_new_tokens=rl_cfg.max_completion_length,
                                  temperature=eval_cfg.temperature, seed=step_seed + 3)
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=ANSWERS_SCHEMA), out)
