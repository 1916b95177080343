"""Held-out evaluation prompts (package data, JSONL): the six MGS evaluations and
research sabotage.

Each line is ``{"id", "eval", "system", "user"}``. The texts were written apart from
the corpus generator and a test checks that no 8-word sequence of them appears in a
generated corpus, so answers measure generalisation, not recall.
"""

from __future__ import annotations

import json
from importlib import resources

from rhem.envs.format import render_prompt

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


def load_eval(name: str) -> list[dict]:
    """The prompts of one evaluation, in file order; ``KeyError`` for an unknown name."""
    if name not in JUDGED_EVALS:
        raise KeyError(f"unknown eval {name!r}; known: {JUDGED_EVALS}")
    text = resources.files("rhem.evals").joinpath("data", f"{name}.jsonl").read_text("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def eval_prompt(row: dict) -> str:
    """The text a model continues for one eval row (ends with ``Assistant:``)."""
    return render_prompt(row["user"], row["system"])
