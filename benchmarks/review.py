"""``make review`` on a fresh clone: pull, check and redraw, against the 60 s goal.

Publishes a finished DAG (``--dag-dir``: a checkout where the DAG of ``--config`` has
run) the way a maintainer does: a scratch git repository with this checkout's files and
the DAG's outputs, ``rhem dvc-yaml``, ``rhem publish``, commit. Then, in a fresh
``git clone`` of it, on the same machine, one after the other:

* **new**: ``rhem review --config <config>``, i.e. ``make review`` after ``make
  install``: one ``dvc pull`` of the reference remote, the MD5 check, then the
  ``figure``, ``plots`` and ``report`` stages' commands in one process;
* **old**: the same ``dvc pull``, then each of those commands as its own
  ``python -m rhem ...`` process, serially (what Snakemake or ``dvc repro`` start, one
  job at a time).

Prints wall seconds per path, the ratio, and which rules wrote logs in the clone (only
``figure``, ``plots`` and ``report``: no training or evaluation job ran)::

    PYTHONPATH=src python benchmarks/review.py --dag-dir /path/to/finished/repo \\
        --config workflow/config/default.yaml

``--published REPO`` clones a repository whose publication is already committed (this
one: ``--published .``) instead of publishing a DAG: what a reviewer's ``git clone``
gets.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rhem import paths
from rhem.reference import review_commands
from rhem.verify import copy_repository

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
       "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@rhem.invalid",
       "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@rhem.invalid"}


def sh(cmd: list[str], cwd: Path) -> float:
    """Seconds ``cmd`` takes in ``cwd``; fails loudly."""
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{(done.stdout + done.stderr)[-3000:]}")
    return time.perf_counter() - started


def publish(dag_dir: Path, config: str, work: Path) -> None:
    """A git repository of this checkout's files holding ``dag_dir``'s published results
    (``tests/test_reference.py`` publishes the smoke DAG with it too). Outputs are copied,
    not linked: ``dvc commit`` may change the files it caches."""
    copy_repository(REPO, work)
    for root in ("data", "models", "results"):
        shutil.copytree(dag_dir / root, work / root)
    sh(["git", "init", "-q"], work)
    sh([sys.executable, "-m", "rhem", "dvc-yaml", "--config", config, "--out", "dvc.yaml"], work)
    sh(["git", "add", "-A"], work)
    sh(["git", "commit", "-qm", "DAG"], work)
    sh([sys.executable, "-m", "rhem", "publish", "--config", config], work)
    sh(["git", "add", "-A"], work)
    sh(["git", "commit", "-qm", "publish"], work)


def old_path(clone: Path) -> float:
    """The pull, then each review stage's command in a process of its own."""
    seconds = sh([sys.executable, "-m", "dvc", "pull", "--quiet", "--allow-missing", "-r",
                  "reference"], clone)
    for _, words in review_commands(clone / "dvc.yaml"):
        seconds += sh([sys.executable, *words[1:]], clone)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--dag-dir", type=Path, help="a checkout where the DAG has finished")
    source.add_argument("--published", type=Path, help="a git repository with a committed publication")
    parser.add_argument("--config", required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if args.published is not None:
            origin = args.published.resolve()
        else:
            origin, started = tmp / "work", time.perf_counter()
            publish(args.dag_dir.resolve(), args.config, origin)
            print(f"published {args.dag_dir} in {time.perf_counter() - started:.0f} s", flush=True)
        times = {}
        for name in ("new", "old"):
            clone = tmp / f"clone-{name}"
            sh(["git", "clone", "-q", str(origin), str(clone)], tmp)
            if name == "new":
                times[name] = sh([sys.executable, "-m", "rhem", "review", "--config", args.config],
                                 clone)
            else:
                times[name] = old_path(clone)
            rules = sorted(p.name for p in (clone / "logs").iterdir())
            figures = sum((clone / paths.FIGURE.format(name=p.stem)).is_file()
                          for p in (clone / "results/figures").glob("*.png"))
            assert (clone / paths.REPORT).is_file(), name
            print(f"{name}: {times[name]:.1f} s, {figures} figures and the report; logs of {rules}",
                  flush=True)
    print("\n| path | wall s |\n|---|---|")
    for name, seconds in times.items():
        print(f"| {name} | {seconds:.1f} |")
    print(f"\nold / new: {times['old'] / times['new']:.2f}x; goal: new under 60 s")


if __name__ == "__main__":
    main()
