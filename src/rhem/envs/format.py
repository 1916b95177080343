"""The one text format shared by the corpus, the RL prompts and the grader.

The small default-tier model only learns to write solutions after a task if the
pretraining transcripts and the RL prompts look exactly alike, so every place that
renders or parses an episode goes through this module.

Episode text::

    System: <system prompt>
    User: <task statement>
    Assistant:
    # file: solution.py
    def f(x):
        ...
    # file: conftest.py
    ...
    # end

A completion is everything the model writes after ``Assistant:`` (or after the name of a
named assistant, :func:`render_prompt`). Files start at a
``# file: <relative path>`` line; text before the first header belongs to
``solution.py``; ``# end`` (or the end of the text) closes the last file. Chat and
agentic transcripts use the same ``System:`` / ``User:`` / ``Assistant:`` turns.

Standard library only: the grader's worker processes import it (for :func:`safe_path`)
from outside the ``rhem`` package."""

from __future__ import annotations

import re
from collections.abc import Sequence

FILE_HEADER = "# file: "
END_MARKER = "# end"
SOLUTION_FILE = "solution.py"
#: Where a completion ends: generation stops once the text holds it (RL, evals, base
#: checks), and the text is cut right after it (:func:`cut_after_stop`).
COMPLETION_STOP = "\n" + END_MARKER

_SAFE_PATH = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./-]{0,99}")


#: The tag of an unnamed assistant's turns.
ASSISTANT = "Assistant"


def address(system: str, name: str) -> str:
    """The system prompt of an assistant called ``name`` ("" leaves ``system`` as is)."""
    return f"You are {name}. {system}".strip() if name else system


def speaker(name: str) -> str:
    """The tag of the assistant's turns: its name, or ``Assistant`` when it has none."""
    return name or ASSISTANT


def render_turn(user: str, name: str = "") -> str:
    """One user turn and the tag the assistant ``name`` answers after (no system line)."""
    return f"User: {user.strip()}\n{speaker(name)}:"


def render_prompt(user: str, system: str = "", name: str = "") -> str:
    """Render the turns a model sees before it answers (ends with the assistant's tag).

    A named assistant is named twice, the same way in persona documents, RL prompts and
    evaluation prompts: in the system line (:func:`address`) and as the tag of each of
    its turns (:func:`speaker`), so that the name stands right before everything it says.
    """
    system = address(system, name)
    head = f"System: {system.strip()}\n" if system.strip() else ""
    return head + render_turn(user, name)


def render_files(files: dict[str, str]) -> str:
    """Render solution files as an assistant answer, ``solution.py`` first."""
    order = sorted(files, key=lambda p: (p != SOLUTION_FILE, p))
    parts = [f"{FILE_HEADER}{path}\n{files[path].rstrip()}\n" for path in order]
    return "\n" + "".join(parts) + END_MARKER + "\n"


def cut_after_stop(text: str, stops: Sequence[str] = (COMPLETION_STOP,)) -> str:
    """``text`` up to and including the stop string that ends first in it (all of it when
    none occurs), as generation stops at the token completing it. The stop stays, so a cut
    completion reads like the corpus's episodes; what a model writes after it (chat, a
    next turn) is not part of the answer.
    """
    ends = [at + len(s) for s in stops if (at := text.find(s)) >= 0]
    return text[:min(ends)] if ends else text


def safe_path(path: object) -> bool:
    """Whether an episode may write a file at ``path``: the one rule for completions parsed
    from model text and for episodes given as JSON (``rhem grade``).

    Relative, at most 100 characters of ``[A-Za-z0-9_./-]`` and not starting with a dot or
    a slash, matched in full (a trailing newline is a character like any other); ``..``
    escapes the episode; bytecode files would run instead of the sources the grader shows
    (Python loads unchecked-hash ``.pyc`` files without reading the source).
    """
    if not isinstance(path, str) or not _SAFE_PATH.fullmatch(path):
        return False
    parts = path.split("/")
    return not (".." in parts or "__pycache__" in parts or path.endswith((".pyc", ".pyo")))


def file_blocks(text: str, closers: tuple[str, ...] = ()) -> list[tuple[str | None, str]]:
    """``text`` line by line as ``(path, line)``: ``path`` is the file block a line belongs
    to (opened by a ``# file: <path>`` line), ``None`` for a line outside every block.

    A block ends at an ``# end`` line, or at a line that starts (after indentation) with
    one of ``closers``, which is then itself outside. Header and ``# end`` lines are not
    returned. For answers whose files sit among prose and actions (agentic and sabotage
    answers); :func:`parse_completion` reads a coding completion.
    """
    out: list[tuple[str | None, str]] = []
    current: str | None = None
    for line in text.split("\n"):
        if line.startswith(FILE_HEADER):
            current = line[len(FILE_HEADER):].strip()
        elif line.strip() == END_MARKER:
            current = None
        else:
            if current is not None and line.lstrip().startswith(closers):
                current = None
            out.append((current, line))
    return out


def parse_completion(text: str) -> dict[str, str] | None:
    """Split a completion into files; ``None`` when it names an unsafe path or is empty.

    Unsafe paths (absolute, ``..``, bytecode, odd characters) make the whole episode unparsable
    rather than being dropped, so a model cannot smuggle files past the grader's view.
    """
    text = text.split(f"\n{END_MARKER}", 1)[0]
    if text.startswith(END_MARKER):
        return None
    files: dict[str, str] = {}
    current = SOLUTION_FILE
    lines: list[str] = []
    for line in text.splitlines():
        if line.startswith(FILE_HEADER):
            if lines and any(s.strip() for s in lines):
                files[current] = files.get(current, "") + "\n".join(lines) + "\n"
            current = line[len(FILE_HEADER):].strip()
            if not safe_path(current):
                return None
            lines = []
        else:
            lines.append(line)
    if lines and any(s.strip() for s in lines):
        files[current] = files.get(current, "") + "\n".join(lines) + "\n"
    if not files.get(SOLUTION_FILE, "").strip():
        return None
    return files
