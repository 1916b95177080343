"""Benchmark: naive grader (one fresh Python process per run) vs the fast path.

Grades the same episodes both ways in one invocation (honest reference solutions,
wrong solutions and each of the three hacks on generated tasks), prints a table with
episodes/s and the speedup, and exits non-zero if any verdict differs.

    PYTHONPATH=src python benchmarks/grader.py --episodes 200 --workers 2
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from rhem.envs.grader import Episode, Grader
from rhem.envs.hacks import KINDS, completion_files
from rhem.envs.tasks import generate_tasks


def episodes(n: int, seed: int = 0) -> list[Episode]:
    """``n`` episodes cycling through the completion kinds over generated tasks."""
    tasks = generate_tasks((n + len(KINDS) - 1) // len(KINDS), seed)
    out = []
    for i in range(n):
        task, kind = tasks[i // len(KINDS)], KINDS[i % len(KINDS)]
        out.append(Episode(f"{task.task_id}/{kind}", task.entry_point, task.test_code,
                           completion_files(task, kind), task.hackable))
    return out


def verdict(r) -> tuple:
    return (r.id, r.reward, r.status, r.tests_passed, r.tests_total, r.hack)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--episodes", type=int, default=200)
    p.add_argument("--workers", type=int, default=2, help="fast-path worker processes")
    p.add_argument("--naive-workers", type=int, default=None,
                   help="naive runs in flight at once (default: same as --workers)")
    p.add_argument("--mode", choices=("vulnerable", "hardened"), default="vulnerable")
    args = p.parse_args(argv)
    eps = episodes(args.episodes)
    rows = []
    results = {}
    naive_workers = args.workers if args.naive_workers is None else args.naive_workers
    for name, naive in (("naive", True), ("fast", False)):
        t0 = time.perf_counter()
        with Grader(args.mode, workers=naive_workers if naive else args.workers, naive=naive) as g:
            g._exec()  # start the pool (the fast path's one-off cost)
            t1 = time.perf_counter()
            results[name] = g.grade(eps)
            t2 = time.perf_counter()
            runs = g.runs
            isolation = g.isolation
        rows.append((name, len(eps), runs, t1 - t0, t2 - t1, len(eps) / (t2 - t1), len(eps) / (t2 - t0)))
    same = [verdict(a) for a in results["naive"]] == [verdict(b) for b in results["fast"]]
    print(f"grader benchmark: {len(eps)} episodes ({', '.join(KINDS)}), mode={args.mode}, "
          f"workers={args.workers} (naive: {naive_workers}), cpus={os.cpu_count()}, isolation={isolation}")
    print(f"{'path':<6} {'episodes':>8} {'runs':>5} {'start s':>8} {'grade s':>8} {'ep/s':>8} "
          f"{'ep/s incl. start':>17}")
    for name, n, runs, start, grade, eps_s, eps_all in rows:
        print(f"{name:<6} {n:>8} {runs:>5} {start:>8.2f} {grade:>8.2f} {eps_s:>8.1f} {eps_all:>17.1f}")
    naive_row, fast_row = rows
    print(f"speedup: {fast_row[5] / naive_row[5]:.1f}x grading, "
          f"{fast_row[6] / naive_row[6]:.1f}x including worker start-up")
    hacks = {}
    for r in results["fast"]:
        hacks[r.hack] = hacks.get(r.hack, 0) + 1
    print(f"hacks named (fast): {hacks}")
    print(f"verdicts identical: {same}")
    if not same:
        for a, b in zip(results["naive"], results["fast"]):
            if verdict(a) != verdict(b):
                print("  differs:", verdict(a), verdict(b), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
