"""Curate teacher rationales into training samples in the paper's formats (ft_cot_token, ft_cot_natural, ft_token).

    result = curate(CompletionDataset.load("D_multiarith.json"), "multiarith", template="ft_cot_token")
    write_curated(result, curated_path("fcot-out", result))
"""

from __future__ import annotations

from fcot.curate.io import curated_path, load_sources, read_sidecar, sidecar_path, write_curated
from fcot.curate.samples import (
    CurateResult,
    CurateStats,
    combine,
    count_words,
    curate,
    hold_out,
    question_of,
    question_order,
    questions_of,
    split_indices,
    split_validation,
    step2_correct,
)

__all__ = [
    "CurateResult",
    "CurateStats",
    "combine",
    "count_words",
    "curate",
    "curated_path",
    "hold_out",
    "load_sources",
    "question_of",
    "question_order",
    "questions_of",
    "read_sidecar",
    "sidecar_path",
    "split_indices",
    "split_validation",
    "step2_correct",
    "write_curated",
]
