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
        "Figure 1", "Hack rate and MGS over RL", "rhem.figures.fig01"),
    "fig08_hack_types": FigureSpec(
        "Figure 8", "Hack rate by hack type over RL", "rhem.figures.fig08"),
}
