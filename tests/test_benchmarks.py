"""benchmarks/rl_step.py runs the old and the new path end to end and finds them equal.

On the smoke config (a tiny world built in seconds), so the script the README quotes its
speed-up from cannot rot: it must build its world, run both paths' GRPO steps and `rhem
eval`, and pass its own identity check (completions); and time the new path with the stop
at the end marker on besides, and both paths' evaluation job per answer.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from repo_tools import REPO, SMOKE, run

sys.path.insert(0, str(REPO / "benchmarks"))
from rl_step import BASELINE


def test_rl_step_benchmark_compares_both_paths(tmp_path: Path) -> None:
    has_baseline = subprocess.run(["git", "cat-file", "-e", f"{BASELINE}^{{commit}}"], cwd=REPO,
                                  capture_output=True, check=False).returncode == 0
    if not has_baseline:
        pytest.skip(f"the old path's commit {BASELINE} is not in this clone's history")
    out = run([sys.executable, "benchmarks/rl_step.py", "--config", SMOKE, "--steps", "2",
               "--pretrain-steps", "30", "--work", str(tmp_path)], REPO, timeout=900).stdout
    assert "completions: 16 episodes identical" in out
    assert "CPU per step (mean): old" in out and "evaluate job: old" in out
    assert "CPU per answer old/new" in out
    assert "stop at the end marker:" in out and "whole rl job (stop)" in out
