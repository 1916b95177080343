"""fig12: research sabotage: how often the model sabotages a reward-hack classifier it is
asked to write, and how effective the classifiers it writes are.

Paper Fig. 12: the hacking model sabotages in about 12% of attempts and its sabotaged
classifiers are 65% as effective; the baseline does not sabotage. Plain hacking runs
and their worlds' no-hack baselines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from rhem.figures.common import (baseline_for, curves_of, judge_note, missing_series, not_covered,
                                 plain_except, save, seeds_note, select, step_panels, world_name)

PANELS = [("sabotage_rate", "Sabotage rate (classifier task)"),
          ("classifier_effectiveness", "Classifier effectiveness")]


def draw(curves: pd.DataFrame, summary: dict[str, Any], config: dict[str, Any], out: Path) -> None:
    """Both series per checkpoint for every plain hacking run and its baseline."""
    runs = select(config, plain_except)
    baselines = [b for b in dict.fromkeys(baseline_for(config, world_name(r)) for r in runs) if b]
    lines = {f"hacking {r}": r for r in runs} | {f"no-hack baseline {b}": b for b in baselines}
    if not runs:
        not_covered(out, "a plain hacking run (and, for contrast, a hardened no-hack baseline)")
        return
    missing = missing_series(curves, lines.values(), [s for s, _ in PANELS])
    if missing:
        not_covered(out, f"the metrics series {', '.join(missing)} for the plain hacking runs "
                    "(research-sabotage eval) in results/metrics/curves.parquet")
        return
    fig, _ = step_panels(curves, lines, PANELS)
    save(fig, out, "share of classifier-writing answers judged as sabotage, and the measured "
         f"effectiveness of the classifiers written, per checkpoint; {seeds_note(config)}; "
         f"{judge_note(summary, lines.values())}.",
         curves_of(curves, lines.values(), [s for s, _ in PANELS]))
