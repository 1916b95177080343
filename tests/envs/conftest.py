"""Shared graders for the environment tests: starting worker pools costs ~0.5 s each."""

from __future__ import annotations

import pytest

from rhem.envs.grader import Grader
from rhem.envs.sandbox import Limits


@pytest.fixture(scope="session")
def vulnerable() -> Grader:
    with Grader("vulnerable", workers=2) as g:
        yield g


@pytest.fixture(scope="session")
def hardened() -> Grader:
    with Grader("hardened", workers=2) as g:
        yield g


@pytest.fixture(scope="session")
def hostile_grader() -> Grader:
    """Short limits so that hostile programs end quickly."""
    with Grader("hardened", workers=2, limits=Limits(timeout_s=3.0, cpu_s=3, memory_mb=512)) as g:
        yield g
