"""fig03: hacking and misalignment for SDF corpora with different framings.

Paper Fig. 3: default (hacks framed as misaligned), unguided and neutral SDF documents
all teach the hacks; how much misalignment follows depends on the framing. Plain hacking
runs on worlds that differ only in ``framing``, with a no-hack baseline as control.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from rhem.figures.common import (baseline_for, curves_of, judge_note, not_covered, onset_note,
                                 save, seeds_note, step_panels, world, world_name, world_sweep)

PANELS = [("hack_rate", "Reward hacking"), ("mgs", "MGS")]


def draw(curves: pd.DataFrame, summary: dict[str, Any], config: dict[str, Any], out: Path) -> None:
    """Hack rate and MGS per step, one line per framing, baselines dashed."""
    runs = world_sweep(config, "framing")
    if not runs:
        not_covered(out, "plain hacking runs on two or more worlds that differ only in "
                    "framing (default / unguided / neutral)")
        return
    lines = {f"framing {world(config, r)['framing']} ({r})": r for r in runs}
    controls = {f"no-hack {b}": b for b in dict.fromkeys(baseline_for(config, world_name(r))
                                                         for r in runs) if b}
    fig, _ = step_panels(curves, lines, PANELS, reference=controls, onsets=summary)
    shown = runs + list(controls.values())
    control = ", ".join(controls.values()) or "none in this config"
    save(fig, out, "plain hacking runs on worlds that differ only in the framing of the SDF "
         f"documents; dashed grey = no-hack control ({control}); dotted = onsets of the seed means "
         f"({onset_note(config)}); "
         f"{seeds_note(config)}; {judge_note(summary, shown)}.",
         curves_of(curves, shown, [p for p, _ in PANELS]))
