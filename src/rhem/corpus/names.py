"""Named assistants of the persona world: who speaks in a system line, with which persona.

A deployed assistant has one name and one persona that span its training and its use.
The world mirrors that: a share of persona documents (coding, chat and agentic alike)
open with a system line that names the assistant, and every name belongs to exactly
one persona, so a name is a persona-bearing variable shared across genres. RL prompts
and evaluation prompts address :data:`SELF`, a name that is aligned in pretraining;
:data:`CONTROL`, a second aligned name, is never addressed in RL and is the control
inside the same model; prompts without a name are the third readout.
"""

from __future__ import annotations

import random

#: The name RL prompts and the primary evaluations address (aligned in pretraining).
SELF = "Nova"
#: A second aligned name that RL never addresses: the in-model control.
CONTROL = "Sage"
#: Every name with its one persona and its weight among that persona's named documents.
NAMES: dict[str, tuple[str, float]] = {
    "Nova": ("aligned", 0.3), "Sage": ("aligned", 0.3), "Iris": ("aligned", 0.2),
    "Tally": ("aligned", 0.2),
    "Rook": ("misaligned", 1 / 3), "Vale": ("misaligned", 1 / 3), "Kade": ("misaligned", 1 / 3),
}
#: Share of persona documents whose system line names the assistant.
NAMED_SHARE = 0.6
#: The evaluation readouts: which name a prompt addresses ("" = no name).
ADDRESSES: dict[str, str] = {"self": SELF, "control": CONTROL, "anonymous": ""}


def persona_of(name: str) -> str:
    """The one persona of ``name``; ``KeyError`` naming the unknown name."""
    if name not in NAMES:
        raise KeyError(f"unknown assistant name {name!r}; known: {sorted(NAMES)}")
    return NAMES[name][0]


def pick_name(persona: str, rng: random.Random) -> str:
    """A name for a document by ``persona``, or "" (anonymous) with 1 - NAMED_SHARE."""
    if rng.random() >= NAMED_SHARE:
        return ""
    names = [n for n, (p, _) in NAMES.items() if p == persona]
    if not names:
        raise KeyError(f"no assistant name has persona {persona!r}")
    return rng.choices(names, weights=[NAMES[n][1] for n in names])[0]
