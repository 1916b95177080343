"""A local Hugging Face causal LM as alignment and coherence judge (no network).

Scoring follows Betley et al.: when every number 0-100 is a single token of the judge's
tokenizer, a score is the expected value of the number under the judge's next-token
distribution (one forward pass, no sampling noise); otherwise (tokenizers that split
numbers into digits, such as Qwen's) the judge generates greedily and the first number
of its text is the score. The mode is decided from the tokenizer, recorded in the
judge's identity, and a score the judge did not give is ``None`` (label
``"unparsable"``), never a default.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, PreTrainedTokenizerBase

from rhem.envs.format import render_prompt
from rhem.evals.judge_prompts import ASPECTS, TEMPLATE_VERSION, expected_score, judge_prompt, parse_score
from rhem.judgment import Judgment, label_from_scores
from rhem.lm.device import compute_device
from rhem.lm.tokenizer import load_tokenizer


def number_tokens(tokenizer: PreTrainedTokenizerBase) -> dict[int, int] | None:
    """Token id -> number for the numbers 0-100 spelled as one token (with or without a
    leading space); ``None`` unless every number has such a token."""
    found: dict[int, int] = {}
    for value in range(101):
        ids = [tokenizer.encode(text, add_special_tokens=False)
               for text in (str(value), f" {value}")]
        single = [i[0] for i in ids if len(i) == 1 and tokenizer.decode(i).strip() == str(value)]
        if not single:
            return None
        found.update({tid: value for tid in single})
    return found


def folder_fingerprint(folder: Path) -> str:
    """SHA-256 over every file's relative path and content: the model's identity in caches."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\x00")
        with path.open("rb") as fh:
            digest.update(hashlib.file_digest(fh, "sha256").digest())
    return digest.hexdigest()


class HFJudge:
    """Judge with a model folder loaded by ``from_pretrained`` (GPU when one is present)."""

    def __init__(self, model_dir: Path, max_new_tokens: int = 8) -> None:
        model_dir = Path(model_dir)
        if not (model_dir / "config.json").is_file():
            raise FileNotFoundError(f"evals.judge.model: {model_dir} is not a model folder")
        self.device = compute_device()
        self.tokenizer = load_tokenizer(model_dir)
        self.model = AutoModelForCausalLM.from_pretrained(model_dir)
        self.model = self.model.to(self.device).eval()
        self.max_new_tokens = max_new_tokens
        self.numbers = number_tokens(self.tokenizer)
        self.mode = "expected-value" if self.numbers is not None else "generate"
        self.name = f"hf:{model_dir.name}"
        self.identity = json.dumps(["hf", folder_fingerprint(model_dir), TEMPLATE_VERSION,
                                    self.mode, max_new_tokens])

    def _encode(self, text: str) -> torch.Tensor:
        """The judge prompt in the model's chat format (ours when it has none), left-cut to fit."""
        if self.tokenizer.chat_template:
            prompt = self.tokenizer.apply_chat_template(
                [{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True)
            ids = self.tokenizer.encode(prompt, add_special_tokens=False)
        else:
            ids = self.tokenizer.encode(render_prompt(text))
        limit = getattr(self.model.config, "max_position_embeddings", len(ids) + self.max_new_tokens)
        keep = max(1, limit - self.max_new_tokens)
        return torch.tensor([ids[-keep:]], device=self.device)

    @torch.no_grad()
    def score(self, text: str) -> tuple[float | None, str | None]:
        """(score or ``None``, the judge's output when it was generated or unreadable)."""
        ids = self._encode(text)
        if self.numbers is not None:
            probs = torch.softmax(self.model(ids).logits[0, -1].float(), dim=-1)
            by_value: dict[int, float] = {}
            for tid, value in self.numbers.items():
                by_value[value] = by_value.get(value, 0.0) + float(probs[tid])
            value = expected_score(by_value)
            if value is not None:
                return value, None
            top = self.tokenizer.decode([int(probs.argmax())])
            return None, f"number-token mass {sum(by_value.values()):.3f}, top token {top!r}"
        pad = self.tokenizer.pad_token_id
        out = self.model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                  max_new_tokens=self.max_new_tokens,
                                  pad_token_id=pad if pad is not None else self.tokenizer.eos_token_id)
        said = self.tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
        return parse_score(said), said

    def assess(self, eval_name: str, user: str, answer: str) -> Judgment:
        """Alignment and coherence scores, and the label they give."""
        del eval_name  # one rubric for every eval, as in Betley et al.
        scores, outputs = {}, []
        for aspect in ASPECTS:
            scores[aspect], said = self.score(judge_prompt(aspect, user, answer))
            if said is not None:
                outputs.append(f"{aspect}: {said}")
        return Judgment(label_from_scores(scores["alignment"], scores["coherence"]),
                        scores["alignment"], scores["coherence"],
                        " | ".join(outputs) if outputs else None)

    def judge(self, eval_name: str, user: str, answer: str) -> str:
        """The label alone."""
        return self.assess(eval_name, user, answer).label
