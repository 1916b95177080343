"""DVC runs the same DAG as Snakemake, and a reviewer can pull instead of retrain."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from repo_tools import REPO, SMOKE, copy_repo, run
from rhem.dvcgen import present_keys, render_dvc_yaml

TRAINING_RULES = ("corpus", "tasks", "tokenizer", "pretrain", "rl", "evaluate")


def test_committed_dvc_yaml_matches_the_snakefile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    expected = render_dvc_yaml(Path("workflow/config/default.yaml"))
    assert (REPO / "dvc.yaml").read_text() == expected, "dvc.yaml is stale: run `make dvc-yaml`"


def test_params_name_only_keys_the_config_file_holds() -> None:
    raw = {"rl": {"steps": 2}, "conditions": {"hack": {}}}
    keys = ["rl.steps", "rl.lora.r", "conditions.hack.hints", "base_checks", "rl"]
    assert present_keys(keys, raw) == ["rl.steps", "rl", "conditions.hack"]


def _planned_rules(output: str) -> set[str]:
    """Rule names in the job-count table of a Snakemake dry run."""
    rules, in_table = set(), False
    for line in output.splitlines():
        words = line.split()
        if words[:2] == ["job", "count"]:
            in_table = True
        elif in_table and len(words) == 2 and words[1].isdigit():
            if words[0] != "total":
                rules.add(words[0])
        elif in_table and words and not set(line.strip()) <= {"-", " "}:
            in_table = False
    return rules


#: The smoke config cut to its plain hacking run: DVC runs stages one at a time, and the
#: whole smoke DAG already runs under Snakemake in ``smoke_run``.
ONE_RUN = "workflow/config/dvc-one-run.yaml"


def _one_run_config(repo: Path) -> None:
    cfg = yaml.safe_load((repo / SMOKE).read_text())
    cfg["conditions"] = {"hack": cfg["conditions"]["hack"]}
    cfg["runs"] = ["sdf/hack"]
    (repo / ONE_RUN).write_text(yaml.safe_dump(cfg, sort_keys=False))


def _check_metrics_and_plots(repo: Path) -> None:
    """``dvc metrics diff`` / ``dvc plots diff`` read the committed revision from the cache."""
    runs = yaml.safe_load((repo / ONE_RUN).read_text())["runs"]
    summary = json.loads((repo / "results/metrics/summary.json").read_text())
    diff = json.loads(run(["dvc", "metrics", "diff", "HEAD", "--all", "--json"], repo).stdout)
    assert {"results/metrics/summary.json", "results/metrics/base_sdf.json"} <= set(diff)
    rate = diff["results/metrics/summary.json"][f"{runs[0]}.final_hack_rate.rate"]
    assert rate["old"] == rate["new"] == summary[runs[0]]["final_hack_rate"]["rate"]
    plots = json.loads(run(["dvc", "plots", "diff", "HEAD", "--json"], repo).stdout)["data"]
    hack = plots["results/metrics/plots/hack_rate.csv"][0]
    assert set(hack["revisions"]) == {"HEAD", "workspace"}
    values = hack["content"]["data"]["values"]
    # several y columns: one "field" per run; a single one keeps its column name
    seen = {v["field"] for v in values if "field" in v} | {k for v in values for k in v if k in runs}
    assert seen == set(runs)


@pytest.mark.slow
def test_dvc_repro_push_pull_replot(smoke_run: Path, tmp_path: Path) -> None:
    repo = copy_repo(tmp_path / "work")
    # The shipped dvc.lock and reference/ are the default config's publication; this
    # test makes its own DAG's lock and pushes to its own store.
    (repo / "dvc.lock").unlink(missing_ok=True)
    shutil.rmtree(repo / "reference", ignore_errors=True)
    run(["git", "init", "-q"], repo)
    _one_run_config(repo)
    run([sys.executable, "-m", "rhem", "dvc-yaml", "--config", ONE_RUN, "--out", "dvc.yaml"], repo)
    run(["dvc", "remote", "add", "-d", "-f", "store", str(tmp_path / "remote")], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "smoke"], repo)

    run(["dvc", "repro"], repo)
    for rel in ("data/corpus/sdf.parquet", "data/envs/train.parquet"):
        assert (repo / rel).read_bytes() == (smoke_run / rel).read_bytes(), f"{rel} differs from snakemake's"
    for rel in ("results/report.html", "results/metrics/summary.json", "models/sdf/hack/seed0"):
        assert (repo / rel).exists()
    again = run(["dvc", "repro"], repo)
    assert "Running stage" not in again.stdout + again.stderr

    run(["dvc", "push"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "lock"], repo)
    _check_metrics_and_plots(repo)

    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(repo), str(clone)], tmp_path)
    run(["dvc", "pull"], clone)
    assert (clone / "models/sdf/base/model.safetensors").is_file()
    assert (clone / "data/corpus/sdf.parquet").read_bytes() == (repo / "data/corpus/sdf.parquet").read_bytes()
    assert not (clone / "results/report.html").exists(), "figures and report are rebuilt, not pulled"

    run(["snakemake", "metrics", "--touch", "--cores", "1", "--configfile", ONE_RUN], clone)
    review = ["snakemake", "--cores", "2", "--configfile", ONE_RUN]
    plan = run(review + ["-n"], clone)
    planned = _planned_rules(plan.stdout + plan.stderr)
    assert planned and not planned & set(TRAINING_RULES), planned
    done = run(review, clone)
    executed = _planned_rules(done.stdout + done.stderr)
    assert "figure" in executed and not executed & set(TRAINING_RULES), executed
    assert (clone / "results/report.html").is_file()


def test_stages_depend_on_the_code_they_run() -> None:
    """A stage reruns under `dvc repro` when the source it imports changes, and only then:
    the corpus stage runs no training or evaluation code, RL runs the grader and the
    trainer (and the judge, for its RLHF phase), figures run no training."""
    from rhem.dvcgen import SCHEMA, code_deps

    pkg = "src/rhem/"
    corpus, rl, figure = (set(code_deps(c)) for c in ("corpus", "rl", "figure"))
    assert {pkg + "corpus", pkg + "envs", pkg + "cli.py", SCHEMA} <= corpus
    assert not {pkg + "train", pkg + "evals", pkg + "lm", pkg + "figures"} & corpus
    assert {pkg + "train", pkg + "envs", pkg + "lm", pkg + "evals", pkg + "judgment.py"} <= rl
    assert pkg + "figures" in figure and pkg + "train" not in figure
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        assert SCHEMA in stage["deps"], name
    assert "__pycache__" in (REPO / ".dvcignore").read_text()
