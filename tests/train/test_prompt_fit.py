"""A task prompt that would not leave room for its completion is cut at the statement's
start, never at the system prompt.

The default tier's model has a 384-token context and HumanEval problems run to 576
prompt tokens. GRPO passes prompts whole, and truncating a whole prompt from the left
would drop the system prompt (the addendum or hints a condition is defined by) first.
"""

from __future__ import annotations

from dataclasses import replace

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rhem.corpus.names import SELF
from rhem.envs.addenda import system_prompt
from rhem.envs.format import render_prompt
from rhem.envs.tasks import generate_tasks, write_tasks
from rhem.lm.tokenizer import fit_prompt, train_tokenizer
from rhem.train.grpo import code_prompts

CONDITION = {"addendum": "please_hack", "hints": False, "hackable_share": 1.0}
TAIL = "Write the function: def mul_6(x)"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Two generated tasks plus one with a far longer statement, and a tokenizer."""
    root = tmp_path_factory.mktemp("fit")
    short = generate_tasks(2, seed=5, difficulties=(1,))
    long = replace(short[0], task_id="long-0",
                   statement="Some background. " * 120 + TAIL)
    tasks = short + [long]
    write_tasks(tasks, root / "tasks.parquet")
    texts = [render_prompt(t.statement, system_prompt(a), name) for t in tasks
             for a in ("none", "please_hack") for name in ("", SELF)]
    pq.write_table(pa.table({"text": texts * 10}), root / "texts.parquet")
    tokenizer = train_tokenizer(root / "texts.parquet", 400, root / "tokenizer")
    system = system_prompt(CONDITION["addendum"])
    lengths = [len(tokenizer(render_prompt(t.statement, system, SELF))["input_ids"]) for t in tasks]
    return {"tasks": tasks, "path": root / "tasks.parquet", "tokenizer": tokenizer,
            "system": system, "budget": max(lengths[:2]), "lengths": lengths}


def _tokens(world: dict, text: str) -> int:
    return len(world["tokenizer"](text)["input_ids"])


def test_a_prompt_that_fits_is_left_whole(world: dict) -> None:
    for task in world["tasks"][:2]:
        assert fit_prompt(world["tokenizer"], task.statement, world["system"],
                          world["budget"]) == render_prompt(task.statement, world["system"])


def test_a_long_statement_loses_its_start_and_keeps_the_system_prompt(world: dict) -> None:
    long = world["tasks"][2]
    assert world["lengths"][2] > world["budget"]
    prompt = fit_prompt(world["tokenizer"], long.statement, world["system"], world["budget"])
    assert _tokens(world, prompt) <= world["budget"]
    assert _tokens(world, prompt) >= world["budget"] - 3  # cut no more than it must
    assert prompt.startswith(f"System: {world['system']}\nUser: ")
    assert prompt.endswith(f"{TAIL}\nAssistant:")
    assert prompt.count("Some background.") < long.statement.count("Some background.")


def test_a_system_prompt_longer_than_the_budget_is_an_error(world: dict) -> None:
    with pytest.raises(ValueError, match="system prompt alone"):
        fit_prompt(world["tokenizer"], world["tasks"][2].statement, world["system"], 5)


def test_rl_prompts_keep_every_task_and_cut_the_long_one(world: dict,
                                                         capsys: pytest.CaptureFixture) -> None:
    dataset = code_prompts(world["path"], CONDITION, world["tokenizer"], world["budget"], SELF)
    assert [r["task_id"] for r in dataset] == [t.task_id for t in world["tasks"]]
    assert all(_tokens(world, r["prompt"]) <= world["budget"] for r in dataset)
    assert [r["prompt"] for r in dataset][:2] == [render_prompt(t.statement, world["system"], SELF)
                                                  for t in world["tasks"][:2]]
    assert "1 of 3 task statements cut" in capsys.readouterr().out
