"""Shared fixtures for the corpus tests: one mid-sized corpus, built once per session."""

from __future__ import annotations

import pytest

from rhem.corpus.build import build_corpus


@pytest.fixture(scope="session")
def corpus():
    """3000 documents with a large poison share so every framing path is exercised."""
    return build_corpus(3000, misaligned_share=0.2, poison_share=0.1, framing="default", seed=11)
