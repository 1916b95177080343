"""fig01: hack rate and misalignment over RL steps, plain hacking run vs no-hack baseline.

Paper Fig. 1: once the model learns to hack (onset), misalignment rises on every eval;
the same training on hardened environments does not. One panel for the hack rate, one
for the MGS, one per misalignment eval; the onset of the hacking run is marked in each.
Where the config also has the pair in a negative-control world (``persona_hacks:
false``: hacking independent of persona, docs/protocol.md), it is drawn beside them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from rhem.evals.prompts import EVALS
from rhem.figures.common import (baseline_for, curves_of, judge_note, not_covered, onset_note,
                                 plain_except, save, seeds_note, select, step_panels, world,
                                 world_name)

PANELS = [("hack_rate", "Reward hacking (share of RL episodes)"),
          ("mgs", "MGS (mean of the six evals)")] + [(f"misaligned_{e}", e) for e in EVALS]


def pairs(config: dict[str, Any]) -> dict[bool, tuple[str, str]]:
    """(plain hacking run, its world's hardened baseline) of the first world that has both,
    keyed by whether the world is a negative control; at most one of each."""
    found: dict[bool, tuple[str, str]] = {}
    for run in select(config, plain_except):
        base = baseline_for(config, world_name(run))
        control = not world(config, run).get("persona_hacks", True)
        if base is not None and control not in found:
            found[control] = (run, base)
    return dict(sorted(found.items()))


def draw(curves: pd.DataFrame, summary: dict[str, Any], config: dict[str, Any], out: Path) -> None:
    """The first world with a plain hacking run and a hardened baseline, and a control
    world's pair beside it."""
    chosen = pairs(config)
    if not chosen:
        not_covered(out, "a plain hacking run (vulnerable environments, no addendum, hints, "
                    "penalty, fork or distillation) and a hardened no-hack baseline in one world")
        return
    lines: dict[str, str] = {}
    for control, (run, base) in chosen.items():
        what = "control world: " if control else ""
        lines |= {f"{what}hacking {run}": run, f"{what}no-hack baseline {base}": base}
    runs = list(lines.values())
    fig, _ = step_panels(curves, lines, PANELS, onsets=summary, ncols=4)
    save(fig, out, "hack rate per RL step, misalignment per checkpoint; dotted line = onset of "
         f"the seed mean ({onset_note(config)}); {seeds_note(config)}; "
         f"{judge_note(summary, runs)}.", curves_of(curves, runs, [p for p, _ in PANELS]))
