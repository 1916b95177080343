"""Published reference results: ``rhem publish`` in a finished DAG, ``rhem review`` in a
fresh clone (pull, hash check, redraw, no training), ``rhem verify`` of one run against
them, badges and the README's table."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest
from repo_tools import REPO, SMOKE, run

from rhem import paths
from rhem.config import load_config
from rhem.config_schema import load_yaml
from rhem.figures.provenance import (
    Published,
    badge,
    config_hash,
    md5,
    readme_problems,
    readme_table,
    results_table,
    with_readme_table,
)
from rhem.figures.registry import FIGURES
from rhem.reference import object_path, prune, store
from rhem.verify import built_files, compare, verdict

sys.path.insert(0, str(REPO / "benchmarks"))
from review import publish

PY = sys.executable


def test_readme_table_is_the_published_one() -> None:
    """The README's result table is the published record's (or says nothing is published)."""
    readme = (REPO / "README.md").read_text()
    record_path = REPO / paths.PUBLISHED
    if not record_path.is_file():
        assert readme_table(readme) is not None and "|" not in readme_table(readme)
        return
    record = Published.read(record_path)
    assert readme_problems(readme, record) == []
    summary = REPO / paths.SUMMARY
    if summary.is_file() and md5(summary) == record.files[paths.SUMMARY]:
        assert results_table(json.loads(summary.read_text())) == record.table


def test_the_shipped_publication_is_whole() -> None:
    """What a fresh clone's ``make review`` pulls is all there (:func:`_check_publication`)."""
    if (REPO / paths.PUBLISHED).is_file():  # else the README says nothing is published (above)
        _check_publication(REPO)


def _check_publication(root: Path) -> None:
    """Every published file of the checkout ``root`` has its object in ``reference/dvc``
    with the recorded MD5, ``dvc.lock`` records the same MD5 for it, the record's config
    is still the checkout's, and the README's table is the one the published summary gives."""
    record = Published.read(root / paths.PUBLISHED)
    remote = root / paths.REFERENCE_REMOTE
    objects = {rel: object_path(remote, digest) for rel, digest in record.files.items()}
    assert [rel for rel, obj in objects.items() if not obj.is_file()] == []
    assert [rel for rel, obj in objects.items() if md5(obj) != record.files[rel]] == []
    lock = load_yaml((root / "dvc.lock").read_text())
    locked = {out["path"]: out["md5"] for stage in lock["stages"].values()
              for out in stage.get("outs", [])}
    assert {rel: locked.get(rel) for rel in record.files} == record.files
    assert record.config_hash == config_hash(load_config(root / record.config)), (
        f"{record.config} changed since it was published: publish again (make publish)")
    summary = json.loads(objects[paths.SUMMARY].read_text())
    assert results_table(summary) == record.table
    assert readme_problems((root / "README.md").read_text(), record) == []


def test_the_reference_remote_is_the_folder_publish_writes() -> None:
    """``dvc pull -r reference`` reads where ``rhem publish`` stores (``.dvc/config``)."""
    import configparser

    from rhem.reference import REMOTE

    dvc = configparser.ConfigParser()
    dvc.read(REPO / ".dvc/config")
    url = dvc[f"'remote \"{REMOTE}\"'"]["url"]
    assert (REPO / ".dvc" / url).resolve() == (REPO / paths.REFERENCE_REMOTE).resolve()


def test_a_new_publication_replaces_the_old_objects(tmp_path: Path) -> None:
    """``store`` writes DVC's layout read-only; ``prune`` leaves exactly the kept objects."""
    remote = tmp_path / "dvc"
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text("{}")
    new.write_text("[]")
    kept, dropped = store(new, remote), store(old, remote)
    obj = object_path(remote, kept)
    assert obj.read_text() == "[]" and not obj.stat().st_mode & 0o222
    assert prune(remote, {kept}) == 1
    assert [p for p in remote.rglob("*") if p.is_file()] == [obj]
    assert not object_path(remote, dropped).parent.exists() or dropped[:2] == kept[:2]


def test_readme_check_catches_a_changed_number() -> None:
    summary = {"T/hack": {"final_hack_rate": {"rate": 0.5, "ci_low": 0.25, "ci_high": 0.75},
                          "final_mgs": {"rate": 0.125, "ci_low": 0.0, "ci_high": 0.25}}}
    record = Published(commit="c", config="x.yaml", config_hash="h", judges=["exact"], files={},
                       figures={}, table=results_table(summary))
    readme = with_readme_table((REPO / "README.md").read_text(), record.table)
    assert readme_problems(readme, record) == []
    assert "| `T/hack` | 0.500 [0.250, 0.750] | 0.125 [0.000, 0.250] |" in readme
    assert readme_problems(readme.replace("0.125 [", "0.126 ["), record)


def test_badges_say_published_rebuilt_same_or_differs(tmp_path: Path) -> None:
    for rel, text in ((paths.CURVES, "curves"), (paths.SUMMARY, "{}"),
                      (paths.FIGURE_DATA.format(name="fig01"), "a,b\n1,2\n")):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    record = Published(commit="c", config="x.yaml", config_hash="h", judges=["exact"],
                       files={rel: md5(tmp_path / rel) for rel in (paths.CURVES, paths.SUMMARY)},
                       figures={"fig01": md5(tmp_path / paths.FIGURE_DATA.format(name="fig01"))},
                       table="")
    assert badge("fig01", record, tmp_path) == "published"
    assert badge("fig01", None, tmp_path) is None
    (tmp_path / paths.CURVES).write_text("curves rebuilt")
    assert badge("fig01", record, tmp_path) == "rebuilt, same as published"
    (tmp_path / paths.FIGURE_DATA.format(name="fig01")).write_text("a,b\n1,3\n")
    assert badge("fig01", record, tmp_path) == "rebuilt, differs from published"


@pytest.mark.slow
def test_publish_then_review_in_a_fresh_clone(smoke_run: Path, tmp_path: Path) -> None:
    repo = tmp_path / "work"
    publish(smoke_run, SMOKE, repo)  # as benchmarks/review.py does: a git repo, published, committed

    record = Published.read(repo / paths.PUBLISHED)
    assert record.config_hash == config_hash(load_config(REPO / SMOKE))
    assert {paths.SUMMARY, paths.CURVES, paths.DECISION} <= set(record.files)
    assert any(f.startswith("results/evals/") for f in record.files)
    assert any(f.endswith("/steps.parquet") for f in record.files)
    assert not any(f.startswith(("models/", "data/", "results/figures/")) for f in record.files)
    assert set(record.figures) == set(FIGURES)
    _check_publication(repo)
    stored = sum(1 for p in (repo / paths.REFERENCE_REMOTE).rglob("*") if p.is_file())
    assert stored == len(set(record.files.values()))
    assert not run(["git", "status", "--porcelain"], repo).stdout, "the publication is committed"

    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(repo), str(clone)], tmp_path)
    assert not (clone / "results").exists()
    done = run([PY, "-m", "rhem", "review", "--config", SMOKE], clone)
    assert "no training or evaluation ran" in done.stdout
    assert not [p for root in ("models", "data") for p in (clone / root).rglob("*") if p.is_file()]
    assert {p.name for p in (clone / "logs").iterdir()} == {"figure", "plots", "report"}
    for name, digest in record.figures.items():
        assert (clone / paths.FIGURE.format(name=name)).is_file()
        assert md5(clone / paths.FIGURE_DATA.format(name=name)) == digest, name
    page = (clone / paths.REPORT).read_text()
    assert page.count("data-source='published'") == len(FIGURES)
    assert results_table(json.loads((clone / paths.SUMMARY).read_text())) == record.table

    _verify_one_run(clone, smoke_run, tmp_path)

    (clone / paths.SUMMARY).write_text("{}\n")  # a tampered file is named, nothing is drawn
    (clone / paths.REPORT).unlink()
    bad = run([PY, "-m", "rhem", "review", "--config", SMOKE], clone, check=False)
    assert bad.returncode != 0 and paths.SUMMARY in bad.stdout + bad.stderr
    assert not (clone / paths.REPORT).exists()


def _verify_one_run(clone: Path, dag: Path, tmp_path: Path) -> None:
    """``rhem verify`` in the reviewed clone rebuilds one run from scratch: its published
    files are identical, the rest is not published; against the whole DAG (corpora and
    checkpoints too) every rebuilt file is identical; a changed answer is named."""
    workdir = tmp_path / "rebuilt"
    proc = run([PY, "-m", "rhem", "verify", "--config", SMOKE, "--run", "C/hack", "--seed", "0",
                "--cores", "2", "--workdir", str(workdir)], clone)
    assert "C/hack seed 0: reproduced (bit-identical)" in proc.stdout, proc.stdout[-3000:]
    answers, steps = "results/evals/C/hack/seed0.parquet", "results/rl/C/hack/seed0/steps.parquet"
    for rel in (answers, steps, "results/rl/C/hack/seed0/completions.parquet"):
        assert f"identical              {rel}" in proc.stdout, rel
    assert "not published          models/C/base/model.safetensors" in proc.stdout
    assert not (workdir / "models/T").exists(), "only what the run needs is rebuilt"

    whole = compare(workdir, dag, built_files(workdir))
    assert verdict(whole) == "reproduced (bit-identical)", [c for c in whole if c.verdict != "identical"]
    assert {"data/corpus/C.parquet", "models/C/base/model.safetensors",
            "models/C/hack/seed0/step-00002/model.safetensors"} <= {c.path for c in whole}

    reference = tmp_path / "changed"
    (reference / answers).parent.mkdir(parents=True)
    table = pd.read_parquet(workdir / answers)
    table.loc[0, "label"] = "misaligned" if table.loc[0, "label"] != "misaligned" else "aligned"
    table.to_parquet(reference / answers, index=False)
    (reference / steps).parent.mkdir(parents=True)
    shutil.copy(workdir / steps, reference / steps)
    results = {c.path: c for c in compare(workdir, reference, [answers, steps, "data/corpus/C.parquet"])}
    assert results[answers].verdict == "different" and "label" in results[answers].detail
    assert results[steps].verdict == "identical"
    assert results["data/corpus/C.parquet"].verdict == "missing in reference"
    assert verdict(list(results.values())) == "NOT reproduced"
