"""One command's model work: the loaded model, the request's context, its progress lines,
and the passes it ran (whose counts its response reports)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .context import RequestContext
from .generation import Generation, Generator
from .grammar import TagGrammar
from .models import Model

if TYPE_CHECKING:
    from .session import Loaded
    from .tasks import Ask


@dataclass
class Progress:
    """Opt-in progress lines: the share of passes done, only ever rising, ending at 100."""

    ctx: RequestContext
    enabled: bool = False
    done: int = 0
    total: int = 1  # passes expected; grows while a long summary is combined
    reported: float = 0.0

    def step(self) -> None:
        self.done += 1
        self.report(round(100.0 * min(self.done, self.total) / self.total, 1))

    def finish(self) -> None:
        self.report(100.0)

    def report(self, pct: float) -> None:
        if self.enabled and pct > self.reported:
            self.reported = pct
            self.ctx.progress(progress=pct, chunk=min(self.done, self.total), chunks=self.total)


@dataclass
class Job:
    """A command's model work, pass by pass."""

    loaded: Loaded
    ctx: RequestContext
    progress: Progress
    passes: list[Generation] = field(default_factory=list)
    chunks: int = 1  # pieces the document was read in
    reused: int = 0  # chunk results taken from memory instead of the model

    @classmethod
    def of(cls, loaded: Loaded, ctx: RequestContext, progress: bool = False) -> Job:
        return cls(loaded, ctx, Progress(ctx, enabled=progress))

    @property
    def model(self) -> Model:
        return self.loaded.model

    @property
    def generator(self) -> Generator:
        return self.loaded.generator

    @property
    def grammar(self) -> TagGrammar:
        return self.loaded.grammar

    def answer(self, ask: Ask) -> Any:
        """One pass of the model for ``ask`` (any task's): its prompt, processors,
        sampling, streaming and stop rule; what the task reads from the answer."""
        result = self.generator.generate(
            ask.prompt,
            self.ctx,
            max_tokens=ask.max_tokens,
            temperature=ask.temperature,
            logits_processors=ask.processors or None,
            on_text=ask.heard,
            should_stop=ask.done,
        )
        self.passes.append(result)
        return ask.read(result.text, result.finish_reason)

    def stats(self) -> dict:
        """The response's counts: the first pass's speeds, every pass's tokens."""
        first = (
            self.passes[0].stats() if self.passes else {"prompt_tps": 0.0, "generation_tps": 0.0}
        )
        total = {
            k: sum(getattr(p, k) for p in self.passes)
            for k in ("prompt_tokens", "cached_tokens", "generation_tokens")
        }
        return {**first, **total, "passes": max(1, len(self.passes)), "chunks": self.chunks}
