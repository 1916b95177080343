"""rhem.train.decoding.sample gives exactly model.generate's tokens, and leaves the random
generator where generate leaves it, on left-padded batches with repeated prompts and
rows that end at different steps."""

from __future__ import annotations

import pytest
import torch
from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

from rhem.train.decoding import generate, sample, supports

VOCAB, EOS, PAD = 40, 0, 1


@pytest.fixture(scope="module")
def model() -> Qwen2ForCausalLM:
    """A small random model whose end token is likely, so rows finish at different steps."""
    torch.manual_seed(0)
    cfg = Qwen2Config(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=128,
                      tie_word_embeddings=True, bos_token_id=EOS, eos_token_id=EOS, pad_token_id=PAD)
    model = Qwen2ForCausalLM(cfg)
    with torch.no_grad():
        model.model.embed_tokens.weight[EOS] += 0.4  # tied head: EOS gets a head start
    return model.eval()


def _batch(lengths: list[int], copies: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-padded prompts of the given lengths, each repeated ``copies`` times in a row."""
    gen = torch.Generator().manual_seed(seed)
    width = max(lengths)
    ids = torch.full((len(lengths) * copies, width), PAD)
    mask = torch.zeros_like(ids)
    for i, n in enumerate(lengths):
        prompt = torch.randint(2, VOCAB, (n,), generator=gen)
        for c in range(copies):
            ids[i * copies + c, width - n:] = prompt
            mask[i * copies + c, width - n:] = 1
    return ids, mask


def _config(temperature: float, max_new_tokens: int = 24) -> GenerationConfig:
    return GenerationConfig(do_sample=True, temperature=temperature, top_k=0, top_p=1.0,
                            max_new_tokens=max_new_tokens, pad_token_id=PAD, eos_token_id=[EOS])


@pytest.mark.parametrize(("lengths", "copies", "temperature"), [
    ([5, 9, 3, 9], 4, 1.0),   # padded, repeated prompts (as GRPO samples them)
    ([7, 2, 11], 3, 0.7),     # temperature scaling
    ([6, 6], 5, 1.0),         # no padding: generate drops the mask
    ([4], 1, 1.0),            # a single row
])
def test_sample_is_generate_token_for_token(model: Qwen2ForCausalLM, lengths: list[int], copies: int,
                                            temperature: float) -> None:
    ids, mask = _batch(lengths, copies, seed=len(lengths))
    config = _config(temperature)
    ended = set()
    for seed in range(4):
        torch.manual_seed(seed)
        expected = model.generate(input_ids=ids, attention_mask=mask, generation_config=config)
        after_generate = torch.rand(4)
        torch.manual_seed(seed)
        got = sample(model, ids, mask, config)
        assert torch.equal(got, expected), f"seed {seed}: tokens differ"
        assert torch.equal(torch.rand(4), after_generate), "the generator was left elsewhere"
        ended |= {int((row[ids.shape[1]:] == EOS).nonzero()[0]) for row in got if (row == EOS).any()}
    assert len(ended) > 2, "the test batch should end rows at several different steps"


def test_generate_falls_back_to_transformers_outside_plain_sampling(model: Qwen2ForCausalLM) -> None:
    ids, mask = _batch([5, 8], 2, seed=9)
    settings = {"do_sample": True, "top_k": 5, "top_p": 1.0, "max_new_tokens": 10,
                "pad_token_id": PAD, "eos_token_id": EOS}
    assert not supports(GenerationConfig(**settings))
    assert supports(GenerationConfig(**{**settings, "top_k": 0}))
    torch.manual_seed(3)
    expected = model.generate(input_ids=ids, attention_mask=mask, **settings)
    torch.manual_seed(3)
    assert torch.equal(generate(model, ids, mask, **settings), expected)
    with pytest.raises(ValueError, match="plain multinomial"):
        sample(model, ids, mask, GenerationConfig(**settings))
