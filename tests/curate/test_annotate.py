"""Calculator-annotated curation: results stated in words become explicit steps the calculator completes, and
nothing else in the rationale changes."""

from __future__ import annotations

import re

import pytest

from fcot.curate import curate
from fcot.curate.annotate import annotate
from fcot.errors import ConfigError
from fcot.formats import CompletionDataset
from fcot.models.calculator import calculation
from fcot.tasks import get_task

QUESTION = "Emily had 30 coloring books. She gave away 7 but then bought 35 more. How many does she have now?"


@pytest.mark.parametrize("rationale, annotated, count", [
    (" She gave away 7, so she has 23. Then she bought 35, so she has 58.",
     " She gave away 7, so she has 30 - 7 = 23. Then she bought 35, so she has 23 + 35 = 58.", 2),
    (" 30 - 7 = 23 books left, and 23 + 35 = 58.", " 30 - 7 = 23 books left, and 23 + 35 = 58.", 0),  # already steps
    (" She has 30 books and buys 35.", " She has 30 books and buys 35.", 0),  # numbers of the question
    (" So she has 41 books.", " So she has 41 books.", 0),  # wrong, and no single operation gives it
    (" At 3:00 on 12/25 she reads book S1 for the 2nd time.", " At 3:00 on 12/25 she reads book S1 for the 2nd time.", 0),
])
def test_stated_results_become_steps(rationale, annotated, count):
    assert annotate(QUESTION, rationale) == (annotated, count)


def test_a_step_takes_the_latest_numbers_and_is_what_the_calculator_writes():
    text, count = annotate("Tom has 4 boxes of 6 pens and 2 boxes of 3 pens.", " That is 24 pens and 6 more: 30 pens.")
    assert text == " That is 4 * 6 = 24 pens and 6 more: 24 + 6 = 30 pens." and count == 2
    for match in re.finditer(r"= (\d+)", text):  # decoding with the calculator writes exactly the teacher's result
        assert calculation(text[: match.start() + 1]) == " " + match.group(1)
    assert annotate("Tom has 4 boxes of 6 pens and 2 boxes of 3 pens.", text) == (text, 0)  # annotating twice: same
    assert annotate("4 boxes of 6 pens.", " A box 24 pens.") == (" A box 4 * 6 = 24 pens.", 1)  # `x` of a word: no step


def test_curation_with_the_calculator_annotates_every_kept_rationale(shared_data):
    teacher = CompletionDataset.load(shared_data / "completion_data/B_text-davinci-002__C_zs_cot/D_multiarith.json")
    plain = curate(teacher, "multiarith", data_dir=shared_data)
    calc = curate(teacher, "multiarith", data_dir=shared_data, calculator=True)
    assert calc.finetune_key == "zs_cot_multiarith_calc" and calc.config["calculator"] is True
    assert [s["sample_index"] for s in calc.samples] == [s["sample_index"] for s in plain.samples]
    changed = [(p["label"], c["label"]) for p, c in zip(plain.samples, calc.samples) if p["label"] != c["label"]]
    assert calc.stats.annotated >= len(changed) > len(plain.samples) / 3
    for before, after in changed:  # only steps are added: removing them gives the teacher's words back
        assert re.sub(r"\d[\d,.]* [-+*/] \d[\d,.]* = ", "", after) == re.sub(r"\d[\d,.]* [-+*/] \d[\d,.]* = ", "", before)
    dataset = get_task("multiarith").load_dataset(shared_data)
    with pytest.raises(ConfigError, match="gold answers"):
        curate(dataset, "multiarith", data_dir=shared_data, calculator=True)
