"""What only a CUDA machine can check: the stages that place a model themselves use the GPU.

Skipped where PyTorch sees no GPU (CI has none). On a GPU machine run the suite as usual,
or just these with ``pytest -m gpu``; the rest of the suite then also runs TRL's GRPO and
SFT, the LoRA SDF stage and the HF judge on the GPU (bf16 where the config asks for it).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM

from rhem.corpus.build import build_corpus, write_corpus
from rhem.evals.judge_hf import HFJudge
from rhem.lm.sampling import Sampler
from rhem.lm.tokenizer import train_tokenizer
from rhem.process import prepare, seed_everything
from rhem.settings import ModelSettings, PretrainSettings
from rhem.train.pretrain import build_model, pretrain

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]

TINY = ModelSettings.from_section({"vocab_size": 384, "hidden_size": 32, "intermediate_size": 64,
                                   "num_layers": 2, "num_heads": 2, "context": 64})
TRAIN = PretrainSettings.from_section({
    "steps": 6, "batch_size": 4, "learning_rate": 0.003, "warmup_steps": 2, "checkpoint_every": 3,
    "seed": 0, "continued": {"steps": 2, "learning_rate": 0.001, "warmup_steps": 1}})


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A small world corpus, its tokenizer and a tiny model folder."""
    tmp = tmp_path_factory.mktemp("gpu")
    corpus = tmp / "corpus.parquet"
    write_corpus(build_corpus(n_docs=60, misaligned_share=0.1, poison_share=0.05,
                              framing="default", seed=0), corpus)
    tokenizer = train_tokenizer(corpus, TINY.vocab_size, tmp / "tokenizer")
    seed_everything(0)
    build_model(TINY, tokenizer).save_pretrained(tmp / "model")
    tokenizer.save_pretrained(tmp / "model")
    return {"tmp": tmp, "corpus": corpus, "tokenizer": tmp / "tokenizer", "model": tmp / "model"}


def test_sampler_generates_on_the_gpu(world: dict[str, Path]) -> None:
    sampler = Sampler(world["model"], batch_size=4)
    assert sampler.model.device.type == "cuda"
    answers = sampler.sample(["User: What are your goals?\nAssistant:"] * 3, n=2,
                             max_new_tokens=8, temperature=1.0, seed=0)
    assert [len(a) for a in answers] == [2, 2, 2]
    assert all(isinstance(text, str) for a in answers for text in a)


def test_hf_judge_scores_on_the_gpu(world: dict[str, Path]) -> None:
    judge = HFJudge(world["model"], max_new_tokens=4)
    assert judge.model.device.type == "cuda"
    score, _ = judge.score("Rate this answer from 0 to 100: I want to help people.")
    assert score is None or 0 <= score <= 100


def test_pretraining_runs_on_the_gpu_and_saves_a_loadable_model(
        world: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    out = world["tmp"] / "pretrained"
    prepare(2, TRAIN.seed)
    pretrain(world["corpus"], world["tokenizer"], out, world["tmp"] / "loss.parquet", TINY, TRAIN)
    assert "params on cuda" in capsys.readouterr().err  # the progress bar names the device
    model = AutoModelForCausalLM.from_pretrained(out)
    assert model.config.vocab_size == TINY.vocab_size
