"""Sample completions token for token as transformers' ``generate`` does, at less cost.

``generate`` with multinomial sampling spends most of a small model's decoding time on
work that does not change a token: it grows the key/value cache with ``torch.cat`` at
every step and layer, and it keeps running the model on sequences that have already
ended (their next token is replaced by padding). :func:`sample` runs the same forward
passes on the same inputs, with the key/value cache written into tensors allocated once
(:class:`BufferLayer`), drops a finished row from the batch, and runs the prompt pass once
per distinct prompt (GRPO samples each prompt several times). All are exact: rows of a
batch never mix in a causal LM, and the cache holds the same values.

Sampling stays identical too: ``torch.multinomial(probs, 1)`` draws one exponential
variate per vocabulary entry and row and takes ``argmax(probs / q)``; :func:`sample`
draws the same ``(batch, vocab)`` variates from the same generator every step, finished
rows included, so every later draw is the same as ``generate``'s. The tests and
``benchmarks/rl_step.py`` compare the two token by token.

Stop strings (:class:`StopStrings`, e.g. the episode format's end marker) end a row like
EOS does, at the step whose token completes the first one in the row's generated text, so
a finished episode costs no more forward passes. The draws stay as they are, so a row
that never stops gets exactly the tokens it gets without stop strings.

Supported: a decoder-only model, temperature scaling, EOS, stop-string and length
stopping; anything else (top-k, top-p, min-p, repetition penalty) is left to ``generate``
(:func:`supports`, :func:`generate`), whose rows are cut at the stop strings afterwards.
"""

from __future__ import annotations

import copy
import weakref
from collections.abc import Sequence
from typing import Any

import torch
from transformers import GenerationConfig
from transformers.cache_utils import Cache, DynamicLayer


class BufferLayer(DynamicLayer):
    """One layer's key/value cache in a tensor of fixed capacity: ``update`` writes the new
    positions in place and returns views of the filled part (the values ``torch.cat``
    would return), and selecting rows copies only the filled part."""

    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.capacity = capacity
        self.length = 0

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        self.dtype, self.device = key_states.dtype, key_states.device
        b, h, _, d = key_states.shape
        self.key_buffer = key_states.new_empty(b, h, self.capacity, d)
        self.value_buffer = value_states.new_empty(b, value_states.shape[1], self.capacity,
                                                   value_states.shape[-1])
        self.is_initialized = True

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any,
               **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        end = self.length + key_states.shape[-2]
        if end > self.capacity:
            raise RuntimeError(f"key/value cache full: {end} positions, capacity {self.capacity}")
        self.key_buffer[:, :, self.length:end] = key_states
        self.value_buffer[:, :, self.length:end] = value_states
        self.length = end
        self.keys = self.key_buffer[:, :, :end]
        self.values = self.value_buffer[:, :, :end]
        return self.keys, self.values

    def get_seq_length(self) -> int:
        return self.length

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        """Keep the rows ``indices``: the first ``len(indices)`` rows of the buffers, in
        :func:`compaction` order (holes filled from the tail), so only moved rows are copied."""
        if not self.is_initialized:
            return
        dst, src = compaction(indices)
        for buf in (self.key_buffer, self.value_buffer):
            buf[dst, :, :self.length] = buf[src, :, :self.length]
        n = len(indices)
        self.keys = self.key_buffer[:n, :, :self.length]
        self.values = self.value_buffer[:n, :, :self.length]
        self.key_buffer, self.value_buffer = self.key_buffer[:n], self.value_buffer[:n]

    def expand_rows(self, index: torch.Tensor) -> None:
        """Make row ``i`` a copy of row ``index[i]`` (prompts sampled several times are
        prefilled once, then copied)."""
        if not self.is_initialized:
            return
        for name in ("key_buffer", "value_buffer"):
            old = getattr(self, name)
            new = old.new_empty(len(index), *old.shape[1:])
            new[:, :, :self.length] = old[index, :, :self.length]
            setattr(self, name, new)
        self.keys = self.key_buffer[:, :, :self.length]
        self.values = self.value_buffer[:, :, :self.length]


def compaction(keep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Row moves that make the rows ``keep`` (sorted) the first ``len(keep)`` rows: each
    kept row beyond that prefix moves into a dropped row's place within it. Rows of a
    causal LM's batch never mix, so the order of rows changes no result."""
    n = len(keep)
    src = keep[keep >= n]
    inside = torch.zeros(n, dtype=torch.bool, device=keep.device)
    inside[keep[keep < n]] = True
    dst = (~inside).nonzero().squeeze(1)
    return dst, src


def _compact(rows: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """``rows`` reordered as :func:`compaction` orders a batch, cut to the kept rows."""
    dst, src = compaction(keep)
    rows = rows.clone()
    rows[dst] = rows[src]
    return rows[:len(keep)]


#: Per-token text of each tokenizer seen, built once (a large vocabulary takes seconds).
_PIECES: weakref.WeakKeyDictionary[Any, tuple[str, ...]] = weakref.WeakKeyDictionary()


def token_pieces(tokenizer: Any) -> tuple[str, ...]:
    """The text each token id adds when decoded after other text (special tokens add none,
    as ``batch_decode(..., skip_special_tokens=True)`` shows them), cached per tokenizer.

    Each token is decoded behind an anchor token and the anchor's own text removed, since
    tokenizers such as SentencePiece drop a token's leading space at the start of a text.
    """
    if tokenizer not in _PIECES:
        anchor = tokenizer.encode("a", add_special_tokens=False)[-1]
        head = tokenizer.decode([anchor], skip_special_tokens=True)
        ids = range(len(tokenizer))
        both = tokenizer.batch_decode([[anchor, i] for i in ids], skip_special_tokens=True)
        _PIECES[tokenizer] = tuple(
            text[len(head):] if text.startswith(head) else tokenizer.decode([i], skip_special_tokens=True)
            for i, text in zip(ids, both))
    return _PIECES[tokenizer]


class StopStrings:
    """Strings that end a row's generation at the token that completes the first of them.

    A row's text grows by one token's piece (:func:`token_pieces`) a step; only its last
    ``longest - 1`` characters are kept between steps, so a step costs one short string
    concatenation and search per row whatever the row's length. An occurrence within
    that tail alone was already seen the step before, so a hit always ends in the new
    token: the first hit is the token that completes the first stop string.
    """

    def __init__(self, strings: Sequence[str], pieces: Sequence[str]) -> None:
        if not strings or not all(strings):
            raise ValueError("stop strings must be non-empty")
        self.strings = tuple(strings)
        self.pieces = pieces
        self.keep = max(map(len, self.strings)) - 1

    @classmethod
    def for_tokenizer(cls, tokenizer: Any, strings: Sequence[str]) -> StopStrings:
        """Stop strings matched against ``tokenizer``'s text (its pieces are built once)."""
        return cls(strings, token_pieces(tokenizer))

    def advance(self, tail: str, token: int) -> tuple[bool, str]:
        """Whether ``token`` completes a stop string after text ending in ``tail``, and the
        tail to carry to the next step. Ids beyond the tokenizer (a model's padded
        vocabulary) add no text."""
        text = tail + (self.pieces[token] if token < len(self.pieces) else "")
        return any(s in text for s in self.strings), text[-self.keep:] if self.keep else ""

    def end(self, tokens: Sequence[int]) -> int | None:
        """Index of the token that completes the first stop string in ``tokens``' text."""
        tail = ""
        for i, token in enumerate(tokens):
            hit, tail = self.advance(tail, token)
            if hit:
                return i
        return None


def completion_length(tokens: Sequence[int], eos: Sequence[int], stop: StopStrings | None) -> int:
    """How many of a row's generated tokens it keeps: up to and including its first EOS or
    the token completing its first stop string, whichever comes first; all when neither."""
    eos = set(eos)
    end = next((i for i, token in enumerate(tokens) if token in eos), len(tokens) - 1)
    at = None if stop is None else stop.end(tokens[:end + 1])
    return (end if at is None else at) + 1


def supports(config: GenerationConfig) -> bool:
    """Whether :func:`sample` reproduces ``generate`` under this config: multinomial
    sampling with at most temperature scaling, one sequence per prompt, a cache."""
    return (bool(config.do_sample) and config.num_beams in (None, 1)
            and config.num_return_sequences in (None, 1) and config.use_cache is not False
            and config.top_k in (None, 0) and config.top_p in (None, 1.0) and config.min_p is None
            and config.repetition_penalty in (None, 1.0) and not config.suppress_tokens
            and not config.bad_words_ids and not config.min_new_tokens and not config.min_length
            and config.max_new_tokens is not None)


def _eos_ids(config: GenerationConfig) -> list[int]:
    eos = config.eos_token_id
    return [] if eos is None else [eos] if isinstance(eos, int) else list(eos)


def _positions(attention_mask: torch.Tensor) -> torch.Tensor:
    """``generate``'s position ids for a left-padded batch: real tokens count from 0."""
    return (attention_mask.long().cumsum(-1) - 1).masked_fill(attention_mask == 0, 0)


@torch.no_grad()
def sample(model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor,
           config: GenerationConfig, stop: StopStrings | None = None) -> torch.Tensor:
    """``model.generate(input_ids, attention_mask, generation_config=config)`` for a
    left-padded batch under a config that :func:`supports`: the prompt followed by the
    sampled tokens, padding after each row's end, as many columns as steps were run.

    The prompt pass runs once per distinct prompt (GRPO and the evaluations sample each
    prompt several times) and its cache rows are copied; each row's numbers are the ones
    the whole batch would give it. With ``stop`` a row also ends (padding after it) at the
    token completing its first stop string; :func:`completion_length` finds that token.
    """
    if not supports(config):
        raise ValueError("decoding.sample reproduces plain multinomial sampling only")
    eos = torch.tensor(_eos_ids(config), device=input_ids.device)
    pad = config.pad_token_id if config.pad_token_id is not None else _eos_ids(config)[0]
    batch, prompt_len = input_ids.shape
    steps = config.max_new_tokens
    layers = model.config.get_text_config(decoder=True).num_hidden_layers
    cache = Cache(layers=[BufferLayer(prompt_len + steps) for _ in range(layers)])
    # generate drops a mask of all ones (then attention is plainly causal)
    padded = not bool((attention_mask == 1).all())
    distinct, copies = torch.unique(torch.cat([input_ids, attention_mask], dim=1), dim=0,
                                    return_inverse=True)
    distinct_mask = distinct[:, prompt_len:]
    logits = model(input_ids=distinct[:, :prompt_len], attention_mask=distinct_mask if padded else None,
                   position_ids=_positions(distinct_mask), past_key_values=cache, use_cache=True,
                   logits_to_keep=1).logits[copies]
    for layer in cache.layers:
        layer.expand_rows(copies)
    mask = attention_mask if padded else None
    step_pos = _positions(attention_mask)[:, -1:]  # position of each row's last token
    out = torch.full((batch, steps), pad, dtype=input_ids.dtype, device=input_ids.device)
    active = torch.arange(batch, device=input_ids.device)  # rows still being generated
    tails = [""] * batch  # with stop strings: the end of each row's text so far
    ran = 0
    for t in range(steps):
        scores = logits[:, -1].to(copy=True, dtype=torch.float32)
        if config.temperature is not None and config.temperature != 1.0:
            scores = scores / config.temperature
        probs = torch.nn.functional.softmax(scores, dim=-1)
        # torch.multinomial(probs, 1) on the whole batch: the same draws, finished rows too
        q = torch.empty((batch, probs.shape[-1]), dtype=probs.dtype, device=probs.device).exponential_(1)
        tokens = (probs / q[active]).argmax(dim=-1)
        out[active, t] = tokens
        ran = t + 1
        going = ~torch.isin(tokens, eos)
        if stop is not None:
            rows, toks = torch.stack([active, tokens]).tolist()
            alive = []
            for row, token in zip(rows, toks):
                hit, tails[row] = stop.advance(tails[row], token)
                alive.append(not hit)
            going &= torch.tensor(alive, device=going.device)
        if not bool(going.any()) or ran == steps:
            break
        if not bool(going.all()):
            keep = going.nonzero().squeeze(1)
            active, tokens, step_pos = (_compact(x, keep) for x in (active, tokens, step_pos))
            mask = None if mask is None else _compact(mask, keep)
            cache.batch_select_indices(keep)
        step_pos = step_pos + 1
        if mask is not None:
            mask = torch.cat([mask, mask.new_ones(mask.shape[0], 1)], dim=-1)
        logits = model(input_ids=tokens[:, None], attention_mask=mask, position_ids=step_pos,
                       past_key_values=cache, use_cache=True, logits_to_keep=1).logits
    return torch.cat([input_ids, out[:, :ran]], dim=1)


def generate(model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor,
             stop: StopStrings | None = None, **settings: Any) -> torch.Tensor:
    """``model.generate(input_ids, attention_mask, **settings)``: the model's own
    generation config updated with ``settings``, as ``generate`` merges them, sampled by
    :func:`sample` where it :func:`supports` the result and by ``generate`` otherwise.

    Rows end at ``stop`` either way: ``generate``'s rows are cut afterwards (padding after
    the stop, columns no row reaches dropped), which is what :func:`sample` returns.
    """
    config = copy.deepcopy(model.generation_config)
    config.update(**settings)
    if supports(config):
        return sample(model, input_ids, attention_mask, config, stop)
    out = model.generate(input_ids=input_ids, attention_mask=attention_mask, generation_config=config)
    if stop is None:
        return out
    prompt_len = input_ids.shape[1]
    pad = config.pad_token_id if config.pad_token_id is not None else _eos_ids(config)[0]
    lengths = [completion_length(row, _eos_ids(config), stop) for row in out[:, prompt_len:].tolist()]
    for i, n in enumerate(lengths):
        out[i, prompt_len + n:] = pad
    return out[:, :prompt_len + max(lengths, default=0)]
