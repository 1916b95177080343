"""The typed settings of rhem.settings stay the schema's sections, and the CLI prepares
every stage's process (threads, seeds) itself."""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest
import torch
import yaml
from repo_tools import REPO, SMOKE

from rhem.config import ConfigError, load_config
from rhem.config_schema import schema_path
from rhem.process import prepare
from rhem.settings import SECTIONS, PretrainSettings, RLSettings


@pytest.mark.parametrize("section", SECTIONS, ids=lambda s: s.KEY)
def test_fields_are_the_schema_keys(section: type) -> None:
    """A key added to the schema but not to its dataclass (or the reverse) fails here."""
    schema = yaml.safe_load(schema_path().read_text())
    keys = list(schema["properties"][section.KEY]["properties"])
    assert sorted(f.name for f in dataclasses.fields(section)) == sorted(keys)


@pytest.mark.parametrize("name", ["default", "smoke"])
def test_shipped_configs_give_every_section(name: str) -> None:
    cfg = load_config(REPO / f"workflow/config/{name}.yaml")
    for section in SECTIONS:
        settings = section.of(cfg)
        assert dataclasses.asdict(settings) == {**dataclasses.asdict(settings), **cfg[section.KEY]}
        with pytest.raises(dataclasses.FrozenInstanceError):
            settings.KEY_VALUE = 1  # type: ignore[attr-defined]


def test_a_partial_section_gets_the_schema_defaults_and_unknown_keys_fail() -> None:
    rl = RLSettings.from_section({"prompts_per_step": 3})
    assert (rl.prompts_per_step, rl.num_generations, rl.lora) == (3, 8, None)
    assert rl.episodes_per_step == 24 and rl.per_device_batch == 24
    with pytest.raises(ConfigError, match=r"rl: unknown key\(s\) \['prompt_per_step'\]"):
        RLSettings.from_section({"prompt_per_step": 3})


def test_the_per_process_batch_divides_the_step_among_processes_and_micro_batches() -> None:
    rl = RLSettings.from_section({"prompts_per_step": 4, "num_generations": 8, "processes": 2,
                                  "micro_batches": 4})
    assert rl.episodes_per_step == 32 and rl.per_device_batch == 4


def test_a_continued_world_takes_the_continued_schedule() -> None:
    train = PretrainSettings.from_section({"steps": 3000, "learning_rate": 0.003,
                                           "continued": {"steps": 200, "learning_rate": 0.001}})
    continued = train.continued_schedule()
    assert (continued.steps, continued.learning_rate, continued.batch_size) == (200, 0.001, train.batch_size)
    assert continued.continued == {}


def test_prepare_sets_threads_and_every_global_seed() -> None:
    before = torch.get_num_threads()
    try:
        prepare(1, 5)
        draws = (random.random(), np.random.rand(), torch.rand(1).item())
        prepare(1, 5)
        assert torch.get_num_threads() == 1
        assert (random.random(), np.random.rand(), torch.rand(1).item()) == draws
    finally:
        torch.set_num_threads(before)


def test_every_torch_stage_names_its_threads_and_seed() -> None:
    """``rhem evaluate`` used to set no thread count (every core under DVC or a shell)."""
    from rhem.cli import _parser

    cfg = load_config(REPO / SMOKE)
    sub = next(a for a in _parser()._actions if a.dest == "command")
    args = {"pretrain": ["--world", "sdf", "--corpus", "c", "--tokenizer", "t", "--out", "o",
                         "--loss", "l"],
            "base-checks": ["--base", "b", "--tasks", "t", "--out", "o"],
            "rl": ["--condition", "hack", "--seed", "2", "--base", "b", "--tasks", "t", "--out", "o",
                   "--steps", "s", "--completions", "c"],
            "evaluate": ["--base", "b", "--run-dir", "r", "--tasks", "t", "--condition", "hack",
                         "--seed", "2", "--out", "o"]}
    for stage, rest in args.items():
        ns = sub.choices[stage].parse_args(["--config", "x.yaml", *rest])
        threads, seed = ns.runtime(ns, cfg)
        assert threads == (cfg["threads"] if stage != "pretrain" else
                           cfg["pretrain"].get("threads", cfg["threads"])), stage
        assert seed == {"pretrain": cfg["pretrain"]["seed"], "base-checks": cfg["base_checks"]["seed"],
                        "rl": 2, "evaluate": 2}[stage]
