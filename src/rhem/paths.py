"""Where every artifact lives: the Snakefile, DVC and the stages all read these patterns.

Patterns use Snakemake wildcard syntax (``{world}``, ``{condition}``, ``{seed}``) and
are filled with ``str.format`` in Python.
"""

from __future__ import annotations

import re
from pathlib import Path

CORPUS = "data/corpus/{world}.parquet"
TASKS = "data/envs/{split}.parquet"
TOKENIZER = "models/{world}/tokenizer"
BASE_MODEL = "models/{world}/base"
PRETRAIN_LOSS = "results/pretrain/{world}/loss.parquet"
#: Base-model checks (rhem.evals.base_checks): the JSON, and its per-sample rows next to it.
BASE_CHECKS = "results/metrics/base_{world}.json"
BASE_CHECKS_ROWS = "results/metrics/base_{world}.parquet"
RUN_MODEL = "models/{world}/{condition}/seed{seed}"
RL_STEPS = "results/rl/{world}/{condition}/seed{seed}/steps.parquet"
RL_COMPLETIONS = "results/rl/{world}/{condition}/seed{seed}/completions.parquet"
ANSWERS = "results/evals/{world}/{condition}/seed{seed}.parquet"
CURVES = "results/metrics/curves.parquet"
SUMMARY = "results/metrics/summary.json"
#: The pre-registered experiment's analysis (docs/protocol.md, rhem.evals.decision).
DECISION = "results/protocol/decision.json"
FIGURE = "results/figures/{name}.png"
FIGURE_CAPTION = "results/figures/{name}.txt"
#: The numbers each figure plots (fig09's is the per-eval table).
FIGURE_DATA = "results/figures/{name}.csv"
#: One CSV per curves series (step x run, seed means): what DVC plots reads.
PLOTS = "results/metrics/plots"
REPORT = "results/report.html"
#: The record of the published reference results, and the read-only DVC remote holding them
#: (both committed; see :mod:`rhem.figures.provenance`).
PUBLISHED = "reference/published.json"
REFERENCE_REMOTE = "reference/dvc"


def run_parts(run: str) -> dict[str, str]:
    """Split a config ``runs`` entry ``"world/condition"`` into wildcards."""
    world, condition = run.split("/")
    return {"world": world, "condition": condition}


def parse(pattern: str, path: str | Path) -> dict[str, str]:
    """The wildcards of ``path``, a file named by ``pattern`` (``{name}`` matches one path
    segment; the path may sit under another directory); a path the pattern does not name
    is an error that says which."""
    regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(pattern))
    found = re.search(f"(?:^|/){regex}$", str(path))
    if found is None:
        raise ValueError(f"{path} is not a {pattern} file")
    return found.groupdict()


def runs_of(pattern: str, files: list[Path]) -> dict[str, dict[int, Path]]:
    """``files`` named by a per-run ``pattern``, as ``{"world/condition": {seed: file}}``."""
    out: dict[str, dict[int, Path]] = {}
    for file in files:
        parts = parse(pattern, file)
        out.setdefault(f"{parts['world']}/{parts['condition']}", {})[int(parts["seed"])] = Path(file)
    return out


def checkpoint(run_model: str, step: int) -> str:
    """The model folder a run exports for ``step`` (``<run>/step-NNNNN``)."""
    return f"{run_model}/step-{step:05d}"


def exported_steps(run_model: str | Path) -> list[tuple[int, Path]]:
    """(step, folder) of every :func:`checkpoint` folder a run exported, in step order."""
    found = []
    for folder in Path(run_model).glob("step-*"):
        step = folder.name.removeprefix("step-")
        if folder.is_dir() and step.isdigit() and folder.name == Path(checkpoint("", int(step))).name:
            found.append((int(step), folder))
    return sorted(found)


def rl_sources(world: str, condition: str, seed: int | str,
               conditions: dict[str, dict]) -> dict[str, str]:
    """Extra inputs of one RL job: the parent run a fork starts from (``parent``, with
    ``start`` the checkpoint inside it) or the episode log a distillation filters
    (``source``); empty for a run trained from the base model."""
    cond = conditions[condition]
    if "fork" in cond:
        parent = RUN_MODEL.format(world=world, condition=cond["fork"]["from"], seed=seed)
        return {"parent": parent, "start": checkpoint(parent, cond["fork"]["step"])}
    if "distill" in cond:
        return {"source": RL_COMPLETIONS.format(world=world, condition=cond["distill"]["from"],
                                                seed=seed)}
    return {}
