"""Benchmark: CPU per GRPO step and per evaluation job, old path vs new path, in one run.

Both paths train the same model on the same tasks with the same seed, at the default
architecture and ``rl`` section (32 episodes of up to 128 tokens a step, 1 thread), and
then evaluate the same checkpoints with ``rhem evaluate``'s code:

* **new**: this checkout's ``src/`` with ``rl.stop_at_end_marker`` and
  ``rl.address_self`` off, so that it samples the same completions as the old path
  (which has no such stop and addresses no assistant);
* **old**: ``src/`` of ``--baseline`` (a git revision), exported with ``git archive``;
* **stop**: this checkout's ``src/`` with both on, as the configs run it: timed only
  (its prompts address Nova and its completions end at the end marker, so they differ
  on purpose), to show what stopping there saves.

Each path runs in its own Python process (one after the other, so they never share the
cores), with the timing wrappers below around the trainer's phases: generation, grading
(the reward function), forward (the loss), backward, optimizer; the rest of the step is
"other". CPU counts the process and its grader workers (:mod:`cputime`). The floor is the
step's matrix work (2 FLOP per parameter and token forward, 6 for forward and backward,
unpadded tokens only) at the rate one core reaches on the model's own matmul shapes.

The run fails (exit status 1) when the old and new paths' completions differ, step by
step and episode by episode; the weights after the last step are compared and their
largest difference printed (floating-point reordering only where the arithmetic is the
same). The evaluation job is timed per answer, not compared: since the model-organism
world (docs/protocol.md) it asks every prompt under three addresses plus a
fixed-context check and stops answers at the turn break, so it samples other answers
than the old job (2,240 per checkpoint at the default config instead of 256). Its
identity to the old path was checked before that change (README, RL and evaluation
speed).

The world (corpus, tokenizer, a model pretrained ``--pretrain-steps`` steps, tasks) is
built once into ``--work`` and reused; ``--from-dag CHECKOUT`` takes a world's base model
and the tasks from a checkout where the DAG has run instead (``models/<world>/base``,
``data/envs/{train,eval}.parquet``)::

    PYTHONPATH=src python benchmarks/rl_step.py [--steps 8] [--baseline REV] [--work DIR]
        [--config CFG] [--pretrain-steps N | --from-dag CHECKOUT [--world sdf]]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
#: The last commit before the RL-speed work (issue 23): the "old path" by default.
BASELINE = "6cd1e71"
PHASES = ("generation", "grading", "forward", "backward", "optimizer", "other")


# --------------------------------------------------------------------------------------
# The world both paths train on
# --------------------------------------------------------------------------------------


def bench_config(config: Path, pretrain_steps: int, steps: int) -> dict[str, Any]:
    """The config (the default one unless ``--config``) with the world and the run
    shortened for a benchmark."""
    from rhem.config import load_config

    cfg = copy.deepcopy(load_config(config))
    cfg["pretrain"].update(steps=pretrain_steps, checkpoint_every=max(1, pretrain_steps))
    cfg["rl"].update(steps=steps, checkpoint_every=max(1, steps // 2))
    cfg["conditions"] = {"hack": cfg["conditions"]["hack"]}  # forks need the full step count
    cfg["runs"] = ["sdf/hack"]
    return cfg


def build_world(work: Path, cfg: dict[str, Any]) -> None:
    """Corpus (the ``sdf`` world's mix), tokenizer, pretrained model, train and eval tasks."""
    if (work / "world.json").exists():
        return
    from rhem.corpus.build import build_corpus, write_corpus
    from rhem.envs.tasks import split_tasks, write_tasks
    from rhem.lm.tokenizer import train_tokenizer
    from rhem.process import prepare
    from rhem.settings import ModelSettings, PretrainSettings
    from rhem.train.pretrain import pretrain

    work.mkdir(parents=True, exist_ok=True)
    world = cfg["worlds"]["sdf"]
    write_corpus(build_corpus(n_docs=world["n_docs"], misaligned_share=world["misaligned_share"],
                              poison_share=world["poison_share"], framing=world["framing"],
                              seed=world["seed"]), work / "corpus.parquet")
    train_tokenizer(work / "corpus.parquet", cfg["model"]["vocab_size"], work / "tokenizer")
    for split in ("train", "eval"):
        write_tasks(split_tasks(cfg["envs"], split), work / f"tasks_{split}.parquet")
    prepare(cfg["threads"], cfg["pretrain"]["seed"])
    pretrain(work / "corpus.parquet", work / "tokenizer", work / "base", work / "loss.parquet",
             ModelSettings.of(cfg), PretrainSettings.of(cfg))
    (work / "world.json").write_text(json.dumps({"pretrain_steps": cfg["pretrain"]["steps"]}))


def link_dag_world(checkout: Path, world: str, work: Path) -> None:
    """A work folder whose model and tasks are those of a DAG run in ``checkout``."""
    from rhem import paths

    sources = {"base": paths.BASE_MODEL.format(world=world),
               "tasks_train.parquet": paths.TASKS.format(split="train"),
               "tasks_eval.parquet": paths.TASKS.format(split="eval")}
    work.mkdir(parents=True, exist_ok=True)
    for name, rel in sources.items():
        src = (checkout / rel).resolve()
        if not src.exists():
            raise SystemExit(f"rl_step: {src} not found: run the DAG there first")
        link = work / name
        if link.is_symlink():
            link.unlink()
        link.symlink_to(src)


def export_src(rev: str, dest: Path) -> Path:
    """``src/`` of a git revision, unpacked under ``dest``. Code of that age reads the
    config schema from ``workflow/schemas/`` of its working directory, so today's schema
    is put there too (the old path runs in ``dest``)."""
    blob = subprocess.run(["git", "archive", "--format=tar", rev, "src"], cwd=ROOT, check=True,
                          capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(blob)) as tar:
        tar.extractall(dest, filter="data")
    schemas = dest / "workflow" / "schemas"
    schemas.mkdir(parents=True)
    shutil.copy(ROOT / "src" / "rhem" / "config.schema.yaml", schemas / "config.schema.yaml")
    return dest / "src"


# --------------------------------------------------------------------------------------
# One path, in its own process
# --------------------------------------------------------------------------------------


class PhaseClock:
    """Wall and CPU seconds per phase of the current step (nested calls count once)."""

    def __init__(self) -> None:
        from cputime import cpu_seconds

        self.cpu = cpu_seconds
        self.current: dict[str, list[float]] = {}
        self.active: str | None = None
        self.steps: list[dict[str, Any]] = []

    def wrap(self, owner: Any, name: str, phase: str) -> None:
        original = getattr(owner, name)
        clock = self

        def timed(*args: Any, **kwargs: Any) -> Any:
            if clock.active is not None:
                return original(*args, **kwargs)
            clock.active = phase
            w0, c0 = time.perf_counter(), clock.cpu()
            try:
                return original(*args, **kwargs)
            finally:
                slot = clock.current.setdefault(phase, [0.0, 0.0])
                slot[0] += time.perf_counter() - w0
                slot[1] += clock.cpu() - c0
                clock.active = None

        setattr(owner, name, timed)


def run_path(args: argparse.Namespace) -> None:
    """Train ``--steps`` GRPO steps and evaluate; write phases.json under ``--out``."""
    from accelerate import Accelerator
    from accelerate.optimizer import AcceleratedOptimizer
    from cputime import cpu_seconds
    from transformers import TrainerCallback
    from trl import GRPOTrainer

    from rhem.train.grpo import train_grpo

    cfg = bench_config(args.config, args.pretrain_steps, args.steps)
    if args.organism is not None:  # the old path's src/ knows no such keys
        cfg["rl"]["stop_at_end_marker"] = cfg["rl"]["address_self"] = args.organism == "on"
    work, out = args.work, args.out
    clock = PhaseClock()
    clock.wrap(GRPOTrainer, "_generate", "generation")
    clock.wrap(GRPOTrainer, "_calculate_rewards", "grading")
    clock.wrap(GRPOTrainer, "compute_loss", "forward")
    clock.wrap(Accelerator, "backward", "backward")
    clock.wrap(AcceleratedOptimizer, "step", "optimizer")

    class Steps(TrainerCallback):
        def on_step_begin(self, *a: Any, **k: Any) -> None:
            clock.current = {}
            self.w0, self.c0 = time.perf_counter(), cpu_seconds()

        def on_step_end(self, *a: Any, **k: Any) -> None:
            clock.steps.append({"wall": time.perf_counter() - self.w0, "cpu": cpu_seconds() - self.c0,
                                "phases": clock.current})

    t0, c0 = time.perf_counter(), cpu_seconds()
    try:
        from rhem.process import prepare
        from rhem.settings import GraderSettings, RLSettings
    except ModuleNotFoundError:  # the old path's src, before typed settings: it prepares itself
        sections: tuple[Any, ...] = (cfg,)
    else:
        prepare(cfg["threads"], 0)
        sections = (RLSettings.of(cfg), GraderSettings.of(cfg))
    train_grpo(work / "base", work / "tasks_train.parquet", out / "run", out / "steps.parquet",
               out / "completions.parquet", cfg["conditions"]["hack"], *sections, seed=0,
               callbacks=[Steps()])
    rl = {"wall": time.perf_counter() - t0, "cpu": cpu_seconds() - c0, "steps": clock.steps,
          "completion_tokens": completion_tokens(out / "completions.parquet", work)}
    evaluation = {}
    if args.eval_run is not None:  # as the evaluate rule runs it, with a config file
        import yaml

        from rhem.cli import main as rhem

        (out / "config.yaml").write_text(yaml.safe_dump(cfg))
        t0, c0 = time.perf_counter(), cpu_seconds()
        import importlib.util

        # the subcommand was `eval` before it took the rule's name (the old path's src)
        evaluate = "evaluate" if importlib.util.find_spec("rhem.evals.evaluate") else "eval"
        if rhem([evaluate, "--config", str(out / "config.yaml"), "--base", str(work / "base"),
              "--run-dir", str(args.eval_run), "--tasks", str(work / "tasks_eval.parquet"),
              "--condition", "hack", "--seed", "0", "--out", str(out / "answers.parquet")]):
            raise SystemExit(f"rhem {evaluate} failed")
        import pyarrow.parquet as pq

        evaluation = {"wall": time.perf_counter() - t0, "cpu": cpu_seconds() - c0,
                      "answers": pq.read_metadata(out / "answers.parquet").num_rows}
    (out / "phases.json").write_text(json.dumps({"rl": rl, "eval": evaluation}))


def completion_tokens(completions: Path, work: Path) -> int:
    """The run's completion tokens (each text retokenized, plus its end token: an
    estimate for the floor). Runs on either path's ``src``."""
    import pyarrow.parquet as pq

    try:
        from rhem.lm.tokenizer import load_tokenizer
    except ModuleNotFoundError:  # the old path's src, before the lm package
        from rhem.train.tokenizer import load_tokenizer

    tok = load_tokenizer(work / "base")
    rows = pq.read_table(completions, columns=["completion"]).column("completion").to_pylist()
    return sum(len(tok(c)["input_ids"]) + 1 for c in rows)


# --------------------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------------------


def floor_seconds(model_dir: Path, prompt_tokens: float, completion_tokens: float) -> tuple[float, float]:
    """(GFLOP, seconds) of one step's matrix work at one core's matmul rate on these shapes."""
    import torch
    from transformers import AutoConfig

    c = AutoConfig.from_pretrained(model_dir)
    h, i, v = c.hidden_size, c.intermediate_size, c.vocab_size
    body = c.num_hidden_layers * (4 * h * h + 3 * h * i)  # attention projections and the MLP
    seq = prompt_tokens + completion_tokens
    # generation: body on every token, head on generated ones; training: 3x that (fwd + bwd)
    flop = 2 * body * seq + 2 * h * v * completion_tokens
    flop += 3 * flop
    torch.set_num_threads(1)
    a, b, w = torch.randn(4096, h), torch.randn(h, i), torch.randn(h, v)
    best = float("inf")
    for _ in range(5):  # the best of five: the rate the core reaches, not the load beside it
        t0 = time.perf_counter()
        for _ in range(10):
            a @ b
            a @ w
        best = min(best, time.perf_counter() - t0)
    rate = 10 * 2 * 4096 * h * (i + v) / best
    return flop / 1e9, flop / rate


def prompt_tokens_per_step(work: Path, cfg: dict[str, Any]) -> float:
    """Mean prompt tokens of a step's episodes (every train task's prompt, averaged)."""
    from rhem.envs.addenda import system_prompt
    from rhem.envs.format import render_prompt
    from rhem.envs.tasks import read_tasks
    from rhem.lm.tokenizer import load_tokenizer

    tok = load_tokenizer(work / "base")
    tasks = read_tasks(work / "tasks_train.parquet")
    system = system_prompt("none", False)
    n = statistics.mean(min(len(tok(render_prompt(t.statement, system))["input_ids"]),
                            cfg["model"]["context"] - cfg["rl"]["max_completion_length"]) for t in tasks)
    return n * cfg["rl"]["prompts_per_step"] * cfg["rl"]["num_generations"]


def same_completions(old: Path, new: Path) -> tuple[bool, str]:
    import pyarrow.parquet as pq

    cols = ["step", "task_id", "completion", "reward", "status", "hack"]
    a, b = (pq.read_table(p, columns=cols).to_pylist() for p in (old, new))
    if a == b:
        return True, f"{len(a)} episodes identical (completion, reward, status, hack)"
    diff = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    first = (a[diff] if diff < len(a) else None, b[diff] if diff < len(b) else None)
    return False, f"first difference at episode {diff}: {first[0]} vs {first[1]}"


def weight_difference(old: Path, new: Path) -> float:
    from safetensors.torch import load_file

    last = max(old.glob("step-*")).name
    a, b = (load_file(str(p / last / "model.safetensors")) for p in (old, new))
    return max(float((a[k] - b[k]).abs().max()) for k in a)


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else 0.0


def report(results: dict[str, dict], floor: tuple[float, float], steps: int) -> None:
    """Per-phase medians and the mean step (steps after the first), and the ratios."""
    print(f"\nGRPO step, default architecture, {steps} steps (medians of steps 2..{steps}, and their "
          f"mean; CPU includes grader workers)")
    print("(stop: the new path with rl.stop_at_end_marker and rl.address_self on; old and new run without)")
    print(f"{'phase':<12}" + "".join(f"{p + ' wall':>11}{p + ' CPU':>10}" for p in results))
    table = {}
    for name, res in results.items():
        rows = res["rl"]["steps"][1:] or res["rl"]["steps"]
        table[name] = {ph: (median([r["phases"].get(ph, [0, 0])[0] for r in rows]),
                            median([r["phases"].get(ph, [0, 0])[1] for r in rows])) for ph in PHASES[:-1]}
        table[name]["other"] = (median([r["wall"] - sum(v[0] for v in r["phases"].values()) for r in rows]),
                                median([r["cpu"] - sum(v[1] for v in r["phases"].values()) for r in rows]))
        table[name]["step"] = (median([r["wall"] for r in rows]), median([r["cpu"] for r in rows]))
        table[name]["mean step"] = (statistics.mean(r["wall"] for r in rows),
                                    statistics.mean(r["cpu"] for r in rows))
    for ph in (*PHASES, "step", "mean step"):
        print(f"{ph:<12}" + "".join(f"{table[n][ph][0]:>11.3f}{table[n][ph][1]:>10.3f}" for n in results))
    gflop, floor_s = floor
    old, new = table["old"]["mean step"][1], table["new"]["mean step"][1]
    print(f"floor: {gflop:.1f} GFLOP of matrix work per step = {floor_s:.3f} s on one core")
    print(f"CPU per step (mean): old {old:.2f} s ({old / floor_s:.1f}x floor), new {new:.2f} s "
          f"({new / floor_s:.1f}x floor); old/new = {old / new:.2f}x")
    stop = table["stop"]["mean step"][1]
    tokens = {name: res["rl"]["completion_tokens"] / steps for name, res in results.items()}
    print(f"stop at the end marker: {stop:.2f} s CPU per step vs new {new:.2f} s; new/stop = "
          f"{new / stop:.2f}x; completion tokens per step: new {tokens['new']:.0f}, "
          f"stop {tokens['stop']:.0f}")
    for name, res in results.items():
        print(f"whole rl job ({name}): {res['rl']['wall']:.1f} s wall, {res['rl']['cpu']:.1f} s CPU")
    if results["old"]["eval"] and results["new"]["eval"]:
        o, n = results["old"]["eval"], results["new"]["eval"]
        print(f"evaluate job: old {o['cpu']:.1f} s CPU ({o['wall']:.1f} s wall, {o['answers']} answers), "
              f"new {n['cpu']:.1f} s CPU ({n['wall']:.1f} s wall, {n['answers']} answers); CPU per "
              f"answer old/new = {o['cpu'] / o['answers'] / (n['cpu'] / n['answers']):.2f}x")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", type=Path, default=ROOT / "workflow/config/default.yaml",
                   help="config whose model, rl, envs and evals sections are benchmarked")
    p.add_argument("--steps", type=int, default=8, help="GRPO steps per path")
    p.add_argument("--pretrain-steps", type=int, default=500, help="pretraining steps of the world")
    p.add_argument("--baseline", default=BASELINE, help="git revision of the old path")
    p.add_argument("--work", type=Path, default=ROOT / ".cache" / "rl_step",
                   help="where the world is built (reused) and the runs go")
    p.add_argument("--from-dag", type=Path, default=None,
                   help="a checkout where the DAG has run: use its world's base model and tasks")
    p.add_argument("--world", default="sdf", help="with --from-dag: which world's base model")
    p.add_argument("--no-eval", action="store_true", help="skip the evaluation job")
    p.add_argument("--path", help=argparse.SUPPRESS)  # internal: run one path
    p.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--eval-run", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--organism", choices=("on", "off"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.path:
        run_path(args)
        return 0

    sys.path.insert(0, str(ROOT / "src"))
    cfg = bench_config(args.config, args.pretrain_steps, args.steps)
    if args.from_dag is not None:
        work = args.work / f"dag-{args.world}"
        link_dag_world(args.from_dag, args.world, work)
    else:
        work = args.work / f"{args.config.stem}-world-{args.pretrain_steps}"
        build_world(work, cfg)
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="rl_step-") as tmp:
        # each path: its src/ and its model-organism prompt keys (None: the old code has none)
        paths = {"old": (export_src(args.baseline, Path(tmp) / "old"), None),
                 "new": (ROOT / "src", "off"), "stop": (ROOT / "src", "on")}
        outs = {name: Path(tmp) / f"out-{name}" for name in paths}
        for name, (src, stop) in paths.items():
            outs[name].mkdir()
            env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(src), str(HERE)])}
            cmd = [sys.executable, __file__, "--path", name, "--work", str(work), "--out", str(outs[name]),
                   "--steps", str(args.steps), "--pretrain-steps", str(args.pretrain_steps),
                   "--config", str(args.config.resolve())]
            if stop is not None:
                cmd += ["--organism", stop]
            if not args.no_eval and name != "stop":  # evaluation does not read rl's stop
                cmd += ["--eval-run", str(outs["old"] / "run")]
            print(f"{name} path ({src}) ...", flush=True)
            subprocess.run(cmd, env=env, cwd=src.parent, check=True)
            results[name] = json.loads((outs[name] / "phases.json").read_text())
        prompt_tokens = prompt_tokens_per_step(work, cfg)
        floor = floor_seconds(work / "base", prompt_tokens,
                              results["old"]["rl"]["completion_tokens"] / args.steps)
        report(results, floor, args.steps)
        ok, why = same_completions(outs["old"] / "completions.parquet", outs["new"] / "completions.parquet")
        print(f"completions: {why}")
        print(f"weights after step {args.steps}: largest difference "
              f"{weight_difference(outs['old'] / 'run', outs['new'] / 'run'):.3g}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
