"""Every stage sees the tokenizer pretraining used, also when it sits in a model folder."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from rhem.lm.tokenizer import load_tokenizer, train_tokenizer
from rhem.settings import ModelSettings
from rhem.train.pretrain import build_model

TEXT = "User: add 12345 and 678, then return x*2\nAssistant: def f(x): return x * 2 + 12345"


def test_model_folder_keeps_the_trained_tokenizer(tmp_path: Path) -> None:
    pq.write_table(pa.table({"text": [TEXT] * 30}), tmp_path / "corpus.parquet")
    trained = train_tokenizer(tmp_path / "corpus.parquet", 320, tmp_path / "tokenizer")
    model = build_model(ModelSettings.from_section({"hidden_size": 16, "intermediate_size": 32,
                                                "num_layers": 1, "num_heads": 2, "context": 64}),
                        trained)
    model.save_pretrained(tmp_path / "model")  # a Qwen2 config.json next to the tokenizer
    trained.save_pretrained(tmp_path / "model")
    expected = trained(TEXT)["input_ids"]
    for folder in ("tokenizer", "model"):
        loaded = load_tokenizer(tmp_path / folder)
        assert loaded(TEXT)["input_ids"] == expected, folder
        assert loaded.padding_side == "left"
