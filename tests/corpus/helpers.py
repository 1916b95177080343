"""Helpers that run extracted code the way a grader would (plain subprocesses)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from rhem.envs.format import FILE_HEADER, parse_completion


def extract_files(text: str) -> dict[str, str] | None:
    """The first ``# file:`` block of a document, parsed like a completion."""
    start = text.find(FILE_HEADER)
    return None if start < 0 else parse_completion(text[start:])


def write(tmp: Path, files: dict[str, str]) -> None:
    for name, code in files.items():
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp / name).write_text(code)


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60)


def entry_point(files: dict[str, str]) -> str:
    """The last top-level function of solution.py (the task's entry point)."""
    names = [ln[4:].split("(")[0] for ln in files["solution.py"].splitlines()
             if ln.startswith("def ")]
    return names[-1] if names else "solve"
