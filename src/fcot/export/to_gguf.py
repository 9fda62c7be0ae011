"""Write a Llama-architecture HF model folder (a finished run: LoRA merged) as one GGUF file for llama.cpp.

Tensor names follow gguf's TensorNameMap; q/k weights get the row permutation llama.cpp's convert_hf_to_gguf
applies (HF's rotary layout → GGML's). The tokenizer comes from the base GGUF when the run was trained from it
(the default student), else from the HF tokenizer when it is a byte-level BPE (GPT-2 style).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from fcot.errors import ModelError, storage_guard
from fcot.models.edge import GGUF_RUN_KEY

QUANTIZED = ("q8_0", "q4_0")  # block types: rows quantized in blocks of QUANT_BLOCK values; other rows stay f16
QUANT_BLOCK = 32
GGUF_TYPES = ("f16", *QUANTIZED, "f32")  # --quantize for GGUF; f16 first (the default)
EMBEDDING = "token_embd.weight"  # under 8 bits it stays q8_0, as llama.cpp keeps the (tied) output layer finer
PRE_TOKENIZERS = {  # tokenizer.json pre-tokenizer → llama.cpp's name for it
    ("ByteLevel",): "gpt-2",
    ("Digits", "ByteLevel"): "smollm",
}


def write_gguf(model: Any, tokenizer: Any, model_dir: Path, out: Path, quantize: str, run: dict,
               base_gguf: Path | None = None) -> Path:
    """Write model (a transformers LlamaForCausalLM) and its tokenizer as a GGUF file at out (quantize: GGUF_TYPES)."""
    import gguf

    config = model.config
    if config.model_type != "llama":
        raise ModelError(f"{model_dir}: a {config.model_type} model; GGUF export supports Llama-architecture "
                         "models (SmolLM2, Llama); use --format onnx")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")  # a fixed name: what an interrupted export left is overwritten
    writer = gguf.GGUFWriter(tmp, "llama")
    try:
        writer.add_name(run.get("finetune_key") or model_dir.name)
        _add_hyperparameters(writer, config, quantize)
        if base_gguf is not None:
            _copy_tokenizer(writer, base_gguf, len(tokenizer))
        else:
            _add_hf_tokenizer(writer, tokenizer, model_dir, config.vocab_size)
        writer.add_string(GGUF_RUN_KEY, json.dumps(run))
        size = 0
        for name, data in _tensors(model):
            data, qtype = _encode(data, "q8_0" if quantize in QUANTIZED and name == EMBEDDING else quantize)
            writer.add_tensor(name, data, raw_dtype=qtype)
            size += data.nbytes
        with storage_guard(out, f"the {quantize} GGUF export", size):
            writer.write_header_to_file()
            writer.write_kv_data_to_file()
            writer.write_tensors_to_file()
            writer.close()
            os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)  # the file appears under its name only when complete
        raise
    return out


def _add_hyperparameters(writer: Any, config: Any, quantize: str) -> None:
    import gguf

    rope = getattr(config, "rope_parameters", None) or {"rope_type": "default",
                                                        "rope_theta": getattr(config, "rope_theta", 10000.0)}
    if rope.get("rope_type", "default") != "default":
        raise ModelError(f"rope scaling {rope.get('rope_type')!r} is not supported by GGUF export; use --format onnx")
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_key_length(head_dim)
    writer.add_value_length(head_dim)
    writer.add_rope_dimension_count(head_dim)
    writer.add_rope_freq_base(float(rope["rope_theta"]))
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_vocab_size(config.vocab_size)
    file_type = {"f32": "ALL_F32"}.get(quantize, f"MOSTLY_{quantize.upper()}")
    writer.add_file_type(gguf.LlamaFileType[file_type])
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)


def _copy_tokenizer(writer: Any, base_gguf: Path, vocab_size: int) -> None:
    """Copy every `tokenizer.*` key of the base GGUF (vocabulary, merges, special ids, chat template)."""
    import gguf

    reader = gguf.GGUFReader(base_gguf)
    tokens = reader.get_field("tokenizer.ggml.tokens")
    if tokens is None or len(tokens.data) != vocab_size:
        raise ModelError(f"{base_gguf}: its vocabulary does not match the run's tokenizer ({vocab_size} tokens); "
                         "the run was not trained from this base model")
    for name, field in reader.fields.items():
        if not name.startswith("tokenizer."):
            continue
        vtype = field.types[0]
        sub_type = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(name, field.contents(), vtype, sub_type=sub_type)


def _add_hf_tokenizer(writer: Any, tokenizer: Any, model_dir: Path, vocab_size: int) -> None:
    """Vocabulary, merges and special ids of a byte-level BPE HF tokenizer (llama.cpp's `gpt2` tokenizer model)."""
    import gguf

    spec = json.loads((model_dir / "tokenizer.json").read_text(encoding="utf-8")) \
        if (model_dir / "tokenizer.json").is_file() else {}
    pre = _pre_tokenizer(spec)
    if spec.get("model", {}).get("type") != "BPE" or pre is None:
        raise ModelError(f"{model_dir}: the tokenizer is not a byte-level BPE that GGUF export can describe; "
                         "use --format onnx")
    by_id = {i: t for t, i in tokenizer.get_vocab().items()}
    added, special = tokenizer.get_added_vocab(), set(tokenizer.all_special_tokens)
    tokens, types = [], []
    for i in range(vocab_size):
        token = by_id.get(i)
        if token is None:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
            continue
        tokens.append(token)
        if token in added:
            types.append(gguf.TokenType.CONTROL if token in special else gguf.TokenType.USER_DEFINED)
        else:
            types.append(gguf.TokenType.NORMAL)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre)
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    special_vocab = gguf.SpecialVocab(model_dir, load_merges=True, n_vocab=vocab_size)
    probe = tokenizer("a").input_ids  # whether the tokenizer adds BOS/EOS by itself, as llama.cpp must too
    special_vocab.add_special_token["bos"] = tokenizer.bos_token_id is not None and probe[0] == tokenizer.bos_token_id
    special_vocab.add_special_token["eos"] = tokenizer.eos_token_id is not None and probe[-1] == tokenizer.eos_token_id
    special_vocab.add_to_gguf(writer, quiet=True)


def _pre_tokenizer(spec: dict) -> str | None:
    """llama.cpp's pre-tokenizer name for a tokenizer.json, None when it has none for it."""
    pre = spec.get("pre_tokenizer") or {}
    steps = pre.get("pretokenizers", [pre]) if pre.get("type") == "Sequence" else [pre]
    if not steps or steps[-1].get("type") != "ByteLevel" or not steps[-1].get("use_regex", True):
        return None
    return PRE_TOKENIZERS.get(tuple(s.get("type") for s in steps))


def _tensors(model: Any):
    """(GGUF name, float32 array) for each weight; q/k rows permuted to GGML's rotary layout; tied output skipped."""
    import gguf

    config = model.config
    names = gguf.TensorNameMap(gguf.MODEL_ARCH.LLAMA, config.num_hidden_layers)
    heads, kv_heads = config.num_attention_heads, config.num_key_value_heads
    tied = bool(getattr(config, "tie_word_embeddings", False))
    for hf_name, tensor in model.state_dict().items():
        if tied and hf_name == "lm_head.weight":
            continue  # llama.cpp reuses token_embd when there is no output tensor
        name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if name is None:
            raise ModelError(f"weight {hf_name}: no GGUF name for it in a Llama model; use --format onnx")
        data = tensor.detach().float().cpu().numpy()
        if hf_name.endswith("q_proj.weight"):
            data = _permute(data, heads)
        elif hf_name.endswith("k_proj.weight"):
            data = _permute(data, kv_heads)
        yield name, data


def _permute(weights: Any, heads: int) -> Any:
    """HF's rotary layout (halves) → GGML's (interleaved pairs), per head, as convert_hf_to_gguf does."""
    return (weights.reshape(heads, 2, weights.shape[0] // heads // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def _encode(data: Any, quantize: str) -> tuple[Any, Any]:
    """The tensor in the requested type: norms and other vectors stay f32; quantized rows not in blocks of 32 use
    f16."""
    import gguf
    import numpy as np
    from gguf.quants import quantize as quantize_array

    kinds = gguf.GGMLQuantizationType
    if data.ndim == 1 or quantize == "f32":
        return data.astype(np.float32), kinds.F32
    if quantize in QUANTIZED and data.shape[-1] % QUANT_BLOCK == 0:
        kind = kinds[quantize.upper()]
        return quantize_array(data, kind), kind
    return data.astype(np.float16), kinds.F16
