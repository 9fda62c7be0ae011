"""Calculator-annotated rationales: each result a rationale states in words that one + - * / of two numbers at hand
gives is written as an explicit step, so a student trained on it writes `a op b =` and lets the calculator
(`fcot.models.calculator`) write the result.

    annotate("She had 30 books and gave away 7.", " So she has 23 books left.")
    ->  (" So she has 30 - 7 = 23 books left.", 1)

Nothing else the teacher said changes: a number already in an explicit step, a number the question or an earlier
step states, and a number no single operation gives are left as they are.
"""

from __future__ import annotations

import re
from itertools import permutations

from fcot.models.calculator import calculation

# a number standing alone: not part of a word, a time, a date or a fraction (`S1`, `3:00`, `1/2`, `5th`)
_NUMBER = re.compile(r"(?<![\w.:/,])\d+(?:,\d{3})*(?:\.\d+)?(?![\w:/]|[.,]\d)")
_IN_STEP_BEFORE = re.compile(r"(?:[-+*/×÷=(]|(?<![A-Za-z])x)\s*\$?$")  # the number is an operand or a step's result
_IN_STEP_AFTER = re.compile(r"^\s*(?:[-+*/×÷=)]|x(?![A-Za-z]))")
_OPERATORS = ("+", "-", "*", "/")
_RECENT = 6  # operands are looked for among the last numbers at hand (recent ones first)


def _value(text: str) -> float:
    return float(text.replace(",", ""))


def step_for(result: str, known: list[str]) -> str | None:
    """`a op b` (two numbers of `known`, the latest first) that the calculator completes with exactly `result`, or
    None. Trivial steps (× 1, ÷ 1, + 0, − 0, a result equal to an operand) are not taken."""
    value = _value(result)
    recent = list(dict.fromkeys(reversed(known)))[:_RECENT]
    for a, b in permutations(recent, 2):
        x, y = _value(a), _value(b)
        if value in (x, y) or 0 in (x, y) or 1 in (x, y):
            continue
        for op in _OPERATORS:
            expression = f"{b} {op} {a}"  # the earlier number first, as people write it
            if calculation(expression + " =") == " " + result:
                return expression
    return None


def annotate(question: str, rationale: str) -> tuple[str, int]:
    """The rationale with each stated result that one operation on earlier numbers gives written as `a op b = c`,
    and how many were."""
    known = _NUMBER.findall(question)
    parts, last, annotated = [], 0, 0
    for match in _NUMBER.finditer(rationale):
        number = match.group()
        before, after = rationale[last: match.start()], rationale[match.end():]
        in_step = _IN_STEP_BEFORE.search(before) or _IN_STEP_AFTER.match(after)  # an operator since the last number
        stated_before = any(_value(number) == _value(k) for k in known)
        step = None if in_step or stated_before else step_for(number, known)
        parts.append(before + (f"{step} = {number}" if step else number))
        annotated += step is not None
        known.append(number)
        last = match.end()
    parts.append(rationale[last:])
    return "".join(parts), annotated
