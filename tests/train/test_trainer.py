"""LeanGRPOTrainer against TRL's own GRPOTrainer on the same model and batch: the same
completions, the same loss and (up to summation order) the same gradients, also when
every row has zero advantage and when whole columns are padding."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from datasets import Dataset
from trl import GRPOConfig, GRPOTrainer

from rhem.train.pretrain import build_model
from rhem.train.tokenizer import train_tokenizer
from rhem.train.trainer import LeanGRPOTrainer, lean_batch, position_offset

GENERATIONS = 4


@pytest.fixture(scope="module")
def trainer(tmp_path_factory: pytest.TempPathFactory) -> LeanGRPOTrainer:
    root = tmp_path_factory.mktemp("lean")
    texts = [f"User: add {i} and {i + 1}\nAssistant: def f(x):\n    return x + {i}\n" for i in range(50)]
    pq.write_table(pa.table({"text": texts}), root / "texts.parquet")
    tokenizer = train_tokenizer(root / "texts.parquet", 300, root / "tokenizer")
    torch.manual_seed(0)
    model = build_model({"hidden_size": 32, "intermediate_size": 64, "num_layers": 2, "num_heads": 2,
                         "context": 128}, tokenizer)
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
