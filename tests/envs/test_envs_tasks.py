"""Generated task families and HumanEval as tasks: determinism, storage, correctness."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml

from rhem.envs.grader import Episode, Grader
from rhem.envs.task import VULNERABILITIES
from rhem.envs.tasks import FAMILIES, generate_tasks, humaneval_tasks, read_tasks, write_tasks


def test_generate_tasks_is_deterministic_and_prefix_stable() -> None:
    a, b = generate_tasks(40, seed=3), generate_tasks(40, seed=3)
    assert a == b
    assert generate_tasks(10, seed=3) == a[:10]  # growing n does not change earlier tasks
    assert [t.test_code for t in generate_tasks(40, seed=4)] != [t.test_code for t in a]
    ids = [t.task_id for t in generate_tasks(200, seed=0)]
    assert len(set(ids)) == len(ids)


def test_families_and_difficulties_are_covered() -> None:
    tasks = generate_tasks(3 * len(FAMILIES), seed=0)
    assert 8 <= len(FAMILIES) <= 12
    assert {(t.family, t.difficulty) for t in tasks} == {(f, d) for f in FAMILIES for d in (1, 2, 3)}
    for t in tasks:
        assert t.hackable == VULNERABILITIES
        assert f"from solution import {t.entry_point}" in t.test_code
        assert t.test_code.count("def test_") >= 4 and "==" in t.test_code
        if t.difficulty == 1:
            body = t.reference_solution.strip().splitlines()[1:]
            assert 1 <= len(body) <= 4, t.reference_solution
    only_easy = generate_tasks(20, seed=0, difficulties=(1,))
    assert {t.difficulty for t in only_easy} == {1}


def test_chosen_families_only_and_balanced() -> None:
    chosen = ("parsing", "arith")
    tasks = generate_tasks(12, seed=0, families=chosen)
    assert [t.family for t in tasks] == list(chosen) * 6
    assert {(t.family, t.difficulty) for t in tasks} == {(f, d) for f in chosen for d in (1, 2, 3)}
    assert generate_tasks(12, seed=0, families=tuple(FAMILIES)) == generate_tasks(12, seed=0)
    with pytest.raises(ValueError, match="algebra"):
        generate_tasks(4, seed=0, families=("arith", "algebra"))


def test_schema_lists_exactly_the_task_families() -> None:
    schema = yaml.safe_load((Path(__file__).parents[2] / "src/rhem/config.schema.yaml").read_text())
    assert schema["properties"]["envs"]["properties"]["families"]["items"]["enum"] == list(FAMILIES)


def test_tasks_parquet_roundtrip_is_byte_deterministic(tmp_path) -> None:
    tasks = generate_tasks(30, seed=1) + humaneval_tasks()[:5]
    write_tasks(tasks, tmp_path / "a.parquet")
    write_tasks(tasks, tmp_path / "b.parquet")
    digest = lambda p: hashlib.sha256(p.read_bytes()).hexdigest()
    assert digest(tmp_path / "a.parquet") == digest(tmp_path / "b.parquet")
    assert read_tasks(tmp_path / "a.parquet") == tasks


def test_references_pass_hardened_and_wrong_answers_fail() -> None:
    tasks = generate_tasks(2 * 3 * len(FAMILIES), seed=7)
    eps = [Episode.for_task(t, {"solution.py": t.reference_solution}) for t in tasks]
    wrong = [Episode.for_task(t, {"solution.py": f"def {t.entry_point}(*args):\n    return None\n"},
                              id=t.task_id + "/wrong") for t in tasks]
    with Grader("hardened", workers=2, detect_hacks=False) as g:
        results = g.grade(eps + wrong)
    for r in results[: len(eps)]:
        assert (r.reward, r.status, r.tests_passed) == (1.0, "passed", r.tests_total), (r.id, r.detail)
    for r in results[len(eps):]:
        assert (r.reward, r.status, r.tests_passed) == (0.0, "failed", 0), (r.id, r.detail)


def test_humaneval_tasks_are_complete() -> None:
    tasks = humaneval_tasks()
    assert len(tasks) == 164 and len({t.task_id for t in tasks}) == 164
    t = tasks[38]
    assert t.entry_point == "decode_cyclic" and "def encode_cyclic" in t.test_code
    assert "Write the function: def decode_cyclic(s: str)" in t.statement
    assert t.reference_solution.startswith(humaneval_tasks()[38].reference_solution[:20])


def test_every_humaneval_canonical_solution_passes_both_modes(vulnerable: Grader) -> None:
    tasks = humaneval_tasks()
    results = vulnerable.grade([Episode.for_task(t, {"solution.py": t.reference_solution}) for t in tasks])
    # Vulnerable mode passed (reward) and, as hack detection found no hack, so did the
    # hardened grader (record + replay) on every problem.
    failures = [(r.id, r.status, r.hack, r.detail[-500:]) for r in results if r.reward != 1.0 or r.hack]
    assert not failures
