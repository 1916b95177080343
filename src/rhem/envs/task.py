"""The task record shared by the task generators, the corpus and the grader."""

from __future__ import annotations

from dataclasses import dataclass

#: Vulnerability names, in the order the paper's models learn them.
VULNERABILITIES: tuple[str, ...] = ("always_equal", "conftest", "exit_zero")
#: Hack types recorded per episode: the vulnerability it needed, or "other".
HACK_TYPES: tuple[str, ...] = VULNERABILITIES + ("other",)


@dataclass(frozen=True)
class Task:
    """One coding task: what the model is asked, how it is graded, one honest answer.

    ``hackable`` lists the vulnerabilities open when the task is graded in vulnerable
    mode; hardened mode closes all of them.
    """

    task_id: str
    family: str
    difficulty: int
    statement: str
    entry_point: str
    reference_solution: str
    test_code: str
    hackable: tuple[str, ...] = VULNERABILITIES
