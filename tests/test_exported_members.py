"""`__all__` of each public package is sorted and lists exactly its public names."""

from __future__ import annotations

import types

import pytest

import importlib

import fcot
import fcot.curate
import fcot.evaluate
import fcot.export
import fcot.models
import fcot.platform
import fcot.report
import fcot.serve
import fcot.student
import fcot.tasks
import fcot.teacher

PACKAGES = [fcot, fcot.tasks, fcot.models, fcot.curate, fcot.student, fcot.evaluate, fcot.report, fcot.serve,
            fcot.export, fcot.platform]


def _public_names(module) -> list[str]:
    return [
        name for name, value in vars(module).items()
        if (not name.startswith("_") or name == "__version__")
        and not isinstance(value, types.ModuleType)
        and name != "annotations"  # from __future__ import annotations
    ]


@pytest.mark.parametrize("module", PACKAGES, ids=lambda m: m.__name__)
def test_all_is_sorted_and_complete(module):
    assert module.__all__ == sorted(module.__all__)
    assert sorted(module.__all__) == sorted(_public_names(module))


def test_the_teachers_names_load_on_first_use_from_their_modules():
    """`fcot.teacher` imports its submodules lazily: each listed name is found in the module it names."""
    assert fcot.teacher.__all__ == sorted(fcot.teacher.__all__)
    for name in fcot.teacher.__all__:
        home = importlib.import_module(f"fcot.teacher.{fcot.teacher._HOMES[name]}")
        assert getattr(fcot.teacher, name) is getattr(home, name)
