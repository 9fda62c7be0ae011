"""Calculator decoding: when a completion has just written an arithmetic expression and `=` (`11 - 2 =`), the result
is written for the model (` 9`), which then goes on. Every backend asks `calculation(text)` after each token and feeds
the result's tokens as if the model had chosen them.

    calculation("She had 11 - 2 =")  ->  " 9"
"""

from __future__ import annotations

import ast
import operator
import re
from typing import Callable, Sequence

# numbers (1,200 or 3.5, a $ allowed before) joined by + - * / x × ÷ and parentheses, then "=" at the very end
_EXPRESSION = re.compile(r"((?:[$(]*\d[\d,]*(?:\.\d+)?\)*\s*[-+*/x×÷]\s*)+[$(]*\d[\d,]*(?:\.\d+)?\)*)\s*=\s?$")
_OPERATORS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
TAIL_TOKENS = 24  # the completion's last tokens searched for an expression (longer ones are left to the model)


def calculation(text: str) -> str | None:
    """What follows the expression `text` ends with (` 9` after `11 - 2 =`, `9` after `11 - 2 = `), or None when it
    ends with none or the expression cannot be computed (the model then writes the result itself)."""
    match = _EXPRESSION.search(text)
    if match is None:
        return None
    source = match.group(1).replace("$", "").replace(",", "").replace("×", "*").replace("x", "*").replace("÷", "/")
    try:
        value = _evaluate(ast.parse(source, mode="eval").body)
    except (SyntaxError, ZeroDivisionError, ValueError, RecursionError):
        return None
    result = f"{round(value, 2):.2f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))
    return result if text.endswith(" ") else " " + result


def _evaluate(node: ast.AST) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return float(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        return _OPERATORS[type(node.op)](_evaluate(node.left), _evaluate(node.right))
    raise ValueError("not arithmetic")


class Calculator:
    """One sequence's calculator: `forced(completion)` is the token it writes next (the result's, one by one after an
    expression and `=`), or None to let the model choose."""

    def __init__(self, decode: Callable[[list[int]], str], encode: Callable[[str], list[int]]) -> None:
        self.decode, self.encode = decode, encode
        self.queue: list[int] = []

    def forced(self, completion: Sequence[int]) -> int | None:
        if not self.queue:
            result = calculation(self.decode(list(completion[-TAIL_TOKENS:])))
            self.queue = self.encode(result) if result else []
        return self.queue.pop(0) if self.queue else None
