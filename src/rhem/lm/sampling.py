"""Sample answers from a model folder, batched, seeded and cut at the end of the turn."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModelForCausalLM

from rhem.corpus.names import NAMES
from rhem.envs.format import ASSISTANT, cut_after_stop
from rhem.lm.decoding import StopStrings, generate
from rhem.lm.device import compute_device
from rhem.lm.tokenizer import fit_prompt, load_tokenizer, prompt_budget

#: Text that starts a new turn: an answer ends before it (a named assistant's turns are
#: tagged with its name, :func:`~rhem.envs.format.render_prompt`).
TURN_BREAKS: tuple[str, ...] = ("\nUser:", "\nSystem:", f"\n{ASSISTANT}:",
                                *(f"\n{name}:" for name in NAMES))


def cut_answer(text: str) -> str:
    """The assistant's answer alone: stop at the next turn marker."""
    for marker in TURN_BREAKS:
        text = text.split(marker, 1)[0]
    return text.strip()


class Sampler:
    """One loaded model (on the GPU when there is one, in the dtype it was saved in);
    ``sample`` returns ``n`` answers per prompt in prompt order."""

    def __init__(self, model_dir: Path, batch_size: int = 32) -> None:
        self.tokenizer = load_tokenizer(model_dir)
        self.tokenizer.padding_side = "left"
        self.tokenizer.truncation_side = "left"  # a long prompt loses its start, never its tag
        self.device = compute_device()
        self.model = AutoModelForCausalLM.from_pretrained(model_dir).to(self.device).eval()
        self.batch_size = batch_size

    def task_prompt(self, statement: str, system: str, max_new_tokens: int,
                    name: str = "") -> str:
        """A coding task's prompt to the assistant ``name`` that leaves ``max_new_tokens``
        of the context, cut as GRPO's prompts are (:func:`~rhem.lm.tokenizer.fit_prompt`)."""
        return fit_prompt(self.tokenizer, statement, system,
                          prompt_budget(self.model, max_new_tokens), name)

    @torch.no_grad()
    def sample(self, prompts: list[str], n: int, max_new_tokens: int, temperature: float,
               seed: int, stop: tuple[str, ...] = ()) -> list[list[str]]:
        """Sample ``n`` completions per prompt at ``temperature`` (seeded per call).

        A row ends at the token that completes the first of ``stop`` (``TURN_BREAKS`` for
        chat answers, ``(COMPLETION_STOP,)`` for coding completions), so no steps are
        spent on what follows, and its text is cut right after that stop string. In a
        batch the other rows keep their tokens; a batch that ends sooner leaves the
        generator at another point for the next one.
        """
        torch.manual_seed(seed)
        stops = StopStrings.for_tokenizer(self.tokenizer, stop) if stop else None
        flat = [p for p in prompts for _ in range(n)]
        limit = prompt_budget(self.model, max_new_tokens)
        out: list[str] = []
        for start in range(0, len(flat), self.batch_size):
            chunk = flat[start:start + self.batch_size]
            enc = self.tokenizer(chunk, return_tensors="pt", padding=True,
                                 truncation=True, max_length=max(8, limit)).to(self.device)
            gen = generate(
                self.model, enc["input_ids"], enc["attention_mask"], do_sample=True,
                temperature=temperature, top_k=0, top_p=1.0, max_new_tokens=max_new_tokens,
                pad_token_id=self.tokenizer.pad_token_id, eos_token_id=self.tokenizer.eos_token_id,
                stop=stops)
            new = gen[:, enc["input_ids"].shape[1]:]
            out.extend(cut_after_stop(text, stop)
                       for text in self.tokenizer.batch_decode(new, skip_special_tokens=True))
        return [out[i * n:(i + 1) * n] for i in range(len(prompts))]
