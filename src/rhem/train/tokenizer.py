"""Train the byte-level BPE tokenizer of a persona world.

The tokenizer is saved as a ``PreTrainedTokenizerFast`` folder so that every later
stage loads it with ``AutoTokenizer.from_pretrained``, exactly as for a real model.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

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
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, pad_token=PAD)
    fast.padding_side = "left"  # generation pads on the left (TRL and our evals)
    out_dir.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(out_dir)
    return fast
