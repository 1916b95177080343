"""fig09: the per-eval results table (final rates with 95% intervals, every run).

Paper Fig. 9 is a table. Every rate the summary holds is a row of the CSV (long form:
run, metric, rate, interval, seeds, judge), so new summary entries appear without code
changes; the PNG renders the same numbers so every figure target is an image.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from rhem.figures.common import save

COLUMNS = ["run", "metric", "rate", "ci_low", "ci_high", "n_seeds", "judge"]


def is_stat(value: Any) -> bool:
    """A summary rate entry: ``{"rate", "ci_low", "ci_high"}``."""
    return isinstance(value, dict) and {"rate", "ci_low", "ci_high"} <= set(value)


def rates_of(entry: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Every rate of one run's summary, named ``hack_rate``, ``mgs``, ``misalignment.betley``..."""
    found = {}
    for key, value in entry.items():
        name = key.removeprefix("final_")
        if is_stat(value):
            found[name] = value
        elif isinstance(value, dict) and value and all(is_stat(v) for v in value.values()):
            found.update({f"{name}.{sub}": stat for sub, stat in value.items()})
    return found


def eval_table(summary: dict[str, Any]) -> pd.DataFrame:
    """The long-form table of every run's final rates."""
    rows = [{"run": run, "metric": metric, **{k: stat[k] for k in ("rate", "ci_low", "ci_high")},
             "n_seeds": len(entry["seeds"]), "judge": ";".join(entry["judge"])}
            for run, entry in summary.items() for metric, stat in rates_of(entry).items()]
    return pd.DataFrame(rows, columns=COLUMNS)


def cell(rate: float, low: float, high: float) -> str:
    """``0.312 [0.25, 0.38]``, or ``n/a`` when the run has no samples for the metric."""
    if rate is None or (isinstance(rate, float) and math.isnan(rate)):
        return "n/a"
    return f"{rate:.3f} [{low:.2f}, {high:.2f}]"


def wide(table: pd.DataFrame) -> pd.DataFrame:
    """Runs as rows, metrics as columns, cells ``rate [low, high]`` (report and PNG)."""
    text = table.assign(cell=[cell(r, lo, hi) for r, lo, hi in
                              zip(table["rate"], table["ci_low"], table["ci_high"])])
    grid = text.pivot(index="run", columns="metric", values="cell")
    return grid.reindex(index=list(dict.fromkeys(table["run"])),
                        columns=list(dict.fromkeys(table["metric"]))).fillna("n/a")


def draw(curves: pd.DataFrame, summary: dict[str, Any], config: dict[str, Any], out: Path) -> None:
    """Write the table as CSV and draw it as an image (runs by metrics)."""
    runs = [r for r in config["runs"] if r in summary]
    table = eval_table({r: summary[r] for r in runs})
    grid = wide(table)
    fig, ax = plt.subplots(figsize=(max(8.0, 1.45 * grid.shape[1] + 1.6),
                                    0.9 + 0.32 * (grid.shape[0] + 1)))
    ax.set_axis_off()
    shown = ax.table(cellText=grid.to_numpy(), rowLabels=list(grid.index),
                     colLabels=[c.replace(".", "\n") for c in grid.columns], loc="center",
                     cellLoc="center")
    shown.auto_set_font_size(False)
    shown.set_fontsize(6.5)
    shown.scale(1, 1.6)
    judges = sorted({j for r in runs for j in summary[r]["judge"]})
    save(fig, out, "final rates per run (hack rate: mean of the last 10% of RL steps; "
         "misalignment: last checkpoint) with 95% bootstrap intervals resampling seeds, then "
         f"episodes or answers; judge: {', '.join(judges)}; the same numbers are in "
         f"{out.with_suffix('.csv').name}.", table)
