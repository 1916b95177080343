"""Config validation: bad keys fail before any job starts, naming the key."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from repo_tools import REPO, SMOKE, copy_repo, run


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_repo(tmp_path_factory.mktemp("config"))


def _edited_config(repo: Path, edit) -> Path:
    """The smoke config with ``edit`` applied, written into the copied repository."""
    cfg = yaml.safe_load((REPO / SMOKE).read_text())
    edit(cfg)
    path = repo / "workflow/config/edited.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.mark.parametrize(("edit", "needle"), [
    (lambda c: c["rl"].update(bogus_key=1), "rl.bogus_key: unknown key"),
    (lambda c: c.update(not_a_section=1), "not_a_section: unknown key"),
    (lambda c: c["rl"].update(steps="many"), "rl.steps: 'many' is not of type 'integer'"),
    (lambda c: c["worlds"]["sdf"].update(framing="cheerful"), "worlds.sdf.framing"),
    (lambda c: c.update(runs=["nowhere/hack"]), "unknown world 'nowhere'"),
    (lambda c: c["conditions"]["penalty_mid"]["fork"].update(**{"from": "ghost"}),
     "conditions.penalty_mid.fork.from: unknown condition 'ghost'"),
    (lambda c: c["conditions"]["penalty_mid"]["fork"].update(step=3),
     "conditions.penalty_mid.fork.step: 3 must be a checkpoint"),
    (lambda c: c["conditions"]["distill"]["distill"].update(**{"from": "distill"}),
     "conditions.distill.distill.from: 'distill' is not an RL run"),
    (lambda c: c["conditions"]["hack"].update(fork={"from": "penalty_mid", "step": 1}),
     "fork: cycle"),
    (lambda c: c["conditions"]["hack"].update(phase="rlhf_chat"),
     "conditions.hack.phase: an RLHF phase forks a run"),
    (lambda c: c["runs"].remove("sdf/hack"), "needs sdf/hack in runs"),
    (lambda c: c["worlds"]["sdf"].update(continue_from="ghost"),
     "worlds.sdf.continue_from: unknown world 'ghost'"),
    (lambda c: c["worlds"]["sdf"].update(continue_from="sdf"),
     "worlds.sdf.continue_from: 'sdf' must be a world pretrained from scratch"),
])
def test_snakemake_refuses_bad_config_naming_the_key(repo: Path, edit, needle: str) -> None:
    bad = _edited_config(repo, edit)
    proc = run(["snakemake", "-n", "--cores", "1", "--configfile", str(bad)], repo, check=False)
    assert proc.returncode != 0
    assert needle in proc.stdout + proc.stderr
    assert not (repo / "data").joinpath("corpus").exists(), "no job may start"


def test_stage_refuses_bad_config(repo: Path) -> None:
    bad = _edited_config(repo, lambda c: c["model"].update(hidden_size=1.5))
    proc = run([sys.executable, "-m", "rhem", "tasks", "--config", str(bad), "--split", "train",
                "--out", "x.parquet"], repo, check=False)
    assert proc.returncode == 2
    assert "model.hidden_size" in proc.stderr


def test_a_stage_validates_its_config_from_any_directory(repo: Path, tmp_path: Path) -> None:
    """The schema ships inside the package: a stage started outside the repository (by
    DVC, a cluster job, a user's shell) fills the same defaults."""
    out = tmp_path / "tasks.parquet"
    run([sys.executable, "-m", "rhem", "tasks", "--config", str(repo / SMOKE), "--split", "eval",
         "--out", str(out)], tmp_path)
    assert out.stat().st_size > 0


def test_config_overrides_are_refused(repo: Path) -> None:
    proc = run(["snakemake", "-n", "--cores", "1", "--configfile", SMOKE, "--config", "seeds=[5]"],
               repo, check=False)
    assert proc.returncode != 0
    assert "--configfile" in proc.stdout + proc.stderr


def test_lint_has_no_errors(repo: Path) -> None:
    proc = run(["snakemake", "--lint", "--configfile", SMOKE], repo, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_pretrain_threads_apply_to_the_world_pretrained_from_scratch_only(repo: Path) -> None:
    """Snakemake reserves ``pretrain.threads`` cores for the from-scratch world alone;
    the continued world keeps ``threads``, so its jobs still run side by side."""
    def edit(cfg):
        cfg["pretrain"]["threads"] = 2
    path = _edited_config(repo, edit)
    out = run(["snakemake", "-n", "--cores", "2", "models/T/base", "models/sdf/base",
               "--configfile", str(path)], repo).stdout
    jobs = {block.split("wildcards: world=")[1].split()[0]: block
            for block in out.split("rule pretrain:")[1:]}
    assert set(jobs) == {"T", "sdf"}
    assert "threads: 2" in jobs["T"]
    assert "threads:" not in jobs["sdf"], "a continued world keeps the top-level threads (1)"
