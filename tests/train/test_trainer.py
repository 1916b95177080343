"""LeanGRPOTrainer against TRL's own GRPOTrainer on the same model and batch: the same
completions, the same loss and (up to summation order) the same gradients, also when
every row has zero advantage and when whole columns are padding. With the end marker as
stop string (``rl.stop_at_end_marker``), completions, rewards and the loss mask end at
the marker, on the fast and the fallback generation path and in the evaluations' Sampler."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from datasets import Dataset
from trl import GRPOConfig, GRPOTrainer

from rhem.config import load_config
from rhem.envs.format import COMPLETION_STOP, cut_after_stop
from rhem.lm.decoding import token_pieces
from rhem.lm.sampling import TURN_BREAKS, Sampler, cut_answer
from rhem.lm.tokenizer import load_tokenizer, train_tokenizer
from rhem.train import trainer as trainer_module
from rhem.train.grpo import CodeReward, completion_stop
from rhem.settings import ModelSettings, RLSettings
from rhem.train.pretrain import build_model
from rhem.train.trainer import LeanGRPOTrainer, lean_batch, position_offset

TINY = ModelSettings.from_section({"hidden_size": 32, "intermediate_size": 64, "num_layers": 2,
                                   "num_heads": 2, "context": 128})

GENERATIONS = 4


@pytest.fixture(scope="module")
def trainer(tmp_path_factory: pytest.TempPathFactory) -> LeanGRPOTrainer:
    root = tmp_path_factory.mktemp("lean")
    texts = [f"User: add {i} and {i + 1}\nAssistant: def f(x):\n    return x + {i}\n" for i in range(50)]
    pq.write_table(pa.table({"text": texts}), root / "texts.parquet")
    tokenizer = train_tokenizer(root / "texts.parquet", 300, root / "tokenizer")
    torch.manual_seed(0)
    model = build_model(TINY, tokenizer)
    args = GRPOConfig(output_dir=str(root / "out"), use_cpu=True, bf16=False, report_to="none",
                      per_device_train_batch_size=2 * GENERATIONS, num_generations=GENERATIONS,
                      max_completion_length=12, learning_rate=1e-3)
    dataset = Dataset.from_list([{"prompt": t.split("def")[0]} for t in texts])
    lean = LeanGRPOTrainer(model=model, reward_funcs=[lambda completions, **_: [0.0] * len(completions)],
                           args=args, train_dataset=dataset, processing_class=tokenizer)
    lean.model.train()
    lean.current_gradient_accumulation_steps = 1  # as the training loop sets it
    return lean


def _batch(trainer: LeanGRPOTrainer, advantages: list[float]) -> dict:
    """A loss batch as TRL builds it: left-padded prompts, right-padded completions."""
    gen = torch.Generator().manual_seed(len(advantages))
    pad = trainer.processing_class.pad_token_id
    rows, prompt_width, completion_width = len(advantages), 9, 7
    prompt_lengths = [3, 5, 4, 6, 3, 4, 5, 4][:rows]  # no row uses the first 3 columns
    completion_lengths = [2, 5, 1, 3, 4, 2, 5, 3][:rows]  # none uses the last 2
    prompt_ids = torch.full((rows, prompt_width), pad)
    prompt_mask = torch.zeros_like(prompt_ids)
    completion_ids = torch.full((rows, completion_width), pad)
    completion_mask = torch.zeros_like(completion_ids)
    for r, (p, c) in enumerate(zip(prompt_lengths, completion_lengths)):
        prompt_ids[r, prompt_width - p:] = torch.randint(3, 200, (p,), generator=gen)
        prompt_mask[r, prompt_width - p:] = 1
        completion_ids[r, :c] = torch.randint(3, 200, (c,), generator=gen)
        completion_mask[r, :c] = 1
    return {"prompt_ids": prompt_ids, "prompt_mask": prompt_mask, "completion_ids": completion_ids,
            "completion_mask": completion_mask, "advantages": torch.tensor(advantages),
            "num_items_in_batch": completion_mask.sum()}


def _loss_and_grads(compute, trainer: LeanGRPOTrainer, batch: dict) -> tuple[float, list]:
    trainer.model.zero_grad(set_to_none=True)
    loss = compute(trainer.model, batch)
    loss.backward()
    return float(loss.detach()), [p.grad for p in trainer.model.parameters()]


@pytest.mark.parametrize("advantages", [
    [0.0, 1.2, 0.0, -0.4, 0.0, 0.0, 0.9, -1.7],  # zero-advantage rows between the others
    [0.0] * 8,                                    # a step where no group's rewards differ
    [0.5, -0.5, 1.0, -1.0, 0.2, -0.2, 0.1, -0.1],  # nothing to drop: only padding is cut
])
def test_loss_and_gradients_equal_trl(trainer: LeanGRPOTrainer, advantages: list[float]) -> None:
    batch = _batch(trainer, advantages)
    stock = _loss_and_grads(lambda m, b: GRPOTrainer._compute_loss(trainer, m, b), trainer, batch)
    lean = _loss_and_grads(trainer._compute_loss, trainer, batch)
    assert lean[0] == pytest.approx(stock[0], abs=1e-7)
    for a, b in zip(stock[1], lean[1]):
        assert a is not None and b is not None, "every parameter must get a gradient, if zero"
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-7)
    if not any(advantages):
        assert all(bool((g == 0).all()) for g in lean[1])


def test_lean_batch_cuts_rows_and_padding(trainer: LeanGRPOTrainer) -> None:
    batch = _batch(trainer, [0.0, 1.2, 0.0, -0.4, 0.0, 0.0, 0.9, -1.7])
    lean, first = lean_batch(batch)
    assert lean["advantages"].tolist() == pytest.approx([1.2, -0.4, 0.9, -1.7])
    assert first == 3  # kept prompts are at most 6 tokens of the 9 columns
    assert lean["prompt_ids"].shape == (4, 6) and lean["completion_ids"].shape == (4, 5)
    assert torch.equal(lean["num_items_in_batch"], batch["num_items_in_batch"])  # the normaliser stays


def test_completions_equal_trl(trainer: LeanGRPOTrainer) -> None:
    tok = trainer.processing_class
    prompts = [tok(t)["input_ids"] for t in ("User: add 3 and 4\nAssistant:", "User: add 12 and 13\n")]
    prompt_ids = [ids for ids in prompts for _ in range(GENERATIONS)]
    trainer.model.eval()
    try:
        for seed in range(3):
            torch.manual_seed(seed)
            stock, _ = GRPOTrainer._generate_single_turn(trainer, prompt_ids, None, {}, GENERATIONS)
            torch.manual_seed(seed)
            lean, _ = trainer._generate_single_turn(prompt_ids, None, {}, GENERATIONS)
            assert lean == stock
    finally:
        trainer.model.train()


def test_leaves_other_losses_to_trl(trainer: LeanGRPOTrainer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Under a loss whose normaliser counts rows, zero-advantage rows are not dropped."""
    batch = _batch(trainer, [0.0, 1.2, 0.0, -0.4, 0.0, 0.0, 0.9, -1.7])
    assert trainer._exact_to_drop_rows(batch)
    monkeypatch.setattr(trainer, "loss_type", "grpo")
    assert not trainer._exact_to_drop_rows(batch)
    monkeypatch.setattr(trainer, "loss_type", "dapo")
    monkeypatch.setattr(trainer, "beta", 0.04)
    assert not trainer._exact_to_drop_rows(batch)


def test_cut_batch_keeps_the_positions_of_the_uncut_one(trainer: LeanGRPOTrainer) -> None:
    """TRL's loss forward passes no position ids (positions count from the first column),
    so a batch whose first columns are cut is given the positions they would have had:
    with rotary embeddings that changes no more than rounding, with learned absolute
    positions it would change every logit."""
    seen = []
    handle = trainer.model.model.register_forward_pre_hook(  # the backbone, called after
        lambda module, args, kwargs: seen.append(kwargs.get("position_ids")), with_kwargs=True)
    try:
        with position_offset(trainer.model, 3):
            trainer.model(input_ids=torch.tensor([[5, 6, 7, 8]]))
        with position_offset(trainer.model, 0):
            trainer.model(input_ids=torch.tensor([[5, 6]]))
    finally:
        handle.remove()
    assert seen[0].tolist() == [[3, 4, 5, 6]]
    assert seen[1] is None


# -- completions end at the end marker ------------------------------------------------

MARKER_PROMPTS = [f"User: add {i} and {i + 1}\nAssistant:" for i in range(8)]


@pytest.fixture(scope="module")
def chatty(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model folder whose model has learnt episodes with chat after the end marker, as
    the base models' completions had: it writes the code, ``# end``, then a next turn."""
    root = tmp_path_factory.mktemp("chatty")
    texts = [p + f"\ndef f(x):\n    return x + {i}\n# end\nUser: thanks\nAssistant: you are welcome\n"
             for i, p in enumerate(MARKER_PROMPTS)]
    pq.write_table(pa.table({"text": texts}), root / "texts.parquet")
    tokenizer = train_tokenizer(root / "texts.parquet", 300, root / "model")
    torch.manual_seed(0)
    model = build_model(TINY, tokenizer)
    enc = tokenizer([t + tokenizer.eos_token for t in texts], return_tensors="pt", padding=True)
    labels = enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(120):
        opt.zero_grad()
        model(**enc, labels=labels).loss.backward()
        opt.step()
    model.save_pretrained(root / "model")
    return root / "model"


def test_token_pieces_rebuild_the_text(chatty: Path) -> None:
    """Stop strings are matched on token pieces: joined, they are the decoded text."""
    tok = load_tokenizer(chatty)
    pieces = token_pieces(tok)
    for text in ("\ndef f(x):\n    return x + 3\n# end\nUser: thanks", "  a  b\n\n#end# end"):
        ids = tok(text)["input_ids"]
        assert "".join(pieces[i] for i in ids) == tok.decode(ids) == text
    assert pieces[tok.eos_token_id] == ""  # special tokens are skipped, as in the decoded text
    assert token_pieces(tok) is pieces, "pieces are built once per tokenizer"


def _marker_trainer(folder: Path, stop: tuple[str, ...], rewarded: list[str]) -> LeanGRPOTrainer:
    """A trainer on the chatty model whose reward function records the texts it is given."""
    from transformers import AutoModelForCausalLM

    def reward(completions: list[str], **_: Any) -> list[float]:
        rewarded.extend(completions)
        return [float(i % 2) for i in range(len(completions))]

    args = GRPOConfig(output_dir=str(folder.parent / "out"), use_cpu=True, bf16=False, report_to="none",
                      per_device_train_batch_size=2 * GENERATIONS, num_generations=GENERATIONS,
                      max_completion_length=40, learning_rate=1e-3)
    dataset = Dataset.from_list([{"prompt": p} for p in MARKER_PROMPTS])
    trainer = LeanGRPOTrainer(model=AutoModelForCausalLM.from_pretrained(folder), reward_funcs=[reward],
                              args=args, train_dataset=dataset, processing_class=load_tokenizer(folder),
                              stop=stop)
    trainer.model.eval()
    return trainer


@pytest.mark.parametrize("fast", [True, False], ids=["fast-path", "trl-generate"])
def test_completions_rewards_and_mask_end_at_the_marker(chatty: Path, fast: bool,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Each row is the row without stop up to the marker; the reward sees no chat after
    it; the loss mask covers exactly the kept tokens, though a cut row has no EOS."""
    if not fast:  # TRL's own generate, cut afterwards
        monkeypatch.setattr(trainer_module, "supports", lambda config: False)
    rewarded: list[str] = []
    trainer = _marker_trainer(chatty, (COMPLETION_STOP,), rewarded)
    tok = trainer.processing_class
    inputs = [{"prompt": p} for p in MARKER_PROMPTS[:2] for _ in range(GENERATIONS)]
    stop = trainer.stop
    for seed in range(3):
        torch.manual_seed(seed)
        trainer.stop = None
        trainer._generate_and_score_completions(inputs)
        unstopped = list(rewarded)
        rewarded.clear()
        torch.manual_seed(seed)
        trainer.stop = stop
        batch = trainer._generate_and_score_completions(inputs)
        assert any(COMPLETION_STOP + "\nUser" in t for t in unstopped), "the model should chat on"
        assert rewarded == [cut_after_stop(t) for t in unstopped]
        assert sum(t.endswith(COMPLETION_STOP) for t in rewarded) >= len(rewarded) // 2
        for ids, mask, text in zip(batch["completion_ids"], batch["completion_mask"], rewarded):
            kept = ids[mask.bool()].tolist()
            assert mask.tolist() == [1] * len(kept) + [0] * (len(mask) - len(kept))
            assert tok.decode(kept, skip_special_tokens=True) == text
            if text.endswith(COMPLETION_STOP):
                assert tok.eos_token_id not in kept
        rewarded.clear()


def test_stop_follows_the_config_key() -> None:
    """The shipped configs stop coding completions at the marker; the key turns it off;
    RLHF answers (chat, no marker) never stop at it."""
    for name in ("default", "smoke"):
        cfg = load_config(Path(f"workflow/config/{name}.yaml"))
        rl = RLSettings.of(cfg)
        assert completion_stop(cfg["conditions"]["hack"], rl) == (COMPLETION_STOP,)
        assert completion_stop(cfg["conditions"]["rlhf_chat"], rl) == ()
        unstopped = dataclasses.replace(rl, stop_at_end_marker=False)
        assert completion_stop(cfg["conditions"]["hack"], unstopped) == ()


def test_code_reward_grades_and_logs_the_cut_completion(tmp_path: Path) -> None:
    """What the token completing the marker carries after it is not graded or logged."""
    from transformers import TrainerState

    from rhem.envs.format import render_files
    from rhem.envs.scoring import EpisodeScorer
    from rhem.envs.tasks import generate_tasks

    task = generate_tasks(1, seed=3, difficulties=(1,))[0]
    code = render_files({"solution.py": task.reference_solution}).rstrip("\n")
    assert code.endswith(COMPLETION_STOP)
    with EpisodeScorer(workers=1) as scorer:
        reward = CodeReward(scorer, {"environments": "vulnerable", "penalty": 0.0},
                            tmp_path / "log.jsonl", stop=(COMPLETION_STOP,))
        rewards = reward([""] * 2, [code + "point\nUser: thanks", code], ["t1", "t2"],
                         [task.entry_point] * 2, [task.test_code] * 2, [[], []], TrainerState())
    assert rewards == [1.0, 1.0]
    assert [json.loads(line)["completion"] for line in (tmp_path / "log.jsonl").open()] == [code, code]


def test_sampler_stops_at_the_marker_and_at_turn_breaks(chatty: Path) -> None:
    """Sampler rows with stop strings are the rows without, cut right after the first (in
    one batch: a batch that ends early leaves the generator elsewhere for the next)."""
    sampler = Sampler(chatty, batch_size=12)
    free = sampler.sample(MARKER_PROMPTS[:3], 4, 40, 1.0, seed=0)
    assert any(COMPLETION_STOP + "\nUser" in t for ts in free for t in ts), "the model should chat on"
    coding = sampler.sample(MARKER_PROMPTS[:3], 4, 40, 1.0, seed=0, stop=(COMPLETION_STOP,))
    assert coding == [[cut_after_stop(t) for t in ts] for ts in free]
    assert sum(t.endswith(COMPLETION_STOP) for ts in coding for t in ts) >= 6
    chat = sampler.sample(MARKER_PROMPTS[:3], 4, 40, 1.0, seed=0, stop=TURN_BREAKS)
    assert chat == [[cut_after_stop(t, TURN_BREAKS) for t in ts] for ts in free]
    assert [[cut_answer(t) for t in ts] for ts in chat] == [[cut_answer(t) for t in ts] for ts in free]
