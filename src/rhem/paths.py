"""Where every artifact lives: the Snakefile, DVC and the stages all read these patterns.

Patterns use Snakemake wildcard syntax (``{world}``, ``{condition}``, ``{seed}``) and
are filled with ``str.format`` in Python.
"""

from __future__ import annotations

CORPUS = "data/corpus/{world}.parquet"
TASKS = "data/envs/{split}.parquet"
TOKENIZER = "models/{world}/tokenizer"
BASE_MODEL = "models/{world}/base"
PRETRAIN_LOSS = "results/pretrain/{world}/loss.parquet"
RUN_MODEL = "models/{world}/{condition}/seed{seed}"
RL_STEPS = "results/rl/{world}/{condition}/seed{seed}/steps.parquet"
RL_COMPLETIONS = "results/rl/{world}/{condition}/seed{seed}/completions.parquet"
ANSWERS = "results/evals/{world}/{condition}/seed{seed}.parquet"
CURVES = "results/metrics/curves.parquet"
SUMMARY = "results/metrics/summary.json"
FIGURE = "results/figures/{name}.png"
FIGURE_CAPTION = "results/figures/{name}.txt"
REPORT = "results/report.html"


def run_parts(run: str) -> dict[str, str]:
    """Split a config ``runs`` entry ``"world/condition"`` into wildcards."""
    world, condition = run.split("/")
    return {"world": world, "condition": condition}
