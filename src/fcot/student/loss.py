"""A decoder student's training loss with the output layer and cross-entropy fused, at label positions only.

The model's own path computes the vocabulary logits of every label position, their log-softmax, then in the
backward pass the log-softmax gradient and a zero-filled tensor for the picked tokens: four passes over a
(labels x 49k) tensor. Here the forward pass turns the logits into their gradient in place (softmax minus the
one-hot target), so the backward pass is one matrix product. The same loss and gradients (to float rounding);
about 5% less step time for SmolLM2-135M on CPU.
"""

from __future__ import annotations

from typing import Any

import torch

# causal LMs whose logits are just `get_output_embeddings()(last hidden state)`: no scaling, no soft-capping
PLAIN_HEAD_MODEL_TYPES = frozenset({"llama", "mistral", "qwen2", "qwen3", "gpt2"})


class LinearCrossEntropy(torch.autograd.Function):
    """Summed cross-entropy of `hidden @ weight.T + bias` (all of one dtype) against `targets`, the logits' gradient
    made in forward."""

    @staticmethod
    def forward(ctx: Any, hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                targets: torch.Tensor) -> torch.Tensor:
        logits = torch.nn.functional.linear(hidden, weight, bias).float()
        picked = logits.gather(1, targets[:, None])
        largest = logits.amax(dim=-1, keepdim=True)
        grad_logits = logits.sub_(largest).exp_()  # in place, like the rest: one vocabulary-sized tensor in all
        total = grad_logits.sum(dim=-1, keepdim=True)
        loss = (largest + total.log() - picked).sum()
        grad_logits.div_(total)  # the softmax
        grad_logits[torch.arange(len(targets), device=targets.device), targets] -= 1
        ctx.save_for_backward(hidden, weight, grad_logits)
        ctx.has_bias = bias is not None
        return loss

    @staticmethod
    def backward(ctx: Any, grad_loss: torch.Tensor) -> tuple:
        hidden, weight, grad_logits = ctx.saved_tensors
        needs_hidden, needs_weight, needs_bias, _ = ctx.needs_input_grad
        grad_logits = grad_logits.to(hidden.dtype)  # under autocast: the products in bf16, as the forward's
        grad_hidden = (grad_logits @ weight) * grad_loss if needs_hidden else None
        grad_weight = (grad_logits.t() @ hidden) * grad_loss if needs_weight else None
        grad_bias = grad_logits.sum(0) * grad_loss if needs_bias and ctx.has_bias else None
        return grad_hidden, grad_weight, grad_bias, None


class FusedLabelLoss:
    """The causal-LM loss of a plain-head model from its label positions, with the head and cross-entropy fused.

    Under autocast the head runs in the autocast dtype both ways, as the model's own head would; a frozen head's
    weight (LoRA) is cast once, not on every micro-batch (a 49k x 576 copy each time for SmolLM2-135M)."""

    def __init__(self, body: Any, head: torch.nn.Linear) -> None:
        self.body, self.head = body, head
        self._cast: tuple[tuple, torch.Tensor] | None = None  # (dtype, version, storage) -> the frozen weight cast

    def __call__(self, inputs: dict, num_items_in_batch: Any = None) -> torch.Tensor:
        """Summed over label tokens, divided by `num_items_in_batch` where given (gradient accumulation), else by
        the batch's label tokens: as the model computes it."""
        batch = {k: v for k, v in inputs.items() if k != "labels"}
        hidden = self.body(**batch).last_hidden_state
        keep, targets = label_positions(inputs["labels"])
        hidden, weight, bias = hidden[keep], self.head.weight, self.head.bias
        if torch.is_autocast_enabled(hidden.device.type):
            dtype = torch.get_autocast_dtype(hidden.device.type)
            hidden, weight = hidden.to(dtype), self._weight_in(dtype)
            bias = None if bias is None else bias.to(dtype)
        loss = LinearCrossEntropy.apply(hidden, weight, bias, targets)
        divisor = num_items_in_batch if num_items_in_batch is not None else len(targets)
        return loss / torch.as_tensor(divisor, device=loss.device)

    def _weight_in(self, dtype: torch.dtype) -> torch.Tensor:
        weight = self.head.weight
        if weight.requires_grad:  # a trained head (full fine-tuning): cast each time, the gradient flows back
            return weight.to(dtype)
        key = (dtype, weight._version, weight.data_ptr())
        if self._cast is None or self._cast[0] != key:
            self._cast = (key, weight.detach().to(dtype))
        return self._cast[1]


def fused_label_loss(model: Any) -> FusedLabelLoss | None:
    """The fused label loss of a plain-head causal LM (peft-wrapped or not), or None where logits need more."""
    causal_lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    if getattr(causal_lm.config, "model_type", None) not in PLAIN_HEAD_MODEL_TYPES:
        return None
    body, head = causal_lm.base_model, causal_lm.get_output_embeddings()
    if body is causal_lm or not isinstance(head, torch.nn.Linear):
        return None
    return FusedLabelLoss(body, head)


def label_positions(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(mask of the positions whose next token is a label, those next tokens): the only logits the loss needs."""
    targets = torch.nn.functional.pad(labels, (0, 1), value=-100)[:, 1:]
    keep = targets != -100
    return keep, targets[keep]
