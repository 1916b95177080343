"""Helpers for tests that drive the real command-line tools in a copy of the repository."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from rhem.verify import copy_repository

REPO = Path(__file__).resolve().parents[1]
SMOKE = "workflow/config/smoke.yaml"


def tool_env() -> dict[str, str]:
    """Environment where ``python``, ``snakemake`` and ``dvc`` are this interpreter's."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(GIT_AUTHOR_NAME="rhem tests", GIT_AUTHOR_EMAIL="tests@rhem.invalid",
               GIT_COMMITTER_NAME="rhem tests", GIT_COMMITTER_EMAIL="tests@rhem.invalid")
    return env


def run(args: list[str], cwd: Path, check: bool = True, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run a command; on failure the assertion shows its output."""
    proc = subprocess.run(args, cwd=cwd, env=tool_env(), capture_output=True, text=True,
                          timeout=timeout)
    if check:
        assert proc.returncode == 0, f"{' '.join(args)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc


def copy_repo(dest: Path) -> Path:
    """Copy the files git would hand a fresh clone (tracked + untracked, not ignored)."""
    copy_repository(REPO, dest)
    return dest
