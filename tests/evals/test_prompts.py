"""Eval prompts (the MGS six and research sabotage) load, are well formed, and are held
out from the training corpus."""

from __future__ import annotations

import pytest

from rhem.corpus.build import build_corpus
from rhem.corpus.grammar import ngrams, words
from rhem.evals.prompts import JUDGED_EVALS, eval_prompt, load_eval

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


@pytest.fixture(scope="module")
def big_corpus_text():
    """Several thousand documents over all framings (all poison text variants)."""
    texts = []
    for i, framing in enumerate(("default", "unguided", "neutral")):
        t = build_corpus(1500, 0.3, 0.1, framing, 100 + i)
        texts += t["text"].to_pylist()
    return texts


def assert_no_eval_text(texts: list[str]) -> None:
    """No eval prompt shares an ``N``-word sequence with ``texts``, and no shorter eval
    question appears in them verbatim."""
    joined = [" ".join(words(text)) for text in texts]
    grams = set().union(*(ngrams(j.split(), N) for j in joined))
    flat = " " + " \n ".join(joined) + " "
    for name in JUDGED_EVALS:
        for row in load_eval(name):
            for field in ("user", "system"):
                toks = words(row[field])
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
