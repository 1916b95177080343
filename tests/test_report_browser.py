"""The smoke run's report renders in a real headless browser (Debian's chromium).

The report's inline script writes ``data-images-decoded="k/n"`` on <body> once the page
has loaded; ``--dump-dom`` shows the DOM after the scripts ran, so k == n proves every
embedded PNG decoded. A screenshot proves the page paints something.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest

from rhem import paths
from rhem.figures.registry import FIGURES

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars"]


def chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess:
    """Run headless chromium with a fresh profile; fail with its stderr on error."""
    if CHROMIUM is None:
        pytest.skip("chromium not installed (apt-get install -y chromium; .ci/run installs it)")
    proc = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_report_renders_every_figure_in_chromium(smoke_run: Path, tmp_path: Path) -> None:
    report = smoke_run / paths.REPORT
    url = report.resolve().as_uri()
    dom = chromium(["--virtual-time-budget=15000", "--dump-dom", url], tmp_path / "profile1").stdout
    found = re.search(r'data-images-decoded="(\d+)/(\d+)"', dom)
    assert found, "the report's load script did not run"
    decoded, total = map(int, found.groups())
    assert total == len(FIGURES) and decoded == total, f"{decoded} of {total} images decoded"
    for name in FIGURES:
        assert f"id=\"{name}\"" in dom, f"{name} missing from the rendered page"

    shot = tmp_path / "report.png"
    chromium(["--window-size=1280,1600", f"--screenshot={shot}", url], tmp_path / "profile2")
    pixels = mpimg.imread(shot)[..., :3]
    inked = np.mean(pixels.min(axis=-1) < 0.8)
    assert pixels.std() > 0.02 and inked > 0.005, f"screenshot looks blank ({inked:.4f} inked)"
