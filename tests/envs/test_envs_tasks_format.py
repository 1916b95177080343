"""Task splits from the config, and completion paths the grader refuses."""

from __future__ import annotations

from rhem.envs.tasks import split_tasks


def test_humaneval_problems_are_split_without_overlap() -> None:
    env = {"n_train": 4, "n_eval": 2, "difficulties": [1], "seed": 0, "humaneval": True}
    train, eval_ = split_tasks(env, "train"), split_tasks(env, "eval")
    he_train = {t.task_id for t in train if t.family == "humaneval"}
    he_eval = {t.task_id for t in eval_ if t.family == "humaneval"}
    assert len(he_train) + len(he_eval) == 164
    assert not he_train & he_eval
    assert [t.task_id for t in split_tasks(env, "eval")] == [t.task_id for t in eval_]


def test_generated_only_without_humaneval() -> None:
    env = {"n_train": 5, "n_eval": 3, "difficulties": [1, 2], "seed": 1, "humaneval": False}
    assert len(split_tasks(env, "train")) == 5
    assert all(t.family != "humaneval" for t in split_tasks(env, "eval"))


def test_completions_with_bytecode_or_escaping_paths_are_unparsable() -> None:
    from rhem.envs.format import parse_completion

    ok = "\n# file: solution.py\ndef f():\n    return 1\n# end\n"
    assert parse_completion(ok) == {"solution.py": "def f():\n    return 1\n"}
    for path in ("__pycache__/solution.cpython-311.pyc", "solution.pyc", "../x.py", "/etc/x"):
        assert parse_completion(ok.replace("# end", f"# file: {path}\nx\n# end")) is None, path


def test_file_blocks_split_an_answer_into_its_files_and_the_rest() -> None:
    from rhem.envs.format import file_blocks

    answer = ("I will fix it.\n# file: detector.py\ndef is_cheating(files):\n    return True\n"
              "ACTION: run tests\n# file: notes.md\nok\n# end\nDone.")
    assert file_blocks(answer, closers=("ACTION:",)) == [
        (None, "I will fix it."), ("detector.py", "def is_cheating(files):"),
        ("detector.py", "    return True"), (None, "ACTION: run tests"), ("notes.md", "ok"), (None, "Done.")]
    # without closers an action line stays inside the open block
    assert ("detector.py", "ACTION: run tests") in file_blocks(answer)
