"""Write a Llama-architecture HF model as an ONNX folder for onnxruntime: KV cache in and out, optional int8.

optimum-onnx needs transformers < 4.58, so the graph is traced here with torch.onnx (TorchScript exporter) from
`CachedLlama`: the model's own modules over explicit past key/value tensors, returning the last position's logits
and the grown cache. The folder holds `model.onnx`, `tokenizer.json` and `fcot-export.json` (see `fcot.models.edge`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

from fcot.errors import ModelError, storage_guard
from fcot.models.edge import ONNX_MANIFEST
from fcot.formats import write_json

ONNX_TYPES = ("fp32", "int8")  # what --quantize accepts for ONNX; int8 = dynamic quantisation of the MatMul weights
INT8_KEEP = ("down_proj", "lm_head")  # MatMuls left fp32 in int8: their inputs (MLP products, last hidden state)
# have outliers that one int8 scale per tensor rounds away, and the student's answers drift from fp32's
ONNX_MODEL = "model.onnx"
OPSET = 17


def cached_llama(model: Any) -> Any:
    """`CachedLlama(model)`: forward(input_ids, *past) → (last-position logits, *present) for a LlamaForCausalLM."""
    import torch

    class CachedLlama(torch.nn.Module):
        def __init__(self, causal_lm: Any) -> None:
            super().__init__()
            self.lm = causal_lm
            config = causal_lm.config
            self.heads, self.kv_heads = config.num_attention_heads, config.num_key_value_heads
            self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // self.heads

        def forward(self, input_ids: torch.Tensor, *past: torch.Tensor) -> tuple[torch.Tensor, ...]:
            inner = self.lm.model
            batch, length = input_ids.shape
            start = past[0].shape[2]
            positions = torch.arange(length, device=input_ids.device) + start
            x = inner.embed_tokens(input_ids)
            cos, sin = inner.rotary_emb(x, positions[None])
            cos, sin = cos[:, None], sin[:, None]  # broadcast over heads
            keys = torch.arange(length, device=input_ids.device)[None, :] + start  # new positions; past ones < start
            visible = torch.cat([torch.ones(length, start, dtype=torch.bool, device=input_ids.device),
                                 keys <= positions[:, None]], dim=1)
            bias = torch.where(visible, 0.0, torch.finfo(x.dtype).min)
            presents = []
            for i, layer in enumerate(inner.layers):
                attn, h = layer.self_attn, layer.input_layernorm(x)
                q = attn.q_proj(h).view(batch, length, self.heads, self.head_dim).transpose(1, 2)
                k = attn.k_proj(h).view(batch, length, self.kv_heads, self.head_dim).transpose(1, 2)
                v = attn.v_proj(h).view(batch, length, self.kv_heads, self.head_dim).transpose(1, 2)
                q, k = q * cos + _rotate_half(q) * sin, k * cos + _rotate_half(k) * sin
                k, v = torch.cat([past[2 * i], k], dim=2), torch.cat([past[2 * i + 1], v], dim=2)
                presents += [k, v]
                group = self.heads // self.kv_heads
                k_all = k[:, :, None].expand(-1, -1, group, -1, -1).reshape(batch, self.heads, -1, self.head_dim)
                v_all = v[:, :, None].expand(-1, -1, group, -1, -1).reshape(batch, self.heads, -1, self.head_dim)
                scores = q @ k_all.transpose(-1, -2) * attn.scaling + bias
                out = (scores.softmax(dim=-1) @ v_all).transpose(1, 2).reshape(batch, length, -1)
                x = x + attn.o_proj(out)
                x = x + layer.mlp(layer.post_attention_layernorm(x))
            logits = self.lm.lm_head(inner.norm(x[:, -1]))
            return (logits, *presents)

    def _rotate_half(t: torch.Tensor) -> torch.Tensor:
        half = t.shape[-1] // 2
        return torch.cat((-t[..., half:], t[..., :half]), dim=-1)

    return CachedLlama(model).eval()


def write_onnx(model: Any, model_dir: Path, out: Path, quantize: str, run: dict) -> Path:
    """Export model (a transformers LlamaForCausalLM) as an ONNX folder at out (quantize: ONNX_TYPES), atomically."""
    import torch

    try:
        import onnx  # torch.onnx and the int8 quantiser write through it
    except ImportError as exc:
        raise ModelError("ONNX export needs the onnx package; pip install 'fcot[export]'") from exc
    config = model.config
    if config.model_type != "llama":
        raise ModelError(f"{model_dir}: a {config.model_type} model; ONNX export supports Llama-architecture models")
    if not (model_dir / "tokenizer.json").is_file():
        raise ModelError(f"{model_dir}: no tokenizer.json (a fast tokenizer); save the tokenizer with transformers")
    wrapper = cached_llama(model.float())
    layers, kv_heads, head_dim = config.num_hidden_layers, wrapper.kv_heads, wrapper.head_dim
    past_names = [f"past_{kind}_{i}" for i in range(layers) for kind in ("key", "value")]
    present_names = [n.replace("past_", "present_") for n in past_names]
    dummy_ids = torch.zeros((1, 3), dtype=torch.long)
    dummy_past = [torch.zeros((1, kv_heads, 2, head_dim)) for _ in past_names]
    axes = {"input_ids": {0: "batch", 1: "length"}, "logits": {0: "batch"}}
    axes.update({n: {0: "batch", 2: "past"} for n in past_names})
    axes.update({n: {0: "batch", 2: "total"} for n in present_names})
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=out.name + ".", dir=out.parent))
    params = sum(p.numel() for p in model.parameters())
    try:
        with storage_guard(out, f"the {quantize} ONNX export", 4 * params + (params if quantize == "int8" else 0)):
            traced = tmp / ("traced.onnx" if quantize == "int8" else ONNX_MODEL)
            with torch.inference_mode(), warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript exporter, chosen on purpose
                torch.onnx.export(wrapper, (dummy_ids, *dummy_past), str(traced), dynamo=False, opset_version=OPSET,
                                  input_names=["input_ids", *past_names], output_names=["logits", *present_names],
                                  dynamic_axes=axes)
            if quantize == "int8":
                from onnxruntime.quantization import QuantType, quantize_dynamic

                graph = onnx.load(str(traced), load_external_data=False).graph
                keep = [n.name for n in graph.node if n.op_type == "MatMul" and any(k in n.name for k in INT8_KEEP)]
                quantize_dynamic(str(traced), str(tmp / ONNX_MODEL), op_types_to_quantize=["MatMul"], per_channel=True,
                                 nodes_to_exclude=keep, weight_type=QuantType.QInt8)
                traced.unlink()
            shutil.copy2(model_dir / "tokenizer.json", tmp / "tokenizer.json")
            write_json(tmp / ONNX_MANIFEST, {"file": ONNX_MODEL, "quantize": quantize, "layers": layers,
                                             "kv_heads": kv_heads, "head_dim": head_dim,
                                             "context_length": config.max_position_embeddings,
                                             "eos_token_ids": _eos_ids(model), "run": run})
            if out.exists():
                shutil.rmtree(out)
            os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _eos_ids(model: Any) -> list[int]:
    """Token ids that end a completion: the generation config's EOS id(s) and the pad id, as `generate` stops on."""
    ids = set()
    for value in (model.generation_config.eos_token_id, model.config.eos_token_id, model.generation_config.pad_token_id):
        ids |= set(value if isinstance(value, list) else [value] if value is not None else [])
    return sorted(ids)
