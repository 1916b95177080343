"""Shared fixture: a temporary copy of the repository with the smoke DAG run in it.
Tests marked ``cluster`` need a SLURM cluster and run only when ``-m`` names them."""

from __future__ import annotations

from pathlib import Path

import pytest

from repo_tools import SMOKE, copy_repo, run


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository copy in which the smoke DAG has run to completion with snakemake."""
    repo = copy_repo(tmp_path_factory.mktemp("smoke"))
    run(["snakemake", "--cores", "2", "--configfile", SMOKE], repo, timeout=1200)
    return repo


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the ``cluster`` tests unless the ``-m`` expression names them
    (``make test-cluster`` runs ``pytest -m cluster`` on a started cluster)."""
    if "cluster" in (config.getoption("markexpr") or ""):
        return
    kept = [item for item in items if item.get_closest_marker("cluster") is None]
    if len(kept) < len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept
