"""fig30: a reward penalty on detected hacks, from the start of RL, at several weights.

Paper Fig. 30: a hack-classifier penalty prevents hacking, and with it the misalignment.
Runs plain except for ``penalty`` (weight 0 is the plain hacking run).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from rhem.figures.common import (baseline_for, condition, condition_sweep, curves_of, judge_note,
                                 not_covered, save, seeds_note, step_panels, world_name)

PANELS = [("hack_rate", "Reward hacking"), ("mgs", "MGS"), ("honest_pass_rate", "Honest passes")]


def draw(curves: pd.DataFrame, summary: dict[str, Any], config: dict[str, Any], out: Path) -> None:
    """Hack rate, MGS and honest pass rate per step, one line per penalty weight."""
    runs = condition_sweep(config, "penalty")
    if not runs:
        not_covered(out, "two or more runs in one world that are plain hacking runs except for "
                    "the penalty weight (e.g. 0 and 1), penalised from the start (no fork)")
        return
    lines = {f"penalty weight {condition(config, r)['penalty']:g} ({r})": r for r in runs}
    base = baseline_for(config, world_name(runs[0]))
    reference = {f"no-hack baseline {base}": base} if base else {}
    fig, _ = step_panels(curves, lines, PANELS, reference=reference)
    shown = runs + list(reference.values())
    save(fig, out, "runs plain except for the weight subtracted from the reward of an episode "
         "the hack detector flags, applied from step 1; dotted = onsets; dashed grey = no-hack "
         f"baseline; {seeds_note(config)}; {judge_note(summary, shown)}.",
         curves_of(curves, shown, [p for p, _ in PANELS]))
