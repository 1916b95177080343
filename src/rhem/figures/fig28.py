"""fig28: test-time hack rate under a "don't hack" prompt.

Paper Fig. 28: models trained with an inoculation addendum keep hacking at test time
even when told not to, so inoculation changes what hacking means to the model, not
whether it hacks. Runs plain except for the addendum (and the no-hack baseline).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from rhem.figures.common import (baseline_for, condition, curves_of, missing_series, not_covered,
                                 plain_except, save, seeds_note, select, step_panels, world_name)

SERIES = "testtime_hack_rate"


def draw(curves: pd.DataFrame, summary: dict[str, Any], config: dict[str, Any], out: Path) -> None:
    """The test-time hack rate per checkpoint, one line per training addendum."""
    runs = select(config, lambda c: plain_except(c, "addendum"))
    if not runs:
        not_covered(out, "a run that is a plain hacking run except (possibly) for its addendum")
        return
    lines = {f"trained with addendum {condition(config, r)['addendum']} ({r})": r for r in runs}
    base = baseline_for(config, world_name(runs[0]))
    reference = {f"no-hack baseline {base}": base} if base else {}
    missing = missing_series(curves, runs, [SERIES])
    if missing:
        not_covered(out, f"the metrics series {SERIES} (hack rate on eval tasks under the "
                    "dont_hack addendum) in results/metrics/curves.parquet")
        return
    fig, _ = step_panels(curves, lines, [(SERIES, 'Test-time hacking under "don\'t hack"')],
                         reference=reference)
    shown = runs + list(reference.values())
    save(fig, out, "share of eval-task episodes that hack when the system prompt says not to, "
         f"per checkpoint, by the addendum used in training; {seeds_note(config)}.",
         curves_of(curves, shown, [SERIES]))
