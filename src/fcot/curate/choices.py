"""Multiple-choice samples with their answer options in other orders (`fcot curate --shuffle-choices N`).

A small student trained on a task's few questions learns which *letter* tends to be right instead of matching
its reasoning to an option. Each copy of a question lists the same options in another order; the gold letter
and the letters a rationale names — `(C)`, `answer is C`, `option C`, `choice C` — move with their options, so
the reasoning stays true to the question it is paired with.
"""

from __future__ import annotations

import random
import re

OPTION = re.compile(r"\(([A-Z])\) ")
_NAMED_LETTER = re.compile(r"\(([A-Z])\)|(?<=\banswer is )\(?([A-Z])\b|(?<=\boption )([A-Z])\b|(?<=\bchoice )([A-Z])\b")


def options(question: str) -> list[tuple[str, int, int]] | None:
    """(letter, start, end) of each option's text in `question`, or None unless it lists options `(A)`, `(B)`, ...
    in order. An option's text ends where the next option begins, trailing whitespace excluded."""
    marks = list(OPTION.finditer(question))
    letters = [m.group(1) for m in marks]
    if len(marks) < 2 or letters != [chr(ord("A") + i) for i in range(len(marks))]:
        return None
    ends = [m.start() for m in marks[1:]] + [len(question)]
    spans = []
    for mark, end in zip(marks, ends):
        text = question[mark.end():end]
        spans.append((mark.group(1), mark.end(), mark.end() + len(text.rstrip())))
    return spans


def reorder(source: dict, order: list[int], spans: list[tuple[str, int, int]]) -> dict:
    """`source` (question, answer, rationale) with option i showing the text of option `order[i]`."""
    question = source["question"]
    texts = [question[start:end] for _, start, end in spans]
    letters = [letter for letter, _, _ in spans]
    new_letter = {letters[old]: letters[new] for new, old in enumerate(order)}
    pieces, last = [], 0
    for (_, start, end), old in zip(spans, order):
        pieces += [question[last:start], texts[old]]
        last = end
    moved = {**source, "question": "".join(pieces) + question[last:],
             "answer": new_letter.get(str(source["answer"]), source["answer"])}
    if source.get("reasoning_completion"):
        def rename(match: re.Match) -> str:
            letter = next(group for group in match.groups() if group)
            return match.group(0).replace(letter, new_letter.get(letter, letter))

        moved["reasoning_completion"] = _NAMED_LETTER.sub(rename, source["reasoning_completion"])
    return moved


def shuffled_copies(source: dict, copies: int, rng: random.Random) -> list[dict]:
    """Up to `copies` versions of a multiple-choice `source` with its options in distinct new orders (none for a
    question without `(A) ... (B) ...` options, or with fewer orders than asked)."""
    spans = options(source["question"])
    if spans is None or copies <= 0:
        return []
    texts = [source["question"][start:end] for _, start, end in spans]
    seen, out = {tuple(texts)}, []
    for _ in range(copies):
        for _attempt in range(20):
            order = list(range(len(spans)))
            rng.shuffle(order)
            if tuple(texts[i] for i in order) not in seen:
                break
        else:
            continue
        seen.add(tuple(texts[i] for i in order))
        out.append(reorder(source, order, spans))
    return out
