"""The package layout the README promises: imports point one way along the DAG, and no
module imports another package's private names."""

from __future__ import annotations

import ast
from rhem.dvcgen import PACKAGE, _imports

#: Each top-level unit of ``src/rhem`` and its place along the DAG: a unit imports only
#: units of a lower rank. Settings and formats first, then the stages' packages in DAG
#: order (train and evals share a rank: neither imports the other), then the commands.
RANK = {
    "config_schema": 0, "paths": 0, "process": 0, "judgment": 0,
    "settings": 1, "config": 2,
    "envs": 3, "corpus": 4, "lm": 5, "train": 6, "evals": 6, "figures": 7,
    "dvcgen": 8, "verify": 8, "reference": 9, "cli": 10, "__main__": 11,
}


def _modules() -> dict[str, ast.Module]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(("rhem", *path.relative_to(PACKAGE).with_suffix("").parts))
        found[name.removesuffix(".__init__")] = ast.parse(path.read_text())
    return found


def _unit(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_every_unit_has_a_rank() -> None:
    assert {_unit(m) for m in _modules()} - {None} == set(RANK)


def test_imports_point_one_way() -> None:
    backwards = []
    for module, tree in _modules().items():
        unit = _unit(module)
        for target in _imports(tree, module):
            other = _unit(target)
            if other is not None and other != unit and other in RANK and RANK[other] >= RANK[unit]:
                backwards.append(f"{module} imports {target}")
    assert not backwards, backwards


def test_no_private_name_is_imported_from_another_package() -> None:
    private = []
    for module, tree in _modules().items():
        for node in ast.walk(tree):
            if (isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("rhem")
                    and _unit(node.module) != _unit(module)):
                private += [f"{module}: {a.name} from {node.module}" for a in node.names
                            if a.name.startswith("_")]
    assert not private, private
