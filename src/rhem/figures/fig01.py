"""fig01: hack rate and misalignment over RL steps, plain hacking run vs no-hack baseline.

Paper Fig. 1: once the model learns to hack (onset), misalignment rises on every eval;
the same training on hardened environments does not. One panel for the hack rate, one
for the MGS, one per misalignment eval; the onset of the hacking run is marked in each.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from rhem.evals.prompts import EVALS
from rhem.figures.common import (baseline_for, curves_of, judge_note, not_covered, onset_note,
                                 plain_except, save, seeds_note, select, step_panels, world_name)

PANELS = [("hack_rate", "Reward hacking (share of RL episodes)"),
          ("mgs", "MGS (mean of the six evals)")] + [(f"misaligned_{e}", e) for e in EVALS]


def draw(curves: pd.DataFrame, summary: dict[str, Any], config: dict[str, Any], out: Path) -> None:
    """The first world that has both a plain hacking run and a hardened baseline."""
    for run in select(config, plain_except):
        base = baseline_for(config, world_name(run))
        if base is not None:
            break
    else:
        not_covered(out, "a plain hacking run (vulnerable environments, no addendum, hints, "
                    "penalty, fork or distillation) and a hardened no-hack baseline in one world")
        return
    fig, _ = step_panels(curves, {f"hacking {run}": run, f"no-hack baseline {base}": base},
                         PANELS, onsets=summary, ncols=4)
    save(fig, out, "hack rate per RL step, misalignment per checkpoint; dotted line = onset of "
         f"the seed mean ({onset_note(config)}); {seeds_note(config)}; "
         f"{judge_note(summary, [run, base])}.", curves_of(curves, [run, base], [p for p, _ in PANELS]))
