"""The tags grammar: llguidance keeps a tags answer a JSON array of short strings.

A ``TagGrammar`` belongs to one loaded model: llguidance's view of its tokenizer is built
once (about a second), and each request gets a fresh matcher as a logits processor.
llguidance's MLX bitmask kernel needs Metal, so the mask is applied with plain array ops,
which works on every backend.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from .models import Model

log = logging.getLogger(__name__)

TAG_MAX_CHARS = 40
CLOSING_WINDOW = 8  # the last tokens of max_tokens go to closing the JSON array
# No quotes, markup, URLs or paths; no CJK sentence punctuation, which made tags of whole
# Japanese sentences. '#' and '/' inside a tag ("C#", "TCP/IP", "I/O"), and a leading dot
# before a capital (".NET"), are names.
TAG_PATTERN = (
    r"^(?:[^\s\"\\#<>{}\[\]|*`~/:=()@.,-]|\.[A-Z])[^\"\\\n\r\t<>{}\[\]|*`~:=()@。、！？]*$"
)


def tags_schema(limit: int) -> dict:
    """A JSON array of 1..limit strings of 2..TAG_MAX_CHARS characters, ", "-separated."""
    return {
        "type": "array",
        "items": {
            "type": "string",
            "minLength": 2,
            "maxLength": TAG_MAX_CHARS,
            "pattern": TAG_PATTERN,
        },
        "minItems": 1,
        "maxItems": limit,
        "x-guidance": {"whitespace_flexible": False, "item_separator": ", "},
    }


class TagGrammar:
    """Logits processors that hold a model's tags answer to ``tags_schema``."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self._tokenizer: Any = None  # llguidance's LLTokenizer, built on first use
        self._closing: Any = None  # tokens made only of '"' and ']': they end a tags array

    def processor(self, limit: int, max_tokens: int) -> Callable | None:
        """A logits processor for one answer of at most ``limit`` tags in ``max_tokens``
        tokens; None if llguidance is not installed.

        In the last CLOSING_WINDOW tokens, a token that closes the string or the array is
        taken as soon as the grammar allows one: a grammar alone keeps the output a prefix
        of valid JSON, and Japanese tags (several tokens a character) ran out of tokens
        mid-array.
        """
        try:
            import llguidance
            import numpy as np
            from llguidance.numpy import allocate_token_bitmask, fill_next_token_bitmask
        except ImportError:
            log.warning("llguidance is not installed; tags are generated unconstrained")
            return None
        import mlx.core as mx

        grammar = llguidance.LLMatcher.grammar_from_json_schema(tags_schema(limit))
        matcher = llguidance.LLMatcher(self.tokenizer(), grammar)
        bitmask = allocate_token_bitmask(1, self.tokenizer().vocab_size)
        closing = self.closing_tokens()
        prompt_length: list[int] = []  # set at the first call

        def constrain(tokens: Any, logits: Any) -> Any:
            if not prompt_length:
                prompt_length.append(tokens.size)
            else:
                matcher.consume_token(int(tokens[-1].item()))
            fill_next_token_bitmask(matcher, bitmask)
            vocab = logits.shape[-1]
            allowed = np.unpackbits(bitmask.view(np.uint8), bitorder="little")[:vocab]
            allowed = np.pad(allowed, (0, vocab - allowed.size)).astype(bool)
            if max_tokens - (tokens.size - prompt_length[0]) <= CLOSING_WINDOW:
                closers = np.zeros_like(allowed)
                n = min(allowed.size, closing.size)
                closers[:n] = closing[:n]
                if (allowed & closers).any():
                    allowed &= closers
            return mx.where(mx.array(allowed), logits, -mx.inf)

        return constrain

    def tokenizer(self) -> Any:
        """llguidance's tokenizer, from the model's own `tokenizers` backend (serialized
        to JSON, as llguidance.hf does), ending answers on the chat turn's end."""
        if self._tokenizer is None:
            import copy

            import llguidance

            backend = copy.copy(self.model.tokenizer.backend_tokenizer)
            backend.no_padding()
            backend.no_truncation()
            self._tokenizer = llguidance.LLTokenizer(
                backend.to_str(), eos_token=self.model.end_of_answer()
            )
        return self._tokenizer

    def closing_tokens(self) -> Any:
        """A mask of the vocabulary's tokens made only of '"' and ']' (built once)."""
        import numpy as np

        if self._closing is None:
            vocab = self.model.tokenizer.get_vocab()
            mask = np.zeros(max(vocab.values()) + 1, dtype=bool)
            mask[[i for token, i in vocab.items() if token and set(token) <= {'"', "]"}]] = True
            self._closing = mask
        return self._closing
