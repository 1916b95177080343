"""fig05: final misalignment for each inoculation addendum, and the no-hack baseline.

Paper Fig. 5: "please hack" and "hacking okay" addenda (hacking sanctioned) keep
misalignment near the baseline although the model hacks; neutral, "don't hack" and
"hacking is misaligned" do not. Runs plain except for the addendum, in one world.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from rhem.figures.common import (RATE_LIM, bars_with_seeds, baseline_for, condition,
                                 condition_sweep, finals_table, judge_note, not_covered, save,
                                 world_name)

SERIES = [("mgs", "final_mgs", "Final MGS"), ("hack_rate", "final_hack_rate", "Final hack rate")]


def draw(curves: pd.DataFrame, summary: dict[str, Any], config: dict[str, Any], out: Path) -> None:
    """Bars per addendum (summary rate and 95% interval), one dot per seed."""
    runs = condition_sweep(config, "addendum")
    if not runs:
        not_covered(out, "two or more runs in one world that are plain hacking runs except for "
                    "the inoculation addendum (none, please_hack, hacking_okay, neutral, dont_hack, "
                    "hacking_is_misaligned)")
        return
    labels = {f"addendum {condition(config, r)['addendum']}": r for r in runs}
    base = baseline_for(config, world_name(runs[0]))
    if base:
        labels["no-hack baseline"] = base
    finals = finals_table(curves, labels, [s for s, _, _ in SERIES])
    fig, axes = plt.subplots(1, len(SERIES), figsize=(5.5 * len(SERIES), 4.4))
    for ax, (series, key, title) in zip(axes, SERIES):
        stats = {label: summary.get(run, {}).get(key) for label, run in labels.items()}
        bars_with_seeds(ax, finals, series, list(labels), stats)
        ax.set(title=title, ylabel="rate", ylim=RATE_LIM)
    save(fig, out, "final rates per inoculation addendum (runs plain except for the addendum, "
         f"world {world_name(runs[0])}); bars = summary rate with 95% bootstrap interval over seeds "
         f"and answers; dots = seeds (mean of the last 10% of steps / last checkpoint); "
         f"{judge_note(summary, labels.values())}.", finals)
