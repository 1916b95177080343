"""The smoke DAG through a real SLURM scheduler: a one-node cluster on this machine.

Start the cluster first (``workflow/scripts/local-slurm.sh start``; CI's ``.ci/run``
does), then ``make test-cluster`` (``pytest -m cluster``; plain ``pytest`` deselects
these tests). One module fixture runs, in a repository copy:

1. the smoke DAG with a test profile derived from ``workflow/profiles/slurm`` (its
   settings as they are, resources scaled to the node: no GPU, 1 GB per job, plus the
   local cluster's account and partition and a short first status check), every job
   submitted with ``sbatch`` by the executor plugin; meanwhile, in a second copy, one
   run's stages locally (what ``rhem verify`` rebuilds), to compare bytes with;
2. one more RL job through the same profile, long enough to be cancelled with
   ``scancel`` once it has written checkpoints (the smoke config's RL takes a second per
   run, too short to cancel reliably), which Snakemake must resubmit (the profile's
   ``retries``) and which must resume from its ``.partial/`` checkpoint. This run polls
   job states with ``squeue``: with ``sacct`` the plugin (2.8.0) never notices a
   cancelled job, whose state there reads "CANCELLED by <uid>".

The node runs jobs as the submitting user with proctrack/linuxproc and task/none: no
cgroups, so memory requests are admitted but not enforced (README, "Running on a cluster").
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import yaml

from repo_tools import REPO, SMOKE, copy_repo, run, tool_env
from rhem import paths
from rhem.config import load_config
from rhem.verify import built_files, compare, targets

pytestmark = pytest.mark.cluster

#: What workflow/scripts/local-slurm.sh sets up.
ACCOUNT, PARTITION = "rhem", "debug"
#: Memory each job asks for on the one node (the real profile asks for up to 64 GB).
NODE_MEM_MB = 1000
#: The run whose stages are also built locally, to compare bytes with.
VERIFIED_RUN = "T/hack"
#: The RL run of step 2: a hardened-grader run of world T with more steps.
RESUMED = {"world": "T", "condition": "resumed", "seed": 0}
RESUMED_STEPS = 30
#: Cancel the RL job once this checkpoint is complete (trainer_state.json is written last).
CANCEL_AT_STEP = 2
TIMEOUT_S = 1500
SUBMITTED = re.compile(r"Job \d+ has been submitted with SLURM jobid (\d+) \(log: (.+?)\)\.")
ISOLATION = re.compile(r"^(rl|distill|eval): grader isolation: (.+) \(layers: (.*)\)$", re.MULTILINE)


@dataclass
class ClusterRun:
    """What the module fixture leaves for the tests to check."""

    repo: Path            # the copy the SLURM runs worked in
    local: Path           # the copy where VERIFIED_RUN's stages ran locally
    output: str           # Snakemake's output of the smoke DAG through SLURM
    resume_output: str    # Snakemake's output of the cancelled-and-resubmitted RL job
    cancelled: str        # the SLURM job id that was cancelled
    minutes: dict[str, float]


def slurm(*args: str) -> str:
    """Run a SLURM client command; its stdout."""
    proc = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, f"{' '.join(args)}: {proc.stderr.strip()}"
    return proc.stdout


def cluster_profile(dest: Path) -> Path:
    """The SLURM profile as a small node runs it: ``workflow/profiles/slurm`` with every
    GPU request dropped and memory capped at :data:`NODE_MEM_MB`, the local cluster's
    account and partition, the jobs' logs kept, and a short wait before the first status
    check (the plugin's default, 40 s, would dominate a smoke run)."""
    profile = yaml.safe_load((REPO / "workflow/profiles/slurm/config.yaml").read_text())
    for resources in [profile["default-resources"], *profile["set-resources"].values()]:
        resources.pop("gpu", None)
        resources["mem_mb"] = min(resources["mem_mb"], NODE_MEM_MB)
    profile["default-resources"].update(slurm_account=ACCOUNT, slurm_partition=PARTITION)
    profile.update({"slurm-init-seconds-before-status-checks": 2, "slurm-keep-successful-logs": True})
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "config.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))
    return dest


def resumed_config(repo: Path) -> str:
    """A config with the smoke config's stages and one more run, :data:`RESUMED`, whose RL
    takes :data:`RESUMED_STEPS` steps with a checkpoint after each."""
    cfg = yaml.safe_load((repo / SMOKE).read_text())
    cfg["conditions"][RESUMED["condition"]] = {"environments": "hardened"}
    cfg["runs"] = [f"{RESUMED['world']}/{RESUMED['condition']}"]
    cfg["rl"].update(steps=RESUMED_STEPS, checkpoint_every=1)
    path = "workflow/config/smoke-resumed.yaml"
    (repo / path).write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


class Snakemake:
    """Snakemake in the background, in its own process group, its output in a file."""

    def __init__(self, args: list[str], cwd: Path, log: Path) -> None:
        self.log = log
        self.args = args
        with log.open("w") as out:
            self.proc = subprocess.Popen(["snakemake", *args], cwd=cwd, env=tool_env(), stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        self.deadline = time.monotonic() + TIMEOUT_S

    def running(self) -> bool:
        """Whether it still runs; kills it (and fails) past :data:`TIMEOUT_S`."""
        if self.proc.poll() is not None:
            return False
        if time.monotonic() > self.deadline:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=60)
            pytest.fail(f"snakemake {' '.join(self.args)} ran past {TIMEOUT_S} s:\n{self.text()[-4000:]}")
        return True

    def text(self) -> str:
        return self.log.read_text()

    def finish(self) -> str:
        """Wait for it; its output, failing with the output's tail if it failed."""
        while self.running():
            time.sleep(1)
        assert self.proc.returncode == 0, f"snakemake {' '.join(self.args)} failed:\n{self.text()[-6000:]}"
        return self.text()


def cancel_when_checkpointed(repo: Path, job: Snakemake) -> str:
    """Wait until :data:`RESUMED`'s RL job has completed checkpoint :data:`CANCEL_AT_STEP`,
    then ``scancel`` its SLURM job; return the job id."""
    out_dir = repo / paths.RUN_MODEL.format(**RESUMED)
    state = out_dir.with_name(out_dir.name + ".partial") / f"checkpoint-{CANCEL_AT_STEP}" / "trainer_state.json"
    comment = f"rule_rl_wildcards_{RESUMED['world']}_{RESUMED['condition']}_{RESUMED['seed']}"
    while not state.is_file():
        assert job.running(), f"snakemake ended before the RL job checkpointed:\n{job.text()[-4000:]}"
        assert not out_dir.exists(), "the RL job finished before it could be cancelled"
        time.sleep(0.2)
    for line in slurm("squeue", "-h", "-o", "%i|%k|%T").splitlines():
        job_id, job_comment, state_name = line.split("|")
        if job_comment == comment and state_name == "RUNNING":
            slurm("scancel", job_id)
            return job_id
    pytest.fail(f"no running SLURM job with comment {comment}")


@pytest.fixture(scope="module")
def cluster_run(tmp_path_factory: pytest.TempPathFactory) -> ClusterRun:
    ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, check=False) \
        if shutil.which("scontrol") else None
    if ping is None or ping.returncode != 0 or "UP" not in ping.stdout:
        pytest.fail("no SLURM cluster answers here: start one with workflow/scripts/local-slurm.sh start")
    base = tmp_path_factory.mktemp("cluster")
    repo, local = copy_repo(base / "slurm"), copy_repo(base / "local")
    profile = str(cluster_profile(base / "profile"))
    minutes: dict[str, float] = {}

    start = time.monotonic()
    dag = Snakemake(["--profile", profile, "--configfile", SMOKE], repo, base / "smoke.log")
    wanted = targets(load_config(REPO / SMOKE), VERIFIED_RUN, 0)
    run(["snakemake", *wanted, "--cores", "2", "--configfile", SMOKE], local, timeout=TIMEOUT_S)
    minutes["local stages"] = (time.monotonic() - start) / 60
    output = dag.finish()
    minutes["smoke DAG through SLURM"] = (time.monotonic() - start) / 60

    start = time.monotonic()
    config = resumed_config(repo)
    rl_outputs = [p.format(**RESUMED) for p in (paths.RUN_MODEL, paths.RL_STEPS, paths.RL_COMPLETIONS)]
    # mtime only: the new config file is a new `params` value of every rule, and the
    # smoke DAG's stages this run needs are already there
    # squeue: plugin 2.8.0 reads sacct's "CANCELLED by <uid>" as still running, and
    # would wait forever for the cancelled job (README, "Running on a cluster")
    job = Snakemake([*rl_outputs, "--profile", profile, "--configfile", config,
                     "--rerun-triggers", "mtime", "--slurm-status-command", "squeue"],
                    repo, base / "resumed.log")
    cancelled = cancel_when_checkpointed(repo, job)
    resume_output = job.finish()
    minutes["cancelled and resumed RL job"] = (time.monotonic() - start) / 60
    print("cluster test minutes:", {k: round(v, 2) for k, v in minutes.items()})
    return ClusterRun(repo, local, output, resume_output, cancelled, minutes)


def submissions(output: str) -> list[tuple[str, Path]]:
    """Every (SLURM job id, log file) Snakemake reported submitting."""
    return [(job_id, Path(log)) for job_id, log in SUBMITTED.findall(output)]


def job_count(output: str) -> int:
    """The jobs of Snakemake's "Job stats" table, less the local target rule ``all``."""
    total = re.search(r"^total\s+(\d+)$", output, re.MULTILINE)
    assert total, output[:4000]
    return int(total.group(1)) - 1


def run_id(output: str) -> str:
    """The id Snakemake's SLURM executor names every job of one invocation by."""
    found = re.search(r"SLURM run ID: (\S+)", output)
    assert found, output[:4000]
    return found.group(1)


def accounting(job_ids: list[str], name: str) -> dict[str, dict[str, str]]:
    """``sacct``'s record of each job (its allocation, not its steps) named ``name`` (a
    cluster whose state was reset numbers jobs from 1 again; the database keeps both)."""
    fields = ["jobid", "jobname", "state", "account", "partition", "exitcode"]
    text = slurm("sacct", "-X", "-n", "-P", "-j", ",".join(job_ids), "-o", ",".join(fields))
    rows = [dict(zip(fields, line.split("|"))) for line in text.splitlines() if line]
    return {row["jobid"]: row for row in rows if row["jobname"] == name}


def test_every_job_went_through_the_scheduler(cluster_run: ClusterRun) -> None:
    jobs = submissions(cluster_run.output)
    assert len(jobs) == job_count(cluster_run.output) > 50
    name = run_id(cluster_run.output)
    for job_id, log in jobs:
        assert log.is_file() and log.is_relative_to(cluster_run.repo / ".snakemake/slurm_logs"), log
        assert "1 of 1 steps (100%) done" in log.read_text(), log
    # The database may take a moment to record the last job's end.
    deadline = time.monotonic() + 60
    while True:
        records = accounting([job_id for job_id, _ in jobs], name)
        states = {job_id: records.get(job_id, {}).get("state") for job_id, _ in jobs}
        if set(states.values()) == {"COMPLETED"} or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert set(states.values()) == {"COMPLETED"}, states
    assert {(r["jobname"], r["account"], r["partition"], r["exitcode"]) for r in records.values()} \
        == {(name, ACCOUNT, PARTITION, "0:0")}
    assert (cluster_run.repo / paths.REPORT).is_file() and (cluster_run.repo / paths.DECISION).is_file()
    proc = run(["snakemake", "-n", "--cores", "2", "--configfile", SMOKE], cluster_run.repo)
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_outputs_equal_a_local_run(cluster_run: ClusterRun) -> None:
    """Every file of VERIFIED_RUN's stages (corpus, tasks, tokenizer, pretraining, RL,
    evaluation) has the same bytes from the SLURM node as from a local run."""
    files = built_files(cluster_run.local)
    assert len(files) > 10
    results = compare(cluster_run.local, cluster_run.repo, files)
    differ = [c for c in results if c.verdict != "identical"]
    assert not differ, differ


def test_grader_isolation_on_the_node_is_what_the_config_requires(cluster_run: ClusterRun) -> None:
    """Every grading job's log names the sandbox layers its node allowed, and they include
    every layer of grader.min_isolation (else the job would have failed naming them)."""
    required = set(load_config(cluster_run.repo / SMOKE)["grader"]["min_isolation"])
    reported = {}
    for _, log in submissions(cluster_run.output):
        if log.parent.parent.name in ("rule_rl", "rule_evaluate"):
            found = ISOLATION.findall(log.read_text())
            if log.parent.parent.name == "rule_evaluate" or "rlhf" not in log.parent.name:
                assert found, f"{log} does not say which isolation the grader had"
            for _, label, layers in found:
                assert required <= set(layers.split(", ")), f"{log}: {label}, layers {layers}"
                reported[str(log.relative_to(cluster_run.repo))] = label
    assert len(reported) >= 20
    print("grader isolation on the node:", sorted(set(reported.values())))


def test_a_cancelled_job_is_resubmitted_and_resumes_from_its_checkpoint(cluster_run: ClusterRun) -> None:
    jobs = submissions(cluster_run.resume_output)
    assert [job_id for job_id, _ in jobs][:1] == [cluster_run.cancelled]
    assert len(jobs) == 2, "cancelled once, resubmitted once"
    (_, cancelled_log), (resumed_id, resumed_log) = jobs
    assert cancelled_log.parent == resumed_log.parent  # the same rule and wildcards
    deadline = time.monotonic() + 60
    while True:
        records = accounting([cluster_run.cancelled, resumed_id], run_id(cluster_run.resume_output))
        states = [records.get(j, {}).get("state", "") for j in (cluster_run.cancelled, resumed_id)]
        if (states[0].startswith("CANCELLED") and states[1] == "COMPLETED") or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert states[0].startswith("CANCELLED") and states[1] == "COMPLETED", states
    resumed = re.search(r"^rl: resuming from step (\d+) ", resumed_log.read_text(), re.MULTILINE)
    assert resumed, f"{resumed_log} does not say the run resumed"
    assert CANCEL_AT_STEP <= int(resumed.group(1)) < RESUMED_STEPS
    steps = pd.read_parquet(cluster_run.repo / paths.RL_STEPS.format(**RESUMED))
    assert list(steps["step"]) == list(range(1, RESUMED_STEPS + 1))
    model = cluster_run.repo / paths.RUN_MODEL.format(**RESUMED)
    assert (model / f"step-{RESUMED_STEPS:05d}" / "model.safetensors").is_file()
    assert not model.with_name(model.name + ".partial").exists()
