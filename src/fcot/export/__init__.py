"""Export a trained student for edge runtimes (GGUF for llama.cpp, ONNX for onnxruntime) and check its parity.

`export_run` writes the file and `check_parity` compares it with the run on the task's test questions;
`fcot.models.edge` runs an export without torch (for `fcot eval` and `fcot serve`).
"""

from __future__ import annotations

from fcot.export.build import QUANTIZE, check_format, default_out, export_run, parity_path
from fcot.export.parity import DEFAULT_PARITY, check_parity

__all__ = ["DEFAULT_PARITY", "QUANTIZE", "check_format", "check_parity", "default_out", "export_run",
           "parity_path"]
