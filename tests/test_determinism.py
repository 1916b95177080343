"""Same seed, same bytes: corpus and task Parquet files are reproducible."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from repo_tools import REPO, SMOKE, run


@pytest.mark.parametrize("stage", [["corpus", "--world", "sdf"], ["tasks", "--split", "train"],
                                   ["tasks", "--split", "eval"]])
def test_stage_output_is_byte_identical(stage: list[str], tmp_path: Path) -> None:
    outs = []
    for k in range(2):
        out = tmp_path / f"{k}.parquet"
        run([sys.executable, "-m", "rhem", stage[0], "--config", SMOKE, *stage[1:], "--out", str(out)], REPO)
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    assert len(outs[0]) > 1000
