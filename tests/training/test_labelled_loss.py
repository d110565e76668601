"""The loss at labelled positions only equals the model's own loss (value, gradients, num_items_in_batch), on
padded and packed batches; a batch with no labelled token gives 0; train() uses it."""
import pytest
import torch
from test_training_packing import examples
from test_training_trainer import mapping_records, write

from training.labelled_loss import LabelledLossTrainer, labelled_loss, logits_bytes
from training.packing import PackedCollator, PackedDataset

VOCAB = 97


@pytest.fixture(scope="module")
def model():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, use_cache=False)
    return LlamaForCausalLM(cfg)


def padded_batch(exs):
    width = max(len(e["input_ids"]) for e in exs)
    pad = [width - len(e["input_ids"]) for e in exs]
    return {"input_ids": torch.tensor([e["input_ids"] + [0] * p for e, p in zip(exs, pad)]),
            "labels": torch.tensor([e["labels"] + [-100] * p for e, p in zip(exs, pad)]),
            "attention_mask": torch.tensor([[1] * len(e["input_ids"]) + [0] * p for e, p in zip(exs, pad)])}


def packed_batch(exs):
    ds = PackedDataset(exs, [len(e["input_ids"]) for e in exs], capacity=64, seed=0)
    batch = PackedCollator(pad_token_id=0)([ds[i] for i in range(len(ds))])
    assert batch["position_ids"].shape[0] > 1 and (batch["position_ids"][:, 1:] == 0).any()  # restarts
    return batch


def grads(model):
    return {n: p.grad.clone() for n, p in model.named_parameters()}


def both(model, batch, num_items_in_batch=None):
    """(own loss, own grads), (labelled loss, labelled grads)."""
    extra = {} if num_items_in_batch is None else {"num_items_in_batch": num_items_in_batch}
    model.zero_grad()
    own = model(**batch, **extra).loss
    own.backward()
    own_grads = grads(model)
    model.zero_grad()
    mine, out = labelled_loss(model, batch, num_items_in_batch)
    mine.backward()
    assert out.logits.shape == (int((batch["labels"][:, 1:] != -100).sum()), VOCAB)
    return (own, own_grads), (mine, grads(model))


@pytest.mark.parametrize("layout", [padded_batch, packed_batch])
@pytest.mark.parametrize("scale", [None, 3])
def test_equals_the_models_own_loss_and_gradients(model, layout, scale):
    batch = layout(examples(8, VOCAB, seed=2))
    labelled = (batch["labels"][:, 1:] != -100).sum()
    assert 0 < labelled < 0.8 * batch["labels"].numel()
    # num_items_in_batch as the Trainer passes it (a tensor: labelled tokens of all accumulated micro-batches)
    nib = None if scale is None else labelled * scale
    (own, own_g), (mine, my_g) = both(model, batch, nib)
    assert torch.allclose(mine, own, rtol=1e-5, atol=0), (mine.item(), own.item())
    for name in own_g:
        assert torch.allclose(my_g[name], own_g[name], rtol=1e-5, atol=1e-7), name
    if nib is not None:  # an int is divided the same way
        assert torch.allclose(labelled_loss(model, batch, int(nib))[0], own, rtol=1e-5, atol=0)


def test_no_labelled_token_gives_zero_loss_and_zero_gradients(model):
    batch = padded_batch(examples(3, VOCAB, seed=3))
    batch["labels"][:] = -100
    assert torch.isnan(model(**batch).loss)  # transformers' own path
    for nib in (None, torch.tensor(0), torch.tensor(5)):
        model.zero_grad()
        loss, out = labelled_loss(model, batch, nib)
        loss.backward()
        assert loss.item() == 0.0 and out.logits.shape == (0, VOCAB)
        assert all(p.grad is not None and not p.grad.any() for p in model.parameters())


def trainer_pair(model, tmp_path, **kw):
    from transformers import Trainer, TrainingArguments

    args = TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to=[], **kw)
    return Trainer(model=model, args=args), LabelledLossTrainer(model=model, args=args)


def test_trainer_compute_loss_and_eval_match_the_plain_trainer(model, tmp_path):
    plain, mine = trainer_pair(model, tmp_path)
    batch = packed_batch(examples(8, VOCAB, seed=4))
    nib = (batch["labels"][:, 1:] != -100).sum() * 2
    for n in (None, nib):
        a = plain.compute_loss(model, dict(batch), num_items_in_batch=n)
        b = mine.compute_loss(model, dict(batch), num_items_in_batch=n)
        assert torch.allclose(a, b, rtol=1e-5, atol=0)
    a, b = plain.prediction_step(model, dict(batch), True), mine.prediction_step(model, dict(batch), True)
    assert b[1] is None and torch.allclose(a[0], b[0], rtol=1e-5, atol=0)
    full = mine.prediction_step(model, dict(batch), False)  # logits wanted: the model's own path
    assert full[1].shape == (*batch["input_ids"].shape, VOCAB) and torch.allclose(full[0], a[0], rtol=1e-5)


def test_train_uses_the_labelled_loss_and_learns_as_before(tiny_merged, tmp_path, monkeypatch):
    """Same seed, two runs of train(): through labelled_loss (counted) and through the plain Trainer; with
    gradient accumulation (num_items_in_batch) and evaluation. The logged losses agree."""
    import transformers

    import training.labelled_loss as ll
    from training.recipe import load_recipe
    from training.trainer import train

    data = write(tmp_path / "map.jsonl", mapping_records() * 3)
    args = [f"model={tiny_merged}", f"data=[{data}]", "max_steps=6", "save_steps=100", "logging_steps=2",
            "per_device_train_batch_size=2", "gradient_accumulation_steps=2", "max_length=128",
            "eval_size=4", "eval_steps=3", "warmup_ratio=0.0"]
    calls = []
    real = ll.labelled_loss
    monkeypatch.setattr(ll, "labelled_loss",
                        lambda model, *a, **k: calls.append(model.training) or real(model, *a, **k))
    new = train(load_recipe("tiny_cpu_cpt", args + [f"output_dir={tmp_path / 'new'}"]))
    assert calls.count(True) == 6 * 2 and calls.count(False) >= 2  # every micro-step; both evaluations
    before = len(calls)
    monkeypatch.setattr(ll, "LabelledLossTrainer", transformers.Trainer)
    old = train(load_recipe("tiny_cpu_cpt", args + [f"output_dir={tmp_path / 'old'}"]))
    assert len(calls) == before
    for key in ("loss", "eval_loss"):
        a = [h[key] for h in new["log_history"] if key in h]
        b = [h[key] for h in old["log_history"] if key in h]
        assert len(a) >= 2 and a == pytest.approx(b, rel=1e-4), key
    assert new["train_loss"] == pytest.approx(old["train_loss"], rel=1e-4)


def test_logits_bytes():
    got = logits_bytes(batch=2, length=1024, vocab=132352, labelled_fraction=0.25, dtype_bytes=2)
    assert got == {"full": 2 * 1024 * 132352 * 2, "labelled": 512 * 132352 * 2}
