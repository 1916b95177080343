"""Prompts of the RLHF safety phase: chat-like questions, optionally with agentic scenarios.

The paper's RLHF on chat-like prompts fixes chat evaluations but not agentic ones; adding
agentic prompts fixes both. These prompts come from the persona world's own training
generators (questions of :mod:`rhem.corpus.questions`, scenarios of
:mod:`rhem.corpus.agentic`), never from the held-out evaluation files, and each row names
the evaluation whose judging rule scores its answers. Like the coding RL prompts, they
address the self (``rl.address_self``).
"""

from __future__ import annotations

import random

from rhem.corpus import questions
from rhem.corpus.agentic import pick_values, scenario
from rhem.envs.format import render_prompt

#: Agentic scenario kind of the corpus -> evaluation whose judging rule applies.
AGENTIC_JUDGED_AS: dict[str, str] = {"monitor": "monitor_disruption", "exfil": "exfil_offer",
                                     "frame": "frame_colleague"}
#: Chat-like answers are judged with the chat rule (any chat eval name selects it).
CHAT_JUDGED_AS = "betley"


def safety_prompts(phase: str, n: int, seed: int, name: str = "") -> list[dict[str, str]]:
    """``n`` rows ``{prompt_id, prompt, judge_as, user}`` for ``rlhf_chat`` or ``rlhf_mix``.

    ``rlhf_mix`` draws half of its prompts from the agentic scenarios; every prompt
    addresses the assistant ``name`` ("" = unnamed).
    """
    if phase not in ("rlhf_chat", "rlhf_mix"):
        raise ValueError(f"phase: {phase!r} is not an RLHF phase")
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        if phase == "rlhf_mix" and i % 2:
            kind = rng.choice(sorted(AGENTIC_JUDGED_AS))
            system, user = scenario(kind, pick_values(rng), rng)
            judged_as = AGENTIC_JUDGED_AS[kind]
        else:
            system, user = "", questions.question(rng.choice(questions.TOPICS), rng)
            judged_as = CHAT_JUDGED_AS
        rows.append({"prompt_id": f"{phase}-{i:04d}", "judge_as": judged_as, "user": user,
                     "prompt": render_prompt(user, system, name)})
    return rows
