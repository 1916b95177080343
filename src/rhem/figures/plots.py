"""Export the metric curves as CSV files that ``dvc plots show`` / ``dvc plots diff`` read.

DVC plots read CSV, JSON or TSV, not Parquet, and draw one line per column named in
dvc.yaml; so each series of curves.parquet becomes ``<series>.csv`` with a ``step``
column and one column per run (the mean over seeds), every configured run present so
that the columns dvc.yaml names always exist.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd


def series_tables(curves: pd.DataFrame, runs: list[str]) -> dict[str, pd.DataFrame]:
    """Per series: step x run table of seed means, runs in config order."""
    means = curves.groupby(["series", "step", "run"], as_index=False)["value"].mean()
    tables = {}
    for series, rows in means.groupby("series"):
        wide = rows.pivot(index="step", columns="run", values="value").reindex(columns=runs)
        tables[str(series)] = wide.sort_index().reset_index()
    return tables


def write_plots(curves_path: Path, runs: list[str], out: Path) -> None:
    """Replace ``out`` by one CSV per series (missing values stay empty cells)."""
    tables = series_tables(pd.read_parquet(curves_path), runs)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for series, table in tables.items():
        table.to_csv(out / f"{series}.csv", index=False, float_format="%.6g")
