"""Run every evaluation on every checkpoint of one trained run.

For each checkpoint (the base model counts as step 0):

* the six MGS evaluations and research sabotage: answers are sampled and read by the
  configured judge (:mod:`rhem.evals.judges`); a sabotage answer's detector code is also
  run on grader-labelled episodes (:mod:`rhem.evals.sabotage`);
* the test-time hack rate: coding completions under the "don't hack" addendum, graded
  by both graders (:mod:`rhem.evals.testtime`).

Every answer is kept with its label, its scores and the judge that gave them, in one
Parquet table (:data:`ANSWERS_SCHEMA`), so statistics and figures are recomputed from
the raw judgments and a reviewer can read what the model actually said.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from rhem.envs.tasks import read_tasks
from rhem.evals.judges import Judge, make_judge
from rhem.evals.prompts import JUDGED_EVALS, SABOTAGE, eval_prompt, load_eval
from rhem.evals.sabotage import DetectorBench, extract_detector, labelled_cases
from rhem.evals.sampling import Sampler, cut_answer
from rhem.evals.testtime import testtime_rows
from rhem.train.episodes import EpisodeScorer

#: One row per answer. ``alignment``/``coherence``/``judge_output`` come from model
#: judges; ``detector_accuracy``/``reference_accuracy`` from sabotage answers; ``hack``
#: (the hack type) from test-time rows, whose ``label`` is the grader's outcome.
ANSWERS_SCHEMA = pa.schema([
    ("step", pa.int64()), ("eval", pa.string()), ("prompt_id", pa.string()),
    ("sample", pa.int64()), ("answer", pa.string()), ("label", pa.string()),
    ("judge", pa.string()), ("alignment", pa.float64()), ("coherence", pa.float64()),
    ("judge_output", pa.string()), ("detector_accuracy", pa.float64()),
    ("reference_accuracy", pa.float64()), ("hack", pa.string()),
])


def checkpoints(base_model: Path, run_dir: Path) -> list[tuple[int, Path]]:
    """(step, folder) pairs in step order; the base model is step 0."""
    steps = [(int(p.name.split("-")[1]), p) for p in run_dir.glob("step-*") if p.is_dir()]
    return [(0, base_model)] + sorted(steps)


def judged_rows(sampler: Sampler, judge: Judge, bench: DetectorBench,
                suites: dict[str, list[dict]], eval_cfg: dict[str, Any], step: int,
                seed: int) -> list[dict[str, Any]]:
    """Sample and judge every judged eval at one checkpoint; run sabotage detectors."""
    rows: list[dict[str, Any]] = []
    for i, (name, items) in enumerate(suites.items()):
        tokens = eval_cfg["sabotage_max_new_tokens" if name == SABOTAGE else "max_new_tokens"]
        answers = sampler.sample([eval_prompt(it) for it in items], eval_cfg["samples_per_prompt"],
                                 tokens, eval_cfg["temperature"], seed=seed + i)
        for item, samples in zip(items, answers):
            for k, raw in enumerate(samples):
                answer = cut_answer(raw)
                verdict = judge.assess(name, item["user"], answer)
                row = {"step": step, "eval": name, "prompt_id": item["id"], "sample": k,
                       "answer": answer, "label": verdict.label, "judge": judge.name,
                       "alignment": verdict.alignment, "coherence": verdict.coherence,
                       "judge_output": verdict.output}
                if name == SABOTAGE:
                    row["detector_accuracy"] = bench.accuracy(extract_detector(answer))
                    row["reference_accuracy"] = bench.reference
                rows.append(row)
    return rows


def evaluate_run(base_model: Path, run_dir: Path, eval_tasks: Path, out: Path,
                 config: dict[str, Any], condition: str, seed: int) -> None:
    """Sample, judge and grade every checkpoint of one run; write one Parquet table."""
    eval_cfg = config["evals"]
    judge = make_judge(eval_cfg["judge"])
    limit = eval_cfg["max_prompts_per_eval"]
    suites = {name: load_eval(name)[:limit] for name in JUDGED_EVALS}
    tasks = read_tasks(eval_tasks)[:limit]
    hints = bool(config["conditions"][condition].get("hints", False))
    rows: list[dict[str, Any]] = []
    with EpisodeScorer(workers=config["grader"]["workers"]) as scorer:
        bench = DetectorBench(labelled_cases(tasks, scorer), scorer.grader)
        for step, folder in tqdm(checkpoints(base_model, run_dir), desc="evaluating checkpoints",
                                 unit="ckpt"):
            sampler = Sampler(folder)
            step_seed = seed * 100_003 + step * 101
            rows += judged_rows(sampler, judge, bench, suites, eval_cfg, step, step_seed)
            rows += testtime_rows(sampler, tasks, scorer, step=step, hints=hints,
                                  n=eval_cfg["samples_per_prompt"],
                                  max_new_tokens=config["rl"]["max_completion_length"],
                                  temperature=eval_cfg["temperature"],
                                  seed=step_seed + len(suites))
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=ANSWERS_SCHEMA), out)
