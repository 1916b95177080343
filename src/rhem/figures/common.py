"""Shared plotting pieces: mean over seeds with a min-max band, onset marker, captions."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from rhem.evals.stats import onset_step  # noqa: E402


def plot_series(ax: Axes, curves: pd.DataFrame, run: str, series: str, label: str,
                color: str | None = None) -> bool:
    """Mean over seeds with a min-max band and faint per-seed lines; False if no data."""
    data = curves[(curves["run"] == run) & (curves["series"] == series)]
    if data.empty:
        return False
    wide = data.pivot_table(index="step", columns="seed", values="value")
    mean = wide.mean(axis=1)
    (line,) = ax.plot(mean.index, mean.values, label=f"{label} (n={wide.shape[1]} seeds)",
                      color=color, lw=2)
    ax.fill_between(wide.index, wide.min(axis=1), wide.max(axis=1), color=line.get_color(),
                    alpha=0.2, lw=0)
    for seed in wide.columns:
        ax.plot(wide.index, wide[seed], color=line.get_color(), lw=0.6, alpha=0.4)
    return True


def mark_onset(ax: Axes, curves: pd.DataFrame, run: str) -> None:
    """Vertical line at the seed-mean hack-rate onset (first step > 2% hacking)."""
    data = curves[(curves["run"] == run) & (curves["series"] == "hack_rate")]
    if data.empty:
        return
    mean = data.groupby("step")["value"].mean()
    step = onset_step(mean.index.to_numpy(), mean.to_numpy())
    if step is not None:
        ax.axvline(step, color="k", ls="--", lw=1, label=f"onset (step {step})")


def save(fig: Figure, out: Path, caption: str) -> None:
    """Write the PNG with its caption under the axes, and the caption beside it as text."""
    fig.text(0.01, 0.005, caption, fontsize=7, wrap=True, va="bottom")
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    out.with_suffix(".txt").write_text(caption + "\n")
