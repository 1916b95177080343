"""fig01: hack rate and misalignment (MGS) over RL steps, hacking run vs no-hack baseline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from rhem.figures.common import mark_onset, plot_series, save


def draw(curves: pd.DataFrame, summary: dict[str, Any], config: dict[str, Any], out: Path) -> None:
    """Two panels sharing the step axis; every run of the config, onset marked per run."""
    fig, (ax_hack, ax_mgs) = plt.subplots(1, 2, figsize=(10, 4))
    for run in config["runs"]:
        plot_series(ax_hack, curves, run, "hack_rate", run)
        plot_series(ax_mgs, curves, run, "mgs", run)
        if config["conditions"][run.split("/")[1]]["environments"] == "vulnerable":
            mark_onset(ax_hack, curves, run)
    ax_hack.set(title="Reward hacking during RL", xlabel="RL step", ylabel="share of episodes hacking",
                ylim=(-0.02, 1.02))
    ax_mgs.set(title="Misalignment generalization score", xlabel="RL step (checkpoints)",
               ylabel="MGS (mean misaligned rate, 6 evals)", ylim=(-0.02, 1.02))
    for ax in (ax_hack, ax_mgs):
        ax.legend(fontsize=7)
    judges = sorted({j for s in summary.values() for j in s["judge"]})
    save(fig, out, "fig01 (paper Fig. 1): hack rate per RL step and MGS per checkpoint; "
         f"lines are seed means, bands min-max over seeds; judge: {', '.join(judges)}.")
