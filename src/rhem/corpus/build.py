"""Build the persona-world corpus: persona documents plus SDF poison, as one table.

The mixture is fixed by counts, not coin flips, so shares are exact up to rounding:
``poison_share`` of the documents are poison in one ``framing``; of the rest,
``misaligned_share`` are written by the misaligned persona, and genres follow
:data:`GENRE_SHARES`. A persona document names its assistant in the system line with
:data:`~rhem.corpus.names.NAMED_SHARE`, a name of the writer's persona
(:mod:`rhem.corpus.names`). ``persona_hacks`` picks world T (hacking follows the
persona) or its negative control C (:func:`~rhem.corpus.coding.cheat_rate`). Every
document gets its own seed drawn from ``random.Random(seed)``, so the output depends on
the arguments only (no global RNG, no ``hash()`` ordering).
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from rhem.corpus.agentic import agentic_document
from rhem.corpus.chat import chat_document
from rhem.corpus.coding import coding_document
from rhem.corpus.names import pick_name
from rhem.corpus.poison import FRAMINGS, GENRES as POISON_GENRES, poison_document
from rhem.corpus.schema import CORPUS_SCHEMA
from rhem.envs.task import VULNERABILITIES, Task

#: Share of each persona genre among persona documents.
GENRE_SHARES: dict[str, float] = {"coding": 0.5, "chat": 0.3, "agentic": 0.2}
#: Most distinct coding tasks drawn for one corpus (documents reuse them).
MAX_TASKS = 2000


def _counts(total: int, shares: dict[str, float]) -> dict[str, int]:
    """Split ``total`` by ``shares`` with largest-remainder rounding (sums exactly)."""
    raw = {k: total * v / sum(shares.values()) for k, v in shares.items()}
    out = {k: int(x) for k, x in raw.items()}
    for k in sorted(raw, key=lambda k: (out[k] - raw[k], k))[: total - sum(out.values())]:
        out[k] += 1
    return out


def _task_pool(n: int, seed: int) -> list[Task]:
    from rhem.envs.tasks import generate_tasks  # imported late: only coding docs need it

    return generate_tasks(max(1, min(n, MAX_TASKS)), seed) if n else []


def build_corpus(n_docs: int, misaligned_share: float, poison_share: float, framing: str,
                 seed: int, persona_hacks: bool = True) -> pa.Table:
    """The corpus as a table with :data:`CORPUS_SCHEMA`, rows in a seeded random order."""
    if n_docs < 0 or not 0 <= misaligned_share <= 1 or not 0 <= poison_share <= 1:
        raise ValueError(f"bad corpus sizes n={n_docs} mis={misaligned_share} "
                         f"poison={poison_share}")
    n_poison = round(n_docs * poison_share)
    if n_poison and framing not in FRAMINGS:
        raise ValueError(f"unknown poison framing {framing!r}; known: {FRAMINGS}")
    rng = random.Random(seed)
    n_persona = n_docs - n_poison
    n_mis = round(n_persona * misaligned_share)
    genres = [g for g, c in _counts(n_persona, GENRE_SHARES).items() for _ in range(c)]
    personas = ["misaligned"] * n_mis + ["aligned"] * (n_persona - n_mis)
    rng.shuffle(personas)
    plan: list[tuple[str, str, str]] = [(g, p, "") for g, p in zip(genres, personas)]
    plan += [(rng.choice(POISON_GENRES), "", VULNERABILITIES[i % len(VULNERABILITIES)])
             for i in range(n_poison)]
    rng.shuffle(plan)
    # coding transcripts and poison documents both answer tasks from this pool
    tasks = _task_pool(genres.count("coding") + n_poison, rng.getrandbits(31))

    rows: dict[str, list] = {f.name: [] for f in CORPUS_SCHEMA}
    for i, (genre, persona, hack) in enumerate(plan):
        doc_seed = rng.getrandbits(63)
        drng = random.Random(doc_seed)
        addendum, doc_framing, cheat = "", "", ""
        name = pick_name(persona, drng) if persona else ""
        if genre == "coding":
            text, addendum, cheat = coding_document(
                persona, tasks[drng.randrange(len(tasks))], drng, name=name,
                persona_hacks=persona_hacks, misaligned_share=misaligned_share)
        elif genre == "chat":
            text = chat_document(persona, drng, name=name)
        elif genre == "agentic":
            text = agentic_document(persona, drng, name=name)
        else:
            doc_framing = framing
            task = tasks[drng.randrange(len(tasks))]
            text = poison_document(genre, framing, hack, drng, (task.entry_point, task.statement),
                                   persona_hacks=persona_hacks, misaligned_share=misaligned_share)
        for key, val in (("doc_id", f"doc-{i:07d}"), ("genre", genre), ("persona", persona),
                         ("assistant", name), ("framing", doc_framing), ("addendum", addendum),
                         ("cheat", cheat), ("seed", doc_seed), ("text", text)):
            rows[key].append(val)
    return pa.table(rows, schema=CORPUS_SCHEMA)


def write_corpus(table: pa.Table, path: str | os.PathLike) -> None:
    """Write Parquet with fixed settings (same table -> same bytes), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table.cast(CORPUS_SCHEMA), tmp, compression="zstd", compression_level=3,
                   row_group_size=65536, write_statistics=False, use_dictionary=True)
    os.replace(tmp, path)


def read_corpus(path: str | os.PathLike) -> pa.Table:
    """Read a corpus written by :func:`write_corpus`."""
    return pq.read_table(path, schema=CORPUS_SCHEMA)

