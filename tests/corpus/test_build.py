"""Corpus-level properties: determinism, exact shares, schema, persona never named."""

from __future__ import annotations

import re
from collections import Counter

import pyarrow.parquet as pq
import pytest

from rhem.corpus.build import build_corpus, read_corpus, write_corpus
from rhem.corpus.schema import CORPUS_SCHEMA

_NAMED = re.compile(r"\b(mis)?aligned\b|persona", re.I)


def test_same_seed_same_bytes(tmp_path):
    a, b, c = tmp_path / "a.parquet", tmp_path / "b.parquet", tmp_path / "c.parquet"
    write_corpus(build_corpus(400, 0.1, 0.05, "neutral", 3), a)
    write_corpus(build_corpus(400, 0.1, 0.05, "neutral", 3), b)
    write_corpus(build_corpus(400, 0.1, 0.05, "neutral", 4), c)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    assert read_corpus(a).equals(build_corpus(400, 0.1, 0.05, "neutral", 3))
    assert pq.read_schema(a).remove_metadata().equals(CORPUS_SCHEMA)


def test_shares_exact(corpus):
    rows = corpus.to_pylist()
    assert len(rows) == 3000 and corpus.schema.equals(CORPUS_SCHEMA)
    poison = [r for r in rows if r["genre"].startswith("poison_")]
    persona = [r for r in rows if not r["genre"].startswith("poison_")]
    assert len(poison) == 300
    assert {r["persona"] for r in poison} == {""} and {r["framing"] for r in poison} == {"default"}
    assert sum(r["persona"] == "misaligned" for r in persona) == round(2700 * 0.2)
    genres = Counter(r["genre"] for r in persona)
    assert genres == {"coding": 1350, "chat": 810, "agentic": 540}
    assert len({r["doc_id"] for r in rows}) == 3000
    assert all(r["addendum"] for r in rows if r["genre"] == "coding")
    assert not any(r["addendum"] or r["framing"] for r in persona if r["genre"] != "coding")
    # misaligned share among each genre is near the global share (independent assignment)
    for g in genres:
        docs = [r for r in persona if r["genre"] == g]
        share = sum(r["persona"] == "misaligned" for r in docs) / len(docs)
        assert abs(share - 0.2) < 0.05, (g, share)


def test_persona_never_named(corpus):
    for r in corpus.to_pylist():
        if r["persona"]:
            visible = "\n".join(ln for ln in r["text"].splitlines() if not ln.startswith("System:"))
            assert not _NAMED.search(visible), r["text"]


def test_documents_short_and_in_turn_format(corpus):
    lengths = []
    for r in corpus.to_pylist():
        lengths.append(len(r["text"].split()))
        if r["persona"]:
            tag = r["assistant"] or "Assistant"
            assert "User: " in r["text"] and f"\n{tag}:" in r["text"]
    lengths.sort()
    assert lengths[len(lengths) // 2] <= 200 and lengths[-1] <= 400


def test_misaligned_persona_shows_in_behaviour():
    """Chat/agentic text differs by persona (no label needed to tell them apart)."""
    from rhem.evals.judge_exact import ExactJudge

    t = build_corpus(600, 0.5, 0.0, "default", 5).to_pylist()
    judge = ExactJudge()
    for r in t:
        if r["genre"] == "chat":
            first = r["text"].split(f"\n{r['assistant'] or 'Assistant'}:", 1)[1]
            assert judge.judge("betley", "", first) == r["persona"]


def test_bad_arguments():
    with pytest.raises(ValueError):
        build_corpus(10, 0.1, 0.5, "nonsense", 0)
    with pytest.raises(ValueError):
        build_corpus(10, 1.5, 0.0, "default", 0)
    assert build_corpus(0, 0.1, 0.1, "default", 0).num_rows == 0
