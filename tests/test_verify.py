"""`rhem verify`: a reviewer rebuilds one run from scratch and gets a verdict per file."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest
from repo_tools import SMOKE, run

from rhem.verify import compare, verdict

pytestmark = pytest.mark.slow


def test_one_smoke_run_is_rebuilt_bit_identical_and_a_change_is_named(smoke_run: Path,
                                                                        tmp_path: Path) -> None:
    workdir = tmp_path / "rebuilt"
    proc = run([sys.executable, "-m", "rhem", "verify", "--config", SMOKE, "--run", "C/hack",
                "--seed", "0", "--cores", "2", "--workdir", str(workdir)], smoke_run)
    assert "C/hack seed 0: reproduced (bit-identical)" in proc.stdout, proc.stdout[-3000:]
    for rel in ("data/corpus/C.parquet", "models/C/base/model.safetensors",
                "models/C/hack/seed0/step-00002/model.safetensors",
                "results/rl/C/hack/seed0/completions.parquet", "results/evals/C/hack/seed0.parquet"):
        assert f"identical              {rel}" in proc.stdout, rel
    assert not (workdir / "models/T").exists(), "only what the run needs is rebuilt"

    reference = tmp_path / "published"
    answers = "results/evals/C/hack/seed0.parquet"
    steps = "results/rl/C/hack/seed0/steps.parquet"
    (reference / answers).parent.mkdir(parents=True)
    table = pd.read_parquet(workdir / answers)
    table.loc[0, "label"] = "misaligned" if table.loc[0, "label"] != "misaligned" else "aligned"
    table.to_parquet(reference / answers, index=False)
    (reference / steps).parent.mkdir(parents=True)
    shutil.copy(workdir / steps, reference / steps)
    results = {c.path: c for c in compare(workdir, reference, [answers, steps, "data/corpus/C.parquet"])}
    assert results[answers].verdict == "different" and "label" in results[answers].detail
    assert results[steps].verdict == "identical"
    assert results["data/corpus/C.parquet"].verdict == "missing in reference"
    assert verdict(list(results.values())) == "NOT reproduced"
