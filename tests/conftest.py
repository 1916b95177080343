"""Shared fixture: a temporary copy of the repository with the smoke DAG run in it."""

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
