"""peft's LoRA config from a ``lora`` section of our config (``pretrain.lora``, ``rl.lora``).

One mapping for both stages, so the schema's keys mean the same thing in each.
"""

from __future__ import annotations

from typing import Any


def peft_lora_config(lora: dict[str, Any]) -> Any:
    """``LoraConfig`` for a causal LM from ``{r, alpha, dropout, target_modules}``."""
    from peft import LoraConfig

    return LoraConfig(r=lora["r"], lora_alpha=lora["alpha"], lora_dropout=lora["dropout"],
                      target_modules=lora["target_modules"], bias="none", task_type="CAUSAL_LM")
