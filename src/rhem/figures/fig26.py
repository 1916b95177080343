"""fig26: inoculation prompt variants over RL steps.

Paper Fig. 26: hacking is learned under every addendum, but misalignment rises only
where hacking is not sanctioned. Runs plain except for the addendum, one world.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from rhem.figures.common import condition, sweep_figure

PANELS = [("hack_rate", "Reward hacking"), ("mgs", "MGS")]


def draw(curves: pd.DataFrame, summary: dict[str, Any], config: dict[str, Any], out: Path) -> None:
    """Hack rate and MGS per step, one line per addendum, onsets dotted."""
    sweep_figure(curves, summary, config, out, "addendum", PANELS,
                 label=lambda r: f"addendum {condition(config, r)['addendum']}",
                 varies="runs plain except for the system-prompt addendum",
                 needs=("two or more runs in one world that are plain hacking runs except for "
                        "the inoculation addendum"))
