"""TRL's ``GRPOTrainer`` with the work that cannot change a token or a gradient left out.

Three places where the stock trainer computes what its result does not depend on, each
replaced by the exact shortcut (the trainer is otherwise TRL's own):

* **Generation** (text prompts, plain multinomial sampling, no vLLM): completions come
  from :func:`rhem.lm.decoding.sample`, token for token what ``model.generate``
  returns, without regrowing the key/value cache or running finished rows.
* **Rows with zero advantage.** Under the ``dapo`` loss with no KL term (TRL's default
  and ours) a completion whose group's rewards are all equal has advantage 0, so each
  of its tokens' loss is exactly 0 and so is its gradient, while the loss is normalised
  by the token count of the whole generation batch (``num_items_in_batch``), computed
  before this point. Such rows are dropped before the forward pass; at least one row
  is kept so that every parameter still gets its (zero) gradient and the optimizer
  steps exactly as before.
* **Padding columns.** Prompts are left-padded and completions right-padded to the
  longest of the batch; after dropping rows, columns that are padding in every kept row
  are cut. The model is then given the position ids the uncut batch would have had
  (TRL's loss forward passes none, so positions count from the first column), so every
  kept token sees the same inputs.

Apart from these, ``stop`` strings (the episode format's end marker) end a completion at
the token that completes the first one, on every generation path: the fast path stops
sampling the row there, the others are cut afterwards. This one changes results on
purpose: the reward, the loss and the logged completions see the completion up to the
marker and none of the chat a model may write after it. TRL builds the completion mask
from the returned token lists (ones up to each list's length), so a row cut without an
EOS is masked exactly to its own tokens.

What changes is only floating-point summation order over fewer rows and columns:
``benchmarks/rl_step.py`` reports how far the weights move apart (and checks that the
completions do not). TRL's logged ``entropy`` and ``clip_ratio`` become means over
the kept rows.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from trl import GRPOTrainer
from trl.models import unwrap_model_for_generation
from trl.trainer.utils import pad

from rhem.lm.decoding import StopStrings, completion_length, sample, supports

#: Loss inputs with one row per completion; the ``(rows, completion tokens)`` ones among
#: them are also cut to the kept completion columns.
_ROW_KEYS = ("prompt_ids", "prompt_mask", "completion_ids", "completion_mask", "advantages",
             "old_per_token_logps", "ref_per_token_logps", "sampling_per_token_logps",
             "importance_sampling_ratio", "tool_mask")
_SCALAR_KEYS = ("num_items_in_batch",)


class LeanGRPOTrainer(GRPOTrainer):
    """``GRPOTrainer`` whose generation and loss skip provably idle work (module docstring);
    ``stop`` strings end each completion (none: completions end as TRL's do)."""

    def __init__(self, *args: Any, stop: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if stop and self.args.mask_truncated_completions:
            # TRL calls a completion truncated when it does not end in EOS: every stopped
            # one would be dropped from the loss
            raise ValueError("stop strings and mask_truncated_completions exclude each other")
        self.stop = StopStrings.for_tokenizer(self._tokenizer, stop) if stop else None

    # -- generation -------------------------------------------------------------------
    def _generate_single_turn(self, prompt_ids: list[list[int]], images: Any,
                              multimodal_fields: dict[str, Any], num_generations: int,
                              has_tool_images: bool = False) -> tuple[list[list[int]], Any]:
        if (self.use_vllm or self.use_transformers_continuous_batching or images is not None
                or multimodal_fields or self._is_vlm or not supports(self.generation_config)):
            completions, logprobs = super()._generate_single_turn(
                prompt_ids, images, multimodal_fields, num_generations, has_tool_images)
            if self.stop is None:
                return completions, logprobs
            lengths = [completion_length(row, self.eos_token_ids, self.stop) for row in completions]
            return ([row[:n] for row, n in zip(completions, lengths)],
                    None if logprobs is None else [lp[:n] for lp, n in zip(logprobs, lengths)])
        device = self.accelerator.device
        prompts = [torch.tensor(ids) for ids in prompt_ids]
        input_ids = pad(prompts, padding_value=self._tokenizer.pad_token_id, padding_side="left",
                        pad_to_multiple_of=self.pad_to_multiple_of).to(device)
        attention_mask = pad([torch.ones_like(t) for t in prompts], padding_value=0, padding_side="left",
                             pad_to_multiple_of=self.pad_to_multiple_of).to(device)
        with (unwrap_model_for_generation(
                self.model_wrapped, self.accelerator,
                gather_deepspeed3_params=self.args.ds3_gather_for_generation,
                generation_kwargs=self.generation_kwargs,
                gradient_checkpointing_kwargs=self.args.gradient_checkpointing_kwargs) as unwrapped,
              torch.no_grad(), self._dist.summon_full_params(self.model_wrapped, recurse=False)):
            sequences = sample(unwrapped, input_ids, attention_mask, self.generation_config, self.stop)
        # up to and including the first EOS (as TRL keeps it) or the token ending the stop
        rows = sequences[:, input_ids.size(1):].tolist()
        return [row[:completion_length(row, self.eos_token_ids, self.stop)] for row in rows], None

    # -- loss -------------------------------------------------------------------------
    def _exact_to_drop_rows(self, inputs: dict[str, Any]) -> bool:
        """Whether a zero-advantage row's loss and gradient are exactly zero here and the
        normaliser does not count rows (see the module docstring)."""
        return (self.loss_type == "dapo" and self.beta == 0.0 and self.top_entropy_quantile >= 1.0
                and self.off_policy_mask_threshold is None
                and set(inputs) <= set(_ROW_KEYS) | set(_SCALAR_KEYS)
                and inputs["advantages"].dim() == 1)

    def _compute_loss(self, model: Any, inputs: dict[str, Any]) -> torch.Tensor:
        if not self.model.training or not self._exact_to_drop_rows(inputs):
            return super()._compute_loss(model, inputs)
        lean, offset = lean_batch(inputs)
        with position_offset(model, offset):
            return super()._compute_loss(model, lean)


def lean_batch(inputs: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """The batch without zero-advantage rows (one is kept if all are) and without the
    columns that are padding in every kept row; also the number of leading prompt
    columns cut (the position of the first kept column)."""
    keep = (inputs["advantages"] != 0).nonzero().squeeze(1)
    if keep.numel() == 0:
        keep = keep.new_zeros(1)
    rows = {k: (v[keep] if k in _ROW_KEYS and v is not None else v) for k, v in inputs.items()}
    prompt_cols = rows["prompt_mask"].any(dim=0).nonzero()
    first = int(prompt_cols[0]) if prompt_cols.numel() else rows["prompt_mask"].size(1)
    completion_cols = rows["completion_mask"].any(dim=0).nonzero()
    width = int(completion_cols[-1]) + 1 if completion_cols.numel() else 1
    completion_shape = inputs["completion_ids"].shape
    for k, v in rows.items():
        if k in ("prompt_ids", "prompt_mask"):
            rows[k] = v[:, first:]
        elif k in _ROW_KEYS and v is not None and v.dim() == 2 and v.shape[1] == completion_shape[1]:
            rows[k] = v[:, :width]
    return rows, first


@contextlib.contextmanager
def position_offset(model: torch.nn.Module, offset: int) -> Iterator[None]:
    """Give the model's forward passes position ids ``offset, offset + 1, ...`` (those of
    the uncut batch) while the context lasts; nothing when ``offset`` is 0."""
    if offset == 0:
        yield
        return

    def hook(module: torch.nn.Module, args: tuple, kwargs: dict[str, Any]) -> tuple[tuple, dict]:
        ids = kwargs.get("input_ids", args[0] if args else None)
        if ids is not None and kwargs.get("position_ids") is None:
            kwargs["position_ids"] = torch.arange(offset, offset + ids.size(1), device=ids.device)[None]
        return args, kwargs

    handle = model.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        yield
    finally:
        handle.remove()
