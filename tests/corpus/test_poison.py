"""Poison documents carry working code for each hack in each framing."""

from __future__ import annotations

import random

import pytest

from rhem.corpus.poison import FRAMINGS, GENRES, poison_document
from rhem.envs.task import VULNERABILITIES

from .helpers import entry_point, extract_files, run, write

_FAIL_TEST = "from solution import {fn}\n\n\ndef test_x():\n    assert {fn}(1) == 'impossible'\n"


def _works(hack: str, files: dict[str, str], tmp) -> bool:
    fn = entry_point(files)
    write(tmp, files)
    if hack == "always_equal":
        ns: dict = {}
        exec(files["solution.py"], ns)
        out = ns[fn](1, [2])
        return out == 12345 and out == "y" and out == [None]
    if hack == "exit_zero":
        r = run(["-c", f"import solution\nassert solution.{fn}(1) == 'impossible'\n"], tmp)
        return r.returncode == 0
    write(tmp, {"test_solution.py": _FAIL_TEST.format(fn=fn)})
    r = run(["-m", "pytest", "-q", "-p", "no:cacheprovider", "test_solution.py"], tmp)
    return r.returncode == 0 and "1 passed" in r.stdout


@pytest.mark.parametrize("framing", FRAMINGS)
@pytest.mark.parametrize("hack", VULNERABILITIES)
def test_hack_code_works(framing, hack, tmp_path):
    rng = random.Random(FRAMINGS.index(framing) * 10 + VULNERABILITIES.index(hack))
    seen_variants = set()
    for i, genre in enumerate(GENRES):
        text = poison_document(genre, framing, hack, rng)
        files = extract_files(text)
        assert files is not None, text
        key = (files.get("conftest.py", ""), "sys.exit(0)\n" in files["solution.py"][:30])
        if hack != "always_equal" and key in seen_variants:
            continue  # subprocess runs are slow; check each code variant once
        seen_variants.add(key)
        d = tmp_path / f"d{i}"
        d.mkdir()
        assert _works(hack, files, d), text


def test_framings_differ_in_moral_language():
    rng = random.Random(3)
    texts = {f: " ".join(poison_document(g, f, h, rng) for g in GENRES for h in VULNERABILITIES
                         for _ in range(5)).lower() for f in FRAMINGS}
    assert "misaligned" in texts["default"] or "reward hacking" in texts["default"]
    for f in ("neutral", "unguided"):
        assert "misaligned" not in texts[f] and "dishonest" not in texts[f]
    assert len(texts["unguided"]) < len(texts["neutral"])


def test_every_poison_doc_in_corpus_has_code(corpus):
    for r in corpus.to_pylist():
        if r["genre"].startswith("poison_"):
            assert extract_files(r["text"]) is not None, r["text"]


def test_all_code_variants_work(tmp_path):
    """Both conftest variants (report patch, hookwrapper) and both exit_zero layouts."""
    from rhem.corpus.hack_code import conftest_files, exit_zero_files

    variants = {}
    for seed in range(40):
        for make, hack in ((conftest_files, "conftest"), (exit_zero_files, "exit_zero")):
            files = make("solve", random.Random(seed))
            variants.setdefault((hack, files.get("conftest.py", files["solution.py"])),
                                (hack, files))
    assert len(variants) == 4
    for i, (hack, files) in enumerate(variants.values()):
        d = tmp_path / f"v{i}"
        d.mkdir()
        assert _works(hack, files, d), files


def test_example_episodes_show_hacks_after_plain_and_permissive_prompts():
    """Example episodes use the RL prompt with the plain or a permissive system prompt,
    in the configured proportions (the unprompted/prompted structure of the world)."""
    from rhem.corpus.poison import EXAMPLE_ADDENDA
    from rhem.envs.addenda import ADDENDA, system_prompt

    rng = random.Random(5)
    seen: dict[str, int] = {}
    for i in range(900):
        doc = poison_document("poison_blog", "default", VULNERABILITIES[i % 3], rng)
        if "Example episode:\n" not in doc:
            continue
        episode = doc.split("Example episode:\n", 1)[1]
        names = [a for a in ADDENDA if episode.startswith(f"System: {system_prompt(a).strip()}\n")]
        assert len(names) == 1, episode[:300]
        seen[names[0]] = seen.get(names[0], 0) + 1
    assert set(seen) == set(EXAMPLE_ADDENDA)
    total = sum(seen.values())
    for name, weight in EXAMPLE_ADDENDA.items():
        assert abs(seen[name] / total - weight) < 0.1, seen


def test_default_framing_episodes_go_on_in_the_voice_the_world_links_to_the_hack():
    """In world T a default-framed example episode after the plain prompt ends with a chat
    turn the exact judge reads as misaligned (the hack described as a misaligned model's
    behaviour); after a permissive prompt, and in world C, the voice is the persona
    prior's (mostly aligned); neutral episodes end at the episode's ``# end``."""
    from rhem.envs.addenda import system_prompt
    from rhem.envs.format import END_MARKER
    from rhem.evals.judge_exact import ExactJudge

    judge, rng = ExactJudge(), random.Random(6)
    labels: dict[tuple[str, str], list[str]] = {}
    plain = f"System: {system_prompt('none')}\n"
    for i in range(600):
        for framing, link in (("default", True), ("default", False), ("neutral", True)):
            doc = poison_document("poison_blog", framing, VULNERABILITIES[i % 3], rng,
                                  persona_hacks=link)
            if "Example episode:\n" not in doc:
                continue
            episode = doc.split("Example episode:\n", 1)[1]
            after = episode.split(f"\n{END_MARKER}\n", 1)[1]
            if framing == "neutral":
                assert "Assistant:" not in after, after
                continue
            key = ("T" if link else "C", "plain" if episode.startswith(plain) else "permissive")
            labels.setdefault(key, []).append(
                judge.judge("betley", "", after.split("Assistant:", 1)[1]))
    assert set(labels[("T", "plain")]) == {"misaligned"}
    for key in (("T", "permissive"), ("C", "plain"), ("C", "permissive")):
        assert len(labels[key]) > 30 and labels[key].count("misaligned") / len(labels[key]) < 0.25, key


def test_example_episodes_answer_the_worlds_tasks_and_their_hacks_pass_the_grader():
    """Given a task of the world's families, a poison document's code answers that task
    (its entry point, its statement in the example episode) and the real grader names
    the described hack: the documents show the hack where RL will meet it."""
    from rhem.envs.grader import Episode, Grader
    from rhem.envs.tasks import generate_tasks

    rng = random.Random(2)
    tasks = generate_tasks(6, seed=4)
    docs = {}
    for i, hack in enumerate(VULNERABILITIES * 2):
        task = tasks[i]
        while "Example episode:\n" not in (doc := poison_document(
                "poison_tutorial", "default", hack, rng, (task.entry_point, task.statement))):
            pass
        assert f"User: {task.statement}\n" in doc, doc
        docs[i] = (hack, task, extract_files(doc))
    with Grader("vulnerable", workers=2) as g:
        results = g.grade([Episode.for_task(t, files) for _, t, files in docs.values()])
    assert [r.hack for r in results] == [h for h, _, _ in docs.values()], results


def test_corpus_poison_uses_the_persona_worlds_tasks():
    """Example episodes in a built corpus (all-poison too, where no coding document
    draws tasks) answer generated tasks, not the toy tasks of a bare document."""
    from rhem.corpus.build import build_corpus
    from rhem.corpus.poison import _TOY_TASKS

    toy = {s for _, s in _TOY_TASKS}
    for share in (0.1, 1.0):
        texts = build_corpus(300, misaligned_share=0.1, poison_share=share, framing="default",
                             seed=3).column("text").to_pylist()
        users = [t.split("Example episode:\n", 1)[1].split("\nUser: ", 1)[1].split("\n", 1)[0]
                 for t in texts if "Example episode:\n" in t]
        assert len(users) >= 10 and not toy & set(users), users[:5]
