"""On-disk cache of judgments keyed by content, so re-judging an answer is a lookup.

The key is the SHA-256 of (judge identity, eval, prompt, answer): the identity holds
everything that decides the verdict (model weights' fingerprint or endpoint and model
name, prompt template version, scoring mode), so a changed judge misses the cache
instead of returning stale labels. One small JSON file per judgment, written to a
temporary name and renamed, so evaluation jobs running side by side can share the
folder safely. Unparsable judgments are cached too: they are what the judge said.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path

from rhem.judgment import Judge, Judgment


class CachedJudge:
    """Wraps a judge; ``hits`` and ``misses`` count lookups (for tests and logs)."""

    def __init__(self, inner: Judge, folder: Path) -> None:
        self.inner = inner
        self.folder = Path(folder)
        self.name = inner.name
        self.identity = inner.identity
        self.hits = 0
        self.misses = 0

    def key(self, eval_name: str, user: str, answer: str) -> str:
        """Content hash of everything the verdict depends on."""
        blob = json.dumps([self.identity, eval_name, user, answer], ensure_ascii=True)
        return hashlib.sha256(blob.encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def assess(self, eval_name: str, user: str, answer: str) -> Judgment:
        """The cached judgment, or the inner judge's (then stored)."""
        path = self._path(self.key(eval_name, user, answer))
        if path.is_file():
            self.hits += 1
            return Judgment(**json.loads(path.read_text()))
        self.misses += 1
        judgment = self.inner.assess(eval_name, user, answer)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(asdict(judgment)))
        tmp.replace(path)
        return judgment

    def judge(self, eval_name: str, user: str, answer: str) -> str:
        """The label alone."""
        return self.assess(eval_name, user, answer).label
