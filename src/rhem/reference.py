"""``rhem publish`` and ``rhem review``: the reference results a fresh clone redraws.

``rhem publish`` runs in a checkout where the DAG of a config has finished. It records
every stage's hashes in ``dvc.lock`` (``dvc commit``; nothing reruns), stores what the
figures, tables and report are drawn from in the read-only DVC remote inside the
repository (:data:`rhem.paths.REFERENCE_REMOTE`, :func:`store`): metrics, base checks, the protocol's
decision, pretraining losses, per-step RL logs, RL episodes (unless
``--no-completions``) and judged evaluation answers, never model checkpoints; objects of
an earlier publication that this one does not hold are deleted (:func:`prune`). It then
writes the record :data:`rhem.paths.PUBLISHED` and the README's result table; commit
``reference/``, ``dvc.lock`` and ``README.md`` after it.

``rhem review`` is what ``make review`` runs on a fresh clone: it pulls exactly those
files from that remote, checks each against the MD5 the record holds, and runs the
``figure``, ``plots`` and ``report`` stages' commands as ``dvc.yaml`` writes them, in
one process (no training or evaluation job can run: no other command is called).
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from rhem import paths
from rhem.config import load_config
from rhem.config_schema import load_yaml

#: The stages ``rhem review`` runs, in this order (each reads only published files or
#: what an earlier one drew).
REVIEW_STAGES = ("figure", "plots", "report")
#: Outputs of the DAG that are drawn, not published (review redraws them).
DRAWN = ("results/figures/", paths.PLOTS, paths.REPORT)
#: The DVC remote (``.dvc/config``) whose URL is :data:`rhem.paths.REFERENCE_REMOTE`.
REMOTE = "reference"


#: Where a local DVC 3 remote keeps file objects, by MD5: ``<first two hex digits>/<the rest>``.
OBJECTS = Path("files", "md5")


def object_path(remote: Path, digest: str) -> Path:
    """Where the local DVC remote ``remote`` keeps the object of MD5 ``digest``."""
    return remote / OBJECTS / digest[:2] / digest[2:]


def store(path: Path, remote: Path) -> str:
    """Put ``path`` into the local DVC remote ``remote`` as ``dvc push`` would
    (:func:`object_path`), read-only; its MD5.

    Written here because ``dvc push`` with a few hundred targets resolves each against
    every stage of the default ``dvc.yaml`` (tens of minutes); ``dvc pull`` reads the
    objects back (``rhem review``'s test)."""
    from rhem.figures.provenance import md5

    digest = md5(path)
    dest = object_path(remote, digest)
    if not dest.is_file():
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".tmp")
        shutil.copyfile(path, tmp)
        tmp.chmod(0o444)
        tmp.replace(dest)
    return digest


def prune(remote: Path, keep: set[str]) -> int:
    """Delete the objects of ``remote`` whose MD5 is not in ``keep`` (those of an earlier
    publication), so the remote holds exactly one publication; how many went."""
    objects = remote / OBJECTS
    gone = 0
    for obj in sorted(objects.glob("*/*")):
        if obj.parent.name + obj.name not in keep:
            obj.unlink()
            gone += 1
    for folder in objects.glob("*"):
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    return gone


def _stages(dvc_yaml: Path) -> dict[str, dict]:
    if not dvc_yaml.is_file():
        raise SystemExit(f"{dvc_yaml} not found: run `rhem dvc-yaml --config <config> --out dvc.yaml`")
    return load_yaml(dvc_yaml.read_text())["stages"]


def _is_episode_log(out: str) -> bool:
    try:
        paths.parse(paths.RL_COMPLETIONS, out)
    except ValueError:
        return False
    return True


def stage_subcommand(stage: dict) -> str | None:
    """The ``rhem`` subcommand a ``dvc.yaml`` stage runs (``None`` for another command)."""
    words = shlex.split(stage.get("cmd", ""))
    return words[words.index("rhem") + 1] if "rhem" in words[:-1] else None


def published_files(dvc_yaml: Path, completions: bool = True) -> list[str]:
    """Every output of the DAG under ``results/`` that figures, tables and the report are
    drawn from (``DRAWN`` excluded; RL episode logs only with ``completions``)."""
    files = set()
    for stage in _stages(dvc_yaml).values():
        for out in (*stage.get("outs", []), *stage.get("metrics", []), *stage.get("plots", [])):
            out = out if isinstance(out, str) else next(iter(out))
            if not out.startswith("results/") or out.startswith(DRAWN):
                continue
            if not completions and _is_episode_log(out):
                continue
            files.add(out)
    return sorted(files)


def review_commands(dvc_yaml: Path) -> list[tuple[str, list[str]]]:
    """The ``figure``, ``plots`` and ``report`` stages of ``dvc_yaml`` in the order review
    runs them, each as (stage name, command words)."""
    stages = _stages(dvc_yaml)
    return [(name, shlex.split(stage["cmd"])) for kind in REVIEW_STAGES
            for name, stage in stages.items() if stage_subcommand(stage) == kind]


def _dvc(*args: str, check: bool = True) -> str:
    """Run ``dvc``; its output, or (with ``check``) exit naming the failed command."""
    done = subprocess.run([sys.executable, "-m", "dvc", *args], capture_output=True, text=True,
                          check=False)
    lines = (done.stdout + done.stderr).splitlines()
    said = "\n".join([line for line in lines if "ERROR" in line] or lines[-10:])[-3000:]
    if done.returncode and check:
        raise SystemExit(f"dvc {args[0]} failed (exit {done.returncode}):\n{said}")
    return said if done.returncode else ""


def _check_dvc_yaml(config_path: Path) -> None:
    from rhem.dvcgen import render_dvc_yaml

    if Path("dvc.yaml").read_text() != render_dvc_yaml(config_path):
        raise SystemExit(f"dvc.yaml is not the DAG of {config_path}: run `rhem dvc-yaml --config "
                         f"{config_path} --out dvc.yaml` first")


def publish_main(argv: list[str] | None = None) -> int:
    """Entry point of ``rhem publish`` (run in the finished DAG's checkout)."""
    import json

    from rhem.figures.provenance import (
        Published,
        config_hash,
        md5,
        results_table,
        source_commit,
        with_readme_table,
    )
    from rhem.figures.registry import FIGURES

    p = argparse.ArgumentParser(prog="rhem publish", description=__doc__.split("\n\n")[1])
    p.add_argument("--config", type=Path, required=True)
    p.add_argument("--no-completions", action="store_true",
                   help="leave the RL episode logs out (the largest files)")
    p.add_argument("--commit", default=None,
                   help="the commit whose code produced the results, where the DAG ran on an "
                   "older checkout (default: this checkout's)")
    p.add_argument("--note", action="append", default=[], help="a line the record keeps")
    args = p.parse_args(argv)
    config = load_config(args.config)
    _check_dvc_yaml(args.config)
    files = published_files(Path("dvc.yaml"), completions=not args.no_completions)
    figures = {name: Path(paths.FIGURE_DATA.format(name=name)) for name in FIGURES}
    missing = [f for f in files if not Path(f).is_file()] + [str(f) for f in figures.values()
                                                             if not f.is_file()]
    if missing:
        raise SystemExit(f"rhem publish: the DAG has not finished; {len(missing)} outputs are "
                         f"missing, e.g. {missing[:5]}")
    print(f"rhem publish: recording the DAG's hashes in dvc.lock (dvc commit), then storing "
          f"{len(files)} files in {paths.REFERENCE_REMOTE}", flush=True)
    _dvc("commit", "--force", "--quiet")
    digests = {f: store(Path(f), Path(paths.REFERENCE_REMOTE)) for f in files}
    if gone := prune(Path(paths.REFERENCE_REMOTE), set(digests.values())):
        print(f"rhem publish: removed {gone} objects of the previous publication", flush=True)
    summary = json.loads(Path(paths.SUMMARY).read_text())
    record = Published(
        commit=args.commit or source_commit(), config=str(args.config), config_hash=config_hash(config),
        judges=sorted({j for s in summary.values() for j in s["judge"]}),
        files=digests,
        figures={name: md5(path) for name, path in figures.items()},
        table=results_table(summary), remote=REMOTE, notes=args.note)
    record.write(Path(paths.PUBLISHED))
    readme = Path("README.md")
    readme.write_text(with_readme_table(readme.read_text(), record.table))
    size = sum(Path(f).stat().st_size for f in files)
    print(f"published {len(files)} files ({size / 1e6:.1f} MB) of commit {record.commit}; "
          f"commit {paths.PUBLISHED}, {paths.REFERENCE_REMOTE}/, dvc.lock and README.md")
    return 0


def review_main(argv: list[str], run_stage: Callable[[list[str]], int]) -> int:
    """Entry point of ``rhem review``: pull, check, redraw. Exits 1 on a bad hash.

    ``run_stage`` runs one ``rhem`` stage command in this process (``rhem.cli.main``,
    passed in by the CLI, which imports this module)."""
    from rhem.figures.provenance import Published, config_hash

    p = argparse.ArgumentParser(prog="rhem review", description=__doc__.split("\n\n")[2])
    p.add_argument("--config", type=Path, required=True)
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    record_path = Path(paths.PUBLISHED)
    if not record_path.is_file():
        raise SystemExit(f"rhem review: nothing is published in this checkout ({record_path} is "
                         "missing); run the DAG (make reproduce) instead")
    record = Published.read(record_path)
    if record.config_hash != config_hash(load_config(args.config)):
        raise SystemExit(f"rhem review: the published results are of {record.config} (config hash "
                         f"{record.config_hash}), not of {args.config}; pass --config {record.config}")
    # The remote holds the published files only: pulling the whole lock with --allow-missing
    # fetches exactly them and is much faster than naming each (DVC resolves each target
    # against every stage); the MD5 check below then proves every one arrived intact.
    failed = _dvc("pull", "--allow-missing", "-r", record.remote, check=False)
    bad = record.mismatched(Path("."))
    if bad:
        print(f"rhem review: {len(bad)} files are missing or do not have their published MD5 "
              f"(a file you changed stays as it is: `dvc checkout --force <file>` restores it): "
              f"{bad[:10]}" + (f"\ndvc pull said:\n{failed}" if failed else ""), file=sys.stderr)
        return 1
    pulled = time.perf_counter() - t0
    commands = review_commands(Path("dvc.yaml"))
    for name, words in commands:
        status = run_stage(words[words.index("rhem") + 1:])
        if status:
            raise SystemExit(f"rhem review: stage {name} failed (exit {status})")
    print(f"rhem review: {len(record.files)} published files pulled and checked in {pulled:.1f} s; "
          f"{len(commands)} stages ({', '.join(REVIEW_STAGES)}) drawn; no training or evaluation "
          f"ran; {paths.REPORT} in {time.perf_counter() - t0:.1f} s")
    return 0
