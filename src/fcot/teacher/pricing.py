"""Token usage and its estimated price, from a configurable table of dollars per million tokens."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from fcot.errors import ConfigError
from fcot.formats import read_json

# US dollars per 1M (input, output) tokens; a JSON file passed as --prices overrides or extends it.
DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    "text-davinci-002": (20.0, 20.0),  # the paper's teacher, at its 2022 price ($0.02 / 1K tokens)
    "text-davinci-003": (20.0, 20.0),
    "davinci-002": (2.0, 2.0),
    "babbage-002": (0.4, 0.4),
    "gpt-3.5-turbo-instruct": (1.5, 2.0),
    "gpt-3.5-turbo": (0.5, 1.5),
    "gpt-4o-mini": (0.15, 0.6),
    "gpt-4o": (2.5, 10.0),
    "gpt-4.1-mini": (0.4, 1.6),
    "gpt-4.1-nano": (0.1, 0.4),
    "gpt-4.1": (2.0, 8.0),
}
BATCH_DISCOUNT = 0.5  # the Batch API bills half the synchronous price


@dataclass
class Usage:
    """Requests, tokens and dollars spent (or replayed from the cache)."""

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    dollars: float = 0.0

    def add(self, prompt_tokens: int, completion_tokens: int, dollars: float) -> None:
        """Count one response."""
        self.requests += 1
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens
        self.dollars += dollars

    def to_json(self) -> dict:
        return {**asdict(self), "dollars": round(self.dollars, 6)}


@dataclass(frozen=True)
class Price:
    """Dollars per 1M input and output tokens for one model (None when unknown)."""

    input: float | None
    output: float | None
    batch: bool = False

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """Estimated dollars for one response."""
        if self.input is None or self.output is None:
            return 0.0
        dollars = (prompt_tokens * self.input + completion_tokens * self.output) / 1e6
        return dollars * (BATCH_DISCOUNT if self.batch else 1.0)

    @property
    def known(self) -> bool:
        return self.input is not None


def load_prices(path: str | Path | None = None) -> dict[str, tuple[float, float]]:
    """The default price table, updated from a JSON file of {"model": [input, output]} per 1M tokens."""
    table = dict(DEFAULT_PRICES)
    if path is None:
        return table
    raw = read_json(path)
    if not isinstance(raw, dict):
        raise ConfigError(f'{path}: expected {{"model": [input_usd_per_1M, output_usd_per_1M]}}')
    for model, pair in raw.items():
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, (int, float)) for x in pair)):
            raise ConfigError(f"{path}: price of {model!r} must be [input, output] dollars per 1M tokens, got {pair!r}")
        table[model] = (float(pair[0]), float(pair[1]))
    return table


def price_for(model: str, table: dict[str, tuple[float, float]], batch: bool = False) -> Price:
    """The price of model (exact name, else the longest table name it starts with)."""
    name = model.split("/")[-1]
    if name not in table:
        prefixes = [k for k in table if name.startswith(k)]
        name = max(prefixes, key=len) if prefixes else ""
    pair = table.get(name)
    return Price(pair[0], pair[1], batch) if pair else Price(None, None, batch)
