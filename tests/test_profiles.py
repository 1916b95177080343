"""Execution profiles: a dry run with each one renders the resources its jobs would ask for.

The SLURM and Kubernetes profiles name the official executor plugins. Snakemake 9
validates a dry run against the intended executor (its plugin must be installed, its
settings parse, the Kubernetes storage plugin loads), then lists every job with its
resources through the dry-run executor, so neither sbatch nor a cluster is needed. The
expected numbers are written out here, not read from the profiles, so a wrong value in a
profile fails the test.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from repo_tools import SMOKE, copy_repo, run

PROFILES = "workflow/profiles"
LIGHT_RULES = ("corpus", "tasks", "tokenizer", "metrics", "figure", "report")
LIGHT_MAX_MEM_MB = 8000
TRAINING = {
    "pretrain": {"gpu": "1", "mem_mb": "32000", "runtime": "720"},
    "rl": {"gpu": "1", "mem_mb": "64000", "runtime": "1440"},
}
EXPECTED = {
    "slurm": TRAINING,
    "kubernetes": {rule: {**res, "gpu_manufacturer": "nvidia"} for rule, res in TRAINING.items()},
}


def dry_run(repo: Path, profile: str, *extra: str) -> tuple[str, list[tuple[str, dict[str, str]]]]:
    """Dry-run the smoke DAG with a profile; return the output and each job's rule and resources."""
    proc = run(["snakemake", "-n", "--profile", f"{PROFILES}/{profile}", "--configfile", SMOKE,
                *extra], repo)
    text = proc.stdout + proc.stderr
    jobs: list[tuple[str, dict[str, str]]] = []
    for line in text.splitlines():
        start = re.match(r"^(?:local)?(?:rule|checkpoint) (\w+):$", line)
        if start:
            jobs.append((start.group(1), {}))
        listed = re.match(r"^\s+resources: (.*)$", line)
        if listed and jobs:
            jobs[-1][1].update(item.split("=", 1) for item in listed.group(1).split(", "))
    return text, jobs


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository copy, as a fresh clone has it, to dry-run in."""
    return copy_repo(tmp_path_factory.mktemp("profiles"))


def jobs_of(jobs: list[tuple[str, dict[str, str]]], rule: str) -> list[dict[str, str]]:
    """The resources of every job of one rule; fails if the DAG has none."""
    found = [res for name, res in jobs if name == rule]
    assert found, f"no {rule} job in the dry run"
    return found


@pytest.mark.parametrize("profile", sorted(EXPECTED))
def test_cluster_profile_renders_job_resources(repo: Path, tmp_path: Path, profile: str) -> None:
    # The Kubernetes profile's storage prefix is a volume mount; point it at an empty folder here.
    extra = ("--default-storage-prefix", str(tmp_path / "store")) if profile == "kubernetes" else ()
    text, jobs = dry_run(repo, profile, *extra)
    assert f"Using profile {PROFILES}/{profile}" in text
    for rule, expected in EXPECTED[profile].items():
        for res in jobs_of(jobs, rule):
            assert {k: res.get(k) for k in expected} == expected, f"{profile} {rule}: {res}"
    for rule in LIGHT_RULES:
        for res in jobs_of(jobs, rule):
            assert "gpu" not in res, f"{profile} {rule} asks for a GPU: {res}"
            assert int(res["mem_mb"]) <= LIGHT_MAX_MEM_MB, f"{profile} {rule}: {res}"
    submitted = [(rule, res) for rule, res in jobs if rule != "all"]
    assert all("runtime" in res and "mem_mb" in res for _, res in submitted), submitted
    if profile == "kubernetes":  # files move through the fs storage plugin, not a shared mount
        assert "(retrieve from storage)" in text and ".snakemake/storage/fs/" in text


def test_default_profile_runs_locally_without_cluster_resources(repo: Path) -> None:
    text, jobs = dry_run(repo, "default")
    assert "Using profile workflow/profiles/default" in text
    assert "Assuming unrestricted shared filesystem usage" in text  # the local executor
    for rule in (*TRAINING, *LIGHT_RULES):
        for res in jobs_of(jobs, rule):
            assert not {"gpu", "runtime"} & res.keys(), f"default {rule}: {res}"
