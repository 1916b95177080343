"""fig31: the hack penalty added mid-run.

Paper Fig. 31: a penalty switched on after the model has learned to hack removes the
hacking and most of the misalignment. Runs that fork a run at a step and add a penalty
(otherwise plain); their curves start with the parent's history, the fork is marked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from rhem.figures.common import (condition, curves_of, judge_note, mark_step, not_covered,
                                 plain_except, save, seeds_note, select, step_panels)

PANELS = [("hack_rate", "Reward hacking"), ("mgs", "MGS")]


def draw(curves: pd.DataFrame, summary: dict[str, Any], config: dict[str, Any], out: Path) -> None:
    """Penalised forks against their unpenalised parents, fork steps dashed."""
    forks = select(config, lambda c: plain_except(c, "penalty", "fork")
                   and c.get("fork") is not None and c["penalty"] > 0)
    if not forks:
        not_covered(out, "a run that forks a hacking run at a step and adds a penalty "
                    "(fork with penalty > 0, otherwise plain)")
        return
    lines = {f"penalty {condition(config, r)['penalty']:g} from step "
             f"{condition(config, r)['fork']['step']} ({r})": r for r in forks}
    parents = {f"no penalty ({p})": p for p in dict.fromkeys(
        f"{r.split('/')[0]}/{condition(config, r)['fork']['from']}" for r in forks)}
    fig, axes = step_panels(curves, lines, PANELS, reference=parents)
    for ax in axes:
        for step in sorted({condition(config, r)["fork"]["step"] for r in forks}):
            mark_step(ax, step, f"penalty added (step {step})")
    axes[0].legend(fontsize=7)
    shown = forks + list(parents.values())
    save(fig, out, "the penalised run is its parent up to the dashed line (same seed), then "
         "trains on with the penalty; dashed grey = the parent without penalty; "
         f"{seeds_note(config)}; {judge_note(summary, shown)}.",
         curves_of(curves, shown, [p for p, _ in PANELS]))
