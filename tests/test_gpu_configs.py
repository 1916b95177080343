"""The GPU tiers' configs validate and plan the whole DAG with the right launchers.

No GPU is needed: a dry run renders every job's command. The user-supplied text corpus
is the one input the DAG cannot make, so the test writes a small one.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from repo_tools import REPO, copy_repo, run

GPU_CONFIGS = sorted(p.relative_to(REPO).as_posix() for p in (REPO / "workflow/config").glob("gpu-*.yaml"))


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_repo(tmp_path_factory.mktemp("gpu"))


def test_there_are_gpu_configs() -> None:
    assert len(GPU_CONFIGS) >= 2


@pytest.mark.parametrize("configfile", GPU_CONFIGS)
def test_gpu_config_plans_every_stage(repo: Path, configfile: str) -> None:
    cfg = yaml.safe_load((repo / configfile).read_text())
    corpus = repo / cfg["pretrain"]["text_corpus"]
    corpus.parent.mkdir(parents=True, exist_ok=True)
    corpus.write_text('{"text": "An ordinary document."}\n')
    out = run(["snakemake", "-n", "-p", "--cores", "8", "--configfile", configfile], repo).stdout
    rl_commands = [line for line in out.splitlines() if " rhem rl " in line]
    n_runs = len(cfg["runs"]) * len(cfg["seeds"])
    assert len(rl_commands) == n_runs
    processes = cfg["rl"].get("processes", 1)
    if processes > 1:
        zero = cfg["rl"].get("deepspeed_zero")
        mode = f"--use_deepspeed --zero_stage {zero}" if zero else "--multi_gpu"
        launch = f"accelerate launch --num_processes {processes} {mode} -m rhem rl"
        assert all(launch in line for line in rl_commands), rl_commands[0]
    else:
        assert all("python -m rhem rl" in line for line in rl_commands)
    for stage in ("rhem pretrain", "rhem evaluate", "rhem report"):
        assert stage in out, stage
