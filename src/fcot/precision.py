"""The one precision rule for training and generation: bf16 matmuls where the hardware has them, else fp32.

`resolve_precision("auto")` picks bf16 on CUDA GPUs with bf16 and on CPUs with native bf16 units (AMX or
AVX512-BF16), fp32 elsewhere (AVX2-only CPUs emulate bf16 about 30x slower). `FCOT_PRECISION=fp32|bf16`
overrides what `auto` picks, so both numerical paths can be run on one machine. Weights stay fp32 either way:
bf16 is an autocast of the matmuls.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from fcot.errors import ConfigError

Precision = Literal["auto", "fp32", "bf16"]
ENV_VAR = "FCOT_PRECISION"
CHOICES = ("auto", "fp32", "bf16")
BF16_CPU_FLAGS = {"amx_bf16": "AMX", "avx512_bf16": "AVX512-BF16"}  # native bf16 matmul units, best first
TORCH_DTYPE = {"fp32": "float32", "bf16": "bfloat16"}


@dataclass(frozen=True)
class Resolved:
    """A concrete precision and why it was chosen."""

    name: Literal["fp32", "bf16"]
    reason: str

    @property
    def torch_dtype(self) -> str:
        """The matmul dtype's torch name (`float32` or `bfloat16`)."""
        return TORCH_DTYPE[self.name]

    def __str__(self) -> str:
        return f"precision: {self.name} ({self.reason})"


def cpu_bf16_unit(cpuinfo: Path = Path("/proc/cpuinfo")) -> str | None:
    """The CPU's native bf16 unit (`AMX`, `AVX512-BF16`), or None when bf16 would be emulated."""
    if sys.platform != "linux":
        return None
    try:
        flags = set(cpuinfo.read_text(encoding="utf-8", errors="replace").split())
    except OSError:
        return None
    return next((unit for flag, unit in BF16_CPU_FLAGS.items() if flag in flags), None)


def check_precision(value: str, where: str = "precision") -> str:
    """`value` if it is a known precision, else a ConfigError naming the choices."""
    if value not in CHOICES:
        raise ConfigError(f"{where} {value!r}: unknown; use {', '.join(CHOICES)}")
    return value


def resolve_precision(requested: str = "auto", device: str | None = None) -> Resolved:
    """The precision to run on `device` (default: cuda if there is one, else cpu): an explicit fp32/bf16 as
    asked, `auto` by `$FCOT_PRECISION`, else by the hardware."""
    check_precision(requested)
    if requested != "auto":
        return Resolved(requested, "as asked")  # type: ignore[arg-type]
    forced = os.environ.get(ENV_VAR, "").strip()
    if forced and forced != "auto":
        return Resolved(check_precision(forced, ENV_VAR), f"{ENV_VAR}={forced}")  # type: ignore[arg-type]
    import torch

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda"):
        if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
            return Resolved("bf16", torch.cuda.get_device_name())
        return Resolved("fp32", "GPU without bf16")
    unit = cpu_bf16_unit()
    return Resolved("bf16", unit) if unit else Resolved("fp32", "no native bf16 on this CPU")
