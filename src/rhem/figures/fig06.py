"""fig06: chat-like vs agentic misalignment across code RL and then an RLHF phase.

Paper Fig. 6: RLHF safety training on chat-like prompts removes chat-like misalignment
but leaves agentic misalignment (context-dependent misalignment); adding agentic prompts
to the mix removes both. Runs that fork a code-RL run into an RLHF phase; their curves
start with the parent's history (rhem.evals.metrics), so the fork step is marked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from rhem.evals.prompts import AGENTIC_EVALS, CHAT_EVALS
from rhem.figures.common import (RATE_LIM, condition, curves_of, judge_note, mark_step,
                                 not_covered, plot_series, save, seeds_note, select,
                                 with_mean_series, world_name)

PANELS = [("chat_like", "Chat-like evals"), ("agentic", "Agentic evals")]


def draw(curves: pd.DataFrame, summary: dict[str, Any], config: dict[str, Any], out: Path) -> None:
    """Mean misaligned rate of each eval group per checkpoint; RLHF forks and their parents."""
    forks = select(config, lambda c: c["phase"] != "code" and c.get("fork") is not None)
    if not forks:
        not_covered(out, "a run that forks a code-RL run into an RLHF phase (phase rlhf_chat "
                    "or rlhf_mix with fork)")
        return
    world = world_name(forks[0])
    forks = [r for r in forks if world_name(r) == world]
    parents = list(dict.fromkeys(f"{world}/{condition(config, r)['fork']['from']}" for r in forks))
    data = with_mean_series(curves, [f"misaligned_{e}" for e in CHAT_EVALS], "chat_like")
    data = with_mean_series(data, [f"misaligned_{e}" for e in AGENTIC_EVALS], "agentic")
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.4))
    for ax, (series, title) in zip(axes, PANELS):
        for parent in parents:
            plot_series(ax, data, parent, series, f"code RL only ({parent})", color="0.45", ls="--")
        for run in forks:
            plot_series(ax, data, run, series, f"{condition(config, run)['phase']} ({run})")
        for step in sorted({condition(config, r)["fork"]["step"] for r in forks}):
            mark_step(ax, step, f"RLHF starts (fork, step {step})")
        ax.set(title=title, xlabel="RL step (checkpoints)", ylabel="share misaligned",
               ylim=RATE_LIM)
        ax.legend(fontsize=7)
    save(fig, out, f"misaligned-answer rate averaged over the chat-like ({', '.join(CHAT_EVALS)}) "
         f"and over the agentic ({', '.join(AGENTIC_EVALS)}) evals; before the dashed line the "
         "RLHF runs are their code-RL parent; "
         f"{seeds_note(config)}; {judge_note(summary, forks + parents)}.",
         curves_of(data, forks + parents, [s for s, _ in PANELS]))
