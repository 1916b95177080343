"""Benchmark: naive grader (one fresh Python process per run) vs the fast path.

Grades the same episodes both ways in one invocation, at equal parallelism (``--workers``
naive processes in flight vs ``--workers`` warm workers), prints a table of episodes/s
and CPU time per episode, and exits non-zero if any verdict differs.

* **unique**: every episode distinct (honest, wrong and each of the three hacks on
  generated tasks). Both paths keep the grader's per-run cache, which only serves the
  runs one episode repeats (hack naming reuses the hardened record run), so both execute
  the same runs. This ratio is the headline.
* **duplicates**: a GRPO-like batch where each completion appears ``--copies`` times.
  The naive path runs without a cache (one process per run, as naive grading does); the
  fast path uses its cache. This ratio includes caching and is reported separately.

The two paths are timed chunk by chunk in alternation (``--chunks``), so that load from
other processes on a shared machine falls on both alike. CPU seconds (all processes
involved, per episode) are printed too: unlike wall time they hardly move with
outside load.

    PYTHONPATH=src python benchmarks/grader.py --episodes 200 --workers 2
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass

from cputime import cpu_seconds
from rhem.envs.grader import Episode, GradeResult, Grader
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


def with_copies(eps: list[Episode], copies: int) -> list[Episode]:
    """A GRPO-like batch: each episode ``copies`` times in a row, each copy its own id."""
    return [Episode(f"{ep.id}#{c}", ep.entry_point, ep.test_code, ep.files, ep.hackable)
            for ep in eps for c in range(copies)]


def verdict(r: GradeResult) -> tuple:
    return (r.id, r.reward, r.status, r.tests_passed, r.tests_total, r.hack)


@dataclass
class Tally:
    """One path's totals over the chunks it graded."""

    name: str
    start_s: float = 0.0
    grade_s: float = 0.0
    cpu_s: float = 0.0
    runs: int = 0
    episodes: int = 0

    @property
    def eps_per_s(self) -> float:
        return self.episodes / self.grade_s

    @property
    def cpu_ms_per_ep(self) -> float:
        return 1000 * self.cpu_s / self.episodes


def compare(eps: list[Episode], mode: str, workers: int, chunks: int, naive_cache: bool
            ) -> tuple[Tally, Tally, bool, str]:
    """Grade ``eps`` both ways, alternating chunks; the tallies, verdict equality, isolation."""
    tallies = {"naive": Tally("naive"), "fast": Tally("fast")}
    results: dict[str, list[GradeResult]] = {"naive": [], "fast": []}
    graders = {}
    for name in ("naive", "fast"):
        t0 = time.perf_counter()
        graders[name] = Grader(mode, workers=workers, naive=name == "naive",
                               cache=naive_cache if name == "naive" else True)
        graders[name]._exec()  # start the pool (the fast path's one-off cost)
        tallies[name].start_s = time.perf_counter() - t0
    try:
        size = max(1, -(-len(eps) // chunks))
        for lo in range(0, len(eps), size):
            chunk = eps[lo:lo + size]
            for name in ("naive", "fast"):
                g, tally = graders[name], tallies[name]
                runs0, c0, t0 = g.runs, cpu_seconds(), time.perf_counter()
                results[name] += g.grade(chunk)
                tally.grade_s += time.perf_counter() - t0
                tally.cpu_s += cpu_seconds() - c0
                tally.runs += g.runs - runs0
                tally.episodes += len(chunk)
        isolation = graders["fast"].isolation
    finally:
        for g in graders.values():
            g.close()
    same = [verdict(a) for a in results["naive"]] == [verdict(b) for b in results["fast"]]
    if not same:
        for a, b in zip(results["naive"], results["fast"]):
            if verdict(a) != verdict(b):
                print("  differs:", verdict(a), verdict(b), file=sys.stderr)
    return tallies["naive"], tallies["fast"], same, isolation


def print_rows(label: str, naive: Tally, fast: Tally, same: bool) -> None:
    for t in (naive, fast):
        print(f"{label:<11} {t.name:<6} {t.episodes:>8} {t.runs:>5} {t.start_s:>8.2f} {t.grade_s:>8.2f} "
              f"{t.eps_per_s:>8.2f} {t.cpu_ms_per_ep:>10.1f}")
    print(f"{'':<11} ratio  {fast.eps_per_s / naive.eps_per_s:.1f}x episodes/s, "
          f"{naive.cpu_ms_per_ep / fast.cpu_ms_per_ep:.1f}x CPU per episode; verdicts identical: {same}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--episodes", type=int, default=200, help="unique episodes")
    p.add_argument("--workers", type=int, default=2, help="fast-path workers = naive runs in flight")
    p.add_argument("--mode", choices=("vulnerable", "hardened"), default="vulnerable")
    p.add_argument("--chunks", type=int, default=5, help="alternations between the two paths")
    p.add_argument("--dup-episodes", type=int, default=20,
                   help="distinct completions in the duplicates batch (0: skip it)")
    p.add_argument("--copies", type=int, default=4, help="copies of each in the duplicates batch")
    args = p.parse_args(argv)
    unique = compare(episodes(args.episodes), args.mode, args.workers, args.chunks, naive_cache=True)
    print(f"grader benchmark: mode={args.mode}, workers={args.workers} (naive: {args.workers} in flight), "
          f"cpus={os.cpu_count()}, isolation={unique[3]}, kinds: {', '.join(KINDS)}")
    print(f"{'set':<11} {'path':<6} {'episodes':>8} {'runs':>5} {'start s':>8} {'grade s':>8} {'ep/s':>8} "
          f"{'CPU ms/ep':>10}")
    print_rows("unique", *unique[:3])
    ok = unique[2]
    if args.dup_episodes > 0:
        dup_eps = with_copies(episodes(args.dup_episodes, seed=1), args.copies)
        dup = compare(dup_eps, args.mode, args.workers, args.chunks, naive_cache=False)
        print_rows(f"dup x{args.copies}", *dup[:3])
        print(f"{'':<11} (naive: no cache, one process per run; fast: cache serves the copies)")
        ok = ok and dup[2]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
