"""How a training rule starts its stage: one process, or ``accelerate launch`` for several.

The rule's shell command is ``{launcher} rhem rl ...``; keeping the choice here means
Snakemake, DVC (which copies the rendered command) and a user at a shell agree on it.
"""

from __future__ import annotations

from typing import Any

from rhem.settings import RLSettings


def launcher(rl_cfg: RLSettings, condition: dict[str, Any]) -> str:
    """``python -m`` for one process (and for distillation, which samples and grades
    after training); ``accelerate launch ... -m`` with DDP or DeepSpeed ZeRO otherwise."""
    if rl_cfg.processes == 1 or "distill" in condition:
        return "python -m"
    zero = rl_cfg.deepspeed_zero
    # explicit, so a machine without the GPUs fails loudly instead of running one process
    mode = f"--use_deepspeed --zero_stage {zero}" if zero else "--multi_gpu"
    return f"accelerate launch --num_processes {rl_cfg.processes} {mode} -m"
