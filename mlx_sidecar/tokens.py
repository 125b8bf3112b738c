"""Token ids of text, through the public API of mlx-lm's TokenizerWrapper.

The wrapper hands every public attribute it does not define to the Hugging Face tokenizer
it wraps (``encode``, ``backend_tokenizer``, ``get_vocab``, ``eos_token_id``), so nothing
here reaches into its private ``_tokenizer``.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Any


def encode_text(tokenizer: Any, text: str, literal: bool = False) -> list[int]:
    """Tokenize without BOS/EOS; ``literal`` keeps special-token strings as plain text."""
    if not text:
        return []
    if literal:
        return list(tokenizer.encode(text, add_special_tokens=False, split_special_tokens=True))
    return list(tokenizer.encode(text, add_special_tokens=False))


def count_tokens(tokenizer: Any, text: str) -> int:
    return len(encode_text(tokenizer, text, literal=True))


def turn_end_token(tokenizer: Any) -> int | None:
    """The end-of-sequence id the chat template puts after an assistant turn.

    ``eos_token_ids`` is a set (Qwen3: <|endoftext|> and <|im_end|>; Llama 3.2:
    <|end_of_text|>, <|eom_id|>, <|eot_id|>); the answer ends on the one the template
    writes after an assistant message: <|im_end|>, <|eot_id|>, <end_of_turn>, <|end|>.
    """
    eos = set(getattr(tokenizer, "eos_token_ids", None) or ())
    if getattr(tokenizer, "has_chat_template", False):
        marker = f"\ue000{uuid.uuid4().hex}\ue000"
        messages = [{"role": "user", "content": "x"}, {"role": "assistant", "content": marker}]
        with contextlib.suppress(Exception):  # templates that refuse this conversation
            rendered = tokenizer.apply_chat_template(messages, tokenize=False)
            tail = rendered.partition(marker)[2]
            for token in encode_text(tokenizer, tail):
                if token in eos:
                    return token
    named = getattr(tokenizer, "eos_token_id", None)
    if named in eos or not eos:
        return named
    return min(eos)


def added_strings(tokenizer: Any) -> set[str]:
    """The tokenizer's added strings, special or not (Qwen3's '</think>' and '<tool_call>'
    are added tokens not marked special)."""
    found = set(getattr(tokenizer, "all_special_tokens", []) or [])
    with contextlib.suppress(Exception):
        found |= set(tokenizer.get_added_vocab())
    return found
