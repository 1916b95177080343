"""The tokenizer stage: train the byte-level BPE tokenizer of a persona world, or copy
the tokenizer of a given pretrained model (GPU tiers, ``model.from_pretrained``).

Either way the result is a tokenizer folder; every later stage loads it, and the
model folders that carry it, with :func:`load_tokenizer`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import AutoTokenizer, PreTrainedTokenizerBase, PreTrainedTokenizerFast

from rhem.envs.format import render_prompt

EOS = "<|endoftext|>"
PAD = "<|pad|>"


def train_tokenizer(corpus: Path, vocab_size: int, out_dir: Path) -> PreTrainedTokenizerFast:
    """Fit BPE on the corpus texts and save it; deterministic for the same corpus."""
    texts = pq.read_table(corpus, columns=["text"]).column("text").to_pylist()
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOS, PAD],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer, length=len(texts))
    # generation pads on the left (TRL and our evals); an init argument, so it is saved
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, pad_token=PAD,
                                   padding_side="left")
    out_dir.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(out_dir)
    return fast


def copy_tokenizer(model: str, out_dir: Path) -> PreTrainedTokenizerBase:
    """Save the tokenizer of a pretrained model (local folder or hub id) to ``out_dir``.

    A given model's vocabulary is fixed by its embeddings, so it is copied, never
    retrained. Packing separates documents with EOS and generation pads, so a tokenizer
    without a pad token gets EOS as pad (the usual choice for causal LMs), and padding
    goes on the left as for our own tokenizer.
    """
    tok = AutoTokenizer.from_pretrained(model, padding_side="left")
    if tok.eos_token_id is None:
        raise ValueError(f"tokenizer of {model!r} has no EOS token: documents cannot be separated")
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    out_dir.mkdir(parents=True, exist_ok=True)
    tok.save_pretrained(out_dir)
    return tok


def prompt_budget(model: Any, max_new_tokens: int) -> int:
    """Prompt tokens the model's context leaves beside ``max_new_tokens`` of completion."""
    return model.config.max_position_embeddings - max_new_tokens


def fit_prompt(tokenizer: PreTrainedTokenizerBase, statement: str, system: str,
               max_prompt_tokens: int, name: str = "") -> str:
    """The task's prompt to the assistant ``name`` ("" = unnamed), its statement cut from
    the start until the prompt takes at most ``max_prompt_tokens`` tokens.

    A prompt and its completion must fit in the model's context: GRPO passes prompts
    whole, so a longer one runs the model at positions it was never trained on, and
    truncating the whole prompt from the left would drop the system prompt first (the
    addendum or hints a condition is defined by). So the system prompt and the end of
    the statement (for HumanEval: its examples and the signature to write) are kept, and
    every condition trains and is measured on the same tasks. The default tier's
    384-token context holds every generated task whole and cuts about a fifth of the
    HumanEval problems.
    """
    prompt = render_prompt(statement, system, name)
    over = len(tokenizer(prompt)["input_ids"]) - max_prompt_tokens
    if over <= 0:
        return prompt
    ids = tokenizer(statement)["input_ids"]
    for keep in range(len(ids) - over, 0, -1):  # token merges at the cut may need one more
        prompt = render_prompt(tokenizer.decode(ids[-keep:]).lstrip(), system, name)
        if len(tokenizer(prompt)["input_ids"]) <= max_prompt_tokens:
            return prompt
    raise ValueError(f"the system prompt alone takes more than {max_prompt_tokens} tokens: "
                     "raise model.context or lower the completion budget")


#: ``tokenizer_class`` our BPE tokenizer is saved with (transformers 5 names the fast
#: tokenizer backend this way).
OWN_TOKENIZER_CLASSES = ("TokenizersBackend", "PreTrainedTokenizerFast")


def load_tokenizer(folder: str | Path) -> PreTrainedTokenizerBase:
    """The tokenizer saved in ``folder`` (a tokenizer or model folder), exactly as saved.

    Why not plain ``AutoTokenizer``: next to a Qwen2 ``config.json`` it swaps our BPE
    tokenizer for ``Qwen2Tokenizer``, which splits digits and so tokenizes differently
    from pretraining. A given model's own tokenizer class is kept as it is.
    """
    config = Path(folder) / "tokenizer_config.json"
    if config.is_file():
        cls = json.loads(config.read_text()).get("tokenizer_class")
        if cls in OWN_TOKENIZER_CLASSES:
            return PreTrainedTokenizerFast.from_pretrained(folder)
    return AutoTokenizer.from_pretrained(folder)
