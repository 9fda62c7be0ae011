"""The training loss from label-position logits alone equals the model's loss over every position."""

from __future__ import annotations

import torch
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

from fcot.student.trainer import label_positions


def _models():
    torch.manual_seed(0)
    yield GPT2LMHeadModel(GPT2Config(vocab_size=97, n_positions=32, n_embd=32, n_layer=2, n_head=2))
    yield LlamaForCausalLM(LlamaConfig(vocab_size=97, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                       num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=32))


def test_label_logits_only_give_the_same_loss_and_gradients():
    ids = torch.randint(0, 97, (3, 9))
    mask = torch.ones_like(ids)
    mask[2, 6:] = 0  # right padding
    labels = ids.clone()
    labels[0, :4], labels[1, :2], labels[2, :5] = -100, -100, -100  # prompts
    labels[mask == 0] = -100
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
