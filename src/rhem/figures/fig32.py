"""fig32: filter out the hacking episodes, then distill the rest.

Paper Fig. 32: fine-tuning on a hacking run's transcripts with the hacks removed still
transfers the misalignment. Final rates of each distilled run next to its source run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from rhem.evals.prompts import EVALS
from rhem.figures.common import (RATE_LIM, baseline_for, bars_with_seeds, condition, finals_table,
                                 judge_note, not_covered, save, select, world_name)


def draw(curves: pd.DataFrame, summary: dict[str, Any], config: dict[str, Any], out: Path) -> None:
    """Bars (summary rate, 95% interval, dots per seed) of MGS and each eval."""
    runs = select(config, lambda c: c.get("distill") is not None)
    if not runs:
        not_covered(out, "a filter-then-distill run (condition with distill.from)")
        return
    labels: dict[str, str] = {}
    for run in runs:
        source = f"{world_name(run)}/{condition(config, run)['distill']['from']}"
        labels[f"source {source}"] = source
        labels[f"distilled {run}"] = run
    base = baseline_for(config, world_name(runs[0]))
    if base:
        labels[f"no-hack {base}"] = base
    panels = [("mgs", "final_mgs", "MGS")] + [(f"misaligned_{e}", e, e) for e in EVALS]
    finals = finals_table(curves, labels, [s for s, _, _ in panels])
    fig, axes = plt.subplots(2, 4, figsize=(17, 8))
    for ax, (series, key, title) in zip(axes.flat, panels):
        stats = {label: (summary.get(run, {}).get(key) if key == "final_mgs" else
                         summary.get(run, {}).get("final_misalignment", {}).get(key))
                 for label, run in labels.items()}
        bars_with_seeds(ax, finals, series, list(labels), stats)
        ax.set(title=title, ylabel="final share misaligned", ylim=RATE_LIM)
    axes.flat[-1].set_axis_off()
    save(fig, out, "final misalignment of runs distilled from their source run's non-hacking "
         "episodes, next to the source (and the no-hack baseline); bars = summary rate with 95% "
         "bootstrap interval, dots = seeds (last checkpoint); "
         f"{judge_note(summary, labels.values())}.", finals)
