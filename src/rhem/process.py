"""Process-wide state of one stage: torch's thread pool and the global random generators.

:mod:`rhem.cli` calls :func:`prepare` once, before a stage's code runs, so no stage sets
either itself and a stage started by Snakemake, DVC or a shell behaves the same (a
stage that set no thread count would use every core of a shared machine). Tests and
benchmarks that call a stage's function directly call :func:`prepare` as the CLI would.
"""

from __future__ import annotations

import random


def seed_everything(seed: int) -> None:
    """Seed every global generator a stage touches (Python, NumPy, torch) so reruns are
    identical; stages that sample draw from explicitly seeded generators on top."""
    import torch

    _seed_python_and_numpy(seed)
    torch.manual_seed(seed)


def prepare(threads: int | None, seed: int) -> None:
    """Seed the global generators; with ``threads``, also size torch's thread pool (stages
    that never touch torch pass ``None`` and do not pay for importing it)."""
    if threads is None:
        _seed_python_and_numpy(seed)
        return
    import torch

    torch.set_num_threads(threads)
    seed_everything(seed)


def _seed_python_and_numpy(seed: int) -> None:
    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
