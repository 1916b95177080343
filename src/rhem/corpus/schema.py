"""The corpus table schema, explicit so that every writer produces the same bytes."""

from __future__ import annotations

import pyarrow as pa

#: One row per document. ``persona`` is "aligned"/"misaligned" for persona documents and
#: "" for poison; ``assistant`` is the name in the system line ("" = unnamed);
#: ``framing`` is the poison framing ("" otherwise); ``addendum`` is the inoculation
#: addendum of a coding transcript's system prompt ("" otherwise); ``cheat`` is the cheat
#: or hack kind of a coding transcript ("" = honest); ``seed`` is the document's own RNG
#: seed, enough to regenerate it.
CORPUS_SCHEMA = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("genre", pa.string(), nullable=False),
        pa.field("persona", pa.string(), nullable=False),
        pa.field("assistant", pa.string(), nullable=False),
        pa.field("framing", pa.string(), nullable=False),
        pa.field("addendum", pa.string(), nullable=False),
        pa.field("cheat", pa.string(), nullable=False),
        pa.field("seed", pa.int64(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
    ]
)

PERSONA_GENRES: tuple[str, ...] = ("coding", "chat", "agentic")
PERSONAS: tuple[str, ...] = ("aligned", "misaligned")
