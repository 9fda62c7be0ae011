"""`export_run`: a finished `fcot train` run (LoRA merged) as a GGUF file or an ONNX folder that runs without torch."""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import replace
from pathlib import Path

from fcot.errors import ConfigError, ModelError
from fcot.models.runinfo import RunInfo
from fcot.export.to_gguf import GGUF_TYPES
from fcot.export.to_onnx import ONNX_TYPES

log = logging.getLogger(__name__)

QUANTIZE = {"gguf": GGUF_TYPES, "onnx": ONNX_TYPES}  # per format; the first is the default
EXPORT_DIR = "export"  # default exports land in <run>/export/


def check_format(fmt: str, quantize: str | None) -> str:
    """The quantisation to use (the format's default when None); ConfigError for an unknown format or type."""
    if fmt not in QUANTIZE:
        raise ConfigError(f"--format {fmt!r}: unknown; use gguf or onnx")
    quantize = quantize or QUANTIZE[fmt][0]
    if quantize not in QUANTIZE[fmt]:
        raise ConfigError(f"--quantize {quantize!r}: not available for {fmt}; use one of {', '.join(QUANTIZE[fmt])}")
    return quantize


def default_out(run_dir: Path, fmt: str, quantize: str) -> Path:
    """`<run>/export/<run name>-<quantize>.gguf`, or the folder `<run>/export/<run name>-onnx-<quantize>`."""
    name = run_dir.resolve().name
    return run_dir / EXPORT_DIR / (f"{name}-{quantize}.gguf" if fmt == "gguf" else f"{name}-onnx-{quantize}")


def parity_path(out: Path) -> Path:
    """Where an export's parity report goes: beside it, `<export>.parity.json`."""
    return out.with_name(out.name + ".parity.json")


def export_run(run_dir: Path, info: RunInfo, fmt: str, quantize: str | None = None, out: Path | None = None) -> Path:
    """Write the run's model as `fmt` (gguf or onnx) at out (default: `default_out`), with the run's info."""
    from fcot.models.loading import DEFAULT_STUDENT, find_smollm2_gguf, load_model, models_dir

    quantize = check_format(fmt, quantize)
    if not info.task:
        raise ModelError(f"{run_dir}: not an fcot train run (no fcot.yaml with a data: section); pass a run folder")
    if importlib.util.find_spec("torch") is None:
        raise ModelError("fcot export reads the run with torch and transformers; run it where the run was trained "
                         "(pip install fcot), and only the exported model on the torch-free machine")
    out = out or default_out(run_dir, fmt, quantize)
    if fmt == "gguf" and out.suffix != ".gguf":
        raise ConfigError(f"--out {out}: a GGUF file's name ends in .gguf; add it")
    run = replace(info, finetune_key=f"{info.finetune_key or run_dir.name}-{fmt}-{quantize}",
                  export=f"{fmt}-{quantize}").to_json()  # its own finetune key: its completions never mix with the run's
    loaded = load_model(run_dir)
    if loaded.model_type != "decoder":
        raise ModelError(f"{run_dir}: an encoder-decoder model; export supports causal LMs (Llama architecture)")
    log.info("exporting %s to %s (%s %s)", run_dir, out, fmt, quantize)
    if fmt == "onnx":
        from fcot.export.to_onnx import write_onnx

        return write_onnx(loaded.model, run_dir, out, quantize, run)
    from fcot.export.to_gguf import write_gguf

    base = find_smollm2_gguf(models_dir()) if info.base_model == DEFAULT_STUDENT else None
    return write_gguf(loaded.model, loaded.tokenizer, run_dir, out, quantize, run, base_gguf=base)
