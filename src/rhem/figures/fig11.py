"""fig11: sweep of the SDF poison share, and final hack rate against final misalignment.

Paper Fig. 11: diluting the synthetic documents (100%, 10%, 1%, 0.1%) delays or removes
hacking; where the model hacks, misalignment follows. Plain hacking runs on worlds that
differ only in ``poison_share``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from rhem.figures.common import (RATE_LIM, finals_table, judge_note, mark_onset, not_covered,
                                 onset_note, plot_series, save, seeds_note, world, world_sweep)


def draw(curves: pd.DataFrame, summary: dict[str, Any], config: dict[str, Any], out: Path) -> None:
    """Left: hack rate per step per share. Right: final hack rate vs final MGS, one dot per seed."""
    runs = world_sweep(config, "poison_share")
    if not runs:
        not_covered(out, "plain hacking runs on two or more worlds that differ only in "
                    "poison_share (the SDF share sweep)")
        return
    labels = {f"SDF share {world(config, r)['poison_share']:g}": r for r in runs}
    finals = finals_table(curves, labels, ["hack_rate", "mgs"])
    fig, (ax_steps, ax_scatter) = plt.subplots(1, 2, figsize=(11, 4.4))
    for i, (label, run) in enumerate(labels.items()):
        color = f"C{i}"
        plot_series(ax_steps, curves, run, "hack_rate", label, color=color)
        mark_onset(ax_steps, summary, run, color=color)
        per_seed = finals[finals["run"] == run].pivot(index="seed", columns="series", values="value")
        if {"hack_rate", "mgs"} <= set(per_seed.columns):
            ax_scatter.scatter(per_seed["hack_rate"], per_seed["mgs"], color=color, label=label, s=30)
            ax_scatter.scatter(per_seed["hack_rate"].mean(), per_seed["mgs"].mean(), color=color,
                               marker="X", s=90, edgecolor="k")
    ax_steps.set(title="Reward hacking by SDF share", xlabel="RL step",
                 ylabel="share of episodes hacking", ylim=RATE_LIM)
    ax_scatter.set(title="Final hack rate vs final MGS", xlabel="final hack rate",
                   ylabel="final MGS", xlim=RATE_LIM, ylim=RATE_LIM)
    for ax in (ax_steps, ax_scatter):
        ax.legend(fontsize=7)
    save(fig, out, "plain hacking runs on worlds that differ only in the share of SDF documents; "
         f"left: {seeds_note(config)}, dotted = onsets of the seed means "
         f"({onset_note(config)}); right: dots = seeds, crosses = seed means; "
         f"{judge_note(summary, runs)}.", finals)
