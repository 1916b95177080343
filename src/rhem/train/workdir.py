"""Where a training stage works, and how it publishes what it made.

Every stage that trains (pretraining, LoRA SDF, GRPO, distillation) follows the same
rules, so a killed job resumes and a reader never sees half an output:

* it works in ``<out>.partial/`` (:func:`partial_dir`): checkpoints with optimizer state,
  logs; a rerun finds them there and continues (:func:`last_checkpoint_step` for the
  Hugging Face trainers' ``checkpoint-N`` folders);
* on success it fills ``<out>.staged/`` (:func:`staging`) and :func:`publish` swaps it
  for ``<out>`` with one rename, then removes the work directory;
* a run's model folders are ``<out>/step-NNNNN`` (:func:`step_dir`, after
  :func:`rhem.paths.checkpoint`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from rhem import paths


def partial_dir(out_dir: Path) -> Path:
    """Where a stage writing ``out_dir`` keeps its resumable state."""
    return out_dir.with_name(out_dir.name + ".partial")


#: What a Hugging Face trainer writes last into a ``checkpoint-N`` folder.
CHECKPOINT_COMPLETE = "trainer_state.json"


def last_checkpoint_step(work: Path) -> int:
    """The step of the newest ``checkpoint-N`` folder a Hugging Face trainer left in
    ``work`` (0 when there is none: the run starts from the beginning).

    A folder without :data:`CHECKPOINT_COMPLETE` is what a job killed while saving left
    (``scancel``, a node failure): it is removed, since the trainer resumes from the
    highest-numbered folder, so the run resumes from the complete one before it."""
    steps = []
    for folder in work.glob("checkpoint-*"):
        if folder.is_dir() and not (folder / CHECKPOINT_COMPLETE).is_file():
            print(f"dropping the incomplete checkpoint {folder}", flush=True)
            shutil.rmtree(folder)
        elif folder.is_dir():
            steps.append(int(folder.name.split("-")[1]))
    return max(steps, default=0)


def staging(out_dir: Path) -> Path:
    """An empty ``<out>.staged/`` to build the output in (a leftover one is discarded)."""
    staged = out_dir.with_name(out_dir.name + ".staged")
    shutil.rmtree(staged, ignore_errors=True)
    staged.mkdir(parents=True)
    return staged


def step_dir(run_dir: Path, step: int) -> Path:
    """The model folder of ``step`` inside a run's output (or its staging) directory."""
    return Path(paths.checkpoint(str(run_dir), step))


def publish(staged: Path, out_dir: Path) -> None:
    """Replace ``out_dir`` by ``staged`` and drop the stage's work directory."""
    shutil.rmtree(out_dir, ignore_errors=True)
    staged.replace(out_dir)
    shutil.rmtree(partial_dir(out_dir), ignore_errors=True)
