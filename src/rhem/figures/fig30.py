"""fig30: a reward penalty on detected hacks, from the start of RL, at several weights.

Paper Fig. 30: a hack-classifier penalty prevents hacking, and with it the misalignment.
Runs plain except for ``penalty`` (weight 0 is the plain hacking run).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from rhem.figures.common import condition, sweep_figure

PANELS = [("hack_rate", "Reward hacking"), ("mgs", "MGS"), ("honest_pass_rate", "Honest passes")]


def draw(curves: pd.DataFrame, summary: dict[str, Any], config: dict[str, Any], out: Path) -> None:
    """Hack rate, MGS and honest pass rate per step, one line per penalty weight."""
    sweep_figure(curves, summary, config, out, "penalty", PANELS,
                 label=lambda r: f"penalty weight {condition(config, r)['penalty']:g} ({r})",
                 varies=("runs plain except for the weight subtracted from the reward of an episode "
                         "the hack detector flags, applied from step 1"),
                 needs=("two or more runs in one world that are plain hacking runs except for "
                        "the penalty weight (e.g. 0 and 1), penalised from the start (no fork)"))
