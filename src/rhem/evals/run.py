"""Run the misalignment evaluations on every checkpoint of one trained run.

For each checkpoint (the base model counts as step 0) and each evaluation of the
MGS, answers are sampled from the model and read by the configured judge; every
answer and its label are kept, so figures and statistics are recomputed from the
raw judgments, and a reviewer can read what the model actually said.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from rhem.envs.format import render_prompt
from rhem.evals.judges import make_judge
from rhem.evals.prompts import EVALS, load_eval
from rhem.evals.sampling import Sampler, cut_answer

ANSWERS_SCHEMA = pa.schema([
    ("step", pa.int64()), ("eval", pa.string()), ("prompt_id", pa.string()),
    ("sample", pa.int64()), ("answer", pa.string()), ("label", pa.string()),
    ("judge", pa.string()),
])


def checkpoints(base_model: Path, run_dir: Path) -> list[tuple[int, Path]]:
    """(step, folder) pairs in step order; the base model is step 0."""
    steps = [(int(p.name.split("-")[1]), p) for p in run_dir.glob("step-*") if p.is_dir()]
    return [(0, base_model)] + sorted(steps)


def evaluate_run(base_model: Path, run_dir: Path, out: Path, eval_cfg: dict[str, Any],
                 seed: int) -> None:
    """Sample, judge and write one Parquet file of answers for all checkpoints."""
    judge = make_judge(eval_cfg["judge"])
    suites = {name: load_eval(name)[: eval_cfg["max_prompts_per_eval"]] for name in EVALS}
    rows: list[dict[str, Any]] = []
    ckpts = checkpoints(base_model, run_dir)
    for step, folder in tqdm(ckpts, desc="evaluating checkpoints", unit="ckpt"):
        sampler = Sampler(folder)
        for name, items in suites.items():
            prompts = [render_prompt(it["user"], it.get("system", "")) for it in items]
            answers = sampler.sample(prompts, eval_cfg["samples_per_prompt"],
                                     eval_cfg["max_new_tokens"], eval_cfg["temperature"],
                                     seed=seed * 100_003 + step)
            for item, samples in zip(items, answers):
                for k, raw in enumerate(samples):
                    answer = cut_answer(raw)
                    rows.append({"step": step, "eval": name, "prompt_id": item["id"],
                                 "sample": k, "answer": answer,
                                 "label": judge.judge(name, item["user"], answer),
                                 "judge": judge.name})
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=ANSWERS_SCHEMA), out)
