"""Rationales that end by naming the chosen option's text before its letter (`fcot curate --option-text`).

A small student can work out the right value in its rationale and still pick the wrong letter: going from
"May 2, 2021" to "(C) 05/02/2021" is a lookup it learns poorly from a few hundred samples. Ending each
rationale with "So the answer is 05/02/2021, option (C)." makes the lookup two steps it learns better: write the
option's text, then copy the letter printed before it in the question. A closing sentence that named the letter
alone ("Therefore, the answer is (C).") is dropped, so the letter comes after the text; so is one this module
wrote before (a student's own rationales, for self-training).
"""

from __future__ import annotations

import re

OPTION = re.compile(r"\(([A-Z])\) (.*?)(?= \([A-Z]\) |$)")
# "... the answer is (C)." closing a rationale, or a closing this module wrote (a student's own samples)
LETTER_ENDING = re.compile(r"\s*[^.\n]*\banswer is (?:\(?[A-Z]\)?|[^\n]*, option \([A-Z]\))\.?\s*$")


def option_texts(question: str) -> dict[str, str]:
    """The options `(A) text (B) text ...` listed in a question, by letter."""
    return {letter: text.strip() for letter, text in OPTION.findall(question.strip())}


def with_option_text(rationale: str, question: str, answer: str) -> str:
    """`rationale` closing on the gold option's text and letter; unchanged if the question lists no such option."""
    text = option_texts(question).get(answer.strip())
    if text is None:
        return rationale
    return f"{LETTER_ENDING.sub('', rationale)} So the answer is {text}, option ({answer.strip()})."
