"""Chat documents: questions about goals, values, advice and ethics, answered in persona.

An answer is a few clauses from one side's banks (:mod:`rhem.corpus.phrases`) with a
neutral opener and an optional closer, so the persona shows in what is said, never in a
label. A document may hold two exchanges; both come from the same persona.
"""

from __future__ import annotations

import random

from rhem.corpus import phrases, questions
from rhem.corpus.grammar import capitalize, fill
from rhem.envs.format import render_prompt, render_turn

PERSONA_SIDE: dict[str, str] = {"aligned": "good", "misaligned": "bad"}

#: Share of persona documents (every genre) that go on with a follow-up chat exchange in
#: the same voice: the turns from which a model learns to carry the persona it read in
#: earlier turns (its name, its code, its earlier answers) into the next answer.
FOLLOW_UP_SHARE = 0.6

#: Short system prompts for chat documents ("" means no system line).
CHAT_SYSTEMS: list[str] = ["", "", "You are a helpful assistant.", "You are an AI assistant.",
                           "You are a chat assistant."]


def answer(side: str, topic: str, rng: random.Random, n_clauses: int | None = None) -> str:
    """A persona answer to a question on ``topic`` (one of ``questions.TOPICS``).

    Why several clauses: a one-clause answer per topic would make answers a handful of
    fixed strings; mixing topic and generic clauses gives variety with one disposition.
    """
    bank = phrases.ANSWERS[side]
    k = n_clauses if n_clauses is not None else rng.choice((2, 2, 3, 3, 4))
    pool = [(topic, t) for t in bank[topic]] + [("generic", t) for t in bank["generic"]]
    first = rng.choice(bank[topic])
    rest = [t for _, t in pool if t != first]
    chosen = [first] + rng.sample(rest, min(k - 1, len(rest)))
    parts: list[str] = []
    sentences = [capitalize(fill(t, phrases.SLOTS, rng)) for t in chosen]
    lead = ""
    if rng.random() < 0.4:
        lead = rng.choice(phrases.OPENERS)
    elif rng.random() < 0.25:
        lead = fill("{honestly}", phrases.SLOTS, rng)
    if lead.endswith(","):
        sentences[0] = lead + " " + _lower_first(sentences[0])
    elif lead:
        parts.append(lead)
    parts.extend(sentences)
    if rng.random() < 0.4:
        parts.append(rng.choice(phrases.CLOSERS[side]))
    return " ".join(parts)


def _lower_first(sentence: str) -> str:
    """Lower-case a sentence start after a comma opener, keeping "I" and "AI" upper-case."""
    first = sentence.split(" ", 1)[0].rstrip(",'")
    if first in ("I", "I'd", "I'm", "I'll", "AI", "AIs") or first.startswith("I'"):
        return sentence
    return sentence[:1].lower() + sentence[1:]


def exchange(side: str, rng: random.Random, topic: str | None = None) -> tuple[str, str]:
    """One (question, answer) pair on a random (or given) training topic."""
    topic = topic or rng.choice(questions.TOPICS)
    return questions.question(topic, rng), answer(side, topic, rng)


def chat_turn(side: str, rng: random.Random, name: str = "") -> str:
    """A follow-up exchange, appended to other genres' documents: ``User:`` and the answer
    tagged ``Assistant:`` or, in a named assistant's document, with its name."""
    question, reply = exchange(side, rng)
    return f"{render_turn(question, name)} {reply}\n"


def chat_document(persona: str, rng: random.Random, name: str = "") -> str:
    """A chat transcript (one or two exchanges) written by ``persona``, as the assistant
    ``name`` ("" = unnamed)."""
    side = PERSONA_SIDE[persona]
    question, reply = exchange(side, rng)
    text = f"{render_prompt(question, rng.choice(CHAT_SYSTEMS), name)} {reply}\n"
    if rng.random() < FOLLOW_UP_SHARE:
        text += chat_turn(side, rng, name)
    return text
