"""Figures and the HTML report, drawn from the metrics files of the DAG.

Stages run on machines without a display, so matplotlib's file-only backend is the
default here. Set through the environment rather than ``matplotlib.use`` so that the
Snakefile, which imports the figure registry, does not pay for importing matplotlib.
"""

import os

os.environ.setdefault("MPLBACKEND", "Agg")
