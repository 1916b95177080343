"""rhem.lm.decoding.sample gives exactly model.generate's tokens, and leaves the random
generator where generate leaves it, on left-padded batches with repeated prompts and
rows that end at different steps; with stop strings, each row is those tokens up to the
one completing its first stop string, and stopped rows cost no more forward passes."""

from __future__ import annotations

import random

import pytest
import torch
from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

from rhem.lm.decoding import StopStrings, completion_length, generate, sample, supports

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


#: Token texts over a three-letter alphabet, some two letters long and some empty, so
#: stop strings span tokens often and sometimes begin or end inside a token.
PIECES = tuple("" if i in (EOS, PAD) else ["a", "b", "c", "ab", "ca", ""][i % 6] for i in range(VOCAB))
STOPS = ("abca", "cc")


def _reference_length(row: list[int], stops: tuple[str, ...]) -> int:
    """Tokens a row keeps, found the slow way: the whole text rebuilt after every token."""
    for i, token in enumerate(row):
        if token == EOS or any(s in "".join(PIECES[t] for t in row[:i + 1]) for s in stops):
            return i + 1
    return len(row)


def test_stop_strings_find_the_token_that_completes_the_first_one() -> None:
    """The rolling tail finds what searching the whole text finds, on random rows."""
    rng = random.Random(0)
    stop = StopStrings(STOPS, PIECES)
    spans = 0
    for _ in range(2000):
        row = [rng.randrange(2, VOCAB) for _ in range(rng.randrange(1, 30))]
        expected = _reference_length(row, STOPS)
        found = stop.end(row)
        assert (len(row) if found is None else found + 1) == expected, row
        assert completion_length(row, [EOS], stop) == expected
        if found is not None and not any(s in PIECES[row[found]] for s in STOPS):
            spans += 1
    assert spans > 100, "most stops should span several tokens"
    assert stop.end([6, 7, 8, 6]) == 3  # "a" "b" "c" "a": "abca" ends in the last token
    assert stop.end([9, 10, 6]) == 1  # "ab" "ca": ends inside a token's text
    assert completion_length([8, EOS, 8, 8], [EOS], stop) == 2  # EOS before "cc"


def _decode_rows(model: Qwen2ForCausalLM) -> list[int]:
    """Rows fed to each decoding step's forward pass (the prompt pass excluded), recorded."""
    rows: list[int] = []

    def hook(module: torch.nn.Module, args: tuple, kwargs: dict) -> None:
        if kwargs["input_ids"].shape[1] == 1:
            rows.append(kwargs["input_ids"].shape[0])

    model.register_forward_pre_hook(hook, with_kwargs=True)
    return rows


@pytest.mark.parametrize(("lengths", "copies", "temperature"), [
    ([5, 9, 3, 9], 4, 1.0),
    ([7, 2, 11], 3, 0.7),
    ([6, 6], 5, 1.0),
])
def test_rows_end_at_their_stop_and_keep_their_tokens(model: Qwen2ForCausalLM, lengths: list[int],
                                                      copies: int, temperature: float) -> None:
    """Every row is the no-stop row up to its first EOS or stop (rows that never stop
    unchanged), and a stopped row is fed to no later step."""
    ids, mask = _batch(lengths, copies, seed=len(lengths))
    config = _config(temperature, max_new_tokens=32)
    stop = StopStrings(STOPS, PIECES)
    stopped, unstopped = set(), 0
    for seed in range(4):
        torch.manual_seed(seed)
        full = sample(model, ids, mask, config)[:, ids.shape[1]:].tolist()
        torch.manual_seed(seed)
        model._forward_pre_hooks.clear()
        fed = _decode_rows(model)
        try:
            got = sample(model, ids, mask, config, stop)[:, ids.shape[1]:].tolist()
        finally:
            model._forward_pre_hooks.clear()
        keep = [_reference_length(row, STOPS) for row in full]
        assert len(got[0]) == max(keep), f"seed {seed}: steps run after every row ended"
        for row, cut, n in zip(full, got, keep):
            assert cut[:n] == row[:n], f"seed {seed}: a row's tokens changed"
            assert all(t == PAD for t in cut[n:]), f"seed {seed}: tokens after the row's end"
            if any(s in "".join(PIECES[t] for t in row[:n]) for s in STOPS):
                stopped.add(n)
            else:
                unstopped += 1
        # each row is fed every kept token but its last (which ended it or the run)
        assert sum(fed) == sum(n - 1 for n in keep), f"seed {seed}: a finished row still ran"
    assert len(stopped) > 2, "the test should stop rows at several different steps"
    assert unstopped > 2, "the test should have rows that end without a stop string"


def test_all_rows_stopping_ends_generation(model: Qwen2ForCausalLM) -> None:
    """A stop every row reaches at once ends the run there, however long it may be."""
    ids, mask = _batch([5, 9], 3, seed=1)
    everything = StopStrings(("a", "b", "c"), PIECES)  # every token but EOS and "" ends its row
    torch.manual_seed(0)
    model._forward_pre_hooks.clear()
    fed = _decode_rows(model)
    try:
        got = sample(model, ids, mask, _config(1.0, max_new_tokens=64), everything)
    finally:
        model._forward_pre_hooks.clear()
    generated = got[:, ids.shape[1]:].tolist()
    assert len(generated[0]) < 10 and len(fed) == len(generated[0]) - 1
    for row in generated:
        assert completion_length(row, [EOS], everything) == len(row) - row.count(PAD)


def test_generate_cuts_transformers_rows_at_the_stop(model: Qwen2ForCausalLM) -> None:
    """Outside plain sampling ``generate`` runs transformers and cuts its rows afterwards,
    to what :func:`sample` would return for them."""
    ids, mask = _batch([5, 8], 3, seed=9)
    settings = {"do_sample": True, "top_k": 20, "top_p": 1.0, "max_new_tokens": 24,
                "pad_token_id": PAD, "eos_token_id": EOS}
    stop = StopStrings(STOPS, PIECES)
    torch.manual_seed(3)
    full = model.generate(input_ids=ids, attention_mask=mask, **settings)[:, ids.shape[1]:].tolist()
    torch.manual_seed(3)
    got = generate(model, ids, mask, stop=stop, **settings)[:, ids.shape[1]:].tolist()
    keep = [_reference_length(row, STOPS) for row in full]
    assert any(n < len(full[0]) for n in keep), "the test should stop a row"
    assert [row[:len(got[0])] for row in got] == [row[:n] + [PAD] * (len(got[0]) - n)
                                                  for row, n in zip(full, keep)]
    assert len(got[0]) == max(keep)
