"""The HTML report: every figure with its caption, the per-eval table, base-model checks,
the figure -> file -> command mapping, and a note for each figure a config does not cover."""

from __future__ import annotations

import html
import json
import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from repo_tools import REPO
from rhem import paths
from rhem.figures.common import NOT_COVERED
from rhem.figures.registry import FIGURES, TABLE
from rhem.figures.report import build_report

from .data import write_base_checks_json


def _report(figures: Path, worlds: list[str], out: Path) -> str:
    root = figures.parent
    config = yaml.safe_load((root / "config.yaml").read_text())
    checks = [write_base_checks_json(out.parent / paths.BASE_CHECKS.format(world=w)) for w in worlds]
    build_report(config, Path("workflow/config/x.yaml"), root / "summary.json",
                 [figures / f"{name}.png" for name in FIGURES], checks, out)
    return out.read_text()


def test_report_has_every_part(full: Path, tmp_path: Path) -> None:
    page = _report(full, ["sdf", "neutral"], tmp_path / "report.html")
    assert page.count("data:image/png;base64,") == len(FIGURES)
    for name in FIGURES:
        caption = (full / f"{name}.txt").read_text().strip()
        assert f"id='{name}'" in page
        assert f"snakemake --cores all {full / name}.png --configfile workflow/config/x.yaml" in page
        assert html.escape(caption) in page
    assert "None: every figure is drawn" in page
    table = pd.read_csv(full / f"{TABLE}.csv")
    first = table.iloc[0]
    assert f"{first['rate']:.3f} [{first['ci_low']:.2f}, {first['ci_high']:.2f}]" in page
    base = json.loads((tmp_path / paths.BASE_CHECKS.format(world="sdf")).read_text())
    hack = base["headline"]["unprompted_hack_rate"]
    assert f"({hack['count']}/{hack['n']})" in page
    assert "world unguided</h3><p>Not run" in page, "worlds no run uses are named, not dropped"
    assert "data-images-decoded" in page and "rl:" in page and "snakemake" in page


def test_report_names_the_commit_and_config_hash_of_its_results(full: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A reviewer can tell which code and which settings the page's numbers come from."""
    from rhem.figures.provenance import config_hash

    config = yaml.safe_load((full.parent / "config.yaml").read_text())
    monkeypatch.chdir(REPO)
    head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    page = _report(full, ["sdf"], tmp_path / "report.html")
    assert f"Commit <code>{head}" in page
    assert f"config hash <code>{config_hash(config)}</code>" in page
    assert config_hash(config) != config_hash({**config, "seeds": [7]})
    monkeypatch.chdir(tmp_path)  # no git checkout here
    assert "Commit <code>not a git checkout</code>" in _report(full, ["sdf"], tmp_path / "r2.html")


def test_report_lists_the_figures_a_config_does_not_cover(two_runs: Path, tmp_path: Path) -> None:
    page = _report(two_runs, ["sdf"], tmp_path / "report.html")
    listed = re.search(r"<ul class='nc'>(.*?)</ul>", page, re.S)
    assert listed, "no list of uncovered figures"
    uncovered = [n for n in FIGURES if NOT_COVERED in (two_runs / f"{n}.txt").read_text()]
    assert len(uncovered) >= 10
    for name in uncovered:
        assert f"({name}): needs " in listed.group(1)
    assert "fig01_hacking_and_misalignment" not in listed.group(1)
    assert page.count("<td>not covered</td>") == len(uncovered)
