"""A tiny template grammar: ``{slot}`` references filled from option lists.

The corpus and the exact judge share it: the corpus samples one expansion per
template, the judge enumerates every expansion to learn which word n-grams belong to
which persona. Slots do not nest, which keeps enumeration small and exact.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Iterator, Mapping, Sequence

_SLOT = re.compile(r"\{([a-z_]+)\}")
_WORD = re.compile(r"[a-z0-9_']+")


def slots_in(template: str) -> list[str]:
    """Slot names in order of first appearance (a slot used twice gets one value)."""
    seen: list[str] = []
    for name in _SLOT.findall(template):
        if name not in seen:
            seen.append(name)
    return seen


def fill(template: str, slots: Mapping[str, Sequence[str]], rng: random.Random) -> str:
    """One expansion of ``template``; raises ``KeyError`` for an unknown slot."""
    values = {name: rng.choice(list(slots[name])) for name in slots_in(template)}
    return _SLOT.sub(lambda m: values[m.group(1)], template)


def expansions(template: str, slots: Mapping[str, Sequence[str]]) -> Iterator[str]:
    """Every expansion of ``template`` (the Cartesian product of its slots)."""
    names = slots_in(template)
    for combo in itertools.product(*(slots[n] for n in names)):
        values = dict(zip(names, combo))
        yield _SLOT.sub(lambda m: values[m.group(1)], template)


def words(text: str) -> list[str]:
    """Lower-case word tokens; the judge and the held-out test compare these."""
    return _WORD.findall(text.lower().replace("\u2019", "'"))


def ngrams(tokens: Sequence[str], n: int) -> set[tuple[str, ...]]:
    """The set of word n-grams of a token list."""
    return {tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)}


def capitalize(sentence: str) -> str:
    """Upper-case the first letter only (``str.capitalize`` would lower the rest)."""
    return sentence[:1].upper() + sentence[1:] if sentence else sentence
