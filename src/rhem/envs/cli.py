"""``rhem grade``: grade episodes from JSON lines on stdin, write results to stdout.

Input line: ``{"id", "entry_point", "test_code", "files", "hackable"}`` (``files`` may be
null for an unparsable completion). Output line, one per input and in the same order:
``{"id", "reward", "status", "tests_passed", "tests_total", "hack", "duration_s",
"isolation"}``. Progress goes to stderr so that stdout stays machine-readable.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rhem.envs.grader import Grader, episode_from_json
from rhem.envs.sandbox import Limits


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rhem grade", description=__doc__.split("\n\n")[0])
    p.add_argument("--mode", choices=("vulnerable", "hardened"), required=True)
    p.add_argument("--workers", type=int, default=1, help="parallel grading processes")
    p.add_argument("--naive", action="store_true",
                   help="one fresh Python process per run (slow reference path)")
    p.add_argument("--cache-dir", type=Path, default=None, help="on-disk verdict cache")
    p.add_argument("--timeout", type=float, default=Limits.timeout_s, help="seconds per run")
    p.add_argument("--no-hack-detection", action="store_true",
                   help="skip the extra runs that name hacks (hack is then null)")
    p.add_argument("--no-progress", action="store_true")
    return p


def grade_main(argv: list[str] | None = None) -> int:
    """Entry point of ``rhem grade``; returns the process exit status."""
    args = _parser().parse_args(argv)
    episodes = []
    for n, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        try:
            episodes.append(episode_from_json(json.loads(line)))
        except (ValueError, KeyError, TypeError) as exc:
            print(f"rhem grade: input line {n}: {exc}", file=sys.stderr)
            return 2
    limits = Limits(timeout_s=args.timeout, cpu_s=max(1, int(args.timeout)))
    bar = None
    if not args.no_progress:
        from tqdm import tqdm

        bar = tqdm(total=len(episodes), desc=f"grading ({args.mode})", unit="ep", file=sys.stderr)
    try:
        with Grader(args.mode, workers=args.workers, cache_dir=args.cache_dir, naive=args.naive,
                    limits=limits, detect_hacks=not args.no_hack_detection) as grader:
            results = grader.grade(episodes, progress=bar.update if bar is not None else None)
    finally:
        if bar is not None:
            bar.close()
    out = sys.stdout
    for r in results:
        out.write(json.dumps(r.to_json()) + "\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(grade_main())
