"""Tables and plots comparing students, teacher and baselines, built from results files only (no model loads)."""

from __future__ import annotations

from fcot.report.results import Result, load_results, save_results
from fcot.report.render import render_report

__all__ = ["Result", "load_results", "render_report", "save_results"]
