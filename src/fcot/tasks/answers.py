"""Answer extraction and comparison: one function per answer kind, shared by every task.

The rules are the Fine-tune-CoT evaluator's (Ho et al., 2023), which follow Zero-shot-CoT's answer cleansing;
`strict=True` opts into a stricter reading. Bump `EXTRACTION_VERSION` on any change that can alter a score.
"""

from __future__ import annotations

import re
from typing import Callable

from fcot.errors import ConfigError

EXTRACTION_VERSION = 1

ANSWER_TYPES = ("number", "choice", "yes_no", "text")

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_YES_NO_SEPARATORS = re.compile(r"\"|'|\n|\.|\s|:|,")
_TEXT_NOISE = re.compile(r"\"|'|\n|\.|\s")


def number_candidates(text: str, choices: str | None = None) -> list[str]:
    """Every number in text, thousands separators removed (`1,000.5` -> `1000.5`)."""
    return _NUMBER.findall(text.replace(",", ""))


def choice_candidates(text: str, choices: str | None = None) -> list[str]:
    """Every occurrence of a choice letter (any of `choices`, e.g. `ABCDE`) in text, even inside words."""
    return re.findall(f"[{re.escape(choices or 'ABCDE')}]", text)


def strict_choice_candidates(text: str, choices: str | None = None) -> list[str]:
    """Choice letters written as options, `(C)`; if there are none, letters standing alone (not `A` of `All`)."""
    letters = re.escape(choices or "ABCDE")
    return re.findall(rf"\(([{letters}])\)", text) or re.findall(rf"(?<![A-Za-z])[{letters}](?![A-Za-z])", text)


def yes_no_candidates(text: str, choices: str | None = None) -> list[str]:
    """Every standalone `yes` or `no` in text, lowercased."""
    words = _YES_NO_SEPARATORS.sub(" ", text.lower()).split(" ")
    return [w for w in words if w in ("yes", "no")]


def text_candidates(text: str, choices: str | None = None) -> list[str]:
    """The whole text with quotes, periods and whitespace removed, as the single candidate."""
    return [_TEXT_NOISE.sub("", text)]


CANDIDATES: dict[str, Callable[[str, str | None], list[str]]] = {
    "number": number_candidates,
    "choice": choice_candidates,
    "yes_no": yes_no_candidates,
    "text": text_candidates,
}


def check_answer_type(answer_type: str, where: str = "answer type") -> str:
    """Return answer_type if known, else raise ConfigError listing the known ones."""
    if answer_type not in CANDIDATES:
        raise ConfigError(f"{where}: unknown answer type {answer_type!r}; use one of {', '.join(ANSWER_TYPES)}")
    return answer_type


def candidates(answer_type: str, text: str, choices: str | None = None, strict: bool = False) -> list[str]:
    """All answer candidates of the given kind found in text, in order."""
    if strict and answer_type == "choice":
        return strict_choice_candidates(text, choices)
    return CANDIDATES[check_answer_type(answer_type)](text, choices)


def extract(
    answer_type: str, text: str, choices: str | None = None, prefix: str | None = None, strict: bool = False
) -> tuple[str | None, list[str]]:
    """(prediction, candidates) from a completion, by the Fine-tune-CoT evaluator's rule.

    Without a prefix the first candidate wins; with one, the first candidate after it, or the last candidate
    of the whole text when the prefix is missing (strict: no prediction when the prefix is missing).
    """
    start = -1 if prefix is None else text.find(prefix)
    if start != -1:
        found = candidates(answer_type, text[start + len(prefix):], choices, strict)
        return (found[0] if found else None), found
    if prefix is not None and strict:
        return None, []
    found = candidates(answer_type, text, choices, strict)
    if not found:
        return None, found
    return (found[-1] if prefix is not None else found[0]), found


def clean_gold(answer_type: str, gold: str) -> str:
    """A gold answer in the form candidates are compared with (no thousands separators, lowercase yes/no)."""
    gold = str(gold)
    if answer_type == "number":
        return gold.replace(",", "")
    if answer_type == "yes_no":
        return gold.lower()
    return gold


def same_answer(
    answer_type: str, prediction: str | None, gold: str, float_compare: bool = False, strict: bool = False
) -> bool:
    """Whether an extracted prediction equals the gold answer (numbers within 1e-6 with float_compare or strict)."""
    if prediction is None:
        return False
    gold = clean_gold(answer_type, gold)
    if answer_type == "number" and (float_compare or strict):
        try:
            return abs(float(prediction) - float(gold)) <= 1e-6
        except ValueError:
            return False
    return prediction == gold
