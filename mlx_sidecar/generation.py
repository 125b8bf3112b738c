"""Generation: one ``Generator.generate`` over mlx-lm's ``stream_generate``.

Tags and summary of the same document share a token prefix (prompts.py), and the
Generator keeps the KV cache of its last prompt (mlx-lm's prompt cache) for the next one:
the second command over a document only prefills its task.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .context import RequestContext
from .models import Model
from .platform import backend_name

# Prefill runs in steps of tokens; a cancel or a deadline lands between steps. On the
# mlx[cpu] build attention over long score rows dominates, so a step's cost grows with
# step x prompt length, held to CPU_STEP_WORK (about 1.2 s a step on 2 cores); short
# prompts keep CPU_PREFILL_STEP. Shorter steps cost no speed here (bench/RESULTS.md,
# "Prefill steps"). Metal and CUDA keep mlx-lm's own default step.
CPU_PREFILL_STEP = 256
CPU_STEP_WORK = 128 * 2048
MIN_PREFILL_STEP = 32
GPU_PREFILL_STEP = 2048


@dataclass
class PromptCache:
    """The KV cache of the last prompt (and its answer) with the tokens it holds."""

    entries: list
    tokens: list = field(default_factory=list)


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
    """Runs passes of one model and keeps the KV cache of the last prompt for the next."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self.cache: PromptCache | None = None

    def cached_tokens(self) -> int:
        return len(self.cache.tokens) if self.cache else 0

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

        entries, cached = self._reuse(prompt)
        self.cache.tokens = list(prompt[:cached])  # what the cache holds until this pass ends
        pieces, generated, last = [], [], None
        try:
            for last in stream_generate(
                self.model.module,
                self.model.tokenizer,
                mx.array(prompt[cached:]),
                max_tokens=max_tokens,
                sampler=make_sampler(temp=temperature),
                logits_processors=logits_processors,
                prompt_cache=entries,
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
        finally:
            self.cache.tokens = (prompt + generated)[: cache_offset(entries)]
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

    def _reuse(self, prompt: list[int]) -> tuple[list, int]:
        """A KV cache holding the longest reusable prefix of ``prompt``, and its length.

        At least one prompt token is always left to prefill: the model needs it to produce
        the first logits. A cache that cannot be trimmed back to a prefix (the ArraysCache
        of linear-attention layers: Qwen3.5, Mamba, LFM2) is replaced by a fresh one.
        """
        from mlx_lm.models.cache import can_trim_prompt_cache, make_prompt_cache, trim_prompt_cache
        from mlx_lm.utils import common_prefix_len

        held = self.cache
        if held is not None and can_trim_prompt_cache(held.entries):
            keep = min(common_prefix_len(held.tokens, prompt), len(prompt) - 1)
            if keep > 0:
                trim_prompt_cache(held.entries, len(held.tokens) - keep)
                held.tokens = held.tokens[:keep]
                return held.entries, keep
        self.cache = PromptCache(entries=make_prompt_cache(self.model.module))
        return self.cache.entries, 0


def cache_offset(entries: list) -> int:
    """How many tokens the prompt cache holds, read from its first KV cache (an ArraysCache
    of linear attention has no offset); 0, never reused, when none has one."""
    for entry in entries:
        offset = getattr(entry, "offset", None)
        if isinstance(offset, int):
            return offset
    return 0
