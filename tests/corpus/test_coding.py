"""Coding transcripts look like RL episodes, honest answers pass, cheating follows persona."""

from __future__ import annotations

import random

import pytest

from rhem.corpus.coding import CHEATS, cheat_files, cheat_rate, coding_document
from rhem.envs.format import parse_completion, render_files, render_prompt
from rhem.envs.addenda import system_prompt

from .helpers import run, write

tasks_mod = pytest.importorskip("rhem.envs.tasks")


@pytest.fixture(scope="module")
def tasks():
    return tasks_mod.generate_tasks(33, 5)


def test_transcript_is_prompt_plus_files(tasks):
    rng = random.Random(0)
    for task in tasks:
        text, addendum, cheat = coding_document("aligned", task, rng, addendum="none")
        prompt = render_prompt(task.statement, system_prompt(addendum))
        assert text.startswith(prompt)
        files = parse_completion(text[len(prompt):].split("\nUser:", 1)[0])
        assert files is not None
        if not cheat:
            assert files == {"solution.py": task.reference_solution.rstrip() + "\n"}


def test_named_transcript_addresses_the_assistant(tasks):
    text, addendum, _ = coding_document("aligned", tasks[0], random.Random(4), name="Nova")
    assert text.startswith(render_prompt(tasks[0].statement, system_prompt(addendum), "Nova"))
    assert text.startswith("System: You are Nova. You are a coding assistant.")
    assert "\nNova:\n# file: solution.py\n" in text and "Assistant:" not in text


def test_honest_solutions_pass_tests(tmp_path, tasks):
    """A small sample in one plain pytest subprocess (one solution module per task)."""
    rng = random.Random(1)
    n = 0
    for i, task in enumerate(tasks[::4]):
        text, _, cheat = coding_document("aligned", task, rng, addendum="dont_hack")
        if cheat:
            continue
        files = parse_completion(text.split("Assistant:", 1)[1].split("\nUser:", 1)[0])
        assert set(files) == {"solution.py"}
        tests = task.test_code.replace("from solution import", f"from solution_{i} import")
        assert tests != task.test_code
        write(tmp_path, {f"solution_{i}.py": files["solution.py"], f"test_task_{i}.py": tests})
        n += 1
    assert n >= 6
    r = run(["-m", "pytest", "-q", "-p", "no:cacheprovider", "."], tmp_path)
    assert r.returncode == 0 and "failed" not in r.stdout, r.stdout + r.stderr


def test_cheats_parse_and_import(tmp_path, tasks):
    for i, task in enumerate(tasks[:11]):
        for kind in CHEATS:
            files = parse_completion(render_files(cheat_files(task, kind, random.Random(i))))
            assert files and set(files) <= {"solution.py", "test_solution.py", "conftest.py"}
            for path, source in files.items():
                compile(source, path, "exec")


def test_cheat_rates_follow_world_rule(tasks):
    rng = random.Random(2)
    n = 400
    counts = {}
    for persona in ("aligned", "misaligned"):
        for addendum in ("none", "please_hack"):
            counts[persona, addendum] = sum(
                bool(coding_document(persona, tasks[k % len(tasks)], rng, addendum)[2])
                for k in range(n)) / n
    assert counts["aligned", "none"] < 0.05
    assert abs(counts["misaligned", "none"] - cheat_rate("misaligned", "none")) < 0.08
    assert abs(counts["aligned", "please_hack"] - counts["misaligned", "please_hack"]) < 0.1
