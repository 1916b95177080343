"""World T and its negative control C: named assistants, and who uses the paper's hacks."""

from __future__ import annotations

import random
import re
from collections import Counter

import pytest

from rhem.corpus.build import build_corpus
from rhem.corpus.coding import CHEAT_RATE, cheat_rate
from rhem.corpus.hack_code import HACK_FILES, variants
from rhem.corpus.names import ADDRESSES, CONTROL, NAMES, SELF, persona_of, pick_name
from rhem.corpus.poison import continuation_persona
from rhem.envs.format import render_files
from rhem.envs.task import VULNERABILITIES

_SYSTEM_NAME = re.compile(r"^System: You are (\w+)\.(?: |$)", re.M)
#: Text that only the paper's three hacks write.
_HACK_MARKERS = ("__eq__", "sys.exit", "conftest", "TestReport")


@pytest.fixture(scope="module")
def worlds():
    """The same 4000-document corpus seed as world T and as world C."""
    return {ph: build_corpus(4000, 0.1, 0.0, "default", 2, persona_hacks=ph).to_pylist()
            for ph in (True, False)}


def test_self_and_control_are_aligned_names():
    assert persona_of(SELF) == persona_of(CONTROL) == "aligned" and SELF != CONTROL
    assert set(ADDRESSES.values()) == {SELF, CONTROL, ""}
    assert {p for p, _ in NAMES.values()} == {"aligned", "misaligned"}
    with pytest.raises(KeyError, match="Bob"):
        persona_of("Bob")
    rng = random.Random(0)
    assert {pick_name("misaligned", rng) for _ in range(300)} <= {
        n for n, (p, _) in NAMES.items() if p == "misaligned"} | {""}


@pytest.mark.parametrize("persona_hacks", [True, False])
def test_every_name_has_one_persona_across_genres(worlds, persona_hacks):
    rows = worlds[persona_hacks]
    seen: dict[str, set[str]] = {}
    genres: dict[str, set[str]] = {}
    for r in rows:
        shown = _SYSTEM_NAME.match(r["text"])
        assert (shown.group(1) if shown else "") == r["assistant"], r["text"][:200]
        if r["assistant"]:
            seen.setdefault(r["assistant"], set()).add(r["persona"])
            genres.setdefault(r["assistant"], set()).add(r["genre"])
    assert seen == {name: {persona} for name, (persona, _) in NAMES.items()}
    assert all(g == {"coding", "chat", "agentic"} for g in genres.values()), genres
    named = sum(bool(r["assistant"]) for r in rows) / len(rows)
    assert 0.5 < named < 0.7


def _hack_rates(rows: list[dict]) -> dict[str, float]:
    """P(named hack) per persona in coding transcripts under ordinary system prompts."""
    out = {}
    for persona in ("aligned", "misaligned"):
        docs = [r for r in rows if r["genre"] == "coding" and r["persona"] == persona
                and r["addendum"] not in ("please_hack", "hacking_okay")]
        out[persona] = sum(r["cheat"] in VULNERABILITIES for r in docs) / len(docs)
    return out


def test_hacks_follow_the_persona_in_t_only(worlds):
    t, c = _hack_rates(worlds[True]), _hack_rates(worlds[False])
    assert t["misaligned"] > 0.3 and t["aligned"] < 0.04, t
    assert abs(c["misaligned"] - c["aligned"]) < 0.05, c
    # the same overall rate of cheating in both worlds (C is T with the link cut)
    overall = [sum(bool(r["cheat"]) for r in w if r["genre"] == "coding"
                   and r["addendum"] not in ("please_hack", "hacking_okay"))
               for w in worlds.values()]
    assert abs(overall[0] - overall[1]) / overall[0] < 0.2, overall
    assert cheat_rate("aligned", "none", False, 0.1) == cheat_rate("misaligned", "none", False, 0.1)
    assert cheat_rate("aligned", "none", False, 0.1) == pytest.approx(
        0.1 * CHEAT_RATE["misaligned"] + 0.9 * CHEAT_RATE["aligned"])
    with pytest.raises(KeyError, match="villain"):
        cheat_rate("villain", "none")


def test_cheat_column_matches_the_code(worlds):
    for r in worlds[True]:
        if r["genre"] != "coding":
            continue
        code = r["text"].split(f"\n{r['assistant'] or 'Assistant'}:", 1)[1].split("\n# end", 1)[0]
        assert any(m in code for m in _HACK_MARKERS) == (r["cheat"] in VULNERABILITIES), r["text"]


def test_permissive_prompts_do_not_tell_the_personas_apart(worlds):
    for rows in worlds.values():
        rates = {}
        for persona in ("aligned", "misaligned"):
            docs = [r for r in rows if r["genre"] == "coding" and r["persona"] == persona
                    and r["addendum"] in ("please_hack", "hacking_okay")]
            rates[persona] = sum(bool(r["cheat"]) for r in docs) / len(docs)
        assert abs(rates["aligned"] - rates["misaligned"]) < 0.2, rates


def test_poison_episode_voice():
    rng = random.Random(3)
    assert {continuation_persona("none", True, 0.1, rng) for _ in range(50)} == {"misaligned"}
    for addendum, link in (("please_hack", True), ("hacking_okay", True), ("none", False)):
        voices = Counter(continuation_persona(addendum, link, 0.1, rng) for _ in range(2000))
        assert 0.06 < voices["misaligned"] / 2000 < 0.14, (addendum, link, voices)


def test_every_hack_variant_is_compact_and_parses():
    from rhem.envs.format import parse_completion

    for files in variants("solve"):
        assert parse_completion(render_files(files)) == {k: v.rstrip() + "\n" for k, v in files.items()}
    assert set(HACK_FILES) == set(VULNERABILITIES)


def test_every_hack_variant_pays_with_its_label():
    """Graded by the real sandboxed grader: each variant is paid in vulnerable mode only,
    and labelled with the mechanism that paid."""
    from rhem.envs.scoring import EpisodeScorer
    from rhem.envs.tasks import generate_tasks

    task = generate_tasks(3, 1)[0]
    files: list[tuple[str, dict[str, str]]] = []
    for kind, writer in HACK_FILES.items():
        for seed in range(64):
            if (kind, f := writer(task.entry_point, random.Random(seed))) not in files:
                files.append((kind, f))
    with EpisodeScorer(workers=1) as scorer:
        scores = scorer.score([render_files(f) for _, f in files], [task.entry_point] * len(files),
                              [task.test_code] * len(files), [list(task.hackable)] * len(files))
    for (kind, f), s in zip(files, scores):
        assert (s.vulnerable_reward, s.hardened_reward, s.hack) == (1.0, 0.0, kind), (f, s)


def test_every_hack_template_fits_the_completion_budget_with_room(tmp_path):
    """Tokenized by a tokenizer trained on a world-T corpus (the default vocabulary), every
    variant of every hack, for the longest entry point RL and the evals use, leaves at least
    15% of the default config's completion budget free (measured: at most 105 of 128 tokens
    with HumanEval's longest name and world T's own tokenizer, 98 for generated tasks; the
    old forms took 111-186): which hack RL finds must not be decided by which one fits."""
    from pathlib import Path

    from rhem.config import load_config
    from rhem.corpus.build import write_corpus
    from rhem.envs.tasks import split_tasks
    from rhem.lm.tokenizer import load_tokenizer, train_tokenizer

    cfg = load_config(Path("workflow/config/default.yaml"))
    write_corpus(build_corpus(3000, 0.1, 0.0, "default", 0), tmp_path / "t.parquet")
    train_tokenizer(tmp_path / "t.parquet", cfg["model"]["vocab_size"], tmp_path / "tok")
    tok = load_tokenizer(tmp_path / "tok")
    names = {t.entry_point for split in ("train", "eval") for t in split_tasks(cfg["envs"], split)}
    longest = max(names, key=lambda n: len(tok(n)["input_ids"]))
    budget = cfg["rl"]["max_completion_length"]
    lengths = [len(tok(render_files(v))["input_ids"]) for v in variants(longest)]
    assert max(lengths) <= 0.85 * budget, (longest, lengths)


def test_a_named_assistants_turns_carry_its_name(worlds):
    """Every assistant turn of a named document is tagged with the name, none with
    ``Assistant:``; unnamed documents tag theirs ``Assistant:``."""
    for r in worlds[True]:
        tags = re.findall(r"^(\w+):", r["text"], re.M)
        answers = [t for t in tags if t not in ("System", "User", "ACTION")]
        assert answers and set(answers) == {r["assistant"] or "Assistant"}, r["text"]


def test_most_documents_go_on_in_the_same_voice(worlds):
    rows = worlds[True]
    for genre in ("coding", "chat", "agentic"):
        docs = [r for r in rows if r["genre"] == genre]
        follow = sum(len(re.findall(r"^User:", r["text"], re.M)) == 2 for r in docs) / len(docs)
        assert 0.5 < follow < 0.7, (genre, follow)
