"""fig23: half of the environments not hackable.

Paper Fig. 23: with 50% non-hackable environments the model learns to hack more slowly
and misalignment is somewhat reduced. Runs plain except for ``hackable_share``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from rhem.figures.common import condition, sweep_figure

PANELS = [("hack_rate", "Reward hacking"), ("mgs", "MGS")]


def draw(curves: pd.DataFrame, summary: dict[str, Any], config: dict[str, Any], out: Path) -> None:
    """Hack rate and MGS per step, one line per hackable share, onsets dotted."""
    sweep_figure(curves, summary, config, out, "hackable_share", PANELS,
                 label=lambda r: f"hackable share {condition(config, r)['hackable_share']:g} ({r})",
                 varies="runs plain except for the share of tasks whose vulnerabilities are open",
                 needs=("two or more runs in one world that are plain hacking runs except for "
                        "hackable_share (e.g. 0.5 and 1.0)"))
