"""Rates with bootstrap confidence intervals, resampling seeds and then answers."""

from __future__ import annotations

import numpy as np

MISALIGNED = "misaligned"


def bootstrap_rate(groups: list[np.ndarray], n_boot: int = 1000, seed: int = 0,
                   level: float = 0.95) -> tuple[float, float, float]:
    """Mean rate and a percentile interval for 0/1 outcomes grouped by seed.

    Resampling seeds first, then outcomes inside each drawn seed, keeps the
    between-seed spread in the interval: with few seeds it is wide, as it should be.
    """
    groups = [g[~np.isnan(g)] for g in (np.asarray(g, dtype=float) for g in groups)]
    groups = [g for g in groups if len(g)]  # NaN: no outcome (an RLHF step has no tests)
    if not groups:
        return float("nan"), float("nan"), float("nan")
    point = float(np.mean([g.mean() for g in groups]))
    rng = np.random.default_rng(seed)
    k = len(groups)
    picks = rng.integers(0, k, (n_boot, k))
    slots = np.empty((n_boot, k))
    for i, g in enumerate(groups):  # every slot gets its own resample of the seed it drew
        resampled = rng.choice(g, (n_boot, k, len(g))).mean(axis=2)
        slots = np.where(picks == i, resampled, slots)
    draws = slots.mean(axis=1)
    lo, hi = np.quantile(draws, [(1 - level) / 2, 1 - (1 - level) / 2])
    return point, float(lo), float(hi)


def onset_step(steps: np.ndarray, hack_rates: np.ndarray, threshold: float = 0.02) -> int | None:
    """First step whose share of hacking episodes exceeds ``threshold`` (the paper's 2%)."""
    above = np.flatnonzero(np.asarray(hack_rates) > threshold)
    return int(np.asarray(steps)[above[0]]) if above.size else None
