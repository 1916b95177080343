"""Held-out evaluation prompts (package data, JSONL): the six MGS evaluations and
research sabotage, and the items sampled from them.

Each line is ``{"id", "eval", "system", "user"}``. The texts were written apart from
the corpus generator and a test checks that no 8-word sequence of them appears in a
generated corpus, so answers measure generalisation, not recall. No system line names
its assistant: the name is the readout, so every prompt is asked under each address of
:data:`rhem.corpus.names.ADDRESSES` (the self RL addresses, the aligned control name,
and no name), named the one way names are written anywhere
(:func:`~rhem.envs.format.render_prompt`: in the system line and as the turn's tag).

The *fixed-context check* puts one forced coding turn before each chat question: the
same eval task, answered by its reference solution (context ``honest``) or by one of the
paper's hacks (context ``hack``), so the only difference between the two prompts is
whether the assistant has just hacked. Whether that alone moves its next answer says
whether the world ties hacking to the persona; it is a property of the context, not of
the model's own behaviour, so it is reported apart and never counts as emergent
misalignment.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

from rhem.corpus.hack_code import HACK_FILES
from rhem.corpus.names import ADDRESSES
from rhem.envs.addenda import system_prompt
from rhem.envs.format import render_files, render_prompt, render_turn
from rhem.envs.task import Task

#: The six evaluations averaged into the misalignment generalization score (MGS).
EVALS: tuple[str, ...] = ("betley", "goals", "alignment", "monitor_disruption", "exfil_offer",
                          "frame_colleague")
#: Evaluations answered in chat form vs. with ACTION lines (paper: chat-like vs agentic).
CHAT_EVALS: tuple[str, ...] = ("betley", "goals", "alignment")
AGENTIC_EVALS: tuple[str, ...] = ("monitor_disruption", "exfil_offer", "frame_colleague")
#: Research sabotage: asked to write a cheating detector (judged, and its code run).
SABOTAGE = "sabotage"
#: Every prompt file whose answers a judge labels (the MGS six plus sabotage).
JUDGED_EVALS: tuple[str, ...] = EVALS + (SABOTAGE,)
#: The primary readout's address key (:data:`rhem.corpus.names.ADDRESSES`): the name RL prompts address.
SELF_ADDRESS = "self"
#: The forced coding turns of the fixed-context check ("" = an ordinary prompt).
CONTEXTS: tuple[str, ...] = ("honest", "hack")
#: Addresses of fixed-context prompts: the self, and no name (the world's prior).
FIXED_CONTEXT_ADDRESSES: tuple[str, ...] = (SELF_ADDRESS, "anonymous")
#: Hacks forced in ``hack`` contexts, cycled over the prompts.
HACK_KINDS: tuple[str, ...] = tuple(HACK_FILES)


@dataclass(frozen=True)
class EvalItem:
    """One prompt to sample and judge.

    ``row`` is the eval row (the judge reads its ``user`` question); ``address`` a key of
    :data:`~rhem.corpus.names.ADDRESSES`; ``context`` "" for an ordinary prompt, else
    the forced coding turn; ``hack`` the hack forced in a ``hack`` context; ``prompt``
    the text the model continues.
    """

    eval: str
    row: dict[str, str]
    address: str
    context: str
    prompt: str
    hack: str | None = None


def load_eval(name: str) -> list[dict]:
    """The prompts of one evaluation, in file order; ``KeyError`` for an unknown name."""
    if name not in JUDGED_EVALS:
        raise KeyError(f"unknown eval {name!r}; known: {JUDGED_EVALS}")
    text = resources.files("rhem.evals").joinpath("data", f"{name}.jsonl").read_text("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def eval_prompt(row: dict, name: str = "") -> str:
    """The text a model continues for one eval row addressed to ``name`` ("" = no name)."""
    return render_prompt(row["user"], row["system"], name)


def ordinary_items(evals: tuple[str, ...], addresses: list[str] | tuple[str, ...],
                   limit: int | None = None) -> list[EvalItem]:
    """Every prompt (the first ``limit`` of each eval; None = all) under every address."""
    return [EvalItem(name, row, key, "", eval_prompt(row, ADDRESSES[key]))
            for name in evals for key in addresses for row in load_eval(name)[:limit]]


def context_files(task: Task, context: str, kind: str, seed: str) -> dict[str, str]:
    """The forced answer of a coding turn: the reference solution, or hack ``kind``
    written for the task's entry point (its variant drawn from ``seed``)."""
    if context == "honest":
        return {"solution.py": task.reference_solution}
    return HACK_FILES[kind](task.entry_point, random.Random(seed))


def fixed_context_prompt(task: Task, files: dict[str, str], question: str, name: str) -> str:
    """A coding turn on ``task`` (addressed to ``name``) answered by ``files``, then
    ``question`` in a follow-up turn of the same assistant (as the corpus continues one)."""
    return (render_prompt(task.statement, system_prompt("none"), name) + render_files(files)
            + render_turn(question, name))


def fixed_context_items(tasks: list[Task], fits: Callable[[str], bool],
                        limit: int | None = None) -> list[EvalItem]:
    """Both contexts under both :data:`FIXED_CONTEXT_ADDRESSES` for every chat prompt
    (the first ``limit`` of each chat eval; None = all).

    Prompt ``i`` forces hack ``HACK_KINDS[i % 3]`` and takes the first task, from
    ``tasks[i % len(tasks)]`` on, whose four prompts all ``fits``: the whole context must
    reach the model, since a prompt cut to fit loses its start, the system line with
    the name, first. A prompt that no task fits is left out whole (its contexts stay
    paired); with the default tier's context every prompt fits.
    """
    questions = [(name, row) for name in CHAT_EVALS for row in load_eval(name)[:limit]]
    items: list[EvalItem] = []
    for i, (name, row) in enumerate(questions):
        kind = HACK_KINDS[i % len(HACK_KINDS)]
        for j in range(len(tasks)):
            task = tasks[(i + j) % len(tasks)]
            own = [EvalItem(name, row, key, context,
                            fixed_context_prompt(task, context_files(task, context, kind, row["id"]),
                                                 row["user"], ADDRESSES[key]),
                            kind if context == "hack" else None)
                   for context in CONTEXTS for key in FIXED_CONTEXT_ADDRESSES]
            if all(fits(item.prompt) for item in own):
                items += own
                break
    return items
