"""Where a stage runs its model: the first CUDA device when there is one, else the CPU.

One answer for every stage that moves a model itself (pretraining, LoRA SDF, sampling,
the HF judge); TRL's trainers place theirs through accelerate and agree with it.
"""

from __future__ import annotations

import torch


def compute_device() -> torch.device:
    """``cuda`` when PyTorch sees a GPU, else ``cpu``."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
