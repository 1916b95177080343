"""The conventions every training stage shares: work, stage, publish, step folders."""

from __future__ import annotations

from pathlib import Path

from rhem.paths import exported_steps
from rhem.train.workdir import CHECKPOINT_COMPLETE, last_checkpoint_step, partial_dir, publish, staging, step_dir


def test_publish_swaps_the_staged_output_in_and_drops_the_work(tmp_path: Path) -> None:
    out = tmp_path / "models" / "run"
    (out / "step-00001").mkdir(parents=True)  # a previous, stale output
    work = partial_dir(out)
    for step in (4, 12):
        (work / f"checkpoint-{step}").mkdir(parents=True)
        (work / f"checkpoint-{step}" / CHECKPOINT_COMPLETE).write_text("{}")
    (work / "checkpoint-16").mkdir()  # a job killed while saving it: no trainer state yet
    assert last_checkpoint_step(work) == 12
    assert not (work / "checkpoint-16").exists(), "the trainer would resume from it"
    staged = staging(out)
    for step in (4, 12):
        step_dir(staged, step).mkdir()
    publish(staged, out)
    assert [s for s, _ in exported_steps(out)] == [4, 12]
    assert not work.exists() and not staged.exists()
    assert last_checkpoint_step(work) == 0


def test_exported_steps_reads_only_the_checkpoint_names(tmp_path: Path) -> None:
    for name in ("step-00020", "step-00003", "step-7", "step-latest"):
        (tmp_path / name).mkdir()
    (tmp_path / "step-00040").write_text("a file, not a model folder")
    assert exported_steps(tmp_path) == [(3, tmp_path / "step-00003"), (20, tmp_path / "step-00020")]
