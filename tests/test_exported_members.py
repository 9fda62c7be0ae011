"""`__all__` of each public package is sorted and lists exactly its public names."""

from __future__ import annotations

import types

import pytest

import fcot
import fcot.evaluate
import fcot.export
import fcot.models
import fcot.tasks


def _public_names(module) -> list[str]:
    return [
        name for name, value in vars(module).items()
        if (not name.startswith("_") or name == "__version__")
        and not isinstance(value, types.ModuleType)
        and name != "annotations"  # from __future__ import annotations
    ]


@pytest.mark.parametrize("module", [fcot, fcot.tasks, fcot.evaluate, fcot.export], ids=lambda m: m.__name__)
def test_all_is_sorted_and_complete(module):
    assert module.__all__ == sorted(module.__all__)
    assert sorted(module.__all__) == sorted(_public_names(module))
