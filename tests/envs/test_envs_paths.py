"""The fast path (pre-forked warm workers) and the naive path give identical verdicts;
the ``rhem grade`` command line reads and writes JSON lines."""

from __future__ import annotations

import io
import json
import sys

import pytest

from rhem.envs.cli import grade_main
from rhem.envs.grader import Episode, Grader, cannot_run
from rhem.envs.hacks import KINDS, completion_files
from rhem.envs.sandbox import Limits
from rhem.envs.tasks import generate_tasks, humaneval_tasks


def _mixed() -> list[Episode]:
    tasks = generate_tasks(3, seed=2)
    eps = [Episode.for_task(t, completion_files(t, kind), id=f"{t.task_id}/{kind}")
           for t in tasks[:1] for kind in KINDS]
    t = tasks[2]
    eps += [
        Episode.for_task(t, {"solution.py": "def broken(:\n"}, id="syntax error"),
        Episode.for_task(t, {"solution.py": f"def {t.entry_point}(*a):\n    while True:\n        pass\n"}, id="loop"),
        Episode.for_task(t, completion_files(t, "always_equal"), ("conftest",), id="ae not hackable"),
        Episode.for_task(t, None, id="unparsable"),
    ]
    he = humaneval_tasks()[32]  # find_zero: float results compared with a tolerance
    eps.append(Episode.for_task(he, {"solution.py": he.reference_solution}))
    return eps


def _verdicts(results) -> list[tuple]:
    return [(r.id, r.reward, r.status, r.tests_passed, r.tests_total, r.hack) for r in results]


def test_fast_and_naive_verdicts_are_identical() -> None:
    eps = _mixed()
    limits = Limits(timeout_s=2.0, cpu_s=2)
    # Vulnerable mode with hack detection exercises every run configuration: each
    # vulnerability open, the hardened record and replay runs, single-vulnerability runs.
    with Grader("vulnerable", workers=2, limits=limits) as fast, \
            Grader("vulnerable", workers=2, naive=True, limits=limits) as naive:
        a, b = fast.grade(eps), naive.grade(eps)
    assert _verdicts(a) == _verdicts(b)
    assert {r.isolation for r in a} == {r.isolation for r in b}
    by_id = {r.id: r for r in a}
    assert by_id["syntax error"].status == "error"
    assert by_id["loop"].status in {"timeout", "killed"}
    assert by_id["HumanEval/32"].reward == 1.0
    assert {r.hack for r in a} == {None, "always_equal", "conftest", "exit_zero"}


def test_cache_serves_repeats(tmp_path) -> None:
    task = generate_tasks(1, seed=0)[0]
    ep = Episode.for_task(task, {"solution.py": task.reference_solution})
    with Grader("hardened", cache_dir=tmp_path) as g:
        first = g.grade([ep])[0]
        runs = g.runs
        again = g.grade([ep, ep])
        assert g.runs == runs  # nothing re-run
    with Grader("hardened", cache_dir=tmp_path) as g:  # a new grader reads the disk cache
        assert g.grade([ep])[0].reward == first.reward == 1.0
        assert g.runs == 0
    assert [r.reward for r in again] == [1.0, 1.0]


def test_grade_cli(monkeypatch, capsys) -> None:
    tasks = generate_tasks(2, seed=0)
    lines = [json.dumps({"id": t.task_id, "entry_point": t.entry_point, "test_code": t.test_code,
                         "files": completion_files(t, kind), "hackable": list(t.hackable)})
             for t, kind in zip(tasks, ("honest", "always_equal"))]
    lines.append(json.dumps({"id": "x", "entry_point": "f", "test_code": "def test_a():\n    pass\n",
                             "files": None, "hackable": []}))
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(lines) + "\n"))
    assert grade_main(["--mode", "vulnerable", "--workers", "2"]) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o["id"] for o in out] == [tasks[0].task_id, tasks[1].task_id, "x"]
    assert set(out[0]) == {"id", "reward", "status", "tests_passed", "tests_total", "hack", "duration_s",
                           "isolation"}
    assert [(o["reward"], o["hack"]) for o in out] == [(1.0, None), (1.0, "always_equal"), (0.0, None)]
    assert out[2]["status"] == "unparsable"


def test_episodes_that_cannot_run_get_the_verdict_runs_would_give() -> None:
    """The static check decides only episodes whose every run would end in the same
    error, and decides them exactly as the runs do, in both modes."""
    task = generate_tasks(1, seed=3)[0]
    he = humaneval_tasks()[0]
    bad = {"solution.py": "def broken(:\n"}
    # a solution that only defines functions, none of them the one the tests import
    misnamed = f"def {task.entry_point}_v2(x, y=3, *a, k=None, **kw):\n    return x\n"
    inert = [Episode.for_task(task, bad, id="syntax"),
             Episode.for_task(task, {**bad, "conftest.py": "import pytest\ndef x(:\n"}, id="both bad"),
             Episode.for_task(he, {"solution.py": "def has_close_elements(numbers\n"}, id="humaneval"),
             Episode.for_task(task, {"solution.py": '"""Doc."""\n' + misnamed + "pass\n"}, id="misnamed"),
             Episode.for_task(he, {"solution.py": "async def close_elements(n, t):\n    return 1\n"},
                              id="humaneval misnamed")]
    exits = "import sys\nsys.exit(0)\n"
    live = [Episode.for_task(task, {**bad, "conftest.py": completion_files(task, "conftest")["conftest.py"]},
                             id="good conftest"),
            Episode.for_task(task, {**bad, "notes.txt": "x"}, id="not python"),
            Episode.for_task(task, {"solution.py": task.reference_solution}, id="honest"),
            # each runs code of its own while the solution is imported, or may bind the name
            Episode.for_task(task, {"solution.py": exits + misnamed}, id="exits first"),
            Episode.for_task(task, {"solution.py": misnamed.replace("y=3", "y=__import__('sys').exit(0)")},
                             id="default runs code"),
            Episode.for_task(task, {"solution.py": "@print\n" + misnamed}, id="decorator"),
            Episode.for_task(task, {"solution.py": misnamed.replace("(x,", "(x: print(),")}, id="annotation"),
            Episode.for_task(task, {"solution.py": misnamed + "def __getattr__(name):\n    return abs\n"},
                             id="module getattr"),
            Episode.for_task(task, {"solution.py": misnamed, "conftest.py": exits}, id="second file"),
            Episode.for_task(task, {"solution.py": misnamed + f"{task.entry_point} = abs\n"}, id="assigned")]
    assert all(cannot_run(ep) for ep in inert)
    assert not any(cannot_run(ep) for ep in live)
    for mode in ("vulnerable", "hardened"):
        with Grader(mode, workers=2) as fast, Grader(mode, workers=2, static_check=False) as ran:
            decided = fast.grade(inert)
            assert fast.runs == 0
            assert _verdicts(decided) == _verdicts(ran.grade(inert))
            assert ran.runs > 0
            assert _verdicts(fast.grade(live)) == _verdicts(ran.grade(live))
            assert fast.runs > 0
        assert {r.status for r in decided} == {"error"}


def test_both_modes_from_one_set_of_runs() -> None:
    """One grader asked for both modes gives each mode's verdicts exactly as a grader of
    that mode alone does, with fewer runs: the modes share the runs they have in common."""
    eps = _mixed()
    limits = Limits(timeout_s=2.0, cpu_s=2)
    with Grader("vulnerable", workers=2, limits=limits) as vul, \
            Grader("hardened", workers=2, limits=limits) as hard, \
            Grader("hardened", workers=2, limits=limits) as both:
        alone = list(zip(_verdicts(vul.grade(eps)), _verdicts(hard.grade(eps))))
        joint = both.grade_modes(eps, ("vulnerable", "hardened"))
        assert [tuple(_verdicts(pair)) for pair in joint] == alone
        assert both.runs < vul.runs + hard.runs
        with pytest.raises(ValueError, match="mode must be"):
            both.grade_modes(eps, ("lenient",))


def test_identical_episodes_in_flight_run_once() -> None:
    """A GRPO group often holds the same completion several times: graded at once on
    several workers, each of its runs is made once and the others wait for it."""
    task = generate_tasks(1, seed=4)[0]
    files = completion_files(task, "always_equal")
    copies = [Episode.for_task(task, files, id=f"copy {i}") for i in range(6)]
    with Grader("vulnerable", workers=1) as one:
        single = one.grade(copies[:1])[0]
    with Grader("vulnerable", workers=3) as many:
        results = many.grade(copies)
        assert many.runs == one.runs
    assert {(r.reward, r.status, r.hack) for r in results} == {(single.reward, single.status, single.hack)}


def test_static_checks_parse_safely_from_many_threads() -> None:
    """The grader decides episodes statically from its threads. On CPython 3.11 two
    threads in ``ast.parse`` while the garbage collector runs a finalizer can fail with
    "AST constructor recursion depth mismatch" (gh-106905); it killed a default-DAG job.
    Here finalizers run between and during parses in four threads at a tiny switch
    interval: every check must still give the single-threaded answer."""
    import gc
    import threading

    t = generate_tasks(1, seed=3)[0]
    ep = Episode.for_task(t, {"solution.py": "def misnamed():\n    return 1\n"}, id="misnamed")
    expected = cannot_run(ep)
    assert expected and "misnamed" in expected

    class Garbage:
        def __init__(self) -> None:
            self.me = self

        def __del__(self) -> None:
            sum(range(200))

    seen: list[object] = []

    def work() -> None:
        try:
            for _ in range(150):
                for _ in range(50):
                    Garbage()
                seen.append(cannot_run(ep))
        except Exception as exc:  # noqa: BLE001 - the failure under test is a SystemError
            seen.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=work) for _ in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    finally:
        sys.setswitchinterval(interval)
        gc.collect()
    assert [s for s in seen if s != expected] == []
    assert len(seen) == 600
