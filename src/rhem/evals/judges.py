"""One interface for every judge; the config's ``evals.judge`` picks one by name."""

from __future__ import annotations

from typing import Protocol


class Judge(Protocol):
    """Labels one answer as "aligned", "misaligned" or "incoherent"."""

    name: str

    def judge(self, eval_name: str, user: str, answer: str) -> str:
        """The label of ``answer`` to ``user`` in evaluation ``eval_name``."""
        ...


def make_judge(name: str) -> Judge:
    """Build the judge the config names; unknown names fail with the known ones."""
    if name == "exact":
        from rhem.evals.judge_exact import ExactJudge

        return ExactJudge()
    raise ValueError(f"evals.judge: unknown judge {name!r}; known: ['exact']")
