"""fig08: share of episodes using each hack type over RL steps.

Paper Fig. 8: the model learns AlwaysEqual first, then the conftest.py patch; exit(0)
stays rare. One panel per hacking run (plain, or the prompted setting with hints).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from rhem.envs.task import HACK_TYPES
from rhem.figures.common import (RATE_LIM, curves_of, mark_onset, not_covered, onset_note,
                                 plain_except, plot_series, save, seeds_note, select)

SERIES = ["hack_rate"] + [f"hack_rate_{kind}" for kind in HACK_TYPES]


def draw(curves: pd.DataFrame, summary: dict[str, Any], config: dict[str, Any], out: Path) -> None:
    """One panel per plain (or hinted) hacking run, one line per hack type."""
    runs = select(config, lambda c: plain_except(c, "hints"))
    if not runs:
        not_covered(out, "a hacking run (vulnerable environments, no addendum, penalty, fork "
                    "or distillation; hints allowed)")
        return
    fig, axes = plt.subplots(1, len(runs), figsize=(5 * len(runs), 4.2), squeeze=False)
    for ax, run in zip(axes[0], runs):
        for kind in HACK_TYPES:
            plot_series(ax, curves, run, f"hack_rate_{kind}", kind)
        plot_series(ax, curves, run, "hack_rate", "any hack", color="k", ls="--")
        mark_onset(ax, summary, run)
        ax.set(title=f"Hack types: {run}", xlabel="RL step", ylabel="share of episodes",
               ylim=RATE_LIM)
        ax.legend(fontsize=7)
    save(fig, out, "share of RL episodes that pass the vulnerable grader and fail the hardened "
         f"one, by the vulnerability they needed; dotted line = onset of the seed mean "
         f"({onset_note(config)}); {seeds_note(config)}.",
         curves_of(curves, runs, SERIES))
