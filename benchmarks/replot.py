"""Replotting cost: every figure, the DVC plot CSVs and the report, from existing metrics.

Runs the very commands the Snakemake rules run (``python -m rhem figure|plots|report``,
one fresh process each, imports included) against the metrics of a finished DAG, writing
into a temporary folder so the run's own results stay untouched. Prints one row per
command, the serial total and the wall time with ``--cores`` commands in flight (as
``snakemake --cores N`` would schedule them: figures in parallel, then the report).

Run from the repository root, pointing at a repository copy where a DAG has finished::

    PYTHONPATH=src python benchmarks/replot.py --repo /path/to/finished/repo \\
        --config workflow/config/smoke.yaml --cores 2
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from rhem import paths
from rhem.figures.registry import FIGURES


def timed(cmd: list[str], cwd: Path) -> float:
    """Seconds one command takes; fails loudly if it fails."""
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return time.perf_counter() - started


def commands(config: str, out: Path, worlds: list[str]) -> tuple[dict[str, list[str]], list[str]]:
    """The figure and plots commands (independent) and the report command (needs them)."""
    py = [sys.executable, "-m", "rhem"]
    figures = {name: py + ["figure", "--config", config, "--name", name, "--curves", paths.CURVES,
                           "--summary", paths.SUMMARY, "--out", str(out / f"{name}.png")]
               for name in FIGURES}
    figures["plots (DVC CSVs)"] = py + ["plots", "--config", config, "--curves", paths.CURVES,
                                        "--out", str(out / "plots")]
    report = py + ["report", "--config", config, "--summary", paths.SUMMARY, "--base-checks",
                   *[paths.BASE_CHECKS.format(world=w) for w in worlds], "--figures",
                   *[str(out / f"{name}.png") for name in FIGURES], "--out", str(out / "report.html")]
    return figures, report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repo", type=Path, required=True, help="repository copy with finished metrics")
    p.add_argument("--config", default="workflow/config/smoke.yaml")
    p.add_argument("--cores", type=int, default=2)
    args = p.parse_args(argv)
    runs = yaml.safe_load((args.repo / args.config).read_text())["runs"]
    worlds = sorted({r.split("/")[0] for r in runs})
    with tempfile.TemporaryDirectory(prefix="rhem-replot-") as tmp:
        figures, report = commands(args.config, Path(tmp), worlds)
        started = time.perf_counter()
        with ThreadPoolExecutor(args.cores) as pool:
            seconds = dict(zip(figures, pool.map(lambda c: timed(c, args.repo), figures.values())))
        seconds["report"] = timed(report, args.repo)
        wall = time.perf_counter() - started
    print(f"replot from {args.repo / paths.CURVES} ({len(runs)} runs), {args.cores} in flight:")
    print("| command | seconds |\n|---|---:|")
    for name, s in seconds.items():
        print(f"| {name} | {s:.2f} |")
    print(f"| **serial total** | {sum(seconds.values()):.2f} |")
    print(f"| **wall, {args.cores} in flight** | {wall:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
