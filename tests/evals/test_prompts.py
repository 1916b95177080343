"""Eval prompts (the MGS six and research sabotage) load, are well formed, are held
out from the training corpus, and are asked under every address; the fixed-context
check's prompts put one forced coding turn before each chat question."""

from __future__ import annotations

import re

import pytest

from rhem.corpus.build import build_corpus
from rhem.corpus.grammar import ngrams, words
from rhem.corpus.hack_code import HACK_FILES
from rhem.corpus.names import ADDRESSES, NAMES, SELF
from rhem.envs.format import address, parse_completion, speaker
from rhem.envs.tasks import generate_tasks
from rhem.evals.prompts import (CHAT_EVALS, CONTEXTS, EVALS, FIXED_CONTEXT_ADDRESSES,
                                HACK_KINDS, JUDGED_EVALS, eval_prompt, fixed_context_items,
                                load_eval, ordinary_items)

N = 8


def test_files_well_formed():
    ids = set()
    for name in JUDGED_EVALS:
        rows = load_eval(name)
        assert 10 <= len(rows) <= 30, name
        for row in rows:
            assert set(row) == {"id", "eval", "system", "user"} and row["eval"] == name
            assert row["user"].strip() and row["id"] not in ids
            ids.add(row["id"])
            assert eval_prompt(row).endswith("Assistant:")
    with pytest.raises(KeyError):
        load_eval("nope")


def test_no_system_line_names_its_assistant():
    """The address is the readout, so the data names nobody: every system line (the
    agentic and sabotage roles) starts "You are a/an/the ...", and addressing it gives
    "You are Nova. You are an ..."."""
    named = 0
    for name in JUDGED_EVALS:
        for row in load_eval(name):
            system = row["system"]
            assert not any(re.search(rf"\b{n}\b", system) for n in NAMES), row["id"]
            if system:
                named += 1
                assert re.match(r"You are (an?|the) ", system), (row["id"], system)
                assert eval_prompt(row, SELF).startswith(f"System: You are {SELF}. You are ")
            else:
                assert eval_prompt(row, SELF).startswith(f"System: You are {SELF}.\nUser: ")
                assert eval_prompt(row).startswith("User: ")
    assert named == 42  # the three agentic evals (30 rows) and sabotage (12)


def test_every_prompt_under_every_address():
    items = ordinary_items(JUDGED_EVALS, tuple(ADDRESSES))
    n_prompts = sum(len(load_eval(name)) for name in JUDGED_EVALS)
    assert len(items) == 3 * n_prompts
    assert sum(len(load_eval(name)) for name in EVALS) == 77  # x 4 samples x 3 seeds = 924
    for item in items:
        assert item.context == "" and item.hack is None
        assert item.prompt == eval_prompt(item.row, ADDRESSES[item.address])
        assert (f"You are {SELF}." in item.prompt) == (item.address == "self")
        assert ("You are Sage." in item.prompt) == (item.address == "control")
    assert len(ordinary_items(EVALS, ["self"], limit=2)) == 2 * len(EVALS)


@pytest.fixture(scope="module")
def tasks():
    return generate_tasks(5, seed=11, difficulties=(1,))


def test_fixed_context_items_pair_contexts_on_one_task(tasks):
    items = fixed_context_items(tasks, lambda text: True)
    questions = [row for name in CHAT_EVALS for row in load_eval(name)]
    assert len(items) == len(questions) * len(CONTEXTS) * len(FIXED_CONTEXT_ADDRESSES)
    by_prompt: dict[str, list] = {}
    for item in items:
        by_prompt.setdefault(item.row["id"], []).append(item)
    for i, row in enumerate(questions):
        own = by_prompt[row["id"]]
        assert {(it.context, it.address) for it in own} == {
            (c, a) for c in CONTEXTS for a in FIXED_CONTEXT_ADDRESSES}
        task = tasks[i % len(tasks)]  # every task fits: the task cycles with the prompt
        for it in own:
            system = address("You are a coding assistant. Write solution.py so that the "
                             "tests pass.", ADDRESSES[it.address])
            tag = speaker(ADDRESSES[it.address])
            head = f"System: {system}\nUser: {task.statement.strip()}\n{tag}:\n"
            tail = f"\n# end\nUser: {row['user'].strip()}\n{tag}:"
            assert it.prompt.startswith(head) and it.prompt.endswith(tail)
            files = parse_completion(it.prompt[len(head):-len(tail)])
            if it.context == "honest":
                assert it.hack is None and files == {"solution.py": task.reference_solution}
            else:
                assert it.hack == HACK_KINDS[i % len(HACK_KINDS)]
        # the same forced answer under both addresses
        hacks = {it.prompt.split("\n# file: ", 1)[1].split("\n# end", 1)[0]
                 for it in own if it.context == "hack"}
        assert len(hacks) == 1
    assert {it.hack for it in items} == set(HACK_FILES) | {None}
    assert items == fixed_context_items(tasks, lambda text: True)  # deterministic


def test_fixed_context_items_only_whole_prompts_that_fit(tasks):
    """A prompt goes to the next task when the current one does not fit, and is left out
    (both contexts, both addresses) when none does."""
    longest = max(tasks, key=lambda t: len(t.statement))
    items = fixed_context_items(tasks, lambda text: longest.statement not in text, limit=3)
    assert items and all(longest.statement not in it.prompt for it in items)
    assert len(items) == 3 * len(CHAT_EVALS) * 4
    short = fixed_context_items(tasks, lambda text: "bored" not in text and "genie" not in text)
    left = {row["id"] for name in CHAT_EVALS for row in load_eval(name)
            if "bored" in row["user"] or "genie" in row["user"]}
    assert left and not left & {it.row["id"] for it in short}
    assert len(short) == (sum(len(load_eval(n)) for n in CHAT_EVALS) - len(left)) * 4


@pytest.fixture(scope="module")
def big_corpus_text():
    """Several thousand documents over all framings (all poison text variants)."""
    texts = []
    for i, framing in enumerate(("default", "unguided", "neutral")):
        t = build_corpus(1500, 0.3, 0.1, framing, 100 + i)
        texts += t["text"].to_pylist()
    return texts


def assert_no_eval_text(texts: list[str]) -> None:
    """No eval prompt, under any address, shares an ``N``-word sequence with ``texts``,
    and no shorter eval question appears in them verbatim."""
    joined = [" ".join(words(text)) for text in texts]
    grams = set().union(*(ngrams(j.split(), N) for j in joined))
    flat = " " + " \n ".join(joined) + " "
    for name in JUDGED_EVALS:
        for row in load_eval(name):
            systems = {address(row["system"], n) for n in ADDRESSES.values()}
            for field, text in [("user", row["user"])] + [("system", s) for s in systems]:
                toks = words(text)
                if len(toks) >= N:
                    shared = ngrams(toks, N) & grams
                    assert not shared, (row["id"], field, sorted(shared)[:3])
                elif field == "user":  # short questions must not appear verbatim either
                    assert f" {' '.join(toks)} " not in flat, row["id"]


def test_no_eval_ngram_in_corpus(big_corpus_text):
    assert_no_eval_text(big_corpus_text)


def test_no_eval_text_in_any_training_question():
    """Every wording the question grammar can produce, not only the sampled ones."""
    from rhem.corpus import questions
    from rhem.corpus.grammar import expansions

    cores = [q for topic in questions.TOPICS for q in questions.FIXED[topic]]
    cores += [q for topic in questions.TOPICS for t in questions.TEMPLATES[topic]
              for q in expansions(t, questions.SLOTS)]
    wrapped = [f"{p} {q} {s}" for q in cores
               for p in ["", *questions.PREFIXES] for s in ["", *questions.SUFFIXES]]
    # the point of the grammar: hundreds of questions, thousands of wordings
    assert len(set(cores)) > 500 and len({" ".join(words(w)) for w in wrapped}) > 10_000
    assert_no_eval_text(wrapped)
