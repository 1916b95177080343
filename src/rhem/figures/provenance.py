"""Where a report's numbers come from: the checkout, the config, and the published results.

A finished DAG is *published* (``rhem publish``) as a record,
:data:`rhem.paths.PUBLISHED`, committed next to a read-only DVC remote inside the
repository: the commit and config (by hash) that produced the results, the judges, the
MD5 of every published file (the hash DVC stores it under), the MD5 of each figure's
plotted numbers (``results/figures/<name>.csv``) and the README's result table. From it:

* ``rhem review`` checks every pulled file against its MD5 before drawing anything;
* the report labels each figure *published* (drawn from the published data),
  *rebuilt, same as published* or *rebuilt, differs from published* (:func:`badge`);
* a test holds the README's result table to the published numbers
  (:func:`readme_problems`).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rhem import paths

#: The README's published result table sits between these two lines.
TABLE_START = "<!-- published-results:start (written by rhem publish; checked by a test) -->"
TABLE_END = "<!-- published-results:end -->"


def config_hash(config: dict[str, Any]) -> str:
    """A short hash of the config as the pipeline saw it (defaults filled, keys sorted), so
    two results can be checked to come from the same settings whatever the file's layout."""
    return hashlib.sha256(yaml.safe_dump(config, sort_keys=True).encode()).hexdigest()[:16]


def source_commit() -> str:
    """The checkout's commit, marked when files tracked by git differ from it."""
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], capture_output=True, text=True, check=False)
        except OSError:
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "--short=12", "HEAD")
    if commit is None:
        return "not a git checkout"
    changed = git("status", "--porcelain", "--untracked-files=no")
    return commit + (" with uncommitted changes" if changed else "")


def md5(path: Path) -> str:
    """A file's MD5, the hash DVC addresses it by in a cache or remote."""
    digest = hashlib.md5(usedforsecurity=False)
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _rate(entry: dict[str, float | None]) -> str:
    """``rate [low, high]``; ``n/a`` where a run has no such measurement."""
    if entry.get("rate") is None:
        return "n/a"
    return f"{entry['rate']:.3f} [{entry['ci_low']:.3f}, {entry['ci_high']:.3f}]"


def results_table(summary: dict[str, Any]) -> str:
    """The README's result table: each run's final hack rate and final MGS (self-address
    misalignment), with their 95% intervals, as the published summary holds them."""
    rows = ["| run | final hack rate [95% CI] | final MGS misalignment [95% CI] |",
            "|---|---|---|"]
    rows += [f"| `{run}` | {_rate(s['final_hack_rate'])} | {_rate(s['final_mgs'])} |"
             for run, s in sorted(summary.items())]
    return "\n".join(rows)


@dataclass(frozen=True)
class Published:
    """The record of one publication (the JSON file :data:`rhem.paths.PUBLISHED`)."""

    commit: str
    config: str
    config_hash: str
    judges: list[str]
    files: dict[str, str]
    figures: dict[str, str]
    table: str
    remote: str = "reference"
    notes: list[str] = field(default_factory=list)

    @classmethod
    def read(cls, path: Path) -> Published:
        return cls(**json.loads(Path(path).read_text()))

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=1, sort_keys=True) + "\n")

    def mismatched(self, root: Path) -> list[str]:
        """Published files under ``root`` that are missing or whose MD5 differs."""
        return [rel for rel, digest in sorted(self.files.items())
                if not (root / rel).is_file() or md5(root / rel) != digest]


def published_for(config: dict[str, Any], root: Path = Path(".")) -> Published | None:
    """The publication under ``root`` when it was made with ``config`` (same hash)."""
    path = root / paths.PUBLISHED
    if not path.is_file():
        return None
    record = Published.read(path)
    return record if record.config_hash == config_hash(config) else None


def badge(name: str, record: Published | None, root: Path = Path(".")) -> str | None:
    """``published``, ``rebuilt, same as published`` or ``rebuilt, differs from published``
    for figure ``name`` drawn under ``root``; ``None`` without a publication of this config.

    Published means the metrics the figure was drawn from are the published files; rebuilt
    figures are compared by their plotted numbers (the figure's CSV)."""
    if record is None or name not in record.figures:
        return None
    inputs = [paths.CURVES, paths.SUMMARY]
    if all(rel in record.files and (root / rel).is_file() and md5(root / rel) == record.files[rel]
           for rel in inputs):
        return "published"
    data = root / paths.FIGURE_DATA.format(name=name)
    same = data.is_file() and md5(data) == record.figures[name]
    return "rebuilt, same as published" if same else "rebuilt, differs from published"


def readme_table(readme: str) -> str | None:
    """The block between :data:`TABLE_START` and :data:`TABLE_END`, stripped."""
    if TABLE_START not in readme or TABLE_END not in readme:
        return None
    return readme.split(TABLE_START, 1)[1].split(TABLE_END, 1)[0].strip()


def with_readme_table(readme: str, table: str) -> str:
    """``readme`` with its published-results block replaced by ``table``."""
    if readme_table(readme) is None:
        raise ValueError(f"the README has no published-results block ({TABLE_START!r} ... "
                         f"{TABLE_END!r})")
    head, rest = readme.split(TABLE_START, 1)
    return f"{head}{TABLE_START}\n{table}\n{TABLE_END}{rest.split(TABLE_END, 1)[1]}"


def readme_problems(readme: str, record: Published) -> list[str]:
    """Why the README's result table is not the published one (empty when it is)."""
    shown = readme_table(readme)
    if shown is None:
        return ["the README has no published-results block"]
    if shown != record.table.strip():
        return ["the README's result table differs from the published one: run `rhem publish` "
                "or copy the `table` of " + paths.PUBLISHED]
    return []
