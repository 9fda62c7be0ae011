"""The training loss from label-position logits alone, and fused with the head, equals the model's loss over every
position."""

from __future__ import annotations

import torch
from transformers import Gemma2Config, Gemma2ForCausalLM, GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

from fcot.student.loss import fused_label_loss, label_positions


def _models():
    torch.manual_seed(0)
    yield GPT2LMHeadModel(GPT2Config(vocab_size=97, n_positions=32, n_embd=32, n_layer=2, n_head=2))
    yield LlamaForCausalLM(LlamaConfig(vocab_size=97, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                       num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=32))


def _batch() -> dict:
    """Three rows with prompts of different lengths, the last right-padded."""
    torch.manual_seed(1)
    ids = torch.randint(0, 97, (3, 9))
    mask = torch.ones_like(ids)
    mask[2, 6:] = 0
    labels = ids.clone()
    labels[0, :4], labels[1, :2], labels[2, :5] = -100, -100, -100
    labels[mask == 0] = -100
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def test_label_logits_only_give_the_same_loss_and_gradients():
    batch = _batch()
    ids, mask, labels = batch["input_ids"], batch["attention_mask"], batch["labels"]
    keep, targets = label_positions(labels)
    assert int(keep.sum()) == int((labels[:, 1:] != -100).sum()) == len(targets)
    for model in _models():
        model.eval()  # no dropout: both passes see the same network
        full = model(input_ids=ids, attention_mask=mask, labels=labels)
        full.loss.backward()
        grads = [p.grad.clone() for p in model.parameters()]
        model.zero_grad()
        part = model(input_ids=ids, attention_mask=mask, labels=labels, logits_to_keep=keep, shift_labels=targets)
        part.loss.backward()
        assert part.logits.shape[:-1] == (len(targets),)  # no logits for prompt or padding positions
        assert torch.allclose(part.loss, full.loss, atol=1e-6)
        assert all(torch.allclose(p.grad, g, atol=1e-6) for p, g in zip(model.parameters(), grads))


def test_fused_head_and_cross_entropy_give_the_models_loss_and_gradients():
    batch = _batch()
    for model in _models():  # GPT-2's head is tied to the trainable embeddings: its weight gradient is checked too
        model.eval()
        for items in (None, 23):  # the batch's own label count, or gradient accumulation's count over micro-batches
            reference = model(**batch, num_items_in_batch=items).loss
            reference.backward()
            grads = [p.grad.clone() for p in model.parameters()]
            model.zero_grad()
            fused = fused_label_loss(model)(batch, items)
            fused.backward()
            assert torch.allclose(fused, reference, atol=1e-6)
            assert all(torch.allclose(p.grad, g, atol=1e-6) for p, g in zip(model.parameters(), grads))
            model.zero_grad()


def test_fused_loss_under_bf16_autocast_matches_the_models_own_under_autocast():
    batch = _batch()
    for model in _models():
        model.eval()
        exact = fused_label_loss(model)(batch)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            reference = model(**batch).loss
        reference.backward()
        grads = [p.grad.clone() for p in model.parameters()]
        model.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            half = fused_label_loss(model)(batch)
        half.backward()
        assert half.dtype == torch.float32 and abs(half.item() - exact.item()) < 0.05
        assert torch.allclose(half, reference, atol=2e-3)
        for p, g in zip(model.parameters(), grads):
            assert p.grad.dtype == p.dtype and torch.allclose(p.grad, g, atol=2e-3, rtol=2e-2)
        model.zero_grad()


def test_a_frozen_head_is_cast_once_and_again_when_it_changes():
    model = list(_models())[1].eval()
    model.lm_head.weight.requires_grad_(False)
    loss = fused_label_loss(model)
    first = loss._weight_in(torch.bfloat16)
    assert first.dtype == torch.bfloat16 and loss._weight_in(torch.bfloat16) is first
    with torch.no_grad():
        model.lm_head.weight.mul_(2)
    again = loss._weight_in(torch.bfloat16)
    assert again is not first and torch.equal(again, model.lm_head.weight.to(torch.bfloat16))


def test_models_whose_logits_are_more_than_the_head_keep_their_own_loss():
    soft_capped = Gemma2ForCausalLM(Gemma2Config(vocab_size=97, hidden_size=32, intermediate_size=64,
                                                 num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
                                                 head_dim=16, final_logit_softcapping=30.0))
    assert fused_label_loss(soft_capped) is None
    assert fused_label_loss(list(_models())[1]) is not None
