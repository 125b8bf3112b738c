"""Generation: one ``Generator.generate`` over mlx-lm's ``stream_generate``.

Tags and summary of the same document share a token prefix (prompts.py), and so do the
turns of a conversation; the Generator keeps the KV caches of its last few prompts
(PromptCaches, as mlx_lm.server's LRU prompt cache does), so the second command over a
document prefills only its task and a conversation's next turn only that turn.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .context import RequestContext
from .models import Model
from .platform import backend_name, device_memory_bytes

# Prefill runs in steps of tokens; a cancel or a deadline lands between steps. On the
# mlx[cpu] build attention over long score rows dominates, so a step's cost grows with
# step x prompt length, held to CPU_STEP_WORK (about 1.2 s a step on 2 cores); short
# prompts keep CPU_PREFILL_STEP. Shorter steps cost no speed here (bench/RESULTS.md,
# "Prefill steps"). Metal and CUDA keep mlx-lm's own default step.
CPU_PREFILL_STEP = 256
CPU_STEP_WORK = 128 * 2048
MIN_PREFILL_STEP = 32
GPU_PREFILL_STEP = 2048


# Prompt caches kept (mlx_lm.server keeps an LRU of them too): a chat's conversation, the
# document the app tags and summarizes, and a few more; the oldest goes first past either
# bound. PROMPT_CACHE_SHARE of the memory beside the weights may hold them (the bundled
# model: 46 KB a token, so 1,000 tokens is 46 MB; Qwen3-8B: 144 KB a token).
PROMPT_CACHES_KEPT = 4
PROMPT_CACHE_SHARE = 0.25
PROMPT_CACHE_BYTES_NO_MEMORY_FIGURE = 1 << 30
MOSTLY_REUSED = 0.5  # a cache this much of which serves the next prompt is taken, not copied


@dataclass
class PromptCache:
    """A KV cache (mlx-lm's per-layer entries) with the tokens it holds."""

    entries: list
    tokens: list = field(default_factory=list)

    def nbytes(self) -> int:
        return sum(int(getattr(entry, "nbytes", 0) or 0) for entry in self.entries)


@dataclass
class PromptCaches:
    """The KV caches of the last few prompts (and their answers), newest last.

    ``take`` hands out a cache holding the longest prefix of a prompt that any kept one
    holds: the cache itself when most of it serves (it is trimmed back to the prefix), a
    trimmed copy when only a small part of a longer one does (so a conversation's cache
    survives a generate-tags of another document). ``keep`` puts a cache back after its
    pass; the oldest go past PROMPT_CACHES_KEPT or ``max_bytes``.
    """

    max_bytes: int
    kept: list[PromptCache] = field(default_factory=list)

    def take(self, module: Any, prompt: list[int]) -> PromptCache:
        from mlx_lm.models.cache import can_trim_prompt_cache, make_prompt_cache, trim_prompt_cache
        from mlx_lm.utils import common_prefix_len

        best, best_len = None, 0
        for held in self.kept:
            shared = min(common_prefix_len(held.tokens, prompt), len(prompt) - 1)
            trimmable = shared == len(held.tokens) or can_trim_prompt_cache(held.entries)
            if trimmable and shared > best_len:
                best, best_len = held, shared
        if best is None:
            return PromptCache(make_prompt_cache(module))
        if best_len >= MOSTLY_REUSED * len(best.tokens):
            self.kept.remove(best)
            cache = best
        else:
            cache = PromptCache(copy.deepcopy(best.entries), list(best.tokens))
        trim_prompt_cache(cache.entries, len(cache.tokens) - best_len)
        cache.tokens = cache.tokens[:best_len]
        return cache

    def keep(self, cache: PromptCache) -> None:
        self.kept.append(cache)
        while len(self.kept) > PROMPT_CACHES_KEPT or (
            len(self.kept) > 1 and sum(c.nbytes() for c in self.kept) > self.max_bytes
        ):
            self.kept.pop(0)

    def tokens(self) -> int:
        return sum(len(c.tokens) for c in self.kept)


@dataclass
class Generation:
    """What one pass of the model produced, with its counts and speeds."""

    text: str
    prompt_tokens: int
    cached_tokens: int
    generation_tokens: int
    prompt_tps: float
    generation_tps: float
    finish_reason: str | None

    def stats(self) -> dict:
        return {
            "prompt_tokens": self.prompt_tokens,
            "cached_tokens": self.cached_tokens,
            "generation_tokens": self.generation_tokens,
            "prompt_tps": round(self.prompt_tps, 2),
            "generation_tps": round(self.generation_tps, 2),
        }


def prefill_step_size(prompt_tokens: int) -> int:
    """Tokens per prefill step for a prompt of this length (see CPU_STEP_WORK)."""
    if backend_name() != "cpu":
        return GPU_PREFILL_STEP
    return max(MIN_PREFILL_STEP, min(CPU_PREFILL_STEP, CPU_STEP_WORK // max(prompt_tokens, 1)))


class Generator:
    """Runs passes of one model and keeps the KV caches of its last prompts for the next."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self.caches = PromptCaches(prompt_cache_bytes(model))

    def cached_tokens(self) -> int:
        return self.caches.tokens()

    def generate(
        self,
        prompt: list[int],
        ctx: RequestContext,
        *,
        max_tokens: int,
        temperature: float,
        logits_processors: list | None = None,
        on_text: Callable[[str], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> Generation:
        """One pass of stream_generate from the longest cached prefix of ``prompt``.

        ``on_text`` hears each piece of text as it comes; ``should_stop`` is asked after
        each piece and may end the pass early (a summary that has its sentences). The
        context's check runs at every prefill step and every token.
        """
        import mlx.core as mx
        from mlx_lm import stream_generate
        from mlx_lm.sample_utils import make_sampler

        cache = self.caches.take(self.model.module, prompt)
        cached = len(cache.tokens)
        pieces, generated, last = [], [], None
        try:
            for last in stream_generate(
                self.model.module,
                self.model.tokenizer,
                mx.array(prompt[cached:]),
                max_tokens=max_tokens,
                sampler=make_sampler(temp=temperature),
                logits_processors=logits_processors,
                prompt_cache=cache.entries,
                prefill_step_size=prefill_step_size(len(prompt)),
                prompt_progress_callback=lambda done, total: ctx.check(),
            ):
                generated.append(last.token)
                ctx.check()
                if not last.text:
                    continue
                pieces.append(last.text)
                if on_text:
                    on_text(last.text)
                if should_stop is not None and last.finish_reason is None and should_stop():
                    last.finish_reason = "stop"
                    break
        finally:  # what the cache really holds, however the pass ended
            cache.tokens = (prompt + generated)[: cache_offset(cache.entries)]
            self.caches.keep(cache)
        return Generation(
            text="".join(pieces),
            prompt_tokens=len(prompt),
            cached_tokens=cached,
            generation_tokens=last.generation_tokens if last else 0,
            prompt_tps=last.prompt_tps if last else 0.0,
            generation_tps=last.generation_tps if last else 0.0,
            finish_reason=last.finish_reason if last else None,
        )

    def prefill(self, prompt: list[int], ctx: RequestContext) -> list:
        """A new KV cache holding ``prompt``, prefilled alone (no padding), in the steps
        generate uses and checking the context between them; the Generator's own prompt
        cache is not touched. A batch starts a document's sequences from it."""
        import mlx.core as mx
        from mlx_lm.models.cache import make_prompt_cache

        cache = make_prompt_cache(self.model.module)
        step = prefill_step_size(len(prompt))
        for start in range(0, len(prompt), step):
            ctx.check()
            self.model.module(mx.array(prompt[start : start + step])[None], cache=cache)
            mx.eval([entry.state for entry in cache])
        return cache


def prompt_cache_bytes(model: Model) -> int:
    """What the kept prompt caches may take: PROMPT_CACHE_SHARE of the memory beside the
    weights (a fixed GiB where the device's memory is not known)."""
    memory = device_memory_bytes()
    if memory is None:
        return PROMPT_CACHE_BYTES_NO_MEMORY_FIGURE
    return int(max(0, memory - model.weights_bytes) * PROMPT_CACHE_SHARE)


def cache_offset(entries: list) -> int:
    """How many tokens the prompt cache holds, read from its first KV cache (an ArraysCache
    of linear attention has no offset); 0, never reused, when none has one."""
    for entry in entries:
        offset = getattr(entry, "offset", None)
        if isinstance(offset, int):
            return offset
    return 0
