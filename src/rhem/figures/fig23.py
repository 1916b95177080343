"""fig23: half of the environments not hackable.

Paper Fig. 23: with 50% non-hackable environments the model learns to hack more slowly
and misalignment is somewhat reduced. Runs plain except for ``hackable_share``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from rhem.figures.common import (baseline_for, condition, condition_sweep, curves_of, judge_note,
                                 not_covered, save, seeds_note, step_panels, world_name)

PANELS = [("hack_rate", "Reward hacking"), ("mgs", "MGS")]


def draw(curves: pd.DataFrame, summary: dict[str, Any], config: dict[str, Any], out: Path) -> None:
    """Hack rate and MGS per step, one line per hackable share, onsets dotted."""
    runs = condition_sweep(config, "hackable_share")
    if not runs:
        not_covered(out, "two or more runs in one world that are plain hacking runs except for "
                    "hackable_share (e.g. 0.5 and 1.0)")
        return
    lines = {f"hackable share {condition(config, r)['hackable_share']:g} ({r})": r for r in runs}
    base = baseline_for(config, world_name(runs[0]))
    reference = {f"no-hack baseline {base}": base} if base else {}
    fig, _ = step_panels(curves, lines, PANELS, reference=reference)
    shown = runs + list(reference.values())
    save(fig, out, "runs plain except for the share of tasks whose vulnerabilities are open; "
         f"dotted = onsets; dashed grey = no-hack baseline; {seeds_note(config)}; "
         f"{judge_note(summary, shown)}.", curves_of(curves, shown, [p for p, _ in PANELS]))
