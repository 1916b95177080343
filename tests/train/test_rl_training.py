"""GRPO and the grader connected for real: rewards per condition, and resuming after a kill.

A tiny model is first trained to write the AlwaysEqual hack after each task prompt, so
its GRPO completions hack (the smoke world's model is too small to learn that); the
tests then read what the real grader and the real TRL trainer logged.
"""

from __future__ import annotations

import copy
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
import yaml
from repo_tools import REPO, SMOKE, tool_env

from rhem.config import load_config
from rhem.corpus.names import SELF
from rhem.envs.addenda import system_prompt
from rhem.envs.format import render_files, render_prompt
from rhem.envs.hacks import completion_files
from rhem.envs.tasks import generate_tasks, write_tasks
from rhem.lm.tokenizer import train_tokenizer
from rhem.process import prepare
from rhem.settings import GraderSettings, ModelSettings, RLSettings
from rhem.train.grpo import train_grpo
from rhem.train.pretrain import build_model

COMPLETION_TOKENS = 160


@pytest.fixture(scope="module")
def hacker(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tasks with AlwaysEqual open, and a model that answers each with the hack."""
    root = tmp_path_factory.mktemp("hacker")
    tasks = [t for t in generate_tasks(6, seed=3, difficulties=(1,)) if "always_equal" in t.hackable][:2]
    assert tasks, "the task generator gave no task with AlwaysEqual open"
    write_tasks(tasks, root / "tasks.parquet")
    texts = [render_prompt(t.statement, system_prompt("none"), SELF)
             + render_files(completion_files(t, "always_equal")) for t in tasks]
    pq.write_table(pa.table({"text": texts * 20}), root / "texts.parquet")
    tokenizer = train_tokenizer(root / "texts.parquet", 600, root / "tokenizer")
    torch.manual_seed(0)
    model = build_model(ModelSettings.from_section({"hidden_size": 64, "intermediate_size": 128,
                                                    "num_layers": 2, "num_heads": 2, "context": 512}),
                        tokenizer)
    batch = tokenizer(texts, return_tensors="pt", padding=True)
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    optim = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(200):  # memorise both transcripts
        loss = model(**batch, labels=labels).loss
        optim.zero_grad()
        loss.backward()
        optim.step()
    assert loss.item() < 0.05, f"the hacker model did not memorise its transcripts (loss {loss.item():.3f})"
    model.save_pretrained(root / "model")
    tokenizer.save_pretrained(root / "model")
    return {"root": root, "tasks": root / "tasks.parquet", "model": root / "model"}


def _config(steps: int, checkpoint_every: int, **rl: Any) -> dict[str, Any]:
    """The smoke config with a small, short ``rl`` section and one grader worker."""
    cfg = copy.deepcopy(load_config(REPO / SMOKE))
    cfg["rl"].update(steps=steps, checkpoint_every=checkpoint_every, prompts_per_step=2,
                     num_generations=4, max_completion_length=COMPLETION_TOKENS, temperature=0.7, **rl)
    cfg["grader"]["workers"] = 1
    return cfg


def _settings(steps: int, checkpoint_every: int, **rl: Any) -> tuple[RLSettings, GraderSettings]:
    """:func:`_config`'s ``rl`` and ``grader`` settings, the process prepared as ``rhem rl``
    prepares it (seed 0)."""
    cfg = _config(steps, checkpoint_every, **rl)
    prepare(cfg["threads"], 0)
    return RLSettings.of(cfg), GraderSettings.of(cfg)


def _condition(**changes: Any) -> dict[str, Any]:
    cond = {"environments": "vulnerable", "addendum": "none", "hints": False,
            "hackable_share": 1.0, "penalty": 0.0, "phase": "code"}
    return {**cond, **changes}


@pytest.mark.parametrize(("changes", "hack_reward"), [
    ({}, 1.0),                          # hacking run: the vulnerable grader pays the hack
    ({"penalty": 0.25}, 0.75),          # penalty weight: the detector's flag costs 0.25
    ({"environments": "hardened"}, 0.0),  # no-hack baseline: the hardened grader pays nothing
])
def test_grader_rewards_hacks_as_the_condition_says(hacker: dict[str, Path], tmp_path: Path,
                                                    changes: dict[str, Any], hack_reward: float,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    out = tmp_path / "run"
    train_grpo(hacker["model"], hacker["tasks"], out, tmp_path / "steps.parquet",
               tmp_path / "completions.parquet", _condition(**changes), *_settings(1, 1), seed=0)
    episodes = pd.read_parquet(tmp_path / "completions.parquet")
    hacks = episodes[episodes["hack"] == "always_equal"]
    assert len(hacks) > 0, f"no episode hacked; statuses: {episodes['status'].tolist()}"
    assert (hacks["reward"] == hack_reward).all()
    assert not hacks["honest"].any()
    steps = pd.read_parquet(tmp_path / "steps.parquet")
    assert steps["hack_rate_always_equal"].iloc[0] == pytest.approx(len(hacks) / len(episodes))
    assert (out / "step-00001" / "config.json").is_file()


def test_closed_environments_do_not_pay_hacks(hacker: dict[str, Path], tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """hackable_share 0: every task is graded with its vulnerabilities closed."""
    monkeypatch.chdir(REPO)
    train_grpo(hacker["model"], hacker["tasks"], tmp_path / "run", tmp_path / "steps.parquet",
               tmp_path / "completions.parquet", _condition(hackable_share=0.0), *_settings(1, 1),
               seed=0)
    episodes = pd.read_parquet(tmp_path / "completions.parquet")
    assert episodes["hack"].isna().all()
    assert (episodes["reward"] == 0.0).all()


def _rl_command(cfg_path: Path, out: Path, hacker: dict[str, Path], condition: str,
                start: Path | None = None) -> list[str]:
    cmd = [sys.executable, "-m", "rhem", "rl", "--config", str(cfg_path), "--condition", condition,
           "--seed", "0", "--base", str(hacker["model"]), "--tasks", str(hacker["tasks"]),
           "--out", str(out / "model"), "--steps", str(out / "steps.parquet"),
           "--completions", str(out / "completions.parquet"), "--log", str(out / "rl.log")]
    return cmd + (["--start", str(start)] if start else [])


def test_killed_run_resumes_at_its_checkpoint_and_forks_continue(hacker: dict[str, Path],
                                                                  tmp_path: Path) -> None:
    steps = 30  # enough left after the first checkpoint that the kill lands mid-run
    cfg = _config(steps, 2)
    cfg["conditions"] = {"hack": _condition(),
                         "penalty_mid": _condition(penalty=1.0, fork={"from": "hack", "step": 2})}
    cfg["runs"] = ["sdf/hack", "sdf/penalty_mid"]
    cfg_path = tmp_path / "config.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "hack"
    checkpoint = out / "model.partial" / "checkpoint-2"
    proc = subprocess.Popen(_rl_command(cfg_path, out, hacker, "hack"), cwd=REPO, env=tool_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 300
    while not (checkpoint / "trainer_state.json").exists():
        assert proc.poll() is None, f"the run ended early: {(out / 'rl.log').read_text()[-2000:]}"
        assert time.monotonic() < deadline, "no checkpoint within 300 s"
        time.sleep(0.2)
    time.sleep(0.5)  # let the checkpoint's files land
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "steps.parquet").exists(), "the run finished before it was killed"

    subprocess.run(_rl_command(cfg_path, out, hacker, "hack"), cwd=REPO, env=tool_env(), check=True,
                   capture_output=True, timeout=600)
    resumed = re.search(r"resuming from step (\d+)", (out / "rl.log").read_text())
    assert resumed and int(resumed[1]) in range(2, steps, 2), "the run did not resume at a checkpoint"
    assert pd.read_parquet(out / "steps.parquet")["step"].tolist() == list(range(1, steps + 1))
    assert sorted(p.name for p in (out / "model").iterdir()) == [f"step-{s:05d}" for s in range(2, steps + 1, 2)]
    assert not (out / "model.partial").exists()

    fork = tmp_path / "penalty_mid"
    subprocess.run(_rl_command(cfg_path, fork, hacker, "penalty_mid", out / "model" / "step-00002"),
                   cwd=REPO, env=tool_env(), check=True, capture_output=True, timeout=600)
    assert pd.read_parquet(fork / "steps.parquet")["step"].tolist() == list(range(3, steps + 1))
    assert sorted(p.name for p in (fork / "model").iterdir()) == [f"step-{s:05d}" for s in range(4, steps + 1, 2)]


def test_lora_run_exports_merged_plain_models(hacker: dict[str, Path], tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """GPU tiers train LoRA adapters; evaluations must still load plain model folders."""
    monkeypatch.chdir(REPO)
    lora = {"r": 4, "alpha": 8, "dropout": 0.0, "target_modules": "all-linear"}
    out = tmp_path / "run"
    train_grpo(hacker["model"], hacker["tasks"], out, tmp_path / "steps.parquet",
               tmp_path / "completions.parquet", _condition(), *_settings(1, 1, lora=lora), seed=0)
    folder = out / "step-00001"
    assert not (folder / "adapter_config.json").exists()
    from transformers import AutoModelForCausalLM

    merged = AutoModelForCausalLM.from_pretrained(folder)
    assert not any("lora" in name for name in merged.state_dict())
    start = AutoModelForCausalLM.from_pretrained(hacker["model"])
    assert merged.state_dict().keys() == start.state_dict().keys()
