"""The tokenizer stage: train the byte-level BPE tokenizer of a persona world, or copy
the tokenizer of a given pretrained model (GPU tiers, ``model.from_pretrained``).

Either way the result is a tokenizer folder; every later stage loads it, and the
model folders that carry it, with :func:`load_tokenizer`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import AutoTokenizer, PreTrainedTokenizerBase, PreTrainedTokenizerFast

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
