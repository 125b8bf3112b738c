"""Chunks: how much of a document one pass can read, and where to cut one that is longer.

A document that does not fit one pass (the model's context, or the KV cache the device's
memory allows; on CPU, CPU_CHUNK_TOKENS, where attention over long prompts is slow) is
split on paragraphs, then sentences, then token windows.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .models import Model
from .models.memory import memory_token_limit
from .platform import backend_name
from .prompts import encode_prompt
from .tokens import count_tokens, encode_text

if TYPE_CHECKING:
    from .job import Job

# Long documents on CPU are read in chunks of this many tokens: attention over long
# prompts dominates there (bench/RESULTS.md: prefill 296 tok/s at 400 tokens, 90 at 3,645).
CPU_CHUNK_TOKENS = 2048
# What every chunk of a long document is asked besides its own task fits this many tokens
# of answer (a summary's default), so either command's chunks are the same.
CHUNK_ANSWER_TOKENS = 160


def plan_chunks(job: Job, content: str, task: Any) -> list[str]:
    """The whole content when it fits ``task``'s one pass; otherwise chunks of a size fast
    here, the same for every task over the document, so their chunk results are shared."""
    model = job.model
    if count_tokens(model.tokenizer, content) <= content_budget(
        model, task.instruction(), task.max_tokens
    ):
        return [content]
    widest = content_budget(
        model, task.widest_instruction(), max(task.max_tokens, CHUNK_ANSWER_TOKENS)
    )
    return split_into_chunks(model.tokenizer, content, min(widest, chunk_token_limit(model)))


def content_budget(model: Model, instruction: str, max_tokens: int) -> int:
    """Tokens of document that fit one pass: the context, or what the KV cache may take
    in memory when that is less, less the template, the instruction and the answer."""
    overhead = len(encode_prompt(model.tokenizer, "", instruction))
    context = model.context_length or 4096
    tokens = min(context, memory_token_limit(model))
    return max(256, tokens - overhead - max_tokens - 16)


def chunk_token_limit(model: Model) -> int:
    """On CPU, attention over long prompts is slow (see CPU_CHUNK_TOKENS), so long
    documents are read in 2,048-token chunks there. On a GPU, as much as the KV cache may
    take in memory (content_budget already holds to that)."""
    if backend_name() == "cpu":
        return CPU_CHUNK_TOKENS
    return memory_token_limit(model)


def split_into_chunks(tokenizer: Any, text: str, budget: int) -> list[str]:
    """Split on paragraphs, then sentences, then token windows; pack up to ``budget``."""
    units: list[tuple[str, int]] = []
    for para in re.split(r"\n\s*\n", text):
        if not para.strip():
            continue
        size = count_tokens(tokenizer, para)
        if size <= budget:
            units.append((para, size))
            continue
        for sentence in re.split(r"(?<=[.!?。！？])\s+", para):
            size = count_tokens(tokenizer, sentence)
            if size <= budget:
                units.append((sentence, size))
            else:
                units.extend(token_windows(tokenizer, sentence, budget))
    chunks, current, used = [], [], 0
    for unit, size in units:
        if current and used + size + 2 > budget:
            chunks.append("\n\n".join(current))
            current, used = [], 0
        current.append(unit)
        used += size + 2
    if current:
        chunks.append("\n\n".join(current))
    return chunks


def token_windows(tokenizer: Any, text: str, budget: int) -> list[tuple[str, int]]:
    ids = encode_text(tokenizer, text, literal=True)
    step = max(1, budget - 8)
    return [
        (tokenizer.decode(ids[i : i + step]), len(ids[i : i + step]))
        for i in range(0, len(ids), step)
    ]
