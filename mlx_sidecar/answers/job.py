"""One tags or summary command's work: the model, the request's context, its options, its
progress lines, and the passes it ran (whose counts its response reports)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..context import RequestContext
from ..generation import Generation, Generator
from ..grammar import TagGrammar
from ..models import Model
from .notes import ChunkNotes


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
            chunk = min(self.done, self.total)
            self.ctx.emit(
                {
                    "type": "progress",
                    "command": self.ctx.command,
                    "progress": pct,
                    "chunk": chunk,
                    "chunks": self.total,
                }
            )


@dataclass
class Job:
    """A command's model work, pass by pass."""

    model: Model
    generator: Generator
    grammar: TagGrammar
    notes: ChunkNotes
    ctx: RequestContext
    max_tokens: int
    temperature: float
    progress: Progress
    passes: list[Generation] = field(default_factory=list)
    chunks: int = 1  # pieces the document was read in
    reused: int = 0  # chunk results taken from memory instead of the model

    def run(self, prompt: list[int], max_tokens: int | None = None, **kwargs: Any) -> Generation:
        """One model pass with this command's options (``max_tokens`` may differ)."""
        result = self.generator.generate(
            prompt,
            self.ctx,
            max_tokens=max_tokens or self.max_tokens,
            temperature=self.temperature,
            **kwargs,
        )
        self.passes.append(result)
        return result

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
