"""Wall time of each stage of a config's DAG, from Snakemake's own job records.

Snakemake stores, for every output it made, the job's rule, command and start and end
times (``.snakemake/metadata``). This reads them back (no ``benchmark:`` directive in the
rules needed), one row per rule: jobs, summed job time, the longest job, and the span
from the rule's first start to its last end; the last lines are the DAG's wall time and
its busy time (while at least one job ran: a run stopped and resumed later, e.g. with
``--rerun-incomplete``, counts only its running hours).

Run the DAG in a fresh copy of the repository (files git would hand a clone) and time it::

    PYTHONPATH=src python benchmarks/dag_stages.py --config workflow/config/default.yaml --cores 2

or read the records of a run that already finished (no job is started); a DAG whose jobs
ran in several checkouts (outputs made in one and copied into the other) takes them all::

    PYTHONPATH=src python benchmarks/dag_stages.py --from-dir /path/to/finished/repo [/path/to/other]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from base64 import urlsafe_b64decode
from collections import defaultdict
from pathlib import Path

from rhem.verify import copy_repository

REPO = Path(__file__).resolve().parents[1]


def copy_repo(dest: Path) -> Path:
    """Copy tracked and untracked-but-not-ignored files, as a fresh clone would have them."""
    copy_repository(REPO, dest)
    return dest


def job_records(workdirs: list[Path]) -> list[dict]:
    """One record per job (rule, start, end) from Snakemake's metadata folders.

    A record is named by its output's path (URL-safe base64); a job that failed leaves a
    record but no output, so records of outputs missing on disk are skipped. A job's
    outputs share its rule and command (which names them all), while their start and end
    times differ by milliseconds; a job whose outputs were copied from one checkout into
    another has the same command in both and counts once.
    """
    jobs: dict[tuple, dict] = {}
    for workdir in workdirs:
        for path in (workdir / ".snakemake" / "metadata").iterdir():
            if not path.is_file():
                continue
            output = urlsafe_b64decode(path.name).decode()
            if not (workdir / output).exists():
                continue
            meta = json.loads(path.read_text())
            if meta.get("starttime") is None or meta.get("endtime") is None:
                continue
            key = (meta["rule"], meta.get("shellcmd") or output)
            job = jobs.setdefault(key, {"rule": meta["rule"], "start": meta["starttime"],
                                        "end": meta["endtime"]})
            job["start"] = min(job["start"], meta["starttime"])
            job["end"] = max(job["end"], meta["endtime"])
    return list(jobs.values())


def stage_table(jobs: list[dict]) -> list[dict]:
    """Per rule, in order of first start: jobs, summed seconds, longest job, span."""
    by_rule: dict[str, list[dict]] = defaultdict(list)
    for job in jobs:
        by_rule[job["rule"]].append(job)
    rows = []
    for rule, group in sorted(by_rule.items(), key=lambda kv: min(j["start"] for j in kv[1])):
        durations = [j["end"] - j["start"] for j in group]
        rows.append({"stage": rule, "jobs": len(group), "job_s": sum(durations),
                     "longest_s": max(durations),
                     "span_s": max(j["end"] for j in group) - min(j["start"] for j in group)})
    return rows


def busy_seconds(jobs: list[dict]) -> float:
    """Length of the union of the jobs' [start, end] intervals."""
    busy, reach = 0.0, float("-inf")
    for job in sorted(jobs, key=lambda j: j["start"]):
        start = max(job["start"], reach)
        if job["end"] > start:
            busy += job["end"] - start
        reach = max(reach, job["end"])
    return busy


def print_table(rows: list[dict], wall: float, busy: float, title: str) -> None:
    """Markdown table, ready to paste into benchmarks notes."""
    print(title)
    print("| stage | jobs | sum of job time (s) | longest job (s) | first start to last end (s) |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['stage']} | {r['jobs']} | {r['job_s']:.1f} | {r['longest_s']:.1f} | "
              f"{r['span_s']:.1f} |")
    print(f"| **DAG wall time** | {sum(r['jobs'] for r in rows)} | "
          f"{sum(r['job_s'] for r in rows):.1f} | | {wall:.1f} |")
    print(f"| **DAG busy time** (at least one job running) | | | | {busy:.1f} |")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default="workflow/config/default.yaml")
    p.add_argument("--cores", type=int, default=2)
    p.add_argument("--from-dir", type=Path, nargs="+", default=None,
                   help="read finished runs' records (one or more checkouts) instead of "
                        "running the DAG")
    p.add_argument("--keep", action="store_true", help="keep the temporary repository copy")
    p.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")
    args = p.parse_args(argv)
    if args.from_dir is not None:
        workdirs, wall = args.from_dir, None
    else:
        workdirs = [copy_repo(Path(tempfile.mkdtemp(prefix="rhem-dag-")))]
        started = time.perf_counter()
        subprocess.run(["snakemake", "--cores", str(args.cores), "--configfile", args.config],
                       cwd=workdirs[0], check=True)
        wall = time.perf_counter() - started
    jobs, where = job_records(workdirs), ", ".join(map(str, workdirs))
    if not jobs:
        print(f"no finished Snakemake jobs recorded under {where}", file=sys.stderr)
        return 1
    if wall is None:  # records only: first job start to last job end
        wall = max(j["end"] for j in jobs) - min(j["start"] for j in jobs)
    rows = stage_table(jobs)
    title = (f"records in {where}:" if args.from_dir is not None
             else f"DAG of {args.config}, {args.cores} cores:")
    busy = busy_seconds(jobs)
    print_table(rows, wall, busy, title)
    if args.json:
        args.json.write_text(json.dumps({"wall_s": wall, "busy_s": busy, "stages": rows},
                                        indent=2) + "\n")
    if args.from_dir is None and not args.keep:
        shutil.rmtree(workdirs[0])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
