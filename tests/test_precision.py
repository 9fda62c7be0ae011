"""One precision rule: explicit choices win, FCOT_PRECISION steers `auto`, else the hardware decides."""

from __future__ import annotations

import pytest

from fcot.errors import ConfigError
from fcot.precision import cpu_bf16_unit, resolve_precision


def test_explicit_choice_wins_over_the_environment(monkeypatch):
    monkeypatch.setenv("FCOT_PRECISION", "bf16")
    assert resolve_precision("fp32").name == "fp32"
    assert str(resolve_precision("bf16", "cpu")) == "precision: bf16 (as asked)"


@pytest.mark.parametrize("forced", ["fp32", "bf16"])
def test_environment_steers_auto(monkeypatch, forced):
    monkeypatch.setenv("FCOT_PRECISION", forced)
    resolved = resolve_precision("auto", "cpu")
    assert resolved.name == forced and resolved.torch_dtype == {"fp32": "float32", "bf16": "bfloat16"}[forced]
    assert str(resolved) == f"precision: {forced} (FCOT_PRECISION={forced})"


def test_auto_follows_the_cpu_without_the_environment(monkeypatch):
    monkeypatch.delenv("FCOT_PRECISION", raising=False)
    unit = cpu_bf16_unit()
    resolved = resolve_precision("auto", "cpu")
    assert (resolved.name, resolved.reason) == (("bf16", unit) if unit else ("fp32", "no native bf16 on this CPU"))


@pytest.mark.parametrize("bad", ["fp16", "BF16", "float32"])
def test_unknown_values_name_the_choices(monkeypatch, bad):
    with pytest.raises(ConfigError, match="use auto, fp32, bf16"):
        resolve_precision(bad)
    monkeypatch.setenv("FCOT_PRECISION", bad)
    with pytest.raises(ConfigError, match="FCOT_PRECISION"):
        resolve_precision("auto")
