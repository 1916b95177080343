"""``rhem verify``: rebuild one run from scratch and compare it with the results at hand.

A reviewer with published results (``make review``) or a finished DAG picks one run and
seed; ``rhem verify`` copies the repository's files (what a fresh clone has) into a work
directory, lets Snakemake build only what that run needs (its world's corpus, tasks,
tokenizer and base model, a forked run's parent, the run's RL and its evaluation), and
compares every file it built with the same file in the reference directory.

Every stage is deterministic at the config's thread count, so the expected verdict is
*identical* (same bytes). A Parquet table whose bytes differ but whose values agree to
:data:`RTOL` (relative) is reported *within tolerance*; any other difference, or a file
the reference lacks, is named, and the command exits 1. Where the reference holds a
publication of this config (:data:`rhem.paths.PUBLISHED`), only the published files are
compared (the run's RL log, episodes and judged answers); corpora and checkpoints, which
are not published, are listed as *not published*.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from rhem import paths
from rhem.config import load_config
from rhem.figures.provenance import published_for

#: Relative tolerance on numeric Parquet columns whose bytes differ.
RTOL = 1e-6
#: Where the DAG writes (everything a fresh copy lacks is built there).
OUTPUT_ROOTS = ("data", "models", "results")


@dataclass(frozen=True)
class Comparison:
    """One built file against the reference: ``identical``, ``within tolerance``,
    ``different`` or ``missing in reference``."""

    path: str
    verdict: str
    detail: str = ""


def targets(config: dict, run: str, seed: int) -> list[str]:
    """The files of one run and seed: its RL log, episodes, model steps and evaluation."""
    if run not in config["runs"]:
        raise SystemExit(f"rhem verify: {run!r} is not one of the config's runs: {config['runs']}")
    if seed not in config["seeds"]:
        raise SystemExit(f"rhem verify: seed {seed} is not one of the config's seeds: {config['seeds']}")
    parts = {**paths.run_parts(run), "seed": seed}
    return [pattern.format(**parts) for pattern in
            (paths.RL_STEPS, paths.RL_COMPLETIONS, paths.RUN_MODEL, paths.ANSWERS)]


#: Never copied from a directory that is not a git checkout: outputs, logs, environments.
SKIPPED = (*OUTPUT_ROOTS, "logs", ".snakemake", ".venv", ".git", ".dvc", ".cache")


def copy_repository(src: Path, dest: Path) -> None:
    """The files a fresh clone of ``src`` has (tracked and untracked, not ignored); where
    ``src`` is no git checkout, every file outside :data:`SKIPPED`."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=src,
                            capture_output=True, text=True, check=False)
    if listed.returncode == 0:
        names = listed.stdout.splitlines()
    else:
        names = [str(p.relative_to(src)) for p in src.rglob("*")
                 if p.is_file() and p.relative_to(src).parts[0] not in SKIPPED]
    for rel in names:
        if (src / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src / rel, dest / rel)


def built_files(workdir: Path) -> list[str]:
    """Every file the DAG wrote in ``workdir`` (Snakemake's own markers excluded)."""
    found = []
    for root in OUTPUT_ROOTS:
        for path in sorted((workdir / root).rglob("*")):
            if path.is_file() and path.name != ".snakemake_timestamp":
                found.append(str(path.relative_to(workdir)))
    return found


def _tables_agree(built: Path, reference: Path) -> tuple[bool, str]:
    """Whether two Parquet tables hold the same values (numbers to :data:`RTOL`)."""
    import numpy as np
    import pandas as pd

    a, b = pd.read_parquet(built), pd.read_parquet(reference)
    if list(a.columns) != list(b.columns) or len(a) != len(b):
        return False, f"shape or columns differ: {a.shape} vs {b.shape}"
    worst = 0.0
    for column in a.columns:
        x, y = a[column], b[column]
        if pd.api.types.is_numeric_dtype(x) and pd.api.types.is_numeric_dtype(y):
            xs, ys = x.to_numpy(dtype=float), y.to_numpy(dtype=float)
            if not np.allclose(xs, ys, rtol=RTOL, atol=0.0, equal_nan=True):
                return False, f"column {column!r} differs beyond rtol {RTOL}"
            with np.errstate(invalid="ignore", divide="ignore"):
                rel = np.nanmax(np.abs(xs - ys) / np.maximum(np.abs(ys), 1e-300), initial=0.0)
            worst = max(worst, float(rel))
        elif not x.astype(str).equals(y.astype(str)):
            return False, f"column {column!r} differs"
    return True, f"largest relative difference {worst:.2e}"


def compare(workdir: Path, reference: Path, files: list[str],
            published: set[str] | None = None) -> list[Comparison]:
    """Each built file against the reference's file of the same path; where the reference
    is a publication (``published``: the files it holds), other files are ``not published``."""
    out = []
    for rel in files:
        built, ref = workdir / rel, reference / rel
        if published is not None and rel not in published:
            out.append(Comparison(rel, "not published"))
        elif not ref.is_file():
            out.append(Comparison(rel, "missing in reference"))
        elif built.read_bytes() == ref.read_bytes():
            out.append(Comparison(rel, "identical"))
        elif rel.endswith(".parquet"):
            agree, why = _tables_agree(built, ref)
            out.append(Comparison(rel, "within tolerance" if agree else "different", why))
        else:
            out.append(Comparison(rel, "different", f"{built.stat().st_size} vs {ref.stat().st_size} bytes"))
    return out


def verdict(results: list[Comparison]) -> str:
    """``reproduced (bit-identical)``, ``reproduced within tolerance`` or ``NOT reproduced``
    (also when no file could be compared)."""
    kinds = {c.verdict for c in results} - {"not published"}
    if not kinds:
        return "NOT reproduced (nothing to compare with)"
    if kinds <= {"identical"}:
        return "reproduced (bit-identical)"
    if kinds <= {"identical", "within tolerance"}:
        return "reproduced within tolerance"
    return "NOT reproduced"


def verify_main(argv: list[str] | None = None) -> int:
    """Entry point of ``rhem verify``; returns 0 when the run was reproduced."""
    p = argparse.ArgumentParser(prog="rhem verify", description=__doc__.split("\n\n")[0])
    p.add_argument("--config", type=Path, required=True)
    p.add_argument("--run", required=True, help="world/condition, one of the config's runs")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--reference", type=Path, default=Path("."),
                   help="where the results to compare with are (default: this repository)")
    p.add_argument("--workdir", type=Path, default=None,
                   help="where to rebuild (default: a temporary directory, removed afterwards)")
    p.add_argument("--cores", default="all")
    args = p.parse_args(argv)
    config = load_config(args.config)
    wanted = targets(config, args.run, args.seed)
    repo, reference = Path.cwd(), args.reference.resolve()
    with tempfile.TemporaryDirectory(prefix="rhem-verify-") as tmp:
        workdir = (args.workdir or Path(tmp)).resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        copy_repository(repo, workdir)
        start = time.monotonic()
        snakemake = Path(sys.executable).with_name("snakemake")
        cmd = [str(snakemake) if snakemake.exists() else "snakemake", *wanted,
               "--cores", str(args.cores), "--configfile", str(args.config)]
        print(f"rhem verify: rebuilding {args.run} seed {args.seed} in {workdir} ...", flush=True)
        subprocess.run(cmd, cwd=workdir, check=True)
        minutes = (time.monotonic() - start) / 60
        record = published_for(config, reference)
        results = compare(workdir, reference, built_files(workdir),
                          set(record.files) if record else None)
    for c in results:
        print(f"{c.verdict:<22} {c.path}{'  (' + c.detail + ')' if c.detail else ''}")
    outcome = verdict(results)
    print(f"rhem verify: {args.run} seed {args.seed}: {outcome} ({len(results)} files, "
          f"rebuilt in {minutes:.1f} min)")
    return 0 if outcome.startswith("reproduced") else 1
