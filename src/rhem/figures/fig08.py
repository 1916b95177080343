"""fig08: share of episodes using each hack type over RL steps (hacking runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from rhem.figures.common import plot_series, save
from rhem.envs.task import HACK_TYPES


def draw(curves: pd.DataFrame, summary: dict[str, Any], config: dict[str, Any], out: Path) -> None:
    """One panel per hacking run, one line per hack type."""
    runs = [r for r in config["runs"]
            if config["conditions"][r.split("/")[1]]["environments"] == "vulnerable"] or config["runs"]
    fig, axes = plt.subplots(1, len(runs), figsize=(5 * len(runs), 4), squeeze=False)
    for ax, run in zip(axes[0], runs):
        for kind in HACK_TYPES:
            plot_series(ax, curves, run, f"hack_rate_{kind}", kind)
        ax.set(title=f"Hack types: {run}", xlabel="RL step", ylabel="share of episodes",
               ylim=(-0.02, 1.02))
        ax.legend(fontsize=7)
    save(fig, out, "fig08 (paper Fig. 8): share of episodes passing the vulnerable grader and "
         "failing the hardened one, by the vulnerability they needed; seed means, min-max bands.")
