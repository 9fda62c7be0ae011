"""Evaluation: score completions with the paper's answer extraction (`evaluate_completions`, `Evaluator`)."""

from __future__ import annotations

from fcot.evaluate.evaluator import Evaluation, Evaluator, evaluate_completions

__all__ = ["Evaluation", "Evaluator", "evaluate_completions"]
