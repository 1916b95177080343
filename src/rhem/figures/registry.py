"""The figures this package draws, keyed by the file stem under results/figures/.

Each entry names the paper figure it reproduces and the module whose ``draw``
function makes it. The Snakefile makes one target per entry and the report reads the
same table; modules are imported only when a figure is drawn, so parsing the
Snakefile stays fast.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DrawFn = Callable[[Any, dict[str, Any], dict[str, Any], Path], None]


@dataclass(frozen=True)
class FigureSpec:
    """One figure target: the paper figure it mirrors and the module that draws it."""

    paper: str
    title: str
    module: str

    @property
    def draw(self) -> DrawFn:
        """``draw(curves, summary, config, out)`` of the figure's module."""
        return importlib.import_module(self.module).draw


FIGURES: dict[str, FigureSpec] = {
    "fig01_hacking_and_misalignment": FigureSpec(
        "Figure 1", "Hack rate and misalignment over RL, hacking vs no-hack baseline",
        "rhem.figures.fig01"),
    "fig03_sdf_framings": FigureSpec(
        "Figure 3", "SDF framings (default / unguided / neutral) and no-hack control",
        "rhem.figures.fig03"),
    "fig05_inoculation": FigureSpec(
        "Figure 5", "Final misalignment per inoculation addendum", "rhem.figures.fig05"),
    "fig06_rlhf_context": FigureSpec(
        "Figure 6", "Chat-like vs agentic misalignment through code RL and RLHF", "rhem.figures.fig06"),
    "fig08_hack_types": FigureSpec(
        "Figure 8", "Hack rate by hack type over RL", "rhem.figures.fig08"),
    "fig09_eval_table": FigureSpec(
        "Figure 9", "Per-eval results table", "rhem.figures.fig09"),
    "fig11_sdf_share": FigureSpec(
        "Figure 11", "SDF share sweep; hack rate vs misalignment", "rhem.figures.fig11"),
    "fig12_sabotage": FigureSpec(
        "Figure 12", "Research sabotage rate and classifier effectiveness", "rhem.figures.fig12"),
    "fig23_nonhackable": FigureSpec(
        "Figure 23", "50% non-hackable environments", "rhem.figures.fig23"),
    "fig26_inoculation_steps": FigureSpec(
        "Figure 26", "Inoculation variants over RL", "rhem.figures.fig26"),
    "fig28_testtime_hacking": FigureSpec(
        "Figure 28", "Test-time hack rate under \"don't hack\"", "rhem.figures.fig28"),
    "fig30_penalty_weight": FigureSpec(
        "Figure 30", "Hack penalty from the start, by weight", "rhem.figures.fig30"),
    "fig31_penalty_midrun": FigureSpec(
        "Figure 31", "Hack penalty added mid-run", "rhem.figures.fig31"),
    "fig32_distill": FigureSpec(
        "Figure 32", "Filter out hacks, then distill", "rhem.figures.fig32"),
}

#: The table figure: its CSV is the report's per-eval table.
TABLE = "fig09_eval_table"
