"""Fixtures of the figure and report tests (builders in :mod:`.data`)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from repo_tools import REPO

from .data import build_full_config, draw_all, make_metrics


@pytest.fixture(scope="package")
def full_config() -> dict[str, Any]:
    """A config with a run of every kind the figures select (validated from the repo root)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(REPO)
        return build_full_config()


@pytest.fixture(scope="package")
def full(full_config: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Figures of the config with every kind of run."""
    curves, summary = make_metrics(full_config)
    return draw_all(curves, summary, full_config, tmp_path_factory.mktemp("full"))


@pytest.fixture(scope="package")
def two_runs(full_config: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Figures of a config with only a hacking run and its no-hack baseline, and no
    sabotage or test-time series in the metrics."""
    config = copy.deepcopy(full_config)
    config["runs"] = ["sdf/hack", "sdf/nohack"]
    curves, summary = make_metrics(config, series=())
    return draw_all(curves, summary, config, tmp_path_factory.mktemp("two"))
