"""The options every task takes, checked once at the protocol boundary."""

from __future__ import annotations

from ..validate import optional_float, optional_int

MAX_TOKENS_LIMIT = 4096
DEFAULT_TEMPERATURE = 0.0  # greedy: the same document gives the same answer


def max_tokens_option(req: dict, default: int) -> int:
    """`max_tokens`: most tokens a model pass may generate."""
    return optional_int(req, "max_tokens", default, 1, MAX_TOKENS_LIMIT)


def temperature_option(req: dict) -> float:
    """`temperature`: 0 (greedy, the default) to 2."""
    return optional_float(req, "temperature", DEFAULT_TEMPERATURE, 0.0, 2.0)
