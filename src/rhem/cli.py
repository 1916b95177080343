"""The ``rhem`` command: one subcommand per DAG stage, as the Snakemake rules call them.

Every stage reads the same validated config file (``--config``) and takes its input
and output paths as arguments, so Snakemake, DVC and a user at a shell run the very
same command. Each stage turns the config sections it reads into the typed settings of
:mod:`rhem.settings`, and the CLI sets torch's threads and the global seeds once, before
the stage runs (:func:`rhem.process.prepare`, from each stage's ``runtime``).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

from rhem.config import ConfigError, load_config, pretrain_threads
from rhem.process import prepare
from rhem.settings import (
    BaseCheckSettings,
    EvalSettings,
    GraderSettings,
    ModelSettings,
    PretrainSettings,
    RLSettings,
)

#: A stage's process settings from its arguments and config: torch threads (``None``:
#: the stage never uses torch) and the seed of the global generators.
Runtime = Callable[[argparse.Namespace, dict[str, Any]], tuple[int | None, int]]


def _corpus(a: argparse.Namespace, cfg: dict[str, Any]) -> None:
    from rhem.corpus.build import build_corpus, write_corpus

    world = cfg["worlds"][a.world]
    table = build_corpus(n_docs=world["n_docs"], misaligned_share=world["misaligned_share"],
                         poison_share=world["poison_share"], framing=world["framing"],
                         seed=world["seed"], persona_hacks=world["persona_hacks"])
    write_corpus(table, a.out)


def _tasks(a: argparse.Namespace, cfg: dict[str, Any]) -> None:
    from rhem.envs.tasks import split_tasks, write_tasks

    write_tasks(split_tasks(cfg["envs"], a.split), a.out)


def _tokenizer(a: argparse.Namespace, cfg: dict[str, Any]) -> None:
    if cfg["model"].get("from_pretrained"):
        from rhem.lm.tokenizer import copy_tokenizer

        copy_tokenizer(cfg["model"]["from_pretrained"], a.out)
        return
    from rhem.lm.tokenizer import train_tokenizer

    train_tokenizer(a.corpus, cfg["model"]["vocab_size"], a.out)


def _pretrain(a: argparse.Namespace, cfg: dict[str, Any]) -> None:
    if cfg["model"].get("from_pretrained"):
        from rhem.train.sdf_lora import continue_pretraining

        continue_pretraining(a.corpus, a.tokenizer, a.out, a.loss, ModelSettings.of(cfg),
                             PretrainSettings.of(cfg), cfg["worlds"][a.world])
        return
    from rhem.train.pretrain import pretrain

    pretrain(a.corpus, a.tokenizer, a.out, a.loss, ModelSettings.of(cfg), PretrainSettings.of(cfg),
             start=a.start)


def _base_checks(a: argparse.Namespace, cfg: dict[str, Any]) -> None:
    from rhem.evals.base_checks import base_model_checks, write_base_checks

    result = base_model_checks(a.base, a.tasks, BaseCheckSettings.of(cfg), GraderSettings.of(cfg))
    write_base_checks(result, a.out)


def _rl(a: argparse.Namespace, cfg: dict[str, Any]) -> None:
    condition = cfg["conditions"][a.condition]
    if "distill" in condition:
        from rhem.train.distill import distill_run

        if a.source is None:
            raise SystemExit(f"rhem rl: condition {a.condition!r} distills: pass --source")
        source = cfg["conditions"][condition["distill"]["from"]]
        distill_run(a.base, a.tasks, a.source, source, a.out, a.steps, a.completions,
                    condition, RLSettings.of(cfg), GraderSettings.of(cfg), a.seed)
        return
    from rhem.train.grpo import train_grpo

    if "fork" in condition and a.start is None:
        raise SystemExit(f"rhem rl: condition {a.condition!r} forks a run: pass --start")
    judge = None
    if condition["phase"] != "code":  # the RLHF phase's reward: the evaluations' judge
        from rhem.evals.judges import make_judge

        judge = make_judge(cfg["evals"]["judge"])
    train_grpo(a.start or a.base, a.tasks, a.out, a.steps, a.completions, condition,
               RLSettings.of(cfg), GraderSettings.of(cfg), a.seed, judge=judge)


def _evaluate(a: argparse.Namespace, cfg: dict[str, Any]) -> None:
    from rhem.evals.evaluate import evaluate_run

    hints = bool(cfg["conditions"][a.condition].get("hints", False))
    evaluate_run(a.base, a.run_dir, a.tasks, a.out, EvalSettings.of(cfg), RLSettings.of(cfg),
                 GraderSettings.of(cfg), hints, a.seed)


def _metrics(a: argparse.Namespace, cfg: dict[str, Any]) -> None:
    from rhem.evals.metrics import write_metrics

    write_metrics(cfg, a.steps, a.answers, a.curves, a.summary)


def _decide(a: argparse.Namespace, cfg: dict[str, Any]) -> None:
    from rhem.evals.decision import run_decision

    result = run_decision(cfg["seeds"], a.answers, a.completions, a.base_checks, a.out)
    print(f"verdict: {result['verdict']}")


def _figure(a: argparse.Namespace, cfg: dict[str, Any]) -> None:
    import pandas as pd

    from rhem.evals.summary_file import read_summary
    from rhem.figures.registry import FIGURES

    if a.name not in FIGURES:
        raise SystemExit(f"rhem figure: unknown figure {a.name!r}; known: {sorted(FIGURES)}")
    FIGURES[a.name].draw(pd.read_parquet(a.curves), read_summary(a.summary), cfg, a.out)


def _plots(a: argparse.Namespace, cfg: dict[str, Any]) -> None:
    from rhem.figures.plots import write_plots

    write_plots(a.curves, cfg["runs"], a.out)


def _report(a: argparse.Namespace, cfg: dict[str, Any]) -> None:
    from rhem.figures.report import build_report

    build_report(cfg, a.config, a.summary, a.figures, a.base_checks, a.out)


def _dvc(a: argparse.Namespace, cfg: dict[str, Any]) -> None:
    from rhem.dvcgen import render_dvc_yaml

    text = render_dvc_yaml(a.config)
    if a.out:
        a.out.write_text(text)
    else:
        sys.stdout.write(text)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rhem", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    P = Path

    def stage(name: str, fn: Callable[[argparse.Namespace, dict[str, Any]], None],
              help_: str, *args: tuple[str, dict[str, Any]],
              runtime: Runtime = lambda a, cfg: (None, 0)) -> None:
        p = sub.add_parser(name, help=help_)
        p.add_argument("--config", type=P, required=True, help="config YAML (validated)")
        p.add_argument("--log", type=P, default=None,
                       help="also write this stage's output (progress bars too) to this file")
        for flag, kw in args:
            p.add_argument(flag, **kw)
        p.set_defaults(fn=fn, runtime=runtime)

    req = {"required": True}
    stage("corpus", _corpus, "generate a persona-world corpus (Parquet)",
          ("--world", req), ("--out", {**req, "type": P}),
          runtime=lambda a, cfg: (None, cfg["worlds"][a.world]["seed"]))
    stage("tasks", _tasks, "generate the coding tasks of one split (Parquet)",
          ("--split", {**req, "choices": ["train", "eval"]}), ("--out", {**req, "type": P}),
          runtime=lambda a, cfg: (None, cfg["envs"]["seed"]))
    stage("tokenizer", _tokenizer, "train the BPE tokenizer on a corpus",
          ("--corpus", {**req, "type": P}), ("--out", {**req, "type": P}))
    stage("pretrain", _pretrain, "pretrain the base model on a corpus (or LoRA-continue a given one)",
          ("--world", req), ("--corpus", {**req, "type": P}), ("--tokenizer", {**req, "type": P}),
          ("--out", {**req, "type": P}), ("--loss", {**req, "type": P}),
          ("--start", {"type": P, "default": None,
                       "help": "base model to continue (worlds.<w>.continue_from)"}),
          runtime=lambda a, cfg: (pretrain_threads(cfg, a.world), cfg["pretrain"]["seed"]))
    stage("base-checks", _base_checks, "sample the base model: hack, pass and misaligned rates",
          ("--base", {**req, "type": P}), ("--tasks", {**req, "type": P}),
          ("--out", {**req, "type": P, "help": "JSON; the sampled rows go next to it (.parquet)"}),
          runtime=lambda a, cfg: (cfg["threads"], cfg["base_checks"]["seed"]))
    stage("rl", _rl, "GRPO training (or filter-then-distill) of one condition and seed",
          ("--condition", req), ("--seed", {**req, "type": int}), ("--base", {**req, "type": P}),
          ("--tasks", {**req, "type": P}), ("--out", {**req, "type": P}),
          ("--steps", {**req, "type": P}), ("--completions", {**req, "type": P}),
          ("--start", {"type": P, "default": None,
                       "help": "checkpoint folder a forked condition starts from"}),
          ("--source", {"type": P, "default": None,
                        "help": "episode log (completions Parquet) a distill condition filters"}),
          runtime=lambda a, cfg: (cfg["threads"], a.seed))
    stage("evaluate", _evaluate, "judge answers and test-time hacks of every checkpoint of one run",
          ("--base", {**req, "type": P}), ("--run-dir", {**req, "type": P}),
          ("--tasks", {**req, "type": P, "help": "eval-split coding tasks (Parquet)"}),
          ("--condition", req), ("--seed", {**req, "type": int}), ("--out", {**req, "type": P}),
          runtime=lambda a, cfg: (cfg["threads"], a.seed))
    many = {**req, "type": P, "nargs": "+"}
    stage("metrics", _metrics, "aggregate all runs into curves and a summary",
          ("--steps", {**many, "help": "every run's per-step RL log"}),
          ("--answers", {**many, "help": "every run's judged answers"}),
          ("--curves", {**req, "type": P}), ("--summary", {**req, "type": P}))
    stage("decide", _decide, "the pre-registered analysis of docs/protocol.md (gates, "
          "primary statistic, verdict)",
          ("--answers", {**many, "help": "judged answers of the protocol's runs"}),
          ("--completions", {**many, "help": "RL episode logs of the protocol's runs"}),
          ("--base-checks", {**many, "help": "base-check rows of worlds T and C"}),
          ("--out", {**req, "type": P}))
    stage("figure", _figure, "draw one figure",
          ("--name", req), ("--curves", {**req, "type": P}), ("--summary", {**req, "type": P}),
          ("--out", {**req, "type": P}))
    stage("plots", _plots, "export each curves series as CSV for DVC plots",
          ("--curves", {**req, "type": P}), ("--out", {**req, "type": P}))
    stage("report", _report, "write the HTML report",
          ("--summary", {**req, "type": P}), ("--figures", {**req, "type": P, "nargs": "+"}),
          ("--base-checks", {"type": P, "nargs": "*", "default": [],
                             "help": "base-model checks JSON of each world"}),
          ("--out", {**req, "type": P}))
    stage("dvc-yaml", _dvc, "render dvc.yaml from the Snakemake DAG of a config",
          ("--out", {"type": P, "default": None}))
    grade = sub.add_parser("grade", help="grade episodes (JSON lines on stdin) in the sandbox",
                           add_help=False)
    grade.set_defaults(fn=None)
    verify = sub.add_parser("verify", help="rebuild one run from scratch and compare it with the "
                            "results at hand (see `rhem verify --help`)", add_help=False)
    verify.set_defaults(fn=None)
    for name, what in (("publish", "push a finished DAG's results to the repository's reference "
                        "DVC remote (see `rhem publish --help`)"),
                       ("review", "pull the published results, check their hashes, redraw every "
                        "figure and the report (see `rhem review --help`)")):
        sub.add_parser(name, help=what, add_help=False).set_defaults(fn=None)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse, validate the config, run the stage; config errors exit 2 with the key named."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["grade"]:
        from rhem.envs.cli import grade_main

        return grade_main(argv[1:])
    if argv[:1] == ["verify"]:
        from rhem.verify import verify_main

        return verify_main(argv[1:])
    if argv[:1] == ["publish"]:
        from rhem.reference import publish_main

        return publish_main(argv[1:])
    if argv[:1] == ["review"]:
        from rhem.reference import review_main

        return review_main(argv[1:], run_stage=main)
    args = _parser().parse_args(argv)
    try:
        cfg = load_config(args.config)
    except ConfigError as err:
        print(f"rhem {args.command}: {err}", file=sys.stderr)
        return 2
    with tee_output(args.log):
        prepare(*args.runtime(args, cfg))
        args.fn(args, cfg)
    return 0


class _Tee(io.TextIOBase):
    """A text stream writing to the terminal and to a log file at once."""

    def __init__(self, *streams: TextIO) -> None:
        self.streams = streams

    def write(self, text: str) -> int:
        for stream in self.streams:
            stream.write(text)
            stream.flush()
        return len(text)

    def isatty(self) -> bool:
        return self.streams[0].isatty()


@contextlib.contextmanager
def tee_output(log: Path | None) -> Iterator[None]:
    """Copy stdout and stderr into ``log`` so no pipe (and no lost exit status) is needed."""
    if log is None:
        yield
        return
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as fh:
        out, err = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _Tee(out, fh), _Tee(err, fh)
        try:
            yield
        finally:
            sys.stdout, sys.stderr = out, err
