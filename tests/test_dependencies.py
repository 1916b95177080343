"""Every stage runs in an environment installed without extras (`pip install rhem`).

Each third-party module a stage's code imports (its subcommand's handler in
``rhem.cli`` and everything that imports, as ``dvc.yaml``'s code deps read it) must
come from a distribution that the project's own dependencies pull in: a direct
dependency, or a dependency of one, following only requirements without an extra. The
grader's worker scripts count too: they are imported by the grader.
"""

from __future__ import annotations

import ast
import importlib.metadata as md
import sys

from packaging.requirements import Requirement

from rhem.dvcgen import module_file, stage_modules

#: Every ``rhem <subcommand>`` a rule runs, and ``rhem grade``.
STAGES = ("corpus", "tasks", "tokenizer", "pretrain", "base-checks", "rl", "evaluate", "metrics",
          "decide", "figure", "plots", "report")


def _third_party(modules: set[str]) -> set[str]:
    """Top-level names of the non-``rhem``, non-stdlib modules these modules import
    outside ``try`` blocks that catch ImportError (optional backends)."""
    names: set[str] = set()
    for module in modules:
        path = module_file(module)
        tree = ast.parse(path.read_text())
        optional = {id(n) for t in ast.walk(tree) if isinstance(t, ast.Try)
                    and any(isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError")
                            for h in t.handlers)
                    for n in ast.walk(t)}
        for node in ast.walk(tree):
            if id(node) in optional:
                continue
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names.add(node.module.split(".")[0])
    # the grader's worker scripts import each other as top-level modules
    local = {"harness", "sandbox", "namespaces", "worker"}
    return {n for n in names if n not in sys.stdlib_module_names and n != "rhem" and n not in local}


def _installed_without_extras() -> set[str]:
    """Normalised names of the distributions `pip install rhem` installs."""
    def norm(name: str) -> str:
        return name.lower().replace("_", "-").replace(".", "-")

    seen: set[str] = set()
    todo = [Requirement(r) for r in md.requires("rhem") or []]
    todo = [r for r in todo if r.marker is None or r.marker.evaluate({"extra": ""})]
    while todo:
        req = todo.pop()
        name = norm(req.name)
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = md.requires(req.name) or []
        except md.PackageNotFoundError:
            continue
        for raw in requires:
            sub = Requirement(raw)
            if sub.marker is None or sub.marker.evaluate({"extra": ""}):
                todo.append(sub)
    return seen


def test_every_stage_imports_only_what_the_base_install_brings() -> None:
    installed = _installed_without_extras()
    providers = md.packages_distributions()
    missing = {}
    for stage in STAGES:
        for name in sorted(_third_party(set(stage_modules(stage)))):
            dists = {d.lower().replace("_", "-").replace(".", "-") for d in providers.get(name, [])}
            if not dists & installed:
                missing.setdefault(name, []).append(stage)
    assert not missing, f"imported by these stages, but not installed by `pip install rhem`: {missing}"


def test_the_check_sees_the_grader_and_its_pytest() -> None:
    """The check above can fail: the stages that grade import pytest through the grader's
    harness, which only counts if the base install brings pytest."""
    assert "rhem.envs.harness" in stage_modules("rl")
    assert "pytest" in _third_party(set(stage_modules("rl")))
    assert "pytest" not in _third_party(set(stage_modules("corpus")))
