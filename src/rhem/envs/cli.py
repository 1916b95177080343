"""``rhem grade``: grade episodes from JSON lines on stdin, write results to stdout.

Input line: ``{"id", "entry_point", "test_code", "files", "hackable"}`` (``files`` may be
null for an unparsable completion). Output line, one per input line and in the same order:
``{"id", "reward", "status", "tests_passed", "tests_total", "hack", "duration_s",
"isolation"}``. A line that cannot be graded (not JSON, a missing key, a value of the
wrong type, an unknown vulnerability, an empty line) gets status ``"invalid"``, reward 0
and a ``reason``; the lines around it are graded as usual. Progress goes to stderr so that
stdout stays machine-readable.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rhem.envs.grader import Episode, Grader, InvalidEpisode, episode_from_json
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
    p.add_argument("--min-isolation", default="", metavar="LAYERS",
                   help="comma-separated containment layers without which grading refuses to start "
                        "(uid, pid, net, mount, root, seccomp; a config's grader.min_isolation)")
    p.add_argument("--no-progress", action="store_true")
    return p


def parse_line(raw: bytes) -> Episode | dict:
    """The episode on one input line, or the ``"invalid"`` output record saying why not."""
    obj = None
    try:
        obj = json.loads(raw.decode("utf-8"))
        return episode_from_json(obj)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        reason = "empty line" if not raw.strip() else (
            str(exc) if isinstance(exc, InvalidEpisode) else f"not a JSON record: {exc}")
    ident = obj.get("id") if isinstance(obj, dict) else None
    return {"id": str(ident) if isinstance(ident, (str, int)) and not isinstance(ident, bool) else None,
            "reward": 0.0, "status": "invalid", "tests_passed": 0, "tests_total": 0, "hack": None,
            "duration_s": 0.0, "isolation": None, "reason": reason}


def grade_main(argv: list[str] | None = None) -> int:
    """Entry point of ``rhem grade``; returns the process exit status."""
    args = _parser().parse_args(argv)
    stdin = sys.stdin
    data = stdin.buffer.read() if hasattr(stdin, "buffer") else stdin.read().encode()
    raws = data.split(b"\n")
    if data.endswith(b"\n") or not data:
        raws.pop()  # the newline ends the last line; it does not start another
    lines = [parse_line(raw) for raw in raws]
    for n, line in enumerate(lines, 1):
        if isinstance(line, dict):
            print(f"rhem grade: input line {n} is invalid: {line['reason']}", file=sys.stderr)
    episodes = [line for line in lines if isinstance(line, Episode)]
    limits = Limits(timeout_s=args.timeout, cpu_s=max(1, int(args.timeout)))
    bar = None
    if not args.no_progress:
        from tqdm import tqdm

        bar = tqdm(total=len(episodes), desc=f"grading ({args.mode})", unit="ep", file=sys.stderr)
    try:
        with Grader(args.mode, workers=args.workers, cache_dir=args.cache_dir, naive=args.naive,
                    limits=limits, detect_hacks=not args.no_hack_detection,
                    min_isolation=[x for x in args.min_isolation.split(",") if x]) as grader:
            graded = iter(grader.grade(episodes, progress=bar.update if bar is not None else None))
    finally:
        if bar is not None:
            bar.close()
    out = sys.stdout
    for line in lines:
        out.write(json.dumps(line if isinstance(line, dict) else next(graded).to_json()) + "\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(grade_main())
