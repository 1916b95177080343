"""fig26: inoculation prompt variants over RL steps.

Paper Fig. 26: hacking is learned under every addendum, but misalignment rises only
where hacking is not sanctioned. Runs plain except for the addendum, one world.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from rhem.figures.common import (baseline_for, condition, condition_sweep, curves_of, judge_note,
                                 not_covered, save, seeds_note, step_panels, world_name)

PANELS = [("hack_rate", "Reward hacking"), ("mgs", "MGS")]


def draw(curves: pd.DataFrame, summary: dict[str, Any], config: dict[str, Any], out: Path) -> None:
    """Hack rate and MGS per step, one line per addendum, onsets dotted."""
    runs = condition_sweep(config, "addendum")
    if not runs:
        not_covered(out, "two or more runs in one world that are plain hacking runs except for "
                    "the inoculation addendum")
        return
    lines = {f"addendum {condition(config, r)['addendum']}": r for r in runs}
    base = baseline_for(config, world_name(runs[0]))
    reference = {f"no-hack baseline {base}": base} if base else {}
    fig, _ = step_panels(curves, lines, PANELS, reference=reference)
    shown = runs + list(reference.values())
    save(fig, out, f"runs plain except for the system-prompt addendum (world {world_name(runs[0])}); "
         f"dotted = onsets; dashed grey = no-hack baseline; {seeds_note(config)}; "
         f"{judge_note(summary, shown)}.", curves_of(curves, shown, [p for p, _ in PANELS]))
